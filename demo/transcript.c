/* transcript: see transcript.h.  Reads the fakes' records through their
 * public accessors only; every string it builds is freed before the
 * function that built it returns (tr_who's static buffer aside). */
#include "transcript.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/util.h"
#include "../bot/workhours.h"

#define TR_WIDTH 100      /* wrap message text at this column */
#define TR_INDENT "            "
#define TR_MAX_LINES 16   /* default of max_lines */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void tr_init(struct transcript *t, FILE *out, struct fx *fx, const struct tr_person *people, size_t n_people,
             const struct tr_channel *channels, size_t n_channels)
{
    memset(t, 0, sizeof(*t));
    t->out = out;
    t->fx = fx;
    t->people = people;
    t->n_people = n_people;
    t->channels = channels;
    t->n_channels = n_channels;
    t->max_lines = TR_MAX_LINES;
    t->seen = xcalloc(n_people ? n_people : 1, sizeof(*t->seen));
}

void tr_finish(struct transcript *t)
{
    free(t->seen);
    t->seen = NULL;
}

void tr_set_clock(struct transcript *t, int64_t epoch_ms)
{
    fx_set_clock(t->fx, epoch_ms);
    t->clock_ms = epoch_ms;
    t->clock_set_us = mono_us();
}

int64_t tr_now_ms(const struct transcript *t)
{
    return t->clock_ms + (int64_t)((mono_us() - t->clock_set_us) / 1000u);
}

/* ---- names ---- */

static size_t person_index(const struct transcript *t, const char *id)
{
    for (size_t i = 0; id && i < t->n_people; i++)
        if (strcmp(t->people[i].id, id) == 0)
            return i;
    return (size_t)-1;
}

static const struct tr_person *tr_person(const struct transcript *t, const char *slack_id)
{
    size_t i = person_index(t, slack_id);
    return i == (size_t)-1 ? NULL : &t->people[i];
}

/* "Name (role)", or the id itself; valid until the next call. */
static const char *tr_who(const struct transcript *t, const char *slack_id)
{
    static char who[160];
    const struct tr_person *p = tr_person(t, slack_id);
    if (p)
        snprintf(who, sizeof(who), "%s (%s)", p->name, p->role);
    else
        str_lcpy(who, slack_id ? slack_id : "?", sizeof(who));
    return who;
}

/* The user a DM channel belongs to: the fake Slack opens D<id without U>
 * for U<id>; a message "to" a user id is a DM too. */
static const char *dm_user(const struct transcript *t, const char *channel, char *buf, size_t n)
{
    if (channel[0] == 'U' || channel[0] == 'W')
        return channel;
    if (channel[0] != 'D')
        return NULL;
    snprintf(buf, n, "U%s", channel + 1);
    return tr_person(t, buf) ? buf : NULL;
}

static const char *channel_name(const struct transcript *t, const char *id, const char **what)
{
    for (size_t i = 0; i < t->n_channels; i++) {
        if (strcmp(t->channels[i].id, id) == 0) {
            if (what)
                *what = t->channels[i].what;
            return t->channels[i].name;
        }
    }
    const struct fake_channel *c = fake_slack_channel_by_id(t->fx->slack, id);
    if (what)
        *what = c && c->is_private ? "the incident channel, private" : NULL;
    return c && c->name && c->name[0] ? c->name : id;
}

/* Where a message posted to channel went, for a header line. */
static void destination(const struct transcript *t, const char *channel, char *out, size_t n)
{
    char ubuf[64];
    const char *u = dm_user(t, channel, ubuf, sizeof(ubuf));
    if (u) {
        snprintf(out, n, "DM to %s", tr_who(t, u));
        return;
    }
    const char *what = NULL;
    const char *name = channel_name(t, channel, &what);
    snprintf(out, n, "#%s%s%s%s", name, what ? " (" : "", what ? what : "", what ? ")" : "");
}

/* ---- mrkdwn and Block Kit as plain text ---- */

