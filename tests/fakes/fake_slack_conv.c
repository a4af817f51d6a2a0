/* fake_slack_conv: the channels, pins and users fake_slack remembers and
 * the Web API methods on them (conversations.*, pins.add, users.*; see
 * the channel section of fake_slack.h).  Channels, their members, pins and
 * users are owned by the fake until fake_slack__conv_free (destroy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_messages.h"
#include "fake_slack_state.h"

/* ------------------------------------------------------------------ */
/* channels */


static void channel_free(struct fake_channel *c)
{
    free(c->id);
    free(c->name);
    free(c->creator);
    for (size_t i = 0; i < c->n_members; i++)
        free(c->members[i]);
    free(c->members);
    free(c);
}

struct fake_channel *fake_slack__channel_find(const struct fake_slack *f, const char *id)
{
    for (size_t i = 0; id && i < f->n_channels; i++)
        if (strcmp(f->channels[i]->id, id) == 0)
            return f->channels[i];
    return NULL;
}

static struct fake_channel *channel_new(struct fake_slack *f, const char *id, const char *name, bool is_private,
                                        bool known)
{
    struct fake_channel *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(id);
    c->name = xstrdup(name ? name : "");
    c->is_private = is_private;
    c->known = known;
    c->creator = xstrdup(FS_BOT_USER);
    c->created = (long)time(NULL);
    if (known) {
        c->members = xmalloc(sizeof(char *));
        c->members[0] = xstrdup(FS_BOT_USER);
        c->n_members = 1;
    }
    f->channels = xrealloc(f->channels, (f->n_channels + 1) * sizeof(*f->channels));
    f->channels[f->n_channels++] = c;
    return c;
}

static void channel_add_member(struct fake_channel *c, const char *user)
{
    c->members = xrealloc(c->members, (c->n_members + 1) * sizeof(char *));
    c->members[c->n_members++] = xstrdup(user);
}

static void channel_json(const struct fake_channel *c, cJSON *out, const char *key)
{
    cJSON *ch = key ? cJSON_AddObjectToObject(out, key) : out;
    cJSON_AddStringToObject(ch, "id", c->id);
    cJSON_AddStringToObject(ch, "name", c->name);
    cJSON_AddTrueToObject(ch, "is_channel");
    cJSON_AddBoolToObject(ch, "is_group", c->is_private);
    cJSON_AddFalseToObject(ch, "is_im");
    cJSON_AddFalseToObject(ch, "is_mpim");
    cJSON_AddBoolToObject(ch, "is_private", c->is_private);
    cJSON_AddNumberToObject(ch, "created", (double)c->created);
    cJSON_AddStringToObject(ch, "creator", c->creator);
    cJSON_AddFalseToObject(ch, "is_archived");
    cJSON_AddFalseToObject(ch, "is_general");
    cJSON_AddStringToObject(ch, "name_normalized", c->name);
    cJSON_AddBoolToObject(ch, "is_member", fake_slack_channel_has_member(c, FS_BOT_USER));
    cJSON_AddNumberToObject(ch, "num_members", (double)c->n_members);
}

const char *fake_slack__conv_create(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *name = fake_slack__arg_str(args, "name");
    if (!name)
        return "invalid_name_required";
    if (strlen(name) > 80)
        return "invalid_name_maxlength";
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return "invalid_name_specials";
    if (fake_slack_channel_by_name(f, name))
        return "name_taken";
    char id[32];
    snprintf(id, sizeof(id), "C0FAKE%05u", ++f->chan_seq);
    struct fake_channel *c = channel_new(f, id, name, fake_slack__arg_true(args, "is_private"), true);
    channel_json(c, out, "channel");
    return NULL;
}

