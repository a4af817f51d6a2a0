/* effects_slack: the slack.* ops (see effects.h for payloads and results).
 * Each op is a short chain of Slack Web API calls, one attempt each; the
 * outcome rules live in effects.c.  Nothing here logs message texts or
 * channel names (they derive from incident titles). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "blockkit.h"
#include "clock.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "slack_api.h"
#include "util.h"

#define SLACK_NAME_MAX 80
#define SUFFIX_MAX 50                /* "-2" .. "-50", then give up */
#define LIST_PAGES_MAX 50            /* conversations.list pages when adopting */
#define VIEWS_RETRY_WINDOW_MS 2500   /* trigger_id lives 3 s: no retry after this */
#define VIEWS_EXPIRED_MS 3000
#define PRIVACY_WAIT_MS (10 * 60 * 1000)  /* transient conversations.info errors: then post reduced */

static const char *api_str(const struct api_result *r, const char *obj, const char *key)
{
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(r->json, obj) : r->json;
    return eff_str(o, key);
}

static void add_dup(cJSON *to, const char *key, const cJSON *from)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
    if (v && !cJSON_IsNull(v))
        cJSON_AddItemToObject(to, key, cJSON_Duplicate(v, 1));
}

static bool has_blocks(const cJSON *p)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "blocks");
    return (cJSON_IsArray(b) && cJSON_GetArraySize(b) > 0) || (cJSON_IsString(b) && b->valuestring[0]);
}

/* Block Kit limits are enforced here, after the outbox filled in the
 * placeholders: whatever a builder produced, Slack gets what it accepts. */
static void fit_logged(const struct fx *fx, int cuts)
{
    if (cuts > 0)
        LOG_INFO("payload cut to Slack's Block Kit limits", "job:l incident:l op:s cuts:d", (long long)fx->job_id,
                 (long long)fx->incident_id, fx->op, cuts);
}

/* ---- slack.views_open ---- */

static int64_t job_age_ms(const struct fx *fx)
{
    return fx->job_created_ms > 0 ? clock_now_ms() - fx->job_created_ms : 0;
}

static void views_open_done(struct fx *fx, const struct api_result *r)
{
    if (r->err == API_OK) {
        const char *id = api_str(r, "view", "id");
        if (id)
            cJSON_AddStringToObject(eff_result(fx), "view_id", id);
        eff_done(fx);
        return;
    }
    struct effect_result m;
    char err[128];
    eff_outcome_api(r, fx->mutating, &m, err, sizeof(err));
    if (m.outcome == EFFECT_RETRY && job_age_ms(fx) >= VIEWS_RETRY_WINDOW_MS) {
        eff_fail(fx, "%s; trigger_id expired", err);
        return;
    }
    eff_finish_api(fx, r);
}

void eff_slack_views_open(struct fx *fx)
{
    const char *trigger = eff_str(fx->payload, "trigger_id");
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(fx->payload, "view");
    if (!trigger || !(cJSON_IsObject(view) || cJSON_IsString(view))) {
        eff_fail(fx, "bad payload: trigger_id or view missing");
        return;
    }
    if (job_age_ms(fx) > VIEWS_EXPIRED_MS) {
        eff_fail(fx, "trigger_id expired");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "trigger_id", trigger);
    cJSON *v = cJSON_Duplicate(view, 1);
    fit_logged(fx, blockkit_fit_view(v));
    cJSON_AddItemToObject(args, "view", v);
    eff_slack(fx, "views.open", args, false, true, views_open_done);
}

/* ---- slack.create_channel ---- */

void eff_channel_name(const char *name, int suffix, char out[81])
{
    char sfx[16] = "";
    if (suffix >= 2)
        snprintf(sfx, sizeof(sfx), "-%d", suffix);
    size_t max = SLACK_NAME_MAX - strlen(sfx);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p && n < max; p++) {
        char c = (char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            c = '-';
        if (c == '-' && n > 0 && out[n - 1] == '-')
            continue;
        out[n++] = c;
    }
    if (sfx[0])
        while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '_'))
            n--;
    out[n] = '\0';
    if (n > 0 || !sfx[0])
        str_lcpy(out + n, sfx, SLACK_NAME_MAX + 1 - n);
}