static void plain_tag(const struct transcript *t, const char *s, size_t len, struct buf *b)
{
    char inner[512];
    snprintf(inner, sizeof(inner), "%.*s", (int)(len < sizeof(inner) - 1 ? len : sizeof(inner) - 1), s);
    char *bar = strchr(inner, '|');
    const char *label = bar ? bar + 1 : NULL;
    if (bar)
        *bar = '\0';
    if (inner[0] == '@') {
        const struct tr_person *p = tr_person(t, inner + 1);
        buf_printf(b, "@%s", p ? p->name : label ? label : inner + 1);
    } else if (inner[0] == '#') {
        buf_printf(b, "#%s", label ? label : channel_name(t, inner + 1, NULL));
    } else if (inner[0] == '!') {
        if (label)
            buf_puts(b, label);
        else
            buf_printf(b, "@%s", inner + 1);
    } else if (label && strcmp(label, inner) != 0 && str_starts(inner, "http")) {
        buf_printf(b, "%s (%s)", label, inner);   /* where the link goes is part of the story */
    } else {
        buf_puts(b, label ? label : inner);
    }
}

/* True when only blanks stand between the start of p's line (in s) and p. */
static bool at_line_start(const char *s, const char *p)
{
    while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    return p == s || p[-1] == '\n';
}

/* Slack's emoji codes the bot uses, as the characters Slack shows. */
static const struct {
    const char *code, *glyph;
} emoji[] = {
    { ":alarm_clock:", "⏰" }, { ":arrow_down:", "⬇️" }, { ":arrow_up:", "⬆️" }, { ":arrows_counterclockwise:", "🔄" },
    { ":bust_in_silhouette:", "👤" }, { ":clipboard:", "📋" }, { ":eyes:", "👀" }, { ":heavy_plus_sign:", "➕" },
    { ":hourglass:", "⌛" }, { ":information_source:", "ℹ️" }, { ":left_right_arrow:", "↔️" }, { ":link:", "🔗" },
    { ":memo:", "📝" }, { ":package:", "📦" }, { ":rotating_light:", "🚨" }, { ":sunrise:", "🌅" },
    { ":sunrise_over_mountains:", "🌄" }, { ":warning:", "⚠️" }, { ":white_check_mark:", "✅" }, { ":x:", "❌" },
};

static size_t emoji_at(const char *p, struct buf *b)
{
    for (size_t i = 0; i < ARRAY_LEN(emoji); i++) {
        size_t n = strlen(emoji[i].code);
        if (strncmp(p, emoji[i].code, n) == 0) {
            buf_puts(b, emoji[i].glyph);
            return n;
        }
    }
    return 0;
}

/* b's bytes as a C string (caller frees); b is left empty. */
static char *take_text(struct buf *b)
{
    buf_append(b, "", 1);
    char *r = buf_take(b);
    buf_finish(b);
    return r;
}

/* Slack mrkdwn as plain text: <@U..> -> @Name, <#C..|n> -> #n, <url|label>
 * -> "label (url)", entities decoded, emoji codes as emoji, *bold* markers
 * dropped (a short bold label at the start of a line gets a colon).
 * Caller frees. */
static char *tr_plain(const struct transcript *t, const char *s)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    bool code = false, bold = false, label = false;
    const char *start = s ? s : "", *bold_at = NULL;
    for (const char *p = start; *p;) {
        if (strncmp(p, "```", 3) == 0) {
            p += 3;
            continue;
        }
        if (*p == '`')
            code = !code;
        if (*p == '<') {
            const char *end = strchr(p, '>');
            if (end) {
                plain_tag(t, p + 1, (size_t)(end - p - 1), &b);
                p = end + 1;
                continue;
            }
        }
        if (*p == '&') {
            static const struct { const char *ent, *ch; } ents[] = { { "&lt;", "<" }, { "&gt;", ">" }, { "&amp;", "&" } };
            bool hit = false;
            for (size_t i = 0; i < ARRAY_LEN(ents) && !hit; i++) {
                if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
                    buf_puts(&b, ents[i].ch);
                    p += strlen(ents[i].ent);
                    hit = true;
                }
            }
            if (hit)
                continue;
        }
        if (*p == '*' && !code) {
            /* "*Severity* S1" at the start of a line (or of a field after
             * two blanks), short and without its own colon, is a label:
             * "Severity: S1" */
            if (!bold) {
                label = at_line_start(start, p) || (p - start >= 2 && p[-1] == ' ' && p[-2] == ' ');
                bold_at = p;
            } else if (label && p[1] == ' ' && p - bold_at <= 32 && !memchr(bold_at, ':', (size_t)(p - bold_at)) &&
                       !strchr(".?!", p[-1])) {
                buf_puts(&b, ":");
            }
            bold = !bold;
            p++;
            continue;
        }
        size_t e = *p == ':' && !code ? emoji_at(p, &b) : 0;
        if (e) {
            p += e;
            continue;
        }
        buf_append(&b, p, 1);
        p++;
    }
    return take_text(&b);
}

