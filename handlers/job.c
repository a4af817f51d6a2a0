/* job: the usual effects written as outbox jobs — messages in the incident
 * channel, ephemeral replies, DMs, GitLab notes, answers to a button press —
 * and the idempotency keys they go under.  Runs inside the caller's store
 * transaction and never touches the network: the outbox sends later.
 * Payloads passed in (blocks) are taken over. */
#include "job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/outbox_jobs.h"
#include "../bot/util.h"

static int64_t add(const struct hctx *ctx, int64_t incident_id, const char *key, const char *op, cJSON *p)
{
    int64_t id = outbox_add(ctx->store, incident_id, key, op, p, NULL, 0, 0);
    cJSON_Delete(p);
    return id;
}

int64_t job_post_channel(const struct hctx *ctx, int64_t incident_id, const char *key, const char *channel,
                         const char *thread_ts, const char *text, cJSON *blocks)
{
    cJSON *p = cJSON_CreateObject();
    if (channel)
        cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "text", text ? text : "");
    if (blocks)
        cJSON_AddItemToObject(p, "blocks", blocks);
    if (thread_ts)
        cJSON_AddStringToObject(p, "thread_ts", thread_ts);
    return add(ctx, incident_id, key, "slack.post", p);
}

int64_t job_post_incident(const struct hctx *ctx, const struct incident *inc, const char *key_suffix,
                          const char *text, cJSON *blocks)
{
    char key[160];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc->id, key_suffix);
    /* No channel: the effect waits for the incident channel. */
    return job_post_channel(ctx, inc->id, key, inc->channel_id, NULL, text, blocks);
}

int64_t job_post_incident_req(const struct hctx *ctx, const struct incident *inc, const char *what,
                              const char *req_id, char *text)
{
    char key[160];   /* as job_post_incident's */
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/%s", inc->id, what, req_id);
    int64_t id = job_post_channel(ctx, inc->id, key, inc->channel_id, NULL, text, NULL);
    free(text);
    return id;
}

int64_t job_views_open(const struct hctx *ctx, int64_t incident_id, const char *trigger_id, cJSON *view)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "trigger_id", trigger_id);
    cJSON_AddItemToObject(p, "view", view);
    char *key = xasprintf("views_open/%s", trigger_id);
    int64_t id = outbox_add(ctx->store, incident_id, key, "slack.views_open", p, NULL, 0, 0);
    free(key);
    cJSON_Delete(p);
    return id;
}

int64_t job_ephemeral(const struct hctx *ctx, const char *key, const char *channel, const char *user,
                      const char *text)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "user", user);
    cJSON_AddStringToObject(p, "text", text);
    return add(ctx, 0, key, "slack.ephemeral", p);
}

int64_t job_dm(const struct hctx *ctx, int64_t incident_id, const char *key, const char *user, const char *text,
               cJSON *blocks)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "user", user);
    cJSON_AddStringToObject(p, "text", text);
    if (blocks)
        cJSON_AddItemToObject(p, "blocks", blocks);
    return add(ctx, incident_id, key, "slack.dm", p);
}

int64_t job_gitlab_note(const struct hctx *ctx, const struct incident *inc, const char *key_suffix, const char *body)
{
    if (!ctx->cfg->gitlab_url)
        return 0;
    char key[160], marker[200];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc->id, key_suffix);
    snprintf(marker, sizeof(marker), "sirt:%s:%016llx", key, (unsigned long long)util_rand64());
    char *b = xasprintf("%s\n\n<!-- %s -->", body, marker);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "body", b);
    cJSON_AddStringToObject(p, "marker", marker);
    cJSON_AddTrueToObject(p, "names");   /* {{user.<id>}} in body -> people's names at send time */
    free(b);
    return add(ctx, inc->id, key, "gitlab.note", p);
}

void job_request_key(const struct sirt_req *req, const char *prefix, char *out, size_t size)
{
    const char *id = NULL;
    if (req->source == REQ_SLASH)
        id = req->trigger_id;
    else
        id = util_jstr(req->payload, "event_id");
    if (!id) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(req->payload, "event");
        id = util_jstr(ev, "ts");
    }
    char rnd[24];
    if (!id) {
        snprintf(rnd, sizeof(rnd), "%016llx", (unsigned long long)util_rand64());
        id = rnd;
    }
    snprintf(out, size, "%s/%s", prefix, id);
}

static const char *button_channel(const cJSON *payload)
{
    const char *c = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    return c ? c : util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
}

int64_t job_button_notice(const struct hctx *ctx, const cJSON *payload, const cJSON *action, const char *what,
                          const char *text, bool replace)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *channel = button_channel(payload);
    const char *url = util_jstr(payload, "response_url");
    const char *ts = util_jstr(action, "action_ts");
    if (!ts)
        ts = util_jstr(payload, "trigger_id");
    char key[200];
    snprintf(key, sizeof(key), "%s/%s/%s", what, user ? user : "-", ts ? ts : "0");
    if (url) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "url", url);
        cJSON *body = cJSON_AddObjectToObject(p, "body");
        if (replace) {
            cJSON_AddTrueToObject(body, "replace_original");
        } else {
            cJSON_AddStringToObject(body, "response_type", "ephemeral");
            cJSON_AddFalseToObject(body, "replace_original");
        }
        cJSON_AddStringToObject(body, "text", text);
        return add(ctx, 0, key, "slack.response_url", p);
    }
    if (channel && user)
        return job_ephemeral(ctx, key, channel, user, text);
    if (user)
        return job_dm(ctx, 0, key, user, text, NULL);
    return 0;
}

int job_result(const struct hctx *ctx)
{
    return ctx && store_txn_failed(ctx->store) ? STORE_EIO : 0;
}