/* Cursor "fakecur-<index>". */
const char *fake_slack__conv_list(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *types = fake_slack__arg_str(args, "types");
    if (!types)
        types = "public_channel";
    bool want_pub = strstr(types, "public_channel") != NULL;
    bool want_priv = strstr(types, "private_channel") != NULL;
    long limit = 100;
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(args, "limit");
    long l = cJSON_IsNumber(lj) ? (long)lj->valuedouble : cJSON_IsString(lj) ? atol(lj->valuestring) : 0;
    if (l > 0)
        limit = l > 1000 ? 1000 : l;
    size_t start = 0;
    const char *cur = fake_slack__arg_str(args, "cursor");
    if (cur) {
        char *end = NULL;
        if (!str_starts(cur, "fakecur-"))
            return "invalid_cursor";
        unsigned long n = strtoul(cur + 8, &end, 10);
        if (!end || *end || n > f->n_channels)
            return "invalid_cursor";
        start = n;
    }
    cJSON *arr = cJSON_AddArrayToObject(out, "channels");
    long taken = 0;
    size_t i = start;
    for (; i < f->n_channels && taken < limit; i++) {
        const struct fake_channel *c = f->channels[i];
        if (!c->known || (c->is_private ? !want_priv : !want_pub))
            continue;
        cJSON *o = cJSON_CreateObject();
        channel_json(c, o, NULL);
        cJSON_AddItemToArray(arr, o);
        taken++;
    }
    /* more to come only if a later channel would be listed */
    bool more = false;
    for (size_t k = i; k < f->n_channels && !more; k++)
        more = f->channels[k]->known && (f->channels[k]->is_private ? want_priv : want_pub);
    char next[32] = "";
    if (more)
        snprintf(next, sizeof(next), "fakecur-%zu", i);
    cJSON *md = cJSON_AddObjectToObject(out, "response_metadata");
    cJSON_AddStringToObject(md, "next_cursor", next);
    return NULL;
}

const char *fake_slack__conv_info(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const struct fake_channel *c = fake_slack__channel_find(f, fake_slack__arg_str(args, "channel"));
    if (!c || !c->known)
        return "channel_not_found";
    channel_json(c, out, "channel");
    return NULL;
}

const char *fake_slack__conv_invite(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = fake_slack__arg_str(args, "channel");
    if (!ch || (ch[0] != 'C' && ch[0] != 'G'))
        return "channel_not_found";
    const char *users = fake_slack__arg_str(args, "users");
    if (!users)
        return "no_user";
    bool force = fake_slack__arg_true(args, "force");
    struct fake_channel *c = fake_slack__channel_find(f, ch);
    if (!c)
        c = channel_new(f, ch, "", ch[0] == 'G', false);

    /* first pass: classify each user */
    char *list = xstrdup(users);
    char *ok_users[100];
    size_t n_ok = 0, n_given = 0, n_already = 0;
    const char *first_err = NULL;
    cJSON *errors = cJSON_CreateArray();
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u && n_given < 1000; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ')
            u++;
        if (!*u)
            continue;
        n_given++;
        const char *err = NULL;
        if (strcmp(u, FS_BOT_USER) == 0)
            err = "cant_invite_self";
        else if (u[0] != 'U' && u[0] != 'W')
            err = "user_not_found";
        if (err) {
            if (!first_err)
                first_err = err;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "user", u);
            cJSON_AddFalseToObject(e, "ok");
            cJSON_AddStringToObject(e, "error", err);
            cJSON_AddItemToArray(errors, e);
            continue;
        }
        bool dup = fake_slack_channel_has_member(c, u);
        for (size_t k = 0; k < n_ok && !dup; k++)
            dup = strcmp(ok_users[k], u) == 0;
        if (dup)
            n_already++;
        else if (n_ok < ARRAY_LEN(ok_users))
            ok_users[n_ok++] = u;
    }
    const char *ret = NULL;
    if (n_given == 0) {
        ret = "no_user";
    } else if (first_err && !force) {
        ret = first_err;
    } else {
        for (size_t k = 0; k < n_ok; k++)
            channel_add_member(c, ok_users[k]);
        if (first_err) {
            ret = first_err;
            cJSON_AddItemToObject(out, "errors", errors);
            errors = NULL;
        } else if (n_ok == 0 && n_already > 0) {
            ret = "already_in_channel";
        } else {
            channel_json(c, out, "channel");
        }
    }
    cJSON_Delete(errors);
    free(list);
    return ret;
}

const char *fake_slack__pins_add(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)out;
    const char *ch = fake_slack__arg_str(args, "channel");
    const char *ts = fake_slack__arg_str(args, "timestamp");
    if (!ch)
        return "channel_not_found";
    if (!ts)
        return "no_item_specified";
    if (fake_slack_is_pinned(f, ch, ts))
        return "already_pinned";
    f->pins = xrealloc(f->pins, (f->n_pins + 1) * sizeof(char *));
    f->pins[f->n_pins++] = xasprintf("%s %s", ch, ts);
    return NULL;
}