const cJSON *eff_find_own_channel(const cJSON *channels, const char *name, const char *bot_user)
{
    if (!name || !bot_user || !bot_user[0])
        return NULL;
    const cJSON *ch;
    cJSON_ArrayForEach(ch, channels) {
        const char *n = eff_str(ch, "name");
        const char *creator = eff_str(ch, "creator");
        if (n && creator && strcmp(n, name) == 0 && strcmp(creator, bot_user) == 0 &&
            eff_str(ch, "id") && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "is_archived")))
            return ch;
    }
    return NULL;
}

static void capture_channel(struct fx *fx, const char *id, const char *name, const char *timeline)
{
    cJSON *inc = eff_result_incident(fx);
    cJSON_AddStringToObject(inc, "channel_id", id);
    cJSON_AddStringToObject(inc, "channel_name", name);
    cJSON_AddStringToObject(eff_result(fx), "timeline", timeline);
}

/* name_taken and nothing of ours to adopt: store a payload with the next
 * suffix and retry at once. */
static void retry_with_suffix(struct fx *fx)
{
    const char *base = eff_str(fx->payload, "base_name");
    if (!base)
        base = eff_str(fx->payload, "name");
    int64_t prev = eff_int(fx->payload, "suffix");
    int next = prev >= 2 && prev < SUFFIX_MAX ? (int)prev + 1 : prev >= SUFFIX_MAX ? SUFFIX_MAX + 1 : 2;
    if (next > SUFFIX_MAX) {
        eff_fail(fx, "name_taken: no free channel name up to -%d", SUFFIX_MAX);
        return;
    }
    char name[SLACK_NAME_MAX + 1];
    eff_channel_name(base, next, name);
    cJSON *p = cJSON_Duplicate(fx->payload, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(p, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(p, "base_name");
    cJSON_DeleteItemFromObjectCaseSensitive(p, "suffix");
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddStringToObject(p, "base_name", base);
    cJSON_AddNumberToObject(p, "suffix", next);
    cJSON_Delete(fx->result);
    fx->result = cJSON_CreateObject();
    cJSON_AddItemToObject(fx->result, "payload", p);
    LOG_INFO("channel name taken, retrying with a suffix", "job:l incident:l suffix:d",
             (long long)fx->job_id, (long long)fx->incident_id, next);
    /* The new name was never sent: not maybe_sent. */
    eff_finish(fx, EFFECT_RETRY, 0, false, "name_taken: retrying with -%d", next);
}

static void list_page(struct fx *fx);

static void list_done(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        struct effect_result m;
        char err[128];
        eff_outcome_api(r, false, &m, err, sizeof(err));
        if (m.outcome == EFFECT_RETRY) {
            eff_finish_api(fx, r);
            return;
        }
        /* Cannot look (e.g. missing groups:read): a second channel beats none. */
        LOG_WARN("cannot list channels to adopt ours; creating with a suffix", "job:l error:s",
                 (long long)fx->job_id, err);
        retry_with_suffix(fx);
        return;
    }
    const cJSON *chans = cJSON_GetObjectItemCaseSensitive(r->json, "channels");
    const cJSON *ch = eff_find_own_channel(chans, fx->s1, fx->app->bot_user_id);
    if (ch) {
        LOG_INFO("adopting our channel after name_taken", "job:l incident:l channel:s",
                 (long long)fx->job_id, (long long)fx->incident_id, eff_str(ch, "id"));
        capture_channel(fx, eff_str(ch, "id"), eff_str(ch, "name"), "private channel created (adopted)");
        eff_done(fx);
        return;
    }
    const char *next = api_str(r, "response_metadata", "next_cursor");
    if (next && ++fx->n1 < LIST_PAGES_MAX) {
        free(fx->s2);
        fx->s2 = xstrdup(next);
        list_page(fx);
        return;
    }
    retry_with_suffix(fx);
}

static void list_page(struct fx *fx)
{
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "types", "private_channel");
    cJSON_AddTrueToObject(args, "exclude_archived");
    cJSON_AddNumberToObject(args, "limit", 200);
    if (fx->s2)
        cJSON_AddStringToObject(args, "cursor", fx->s2);
    eff_slack(fx, "conversations.list", args, true, false, list_done);
}