static const char *text_of(const cJSON *o)
{
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (cJSON_IsString(tx))
        return tx->valuestring;
    return util_jstr(tx, "text");
}

static void add_line(const struct transcript *t, struct buf *b, const char *prefix, const char *mrkdwn)
{
    if (!mrkdwn || !mrkdwn[0])
        return;
    char *p = tr_plain(t, mrkdwn);
    buf_printf(b, "%s%s\n", prefix, p);
    free(p);
}

static void render_element(const struct transcript *t, const cJSON *el, struct buf *b)
{
    const char *type = util_jstr(el, "type");
    if (!type)
        return;
    if (strcmp(type, "button") == 0) {
        char *p = tr_plain(t, text_of(el));
        buf_printf(b, "[%s] ", p);
        free(p);
    } else if (strstr(type, "select")) {
        const char *ph = text_of(cJSON_GetObjectItemCaseSensitive(el, "placeholder"));
        buf_printf(b, "[%s ▾] ", ph ? ph : "choose");
    } else if (strcmp(type, "mrkdwn") == 0 || strcmp(type, "plain_text") == 0) {
        char *p = tr_plain(t, util_jstr(el, "text"));
        buf_printf(b, "%s  ", p);
        free(p);
    }
}

/* One input block of a form: its label and what kind of answer it takes. */
static void render_input(const struct transcript *t, const cJSON *blk, struct buf *b)
{
    char *label = tr_plain(t, text_of(cJSON_GetObjectItemCaseSensitive(blk, "label")));
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(blk, "element");
    const char *type = util_jstr(el, "type");
    bool optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(blk, "optional")) && !strstr(label, "optional");
    buf_printf(b, "• %s%s", label, optional ? " (optional)" : "");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(el, "options");
    if (cJSON_IsArray(opts)) {
        buf_puts(b, ": ");
        const cJSON *o;
        int k = 0;
        cJSON_ArrayForEach(o, opts) {
            const char *ot = text_of(o);
            buf_printf(b, "%s%s", k++ ? " / " : "", ot ? ot : "?");
        }
    } else if (type && strcmp(type, "plain_text_input") == 0) {
        buf_puts(b, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(el, "multiline")) ? " (text box)" : " (text)");
    } else if (type && strstr(type, "users")) {
        buf_puts(b, " (people)");
    }
    buf_puts(b, "\n");
    free(label);
}

static void render_blocks(const struct transcript *t, const cJSON *blocks, struct buf *b)
{
    const cJSON *blk;
    cJSON_ArrayForEach(blk, blocks) {
        const char *type = util_jstr(blk, "type");
        if (!type)
            continue;
        if (strcmp(type, "header") == 0 || strcmp(type, "section") == 0) {
            add_line(t, b, "", text_of(blk));
            const cJSON *f;
            cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(blk, "fields")) add_line(t, b, "  ", util_jstr(f, "text"));
            const cJSON *acc = cJSON_GetObjectItemCaseSensitive(blk, "accessory");
            if (acc) {
                render_element(t, acc, b);
                buf_puts(b, "\n");
            }
        } else if (strcmp(type, "context") == 0 || strcmp(type, "actions") == 0) {
            size_t before = b->len;
            const cJSON *el;
            cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(blk, "elements")) render_element(t, el, b);
            if (b->len > before)
                buf_puts(b, "\n");
        } else if (strcmp(type, "divider") == 0) {
            buf_puts(b, "---\n");
        } else if (strcmp(type, "input") == 0) {
            render_input(t, blk, b);
        }
    }
}