/* A channel the reads can answer for: remembered, a DM, or one with posts. */
static bool readable_channel(const struct fake_slack *f, const char *ch)
{
    return ch && (ch[0] == 'D' || fake_slack__channel_find(f, ch) || fake_messages_count(f->msgs, ch) > 0);
}

const char *fake_slack__conv_history(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!readable_channel(f, fake_slack__arg_str(args, "channel")))
        return "channel_not_found";
    return fake_messages_history(f->msgs, args, out);
}

const char *fake_slack__conv_replies(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!readable_channel(f, fake_slack__arg_str(args, "channel")))
        return "channel_not_found";
    return fake_messages_replies(f->msgs, args, out);
}

const char *fake_slack__conv_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)f;
    const char *users = fake_slack__arg_str(args, "users");
    const char *ch = fake_slack__arg_str(args, "channel");
    char id[64];
    if (users) {
        /* D + the first user's id without its leading U: U0APPSEC1 -> D0APPSEC1 */
        size_t n = strcspn(users, ",");
        const char *u = users;
        if (*u == 'U' || *u == 'W') {
            u++;
            n--;
        }
        snprintf(id, sizeof(id), "D%.*s", (int)(n < 40 ? n : 40), u);
    } else if (ch) {
        str_lcpy(id, ch, sizeof(id));
    } else {
        return "users_list_not_supplied";
    }
    cJSON *c = cJSON_AddObjectToObject(out, "channel");
    cJSON_AddStringToObject(c, "id", id);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* users */


static const struct {
    const char *zone, *label;
    int offset;
} tz_table[] = {
    { "America/Los_Angeles", "Pacific Standard Time", -28800 },
    { "America/Denver", "Mountain Standard Time", -25200 },
    { "America/Chicago", "Central Standard Time", -21600 },
    { "America/New_York", "Eastern Standard Time", -18000 },
    { "America/Sao_Paulo", "Brasilia Standard Time", -10800 },
    { "Europe/London", "Greenwich Mean Time", 0 },
    { "UTC", "Coordinated Universal Time", 0 },
    { "Europe/Amsterdam", "Central European Time", 3600 },
    { "Europe/Berlin", "Central European Time", 3600 },
    { "Europe/Kyiv", "Eastern European Time", 7200 },
    { "Asia/Kolkata", "India Standard Time", 19800 },
    { "Asia/Singapore", "Singapore Standard Time", 28800 },
    { "Asia/Tokyo", "Japan Standard Time", 32400 },
    { "Australia/Sydney", "Australian Eastern Standard Time", 36000 },
    { "Pacific/Auckland", "New Zealand Standard Time", 43200 },
};

static void user_json(const struct fs_user *u, cJSON *out)
{
    const char *label = u->tz;
    int offset = 0;
    for (size_t i = 0; i < ARRAY_LEN(tz_table); i++) {
        if (strcmp(tz_table[i].zone, u->tz) == 0) {
            label = tz_table[i].label;
            offset = tz_table[i].offset;
        }
    }
    cJSON *j = cJSON_AddObjectToObject(out, "user");
    cJSON_AddStringToObject(j, "id", u->id);
    cJSON_AddStringToObject(j, "team_id", FS_TEAM);
    cJSON_AddStringToObject(j, "name", u->name);
    cJSON_AddFalseToObject(j, "deleted");
    cJSON_AddStringToObject(j, "real_name", u->name);
    cJSON_AddStringToObject(j, "tz", u->tz);
    cJSON_AddStringToObject(j, "tz_label", label);
    cJSON_AddNumberToObject(j, "tz_offset", offset);
    cJSON_AddFalseToObject(j, "is_bot");
    cJSON *p = cJSON_AddObjectToObject(j, "profile");
    cJSON_AddStringToObject(p, "email", u->email);
    cJSON_AddStringToObject(p, "real_name", u->name);
    cJSON_AddStringToObject(p, "display_name", u->name);
}

/* The user with this id, or else this email (either may be NULL). */
static const struct fs_user *user_by(const struct fake_slack *f, const char *id, const char *email)
{
    for (size_t i = 0; i < f->n_users; i++)
        if ((id && strcmp(f->users[i].id, id) == 0) || (email && strcmp(f->users[i].email, email) == 0))
            return &f->users[i];
    return NULL;
}

const char *fake_slack__users_info(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const struct fs_user *u = user_by(f, fake_slack__arg_str(args, "user"), NULL);
    if (!u)
        return "user_not_found";
    user_json(u, out);
    return NULL;
}