static void create_channel_done(struct fx *fx, const struct api_result *r)
{
    if (r->err == API_OK) {
        const char *id = api_str(r, "channel", "id");
        const char *name = api_str(r, "channel", "name");
        if (!id) {
            eff_finish(fx, EFFECT_RETRY, -1, true, "conversations.create: no channel id");
            return;
        }
        capture_channel(fx, id, name ? name : fx->s1, "private channel created");
        eff_done(fx);
        return;
    }
    if (r->err == API_ESLACK && strcmp(r->error, "name_taken") == 0) {
        if (fx->job_maybe_sent && fx->app->bot_user_id[0]) {
            fx->n1 = 0;
            list_page(fx);
        } else {
            retry_with_suffix(fx);
        }
        return;
    }
    eff_finish_api(fx, r);
}

void eff_slack_create_channel(struct fx *fx)
{
    if (fx->inc_channel_id) {
        /* Already captured (e.g. adopted by an earlier attempt): nothing to do. */
        cJSON_AddStringToObject(eff_result(fx), "channel", fx->inc_channel_id);
        eff_done(fx);
        return;
    }
    char name[SLACK_NAME_MAX + 1];
    eff_channel_name(eff_str(fx->payload, "name"), 0, name);
    if (!name[0] || strcmp(name, "-") == 0) {
        eff_fail(fx, "bad payload: name missing");
        return;
    }
    fx->s1 = xstrdup(name);
    const cJSON *priv = cJSON_GetObjectItemCaseSensitive(fx->payload, "is_private");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "name", name);
    cJSON_AddBoolToObject(args, "is_private", cJSON_IsBool(priv) ? cJSON_IsTrue(priv) : 1);
    eff_slack(fx, "conversations.create", args, false, true, create_channel_done);
}

/* ---- slack.invite ---- */

static bool benign_invite_error(const char *code)
{
    return code && (strcmp(code, "already_in_channel") == 0 || strcmp(code, "cant_invite_self") == 0);
}

static bool listed_in(const cJSON *errors, const char *user)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors) {
        const char *u = eff_str(e, "user");
        if (u && strcmp(u, user) == 0)
            return true;
    }
    return false;
}

static void invite_done(struct fx *fx, const struct api_result *r)
{
    const cJSON *errors = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, "errors") : NULL;
    bool per_user = cJSON_IsArray(errors) && cJSON_GetArraySize(errors) > 0;
    if (r->err != API_OK && !(r->err == API_ESLACK && per_user)) {
        if (r->err == API_ESLACK && benign_invite_error(r->error)) {
            cJSON_AddTrueToObject(eff_result(fx), "already_in_channel");
            eff_done(fx);
            return;
        }
        eff_finish_api(fx, r);
        return;
    }
    /* ok, or ok:false with per-user errors: with force=true everyone not
     * listed there was invited. */
    const char *bad = NULL;
    int n_bad = 0;
    const cJSON *e;
    const cJSON *errs = per_user ? errors : NULL;
    cJSON_ArrayForEach(e, errs) {
        const char *code = eff_str(e, "error");
        if (!benign_invite_error(code)) {
            n_bad++;
            if (!bad)
                bad = code ? code : "unknown_error";
        }
    }
    cJSON *invited = cJSON_CreateArray();
    const cJSON *u;
    cJSON_ArrayForEach(u, fx->work)
        if (!per_user || !listed_in(errors, u->valuestring))
            cJSON_AddItemToArray(invited, cJSON_CreateString(u->valuestring));
    if (bad && cJSON_GetArraySize(invited) == 0) {
        cJSON_Delete(invited);
        if (eff_slack_error_retryable(bad))
            eff_finish_api(fx, r);
        else
            eff_fail(fx, "%s", bad);
        return;
    }
    cJSON *res = eff_result(fx);
    cJSON_DeleteItemFromObjectCaseSensitive(res, "invited");
    cJSON_AddItemToObject(res, "invited", invited);
    if (per_user)
        cJSON_AddItemToObject(res, "errors", cJSON_Duplicate(errors, 1));
    if (n_bad)
        LOG_WARN("some users could not be invited", "job:l incident:l failed:d first_error:s",
                 (long long)fx->job_id, (long long)fx->incident_id, n_bad, bad);
    if (cJSON_GetArraySize(invited) > 0) {
        struct buf tl;
        buf_init(&tl, 0);
        buf_puts(&tl, "invited");
        int i = 0;
        cJSON_ArrayForEach(u, invited)
            buf_printf(&tl, "%s <@%s>", i++ ? "," : "", u->valuestring);
        cJSON_AddStringToObject(res, "timeline", tl.data);
        buf_finish(&tl);
    }
    eff_done(fx);
}