/* blocks may be an array, or a JSON string of one (form posts). */
static cJSON *blocks_of(const cJSON *o, const char *key, bool *owned)
{
    cJSON *bl = cJSON_GetObjectItemCaseSensitive(o, key);
    *owned = false;
    if (cJSON_IsString(bl)) {
        *owned = true;
        return cJSON_Parse(bl->valuestring);
    }
    return bl;
}

/* A message's text: its blocks rendered as lines, else its "text".  Caller frees. */
static char *tr_message_text(const struct transcript *t, const cJSON *args)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    bool owned;
    cJSON *blocks = blocks_of(args, "blocks", &owned);
    if (cJSON_IsArray(blocks) && cJSON_GetArraySize(blocks) > 0)
        render_blocks(t, blocks, &b);
    else
        add_line(t, &b, "", util_jstr(args, "text"));
    if (owned)
        cJSON_Delete(blocks);
    return take_text(&b);
}

/* ---- printing ---- */

/* Prints text indented and wrapped, at most max_lines lines. */
static void body(struct transcript *t, const char *text)
{
    int lines = 0, dropped = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t len = strcspn(p, "\n");
        const char *line = p;
        p += len;
        if (*p == '\n')
            p++;
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        size_t width = TR_WIDTH - strlen(TR_INDENT);
        do {
            size_t take = len;
            if (take > width) {
                take = width;
                while (take > width / 2 && line[take] != ' ')
                    take--;
                if (line[take] != ' ')
                    take = width;
            }
            take = str_utf8_prefix(line, take) ? str_utf8_prefix(line, take) : take;
            if (lines < t->max_lines)
                fprintf(t->out, TR_INDENT "%.*s\n", (int)take, line);
            else
                dropped++;
            lines++;
            line += take;
            len -= take;
            while (len > 0 && *line == ' ') {
                line++;
                len--;
            }
        } while (len > 0);
    }
    if (dropped)
        fprintf(t->out, TR_INDENT "… (%d more line%s)\n", dropped, dropped == 1 ? "" : "s");
}

static void head(struct transcript *t, const char *src, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void head(struct transcript *t, const char *src, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(t->out, "  %-10s", src);
    vfprintf(t->out, fmt, ap);
    fputc('\n', t->out);
    va_end(ap);
}

static void clock_label(const struct transcript *t, const char *const *zones_of, char *out, size_t n)
{
    int64_t now = tr_now_ms(t);
    struct tm tm;
    tz_local("UTC", now, &tm);
    size_t len = strftime(out, n, "%a %d %b %H:%M UTC", &tm);
    for (size_t i = 0; zones_of && zones_of[i] && len < n; i++) {
        const struct tr_person *p = tr_person(t, zones_of[i]);
        if (!p || !p->tz || tz_local(p->tz, now, &tm) != 0)
            continue;
        const char *city = strrchr(p->tz, '/');
        char city_s[40];
        str_lcpy(city_s, city ? city + 1 : p->tz, sizeof(city_s));
        for (char *c = city_s; *c; c++)
            if (*c == '_')
                *c = ' ';
        len += (size_t)snprintf(out + len, n - len, "%s %02d:%02d in %s", i ? "," : " =", tm.tm_hour, tm.tm_min,
                                city_s);
    }
}

void tr_step(struct transcript *t, const char *const *zones_of, const char *fmt, ...)
{
    char when[160], title[256];
    clock_label(t, zones_of, when, sizeof(when));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof(title), fmt, ap);
    va_end(ap);
    t->steps++;
    fprintf(t->out, "\n== %d. %s\n   %s\n", t->steps, title, when);
    fflush(t->out);
}

void tr_say(struct transcript *t, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(t->out, "  %s\n", line);
    fflush(t->out);
}

static void count_seen(struct transcript *t, const char *user, int what)
{
    size_t i = person_index(t, user);
    if (i == (size_t)-1)
        return;
    if (what == 0)
        t->seen[i].dms++;
    else if (what == 1)
        t->seen[i].ephemeral++;
    else if (what == 2)
        t->seen[i].forms++;
    else
        t->seen[i].pages++;
}

