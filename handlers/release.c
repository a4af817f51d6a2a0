/* release: the long-term fix.  `/sirt release [SIRT-n] <URL>` records the
 * critical security release issue or MR (store, timeline release_recorded,
 * the channel, a note on the GitLab issue); an open S1/P1 incident without
 * one gets a daily reminder DM to its owner (timer release_reminder, which
 * the scheduler fires once across replicas); resolving one asks first
 * (Resolve anyway / Cancel), re-checked when a button is pressed.  All
 * writes go into the router's or the scheduler's transaction; every text
 * from a user is masked before it is stored or repeated. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "bk.h"
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define URL_MAX 500
#define REMIND_EVERY_MS (24LL * 3600 * 1000)

static bool is_open(const struct incident *inc)
{
    return inc->state && strcmp(inc->state, "open") == 0;
}

static bool critical(const struct incident *inc)
{
    return inc->severity == 1 || inc->priority == 1;
}

static bool has_release(const struct hctx *ctx, int64_t id)
{
    struct release r;
    if (store_release_get(ctx->store, id, &r) != 0)
        return false;
    release_finish(&r);
    return true;
}

static void reminder_key(int64_t id, char *out, size_t n)
{
    snprintf(out, n, "release_reminder/SIRT-%" PRId64, id);
}

/* ---- the reminder ---- */

void release_plan(const struct hctx *ctx, const struct incident *inc)
{
    if (!ctx->store || !is_open(inc) || !critical(inc) || has_release(ctx, inc->id))
        return;
    char key[64];
    reminder_key(inc->id, key, sizeof(key));
    struct sched_timer t;
    memset(&t, 0, sizeof(t));
    if (store_timer_get(ctx->store, key, &t) == 0) {
        sched_timer_finish(&t);
        return;   /* already planned: keep its day */
    }
    int64_t now = ctx->now_ms();
    store_timer_set(ctx->store, key, "release_reminder", inc->id, now + REMIND_EVERY_MS, "{}", now);
}

void release_reminder_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (t->incident_id <= 0 || store_incident_get(ctx->store, t->incident_id, &inc) != 0)
        return;
    /* Stops by itself once resolved, lowered, or recorded. */
    if (!is_open(&inc) || !critical(&inc) || has_release(ctx, inc.id)) {
        incident_finish(&inc);
        return;
    }
    const char *to = inc.owner ? inc.owner : inc.reporter;
    if (to) {
        char *text = xasprintf(":alarm_clock: SIRT-%" PRId64 " (S%d/P%d) has no long-term fix recorded yet. "
                               "When the critical security release issue or MR exists, record it with "
                               "`/sirt release SIRT-%" PRId64 " <URL>`. I will remind you daily until then. "
                               "Channel: {{incident.channel}}.",
                               inc.id, inc.severity, inc.priority, inc.id);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "user", to);
        cJSON_AddStringToObject(p, "text", text);
        cJSON_AddStringToObject(p, "if_state", "open");   /* resolved meanwhile: dropped */
        char key[128];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/release_reminder/%" PRId64, inc.id, t->id);
        outbox_add(ctx->store, inc.id, key, "slack.dm", p, NULL, 0, 0);
        cJSON_Delete(p);
        free(text);
        inc_timeline_add(ctx, inc.id, "sirtbot", "release_reminder", "reminded <@%s> that no long-term fix is recorded",
                         to);
    }
    char key[64];
    reminder_key(inc.id, key, sizeof(key));
    int64_t now = ctx->now_ms();
    store_timer_set(ctx->store, key, "release_reminder", inc.id, now + REMIND_EVERY_MS, "{}", now);
    incident_finish(&inc);
}

/* ---- /sirt release ---- */

/* The URL argument: "<https://x|label>", "<https://x>" or a bare URL; a
 * masked copy in out, or false. */
static bool parse_url(const char *arg, char *out, size_t n)
{
    char *s = txt_trim(arg);
    char *u = s;
    if (*u == '<') {
        u++;
        u[strcspn(u, "|>")] = '\0';
    }
    bool ok = (str_starts(u, "https://") || str_starts(u, "http://")) && strlen(u) > 8 && strlen(u) <= URL_MAX;
    for (const char *p = u; ok && *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == '`')
            ok = false;
    if (ok) {
        char *m = txt_clean(u, URL_MAX + 32);
        str_lcpy(out, m, n);
        free(m);
    }
    free(s);
    return ok;
}