void eff_slack_invite(struct fx *fx)
{
    if (!fx->inc_channel_id) {
        eff_wait(fx, "incident channel");
        return;
    }
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(fx->payload, "users");
    fx->work = cJSON_CreateArray();
    struct buf list;
    buf_init(&list, 0);
    const cJSON *u;
    cJSON_ArrayForEach(u, users) {
        if (!cJSON_IsString(u) || !u->valuestring[0] || strchr(u->valuestring, ','))
            continue;
        if (strcmp(u->valuestring, fx->app->bot_user_id) == 0)
            continue;
        bool dup = false;
        const cJSON *w;
        cJSON_ArrayForEach(w, fx->work)
            dup = dup || strcmp(w->valuestring, u->valuestring) == 0;
        if (dup)
            continue;
        cJSON_AddItemToArray(fx->work, cJSON_CreateString(u->valuestring));
        buf_printf(&list, "%s%s", list.len ? "," : "", u->valuestring);
    }
    cJSON_AddItemToObject(eff_result(fx), "invited", cJSON_Duplicate(fx->work, 1));
    if (list.len == 0) {
        buf_finish(&list);
        eff_done(fx);
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", fx->inc_channel_id);
    cJSON_AddStringToObject(args, "users", list.data);
    cJSON_AddTrueToObject(args, "force");
    buf_finish(&list);
    eff_slack(fx, "conversations.invite", args, false, true, invite_done);
}

/* ---- slack.post ---- */

static void pin_done(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK && !(r->err == API_ESLACK && strcmp(r->error, "already_pinned") == 0)) {
        /* The message is posted: retrying the job would post it twice. */
        struct effect_result m;
        char err[128];
        eff_outcome_api(r, false, &m, err, sizeof(err));
        LOG_WARN("pin failed after post", "job:l incident:l error:s", (long long)fx->job_id,
                 (long long)fx->incident_id, err);
        cJSON_AddStringToObject(eff_result(fx), "pin_error", err);
    } else {
        cJSON_AddTrueToObject(eff_result(fx), "pinned");
    }
    eff_done(fx);
}

/* The message of a slack.post or slack.dm is in channel ch at ts (posted
 * now, or found): pin it when a slack.post says so, and finish. */
static void post_landed(struct fx *fx, const char *ch, const char *ts)
{
    cJSON *res = eff_result(fx);
    cJSON_AddStringToObject(res, "channel", ch ? ch : fx->s1);
    if (ts)
        cJSON_AddStringToObject(res, "ts", ts);
    bool pin = strcmp(fx->op, "slack.post") == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "pin"));
    if (ts && pin) {
        cJSON *args = cJSON_CreateObject();
        cJSON_AddStringToObject(args, "channel", ch ? ch : fx->s1);
        cJSON_AddStringToObject(args, "timestamp", ts);
        eff_slack(fx, "pins.add", args, false, true, pin_done);
        return;
    }
    eff_done(fx);
}