void tr_ack_reply(struct transcript *t, const char *user, const char *text)
{
    if (!text || !text[0])
        return;
    head(t, "Slack", "→ only %s sees (reply to the command):", tr_who(t, user));
    char *p = tr_plain(t, text);
    body(t, p);
    free(p);
    count_seen(t, user, 1);
}

/* ---- one record of each fake ---- */

static void slack_message(struct transcript *t, const cJSON *args)
{
    const char *ch = util_jstr(args, "channel");
    if (!ch)
        return;
    char dest[256], ubuf[64];
    destination(t, ch, dest, sizeof(dest));
    const char *u = dm_user(t, ch, ubuf, sizeof(ubuf));
    if (u)
        count_seen(t, u, 0);
    head(t, "Slack", "→ %s%s", dest, util_jstr(args, "thread_ts") ? ", in the thread" : "");
    char *text = tr_message_text(t, args);
    body(t, text);
    free(text);
}

static void slack_view(struct transcript *t, const cJSON *args, const char *what)
{
    bool owned;
    cJSON *view = blocks_of(args, "view", &owned);
    char *title = tr_plain(t, text_of(cJSON_GetObjectItemCaseSensitive(view, "title")));
    head(t, "Slack", "→ %s %s: \"%s\"", tr_who(t, t->actor), what, title);
    count_seen(t, t->actor, 2);
    struct buf b;
    buf_init(&b, 1u << 20);
    render_blocks(t, cJSON_GetObjectItemCaseSensitive(view, "blocks"), &b);
    const char *submit = text_of(cJSON_GetObjectItemCaseSensitive(view, "submit"));
    if (submit)
        buf_printf(&b, "[%s]\n", submit);
    buf_append(&b, "", 1);
    body(t, b.data);
    buf_finish(&b);
    free(title);
    if (owned)
        cJSON_Delete(view);
}

static void slack_call(struct transcript *t, const struct fake_call *c)
{
    if (c->status != 200 || c->error || !c->json)
        return;
    const char *m = c->method;
    const cJSON *a = c->json;
    if (strcmp(m, "chat.postMessage") == 0) {
        slack_message(t, a);
    } else if (strcmp(m, "chat.postEphemeral") == 0) {
        const char *user = util_jstr(a, "user"), *ch = util_jstr(a, "channel");
        char dest[256];
        destination(t, ch ? ch : "?", dest, sizeof(dest));
        head(t, "Slack", "→ only %s sees, in %s:", tr_who(t, user), dest);
        count_seen(t, user, 1);
        char *text = tr_message_text(t, a);
        body(t, text);
        free(text);
    } else if (strcmp(m, "chat.update") == 0) {
        char dest[256];
        destination(t, util_jstr(a, "channel") ? util_jstr(a, "channel") : "?", dest, sizeof(dest));
        head(t, "Slack", "→ %s: a message is updated to", dest);
        char *text = tr_message_text(t, a);
        body(t, text);
        free(text);
    } else if (strcmp(m, "response_url") == 0) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "delete_original"))) {
            head(t, "Slack", "→ %s: the message with the buttons goes away", tr_who(t, t->actor));
            return;
        }
        const char *rt = util_jstr(a, "response_type");
        bool replace = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "replace_original"));
        if (rt && strcmp(rt, "in_channel") == 0)
            head(t, "Slack", "→ the channel where %s clicked sees:", tr_who(t, t->actor));
        else if (replace)
            head(t, "Slack", "→ %s: the message they answered now reads", tr_who(t, t->actor));
        else
            head(t, "Slack", "→ only %s sees:", tr_who(t, t->actor));
        if (!rt || strcmp(rt, "in_channel") != 0)
            count_seen(t, t->actor, 1);
        char *text = tr_message_text(t, a);
        body(t, text);
        free(text);
    } else if (strcmp(m, "views.open") == 0 || strcmp(m, "views.push") == 0) {
        slack_view(t, a, "sees a form");
    } else if (strcmp(m, "views.update") == 0) {
        slack_view(t, a, "sees the form change");
    } else if (strcmp(m, "conversations.create") == 0) {
        bool priv = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "is_private")) ||
                    (util_jstr(a, "is_private") && strcmp(util_jstr(a, "is_private"), "true") == 0);
        head(t, "Slack", "%s channel #%s created", priv ? "private" : "public", util_jstr(a, "name"));
    } else if (strcmp(m, "conversations.invite") == 0) {
        const char *users = util_jstr(a, "users");
        struct buf b;
        buf_init(&b, 4096);
        for (const char *p = users ? users : ""; *p;) {
            size_t n = strcspn(p, ",");
            char id[64];
            snprintf(id, sizeof(id), "%.*s", (int)(n < 63 ? n : 63), p);
            buf_printf(&b, "%s%s", b.len ? ", " : "", tr_who(t, id));
            p += n;
            if (*p == ',')
                p++;
        }
        buf_append(&b, "", 1);
        head(t, "Slack", "invited to #%s: %s", channel_name(t, util_jstr(a, "channel") ? util_jstr(a, "channel") : "?", NULL),
             b.data);
        buf_finish(&b);
    } else if (strcmp(m, "pins.add") == 0) {
        head(t, "Slack", "the summary is pinned in #%s",
             channel_name(t, util_jstr(a, "channel") ? util_jstr(a, "channel") : "?", NULL));
    }
}