static int release_parse(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc, char *url,
                         size_t ulen, char *msg, size_t len)
{
    const char *rest = NULL;
    if (inc_for(ctx, req->channel_id, req->args, inc, &rest, msg, len) != 0)
        return -1;
    if (!inc_authorized(ctx, inc, req->user_id) && !inc_in_channel(inc, req->channel_id)) {
        snprintf(msg, len, "Sorry, only the SIRT team and the people on SIRT-%" PRId64 " can record its long-term "
                           "fix.", inc->id);
        incident_finish(inc);
        return -1;
    }
    if (!rest || !*rest || !parse_url(rest, url, ulen)) {
        snprintf(msg, len, "Usage: `/sirt release SIRT-%" PRId64 " <URL>`: the URL (http or https) of the "
                           "critical security release issue or merge request.", inc->id);
        incident_finish(inc);
        return -1;
    }
    return 0;
}

void release_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char msg[400], url[URL_MAX + 40];
    if (release_parse(ctx, req, &inc, url, sizeof(url), msg, sizeof(msg)) != 0) {
        reply_set_text(out, "%s", msg);
        return;
    }
    if (req->source == REQ_SLASH || !inc_in_channel(&inc, req->channel_id))
        reply_set_text(out, "Recording the long-term fix of SIRT-%" PRId64 "…", inc.id);
    incident_finish(&inc);
}

int release_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char msg[400], url[URL_MAX + 40];
    if (release_parse(ctx, req, &inc, url, sizeof(url), msg, sizeof(msg)) != 0)
        return job_result(ctx);
    int64_t now = ctx->now_ms();
    bool again = has_release(ctx, inc.id);
    store_release_set(ctx->store, inc.id, url, req->user_id, now);
    inc_timeline_add(ctx, inc.id, req->user_id, "release_recorded", "%s", url);
    char key[300];
    reminder_key(inc.id, key, sizeof(key));
    store_timer_cancel(ctx->store, key);

    char id[200];
    job_request_key(req, "req", id, sizeof(id));
    char *shown = txt_line(url, URL_MAX + 40);
    char *text = xasprintf(":link: <@%s> %s the long-term fix of SIRT-%" PRId64 " (critical security release): %s",
                           req->user_id, again ? "replaced" : "recorded", inc.id, shown);
    job_post_incident_req(ctx, &inc, "release", id, text);
    free(shown);
    char *body = xasprintf("**Long-term fix** (critical security release issue or MR): %s\n\nRecorded by "
                           "{{user.%s}}.", url, req->user_id);
    snprintf(key, sizeof(key), "release_note/%s", id);
    closeout_note(ctx, &inc, key, body);
    free(body);
    LOG_INFO("long-term fix recorded", "incident:l user:s", (long long)inc.id, req->user_id);
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- the resolve confirmation ---- */

bool release_gate(const struct hctx *ctx, const struct incident *inc)
{
    return ctx->store && is_open(inc) && critical(inc) && !has_release(ctx, inc->id);
}

static cJSON *confirm_blocks(const struct incident *inc, char **text)
{
    *text = xasprintf("Resolve SIRT-%" PRId64 " without a long-term fix recorded?", inc->id);
    char *body = xasprintf("*Resolve SIRT-%" PRId64 " without a long-term fix recorded?*\n"
                           "It is S%d/P%d, and no critical security release issue or MR is recorded for it. "
                           "Record it with `/sirt release SIRT-%" PRId64 " <URL>` and resolve then, or resolve "
                           "anyway (the weekly review will list it).",
                           inc->id, inc->severity, inc->priority, inc->id);
    char val[32];
    snprintf(val, sizeof(val), "SIRT-%" PRId64, inc->id);
    cJSON *blocks = cJSON_CreateArray();
    cJSON_AddItemToArray(blocks, bk_section(body));
    cJSON *acts = bk_actions("resolve_confirm");
    cJSON *els = cJSON_GetObjectItemCaseSensitive(acts, "elements");
    cJSON_AddItemToArray(els, bk_button("Resolve anyway", "resolve_anyway", val, "danger"));
    cJSON_AddItemToArray(els, bk_button("Cancel", "resolve_cancel", val, NULL));
    cJSON_AddItemToArray(blocks, acts);
    free(body);
    return blocks;
}