static void post_done(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        eff_finish_api(fx, r);
        return;
    }
    post_landed(fx, api_str(r, NULL, "channel"), api_str(r, NULL, "ts"));
}

/* Every post of a job carries its opaque token (effects_internal.h), so a
 * retry after a crash can find it: the payload's own metadata is never sent
 * (it could hold incident details, and metadata is workspace-visible). */
static void add_metadata(const struct fx *fx, cJSON *args)
{
    cJSON *md = eff_post_metadata(fx);
    if (md)
        cJSON_AddItemToObject(args, "metadata", md);
}

static void post_message(struct fx *fx, const char *channel, eff_api_fn cb)
{
    free(fx->s1);
    fx->s1 = xstrdup(channel);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", channel);
    add_dup(args, "text", fx->payload);
    add_dup(args, "blocks", fx->payload);
    add_dup(args, "thread_ts", fx->payload);
    add_dup(args, "unfurl_links", fx->payload);
    add_metadata(fx, args);
    fit_logged(fx, blockkit_fit_message(args));
    eff_slack(fx, "chat.postMessage", args, false, true, cb);
}

/* "private_only": the text may go only to a private channel.  Asked of
 * conversations.info right before posting; when the channel is public, or
 * its privacy cannot be established (a lasting error, or transient ones
 * for PRIVACY_WAIT_MS), "public_text" is posted instead, or nothing. */
static void post_reduced(struct fx *fx, const char *privacy, const char *why)
{
    const char *pub = eff_str(fx->payload, "public_text");
    cJSON_AddStringToObject(eff_result(fx), "privacy", privacy);
    LOG_INFO(pub ? "channel not known to be private: posting the reduced text (no incident details)"
                 : "channel not known to be private: this part has details only, not posted",
             "job:l channel:s privacy:s reason:s", (long long)fx->job_id, fx->s1, privacy, why);
    if (!pub) {
        cJSON_AddTrueToObject(eff_result(fx), "skipped");
        eff_done(fx);
        return;
    }
    char *ch = xstrdup(fx->s1);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", ch);
    cJSON_AddStringToObject(args, "text", pub);
    add_dup(args, "unfurl_links", fx->payload);
    add_metadata(fx, args);
    free(ch);
    eff_slack(fx, "chat.postMessage", args, false, true, post_done);
}

static void privacy_known(struct fx *fx, const struct api_result *r)
{
    if (r->err == API_OK) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "channel");
        const cJSON *priv = cJSON_GetObjectItemCaseSensitive(c, "is_private");
        if (cJSON_IsTrue(priv)) {
            cJSON_AddStringToObject(eff_result(fx), "privacy", "private");
            char *ch = xstrdup(fx->s1);
            post_message(fx, ch, post_done);
            free(ch);
            return;
        }
        post_reduced(fx, "public", cJSON_IsFalse(priv) ? "conversations.info: is_private false"
                                                       : "conversations.info: no is_private");
        return;
    }
    struct effect_result m;
    char err[128];
    eff_outcome_api(r, false, &m, err, sizeof(err));
    if (m.outcome == EFFECT_RETRY && job_age_ms(fx) < PRIVACY_WAIT_MS) {
        eff_finish_api(fx, r);
        return;
    }
    char why[200];
    snprintf(why, sizeof(why), "conversations.info failed: %s", err);
    post_reduced(fx, "unknown", why);
}

static void post_checked(struct fx *fx, const char *found_ts);

void eff_slack_post(struct fx *fx)
{
    const char *ch = eff_str(fx->payload, "channel");
    if (!ch)
        ch = fx->inc_channel_id;
    if (!ch) {
        eff_wait(fx, "incident channel");
        return;
    }
    if (!eff_str(fx->payload, "text") && !has_blocks(fx->payload)) {
        eff_fail(fx, "bad payload: text missing");
        return;
    }
    free(fx->s1);
    fx->s1 = xstrdup(ch);
    /* After a crash (maybe_sent) the message may be there already. */
    eff_slack_find_posted(fx, ch, eff_str(fx->payload, "thread_ts"), post_checked);
}