static void pd_event(struct transcript *t, const struct fake_pd_event *e)
{
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(e->json, "payload");
    const char *key = util_jstr(e->json, "routing_key");
    bool oncall = key && strcmp(key, FAKE_PD_ROUTING_KEY) == 0;   /* else the escalation service */
    if (strcmp(e->action, "trigger") == 0) {
        head(t, "PagerDuty", "→ pages %s (dedup key %s, %s)",
             oncall ? tr_who(t, t->oncall) : "the security manager on-call (escalation)", e->dedup_key,
             e->new_incident ? "a new PagerDuty incident" : "folded into the open one");
        char *s = xasprintf("%s [severity %s]", util_jstr(pl, "summary") ? util_jstr(pl, "summary") : "",
                            util_jstr(pl, "severity") ? util_jstr(pl, "severity") : "?");
        body(t, s);
        free(s);
        if (oncall)
            count_seen(t, t->oncall, 3);
    } else {
        head(t, "PagerDuty", "→ page %s: %s", e->dedup_key, e->action);
    }
}

/* GitLab Markdown as a reader sees it: no HTML comments (the bot's
 * idempotency markers), no ** emphasis.  Caller frees. */
static char *gitlab_plain(const char *md)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    for (const char *p = md ? md : ""; *p;) {
        if (strncmp(p, "<!--", 4) == 0) {
            const char *end = strstr(p, "-->");
            p = end ? end + 3 : p + strlen(p);
            continue;
        }
        if (strncmp(p, "**", 2) == 0) {
            p += 2;
            continue;
        }
        buf_append(&b, p, 1);
        p++;
    }
    return take_text(&b);
}

static void gitlab_body(struct transcript *t, const char *md)
{
    char *p = gitlab_plain(md);
    body(t, p);
    free(p);
}

static const char *gitlab_user(const struct transcript *t, int id)
{
    for (size_t i = 0; i < t->n_people; i++)
        if (t->people[i].gitlab_id == id)
            return t->people[i].name;
    return "?";
}

