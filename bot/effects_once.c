/* effects_once: posting a Slack message exactly once across crashes and
 * replicas.  Owns the outbox metadata token (HMAC of the job's idempotency
 * key) and the narrow conversations.history / conversations.replies scan
 * a maybe_sent job runs before posting again.  The scan's state lives in
 * fx->scan (freed with the fx); nothing here logs texts or channel names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "effects_internal.h"
#include "log.h"
#include "sha256.h"
#include "slack_api.h"
#include "util.h"

/* Slack's clock and ours may differ, and the message may have gone out on
 * any attempt after the first: scan from the first send minus this. */
#define SCAN_MARGIN_MS (5 * 60 * 1000)
/* conversations.history for apps outside the Marketplace: 1 request a
 * minute, limit at most 15 (protocol-facts-2 §6.2).  Pages after the first
 * only when the channel was busy since the first send. */
#define SCAN_LIMIT 15
#define SCAN_PAGES_MAX 3

_Static_assert(EFF_TOKEN_KEY_LEN == SHA256_LEN, "the token key is one HMAC-SHA-256");

bool eff_outbox_key(const char *secret, unsigned char key[EFF_TOKEN_KEY_LEN])
{
    if (!secret || !secret[0])
        return false;
    /* A key for this one purpose, so the token says nothing about any
     * other use of the secret. */
    static const char purpose[] = "sirt outbox message metadata v1";
    sha256_hmac(secret, strlen(secret), purpose, sizeof(purpose) - 1, key);
    return true;
}

bool eff_outbox_token_keyed(const unsigned char key[EFF_TOKEN_KEY_LEN], const char *idem_key,
                            char out[EFF_TOKEN_HEX + 1])
{
    out[0] = '\0';
    if (!idem_key || !idem_key[0])
        return false;
    unsigned char mac[SHA256_LEN];
    sha256_hmac(key, EFF_TOKEN_KEY_LEN, idem_key, strlen(idem_key), mac);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < EFF_TOKEN_HEX / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[EFF_TOKEN_HEX] = '\0';
    return true;
}

bool eff_outbox_token(const char *secret, const char *idem_key, char out[EFF_TOKEN_HEX + 1])
{
    out[0] = '\0';
    unsigned char key[EFF_TOKEN_KEY_LEN];
    if (!idem_key || !idem_key[0] || !eff_outbox_key(secret, key))
        return false;
    bool ok = eff_outbox_token_keyed(key, idem_key, out);
    explicit_bzero(key, sizeof(key));
    return ok;
}

/* The key is derived at the job's first post and kept in the app (see
 * app.h: the secret does not change while the process runs). */
static bool fx_token(const struct fx *fx, char out[EFF_TOKEN_HEX + 1])
{
    out[0] = '\0';
    struct sirt_app *app = fx->app;
    if (!app)
        return false;
    if (!app->outbox_key_set)
        app->outbox_key_set = eff_outbox_key(app->cfg ? app->cfg->slack_bot_token : NULL, app->outbox_key);
    return app->outbox_key_set && eff_outbox_token_keyed(app->outbox_key, fx->idem_key, out);
}

cJSON *eff_post_metadata(const struct fx *fx)
{
    char token[EFF_TOKEN_HEX + 1];
    if (!fx_token(fx, token))
        return NULL;
    cJSON *md = cJSON_CreateObject();
    cJSON_AddStringToObject(md, "event_type", EFF_OUTBOX_EVENT);
    cJSON *p = cJSON_AddObjectToObject(md, "event_payload");
    cJSON_AddStringToObject(p, "job", token);
    return md;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

const cJSON *eff_find_own_message(const cJSON *messages, const char *token, const char *bot_user,
                                  const char *bot_id)
{
    if (!token || !token[0])
        return NULL;
    bool know_user = bot_user && bot_user[0], know_bot = bot_id && bot_id[0];
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        /* Only the bot can have posted it; without our identity yet the
         * token alone decides (it cannot be made without the secret). */
        if ((know_user || know_bot) && !(know_user && same(eff_str(m, "user"), bot_user))
            && !(know_bot && same(eff_str(m, "bot_id"), bot_id)))
            continue;
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(m, "metadata");
        if (!same(eff_str(md, "event_type"), EFF_OUTBOX_EVENT))
            continue;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(md, "event_payload");
        if (same(eff_str(p, "job"), token) && eff_str(m, "ts"))
            return m;
    }
    return NULL;
}