static void post_checked(struct fx *fx, const char *found_ts)
{
    char *ch = xstrdup(fx->s1);
    if (found_ts) {
        cJSON_AddTrueToObject(eff_result(fx), "adopted");
        post_landed(fx, ch, found_ts);
        free(ch);
        return;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "private_only"))) {
        cJSON *args = cJSON_CreateObject();
        cJSON_AddStringToObject(args, "channel", ch);
        eff_slack(fx, "conversations.info", args, true, false, privacy_known);
        free(ch);
        return;
    }
    post_message(fx, ch, post_done);
    free(ch);
}

/* ---- slack.dm ---- */

static void dm_checked(struct fx *fx, const char *found_ts)
{
    char *ch = xstrdup(fx->s1);
    if (found_ts) {
        cJSON_AddTrueToObject(eff_result(fx), "adopted");
        post_landed(fx, ch, found_ts);
    } else {
        post_message(fx, ch, post_done);
    }
    free(ch);
}

static void dm_opened(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        eff_finish_api(fx, r);
        return;
    }
    const char *ch = api_str(r, "channel", "id");
    if (!ch) {
        eff_finish(fx, EFFECT_RETRY, -1, fx->job_maybe_sent, "conversations.open: no channel id");
        return;
    }
    free(fx->s1);
    fx->s1 = xstrdup(ch);
    eff_slack_find_posted(fx, ch, NULL, dm_checked);
}

void eff_slack_dm(struct fx *fx)
{
    const char *user = eff_str(fx->payload, "user");
    if (!user) {
        eff_fail(fx, "bad payload: user missing");
        return;
    }
    if (!eff_str(fx->payload, "text") && !has_blocks(fx->payload)) {
        eff_fail(fx, "bad payload: text missing");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "users", user);
    /* Opening a DM changes nothing visible: not a mutation. */
    eff_slack(fx, "conversations.open", args, false, false, dm_opened);
}

/* ---- slack.ephemeral ---- */

static void ephemeral_done(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        eff_finish_api(fx, r);
        return;
    }
    const char *ts = api_str(r, NULL, "message_ts");
    if (ts)
        cJSON_AddStringToObject(eff_result(fx), "message_ts", ts);
    eff_done(fx);
}

void eff_slack_ephemeral(struct fx *fx)
{
    const char *ch = eff_str(fx->payload, "channel");
    if (!ch)
        ch = fx->inc_channel_id;
    const char *user = eff_str(fx->payload, "user");
    if (!ch || !user) {
        eff_fail(fx, "bad payload: channel or user missing");
        return;
    }
    if (!eff_str(fx->payload, "text") && !has_blocks(fx->payload)) {
        eff_fail(fx, "bad payload: text missing");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", ch);
    cJSON_AddStringToObject(args, "user", user);
    add_dup(args, "text", fx->payload);
    add_dup(args, "blocks", fx->payload);
    add_dup(args, "thread_ts", fx->payload);
    fit_logged(fx, blockkit_fit_message(args));
    eff_slack(fx, "chat.postEphemeral", args, false, true, ephemeral_done);
}

/* ---- slack.response_url ---- */

static void response_url_done(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299) {
        eff_done(fx);
        return;
    }
    eff_finish_http(fx, resp, "response_url");
}

void eff_slack_response_url(struct fx *fx)
{
    const char *url = eff_str(fx->payload, "url");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(fx->payload, "body");
    if (!url || !cJSON_IsObject(body)) {
        eff_fail(fx, "bad payload: url or body missing");
        return;
    }
    /* The URL is a bearer capability: never logged. */
    cJSON *b = cJSON_Duplicate(body, 1);
    fit_logged(fx, blockkit_fit_message(b));
    eff_http_post(fx, url, b, true, response_url_done);
}