static void gitlab_request(struct transcript *t, const struct fake_http_request *r)
{
    if (r->status < 200 || r->status > 299 || strcmp(r->method, "GET") == 0)
        return;
    cJSON *a = fake_http_args_json(r);
    cJSON *resp = r->resp_body ? cJSON_Parse(r->resp_body) : NULL;
    const char *mp = r->match_path;
    if (fake_http_match("POST /projects", r->method, mp)) {
        head(t, "GitLab", "project %s created (%s)", util_jstr(resp, "path_with_namespace"),
             util_jstr(resp, "visibility") ? util_jstr(resp, "visibility") : "private");
    } else if (fake_http_match("POST /projects/*/issues", r->method, mp)) {
        head(t, "GitLab", "→ confidential issue #%d \"%s\", labels %s",
             cJSON_GetObjectItemCaseSensitive(resp, "iid") ? cJSON_GetObjectItemCaseSensitive(resp, "iid")->valueint : 0,
             util_jstr(a, "title") ? util_jstr(a, "title") : "", util_jstr(a, "labels") ? util_jstr(a, "labels") : "-");
        gitlab_body(t, util_jstr(a, "description"));
    } else if (fake_http_match("POST /projects/*/issues/*/notes", r->method, mp)) {
        head(t, "GitLab", "→ comment on the issue:");
        gitlab_body(t, util_jstr(a, "body"));
    } else if (fake_http_match("POST /projects/*/members", r->method, mp)) {
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(a, "user_id");
        int id = cJSON_IsNumber(uid) ? uid->valueint : (cJSON_IsString(uid) ? atoi(uid->valuestring) : 0);
        head(t, "GitLab", "%s added to the project", gitlab_user(t, id));
    } else if (fake_http_match("PUT /projects/*/issues/*", r->method, mp)) {
        struct buf b;
        buf_init(&b, 4096);
        static const char *const keys[] = { "labels", "add_labels", "remove_labels", "state_event", "title" };
        for (size_t i = 0; i < ARRAY_LEN(keys); i++)
            if (util_jstr(a, keys[i]))
                buf_printf(&b, "%s%s %s", b.len ? ", " : "", keys[i], util_jstr(a, keys[i]));
        buf_append(&b, "", 1);
        head(t, "GitLab", "→ issue updated: %s", b.data);
        buf_finish(&b);
    } else {
        head(t, "GitLab", "%s %s", r->method, mp);
    }
    cJSON_Delete(a);
    cJSON_Delete(resp);
}

void tr_flush(struct transcript *t)
{
    struct fake_http *gl = t->fx->gitlab ? fake_gitlab_http(t->fx->gitlab) : NULL;
    size_t ns = fake_slack_call_count(t->fx->slack, NULL);
    size_t np = t->fx->pd ? fake_pagerduty_event_count(t->fx->pd) : 0;
    size_t ng = gl ? fake_http_count(gl, NULL) : 0;
    for (;;) {
        const struct fake_call *c = t->slack_seen < ns ? fake_slack_call(t->fx->slack, NULL, t->slack_seen) : NULL;
        const struct fake_pd_event *e = t->pd_seen < np ? fake_pagerduty_event(t->fx->pd, t->pd_seen) : NULL;
        const struct fake_http_request *r = t->gitlab_seen < ng ? fake_http_request(gl, NULL, t->gitlab_seen) : NULL;
        if (!c && !e && !r)
            break;
        uint64_t tc = c ? c->t_us : UINT64_MAX, te = e ? e->t_us : UINT64_MAX, tg = r ? r->t_us : UINT64_MAX;
        if (c && tc <= te && tc <= tg) {
            slack_call(t, c);
            t->slack_seen++;
        } else if (e && te <= tg) {
            pd_event(t, e);
            t->pd_seen++;
        } else {
            gitlab_request(t, r);
            t->gitlab_seen++;
        }
    }
    fflush(t->out);
}

void tr_tally(struct transcript *t, const char *incident_channel)
{
    const struct fake_channel *ic = incident_channel ? fake_slack_channel_by_id(t->fx->slack, incident_channel) : NULL;
    fprintf(t->out, "\n== Who saw what\n");
    for (size_t i = 0; i < t->n_people; i++) {
        const struct tr_seen *s = &t->seen[i];
        char pages[32] = "";
        if (s->pages)
            snprintf(pages, sizeof(pages), ", %d page%s", s->pages, s->pages == 1 ? "" : "s");
        fprintf(t->out, "  %-42s %d DM%s, %d only-you message%s, %d form%s%s%s\n", tr_who(t, t->people[i].id),
                s->dms, s->dms == 1 ? "" : "s", s->ephemeral, s->ephemeral == 1 ? "" : "s", s->forms,
                s->forms == 1 ? "" : "s", pages,
                ic && fake_slack_channel_has_member(ic, t->people[i].id) ? "; in the incident channel" : "");
    }
    fflush(t->out);
}