static void scan_page(struct fx *fx);

static void scan_end(struct fx *fx, const char *ts)
{
    void (*then)(struct fx *, const char *) = fx->scan.then;
    fx->scan.then = NULL;
    then(fx, ts);
}

static void scan_done(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        struct effect_result m;
        char err[128];
        eff_outcome_api(r, false, &m, err, sizeof(err));
        bool limited = r->err == API_ERATELIMITED || (r->err == API_EHTTP && r->http_status == 429)
                       || (r->err == API_ESLACK && strstr(r->error, "rate"));
        if (m.outcome == EFFECT_RETRY && !(limited && fx->scan.pages > 0)) {
            /* Ask again later, still maybe_sent: after Retry-After on a 429. */
            LOG_INFO("outbox: looking for a message that may have been posted: retry later",
                     "job:l op:s error:s", (long long)fx->job_id, fx->op, err);
            eff_finish_api(fx, r);
            return;
        }
        /* A lasting error (missing_scope: the app was not reinstalled with
         * the history scopes; not_in_channel), or the rate limit on a later
         * page (starting over would meet it again): post, it may repeat. */
        LOG_WARN("outbox: cannot look for a message that may have been posted; posting it (it may repeat)",
                 "job:l op:s error:s page:d", (long long)fx->job_id, fx->op, err, fx->scan.pages + 1);
        scan_end(fx, NULL);
        return;
    }
    fx->scan.pages++;
    char token[EFF_TOKEN_HEX + 1];
    fx_token(fx, token);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r->json, "messages");
    const cJSON *own = eff_find_own_message(msgs, token, fx->app->bot_user_id, fx->app->bot_id);
    if (own) {
        LOG_INFO("outbox: found the message an earlier attempt posted; not posting again",
                 "job:l op:s pages:d", (long long)fx->job_id, fx->op, fx->scan.pages);
        char *ts = xstrdup(eff_str(own, "ts"));
        scan_end(fx, ts);
        free(ts);
        return;
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(r->json, "response_metadata");
    const char *next = eff_str(rm, "next_cursor");
    if (next && fx->scan.pages < SCAN_PAGES_MAX) {
        free(fx->scan.cursor);
        fx->scan.cursor = xstrdup(next);
        scan_page(fx);
        return;
    }
    if (next)
        LOG_WARN("outbox: message not found in the newest pages; posting it (it may repeat)",
                 "job:l op:s pages:d", (long long)fx->job_id, fx->op, fx->scan.pages);
    scan_end(fx, NULL);
}

static void scan_page(struct fx *fx)
{
    int64_t from = fx->job_first_ms > 0 ? fx->job_first_ms : fx->job_created_ms;
    from -= SCAN_MARGIN_MS;
    if (from < 0)
        from = 0;
    char oldest[32];
    snprintf(oldest, sizeof(oldest), "%lld.%06lld", (long long)(from / 1000), (long long)(from % 1000) * 1000);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", fx->scan.channel);
    if (fx->scan.thread_ts)
        cJSON_AddStringToObject(args, "ts", fx->scan.thread_ts);
    cJSON_AddStringToObject(args, "oldest", oldest);
    cJSON_AddTrueToObject(args, "include_all_metadata");
    cJSON_AddNumberToObject(args, "limit", SCAN_LIMIT);
    if (fx->scan.cursor)
        cJSON_AddStringToObject(args, "cursor", fx->scan.cursor);
    eff_slack(fx, fx->scan.thread_ts ? "conversations.replies" : "conversations.history", args, true, false,
              scan_done);
}

void eff_slack_find_posted(struct fx *fx, const char *channel, const char *thread_ts,
                           void (*then)(struct fx *fx, const char *ts))
{
    char token[EFF_TOKEN_HEX + 1];
    if (!fx->job_maybe_sent || !channel || !fx_token(fx, token)) {
        then(fx, NULL);
        return;
    }
    free(fx->scan.channel);
    free(fx->scan.thread_ts);
    free(fx->scan.cursor);
    fx->scan.channel = xstrdup(channel);
    fx->scan.thread_ts = thread_ts ? xstrdup(thread_ts) : NULL;
    fx->scan.cursor = NULL;
    fx->scan.pages = 0;
    fx->scan.then = then;
    scan_page(fx);
}