void release_confirm_reply(const struct incident *inc, struct sirt_reply *out)
{
    char *text = NULL;
    cJSON *blocks = confirm_blocks(inc, &text);
    reply_set_text(out, "%s", text);
    cJSON_Delete(out->blocks);
    out->blocks = blocks;
    free(text);
}

static void ephemeral_blocks(const struct hctx *ctx, const char *key, const char *channel, const char *user,
                             const struct incident *inc)
{
    char *text = NULL;
    cJSON *blocks = confirm_blocks(inc, &text);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "user", user);
    cJSON_AddStringToObject(p, "text", text);
    cJSON_AddItemToObject(p, "blocks", blocks);
    outbox_add(ctx->store, 0, key, "slack.ephemeral", p, NULL, 0, 0);
    cJSON_Delete(p);
    free(text);
}

void release_confirm_ephemeral(const struct hctx *ctx, const struct incident *inc, const char *channel,
                               const char *user, const char *req_id)
{
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/resolve_confirm/%s", inc->id, req_id);
    if (channel && user)
        ephemeral_blocks(ctx, key, channel, user, inc);
}

static void press_key(const char *what, const cJSON *payload, const cJSON *action, char *out, size_t n)
{
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *ts = util_jstr_set(action, "action_ts");
    snprintf(out, n, "%s/%s/%s", what, user ? user : "-", ts ? ts : util_jstr_set(payload, "trigger_id") ? util_jstr_set(payload, "trigger_id") : "0");
}

void release_confirm_button(const struct hctx *ctx, const struct incident *inc, const cJSON *payload,
                            const cJSON *action)
{
    char key[256];
    press_key("resolve_confirm", payload, action, key, sizeof(key));
    const char *url = util_jstr_set(payload, "response_url");
    if (url) {
        char *text = NULL;
        cJSON *blocks = confirm_blocks(inc, &text);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "url", url);
        cJSON *body = cJSON_AddObjectToObject(p, "body");
        cJSON_AddStringToObject(body, "response_type", "ephemeral");
        cJSON_AddFalseToObject(body, "replace_original");
        cJSON_AddStringToObject(body, "text", text);
        cJSON_AddItemToObject(body, "blocks", blocks);
        outbox_add(ctx->store, 0, key, "slack.response_url", p, NULL, 0, 0);
        cJSON_Delete(p);
        free(text);
        return;
    }
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *channel = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    if (!channel)
        channel = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
    if (user && channel)
        ephemeral_blocks(ctx, key, channel, user, inc);
}

int release_resolve_anyway(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    struct incident inc;
    if (!user)
        return job_result(ctx);
    if (inc_for_button(ctx, payload, action, "resolve-anyway", true, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    /* Re-checked now: who presses, and whether it is still unresolved. */
    if (resolve_check(ctx, &inc, user, msg, sizeof(msg)) != 0) {
        job_button_notice(ctx, payload, action, "resolve-anyway-refused", msg, true);
        incident_finish(&inc);
        return job_result(ctx);
    }
    char id[200];
    press_key("anyway", payload, action, id, sizeof(id));
    if (release_gate(ctx, &inc)) {
        inc_timeline_add(ctx, inc.id, user, "resolved_without_release",
                         "resolved by <@%s> without a long-term fix recorded", user);
        snprintf(msg, sizeof(msg), "Resolving SIRT-%" PRId64 " without a long-term fix recorded.", inc.id);
    } else {
        /* Recorded (or lowered) since the question: an ordinary resolve. */
        snprintf(msg, sizeof(msg), "Resolving SIRT-%" PRId64 " (its long-term fix is recorded now).", inc.id);
    }
    resolve_plan(ctx, &inc, user, id);
    job_button_notice(ctx, payload, action, "resolve-anyway", msg, true);
    incident_finish(&inc);
    return job_result(ctx);
}

int release_resolve_cancel(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    struct incident inc;
    char msg[300];
    if (inc_of_button(ctx, action, &inc) != 0) {
        job_button_notice(ctx, payload, action, "resolve-cancel", "Cancelled: nothing was resolved.", true);
        return job_result(ctx);
    }
    snprintf(msg, sizeof(msg), "Cancelled: SIRT-%" PRId64 " stays open. Record its long-term fix with "
                               "`/sirt release SIRT-%" PRId64 " <URL>`, then resolve it.", inc.id, inc.id);
    job_button_notice(ctx, payload, action, "resolve-cancel", msg, true);
    incident_finish(&inc);
    return job_result(ctx);
}