const char *fake_slack__users_by_email(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const struct fs_user *u = user_by(f, NULL, fake_slack__arg_str(args, "email"));
    if (!u)
        return "users_not_found";
    user_json(u, out);
    return NULL;
}

const char *fake_slack__user_name(const struct fake_slack *f, const char *id)
{
    const struct fs_user *u = user_by(f, id, NULL);
    return u ? u->name : NULL;
}

void fake_slack_add_user(struct fake_slack *f, const char *id, const char *name, const char *email, const char *tz)
{
    struct fs_user *u = NULL;
    for (size_t i = 0; i < f->n_users; i++)
        if (strcmp(f->users[i].id, id) == 0)
            u = &f->users[i];
    if (u) {
        free(u->id);
        free(u->name);
        free(u->email);
        free(u->tz);
    } else {
        f->users = xrealloc(f->users, (f->n_users + 1) * sizeof(*f->users));
        u = &f->users[f->n_users++];
    }
    u->id = xstrdup(id);
    u->name = xstrdup(name ? name : id);
    u->email = xstrdup(email ? email : "");
    u->tz = xstrdup(tz ? tz : "UTC");
}

/* ------------------------------------------------------------------ */
/* what tests read */


size_t fake_slack_channel_count(const struct fake_slack *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_channels; i++)
        if (f->channels[i]->known)
            n++;
    return n;
}

const struct fake_channel *fake_slack_channel(const struct fake_slack *f, size_t idx)
{
    for (size_t i = 0; i < f->n_channels; i++)
        if (f->channels[i]->known && idx-- == 0)
            return f->channels[i];
    return NULL;
}

const struct fake_channel *fake_slack_channel_by_name(const struct fake_slack *f, const char *name)
{
    for (size_t i = 0; name && i < f->n_channels; i++)
        if (f->channels[i]->known && strcmp(f->channels[i]->name, name) == 0)
            return f->channels[i];
    return NULL;
}

const struct fake_channel *fake_slack_channel_by_id(const struct fake_slack *f, const char *id)
{
    return fake_slack__channel_find(f, id);
}

bool fake_slack_channel_has_member(const struct fake_channel *c, const char *user)
{
    for (size_t i = 0; c && user && i < c->n_members; i++)
        if (strcmp(c->members[i], user) == 0)
            return true;
    return false;
}

void fake_slack_add_channel(struct fake_slack *f, const char *id, const char *name, bool is_private)
{
    struct fake_channel *c = fake_slack__channel_find(f, id);
    if (c) {
        /* seen by id before: it becomes a known channel */
        free(c->name);
        c->name = xstrdup(name ? name : "");
        c->is_private = is_private;
        if (!c->known && !fake_slack_channel_has_member(c, FS_BOT_USER))
            channel_add_member(c, FS_BOT_USER);
        c->known = true;
        return;
    }
    channel_new(f, id, name, is_private, true);
}

void fake_slack_channel_remove_member(struct fake_slack *f, const char *id, const char *user)
{
    struct fake_channel *c = fake_slack__channel_find(f, id);
    for (size_t i = 0; c && i < c->n_members; i++) {
        if (strcmp(c->members[i], user) == 0) {
            free(c->members[i]);
            memmove(&c->members[i], &c->members[i + 1], (c->n_members - i - 1) * sizeof(c->members[0]));
            c->n_members--;
            return;
        }
    }
}

size_t fake_slack_pin_count(const struct fake_slack *f)
{
    return f->n_pins;
}

bool fake_slack_is_pinned(const struct fake_slack *f, const char *channel, const char *ts)
{
    size_t cl = strlen(channel);
    for (size_t i = 0; i < f->n_pins; i++)
        if (strncmp(f->pins[i], channel, cl) == 0 && f->pins[i][cl] == ' ' && strcmp(f->pins[i] + cl + 1, ts) == 0)
            return true;
    return false;
}

void fake_slack__conv_free(struct fake_slack *f)
{
    for (size_t i = 0; i < f->n_users; i++) {
        free(f->users[i].id);
        free(f->users[i].name);
        free(f->users[i].email);
        free(f->users[i].tz);
    }
    free(f->users);
    for (size_t i = 0; i < f->n_channels; i++)
        channel_free(f->channels[i]);
    free(f->channels);
    for (size_t i = 0; i < f->n_pins; i++)
        free(f->pins[i]);
    free(f->pins);
}
