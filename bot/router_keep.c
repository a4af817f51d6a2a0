/* router_keep: making an envelope durable before its ack — its inbox row
 * (masked) and, for an event, its event id — and what happens when the
 * store cannot: the envelope is refused at the ack, or its sender told
 * directly.  Those notices are the one exception to "every effect through
 * the outbox" (the outbox is in the failing store). */
#include "router_state.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "slack_api.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

/* ---- keeping an envelope: its inbox row ---- */

/* Keys whose values are Slack's own handles, used as they are on a replay
 * (never user text): left unmasked. */
static bool inbox_key_kept(const char *key)
{
    if (!key)
        return false;
    size_t n = strlen(key);
    return strcmp(key, "response_url") == 0 || strcmp(key, "id") == 0
        || (n > 3 && strcmp(key + n - 3, "_id") == 0);
}

/* Masks the secrets in every string of `node` (in place), so the inbox row
 * that keeps an envelope until it is handled holds no secret either: a
 * replay hands the handler the masked text, which masking leaves as it is. */
static void inbox_mask(cJSON *node, const char *key, int depth)
{
    if (!node || depth > 64)
        return;
    if (cJSON_IsString(node) && node->valuestring && !inbox_key_kept(key)) {
        if (mask_count(node->valuestring) > 0) {
            char *m = mask_secrets(node->valuestring);
            if (m) {
                cJSON_SetValuestring(node, m);
                free(m);
            }
        }
        return;
    }
    for (cJSON *c = node->child; c; c = c->next)
        inbox_mask(c, c->string, depth + 1);
}

int router__record_event(struct router *rt, const char *type, const cJSON *envelope)
{
    if (strcmp(type, "events_api") != 0)
        return 0;
    const char *eid = util_jstr(cJSON_GetObjectItemCaseSensitive(envelope, "payload"), "event_id");
    int dup = eid && eid[0] ? store_event_record(rt->app->store, eid, clock_now_ms()) : 0;
    if (dup == 1) {
        metrics_duplicate_event(rt->app->metrics);
        LOG_INFO("duplicate event ignored", "event_id:s", eid);
    }
    return dup;
}

int64_t router__keep_one(struct router *rt, const char *type, const cJSON *envelope)
{
    struct store *st = rt->app->store;
    int dup = router__record_event(rt, type, envelope);
    if (dup != 0)
        return dup < 0 ? dup : 0;
    cJSON *kept = cJSON_Duplicate(envelope, true);
    inbox_mask(kept, NULL, 0);
    char *json = kept ? cJSON_PrintUnformatted(kept) : NULL;
    cJSON_Delete(kept);
    int64_t id = json ? store_inbox_add(st, type, json, clock_now_ms()) : STORE_EIO;
    cJSON_free(json);
    return id > 0 ? id : (id < 0 ? id : STORE_EIO);
}

void router__set_inbox_id(cJSON *envelope, int64_t id)
{
    cJSON_DeleteItemFromObjectCaseSensitive(envelope, "sirt_inbox_id");
    cJSON_AddNumberToObject(envelope, "sirt_inbox_id", (double)id);
}

/* ---- notices when the store fails ----
 *
 * These are the one documented exception to "every effect goes through the
 * durable outbox": the outbox lives in the store, and the store is what is
 * failing.  They go straight to the Slack API client, once, best effort; a
 * notice lost with a crash at that moment costs a message, not a report
 * (a kept envelope is replayed whatever happens to its notice). */

static const char *payload_user_id(const char *type, const cJSON *payload)
{
    if (strcmp(type, "slash_commands") == 0)
        return util_jstr(payload, "user_id");
    if (strcmp(type, "events_api") == 0)
        return util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "event"), "user");
    return util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
}

static const char *payload_channel_id(const char *type, const cJSON *payload)
{
    if (strcmp(type, "slash_commands") == 0)
        return util_jstr(payload, "channel_id");
    if (strcmp(type, "events_api") == 0)
        return util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "event"), "channel");
    const char *c = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    return c ? c : util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
}

/* The end of "…page security by hand: …", in mrkdwn or plain text. */
static char *by_hand(const struct sirt_app *app, bool mrkdwn)
{
    const char *ch = app->cfg ? app->cfg->sirt_channel : NULL;
    if (ch && *ch && mrkdwn)
        return xasprintf("trigger the security on-call service in PagerDuty yourself, and post in <#%s>.", ch);
    return xstrdup("trigger the security on-call service in PagerDuty yourself, and tell the SIRT team in "
                   "their Slack channel.");
}

/* The reporter's words for a request the bot could not take (refused at the
 * ack: nothing was kept) or could not finish (kept: replayed by itself). */
char *router__notice_text(const struct sirt_app *app, bool kept, bool mrkdwn)
{
    char *hand = by_hand(app, mrkdwn);
    char *t = kept ? xasprintf("sirt could not finish this just now: its database is failing. Your request is "
                               "saved and will be done by itself as soon as the database is back — no need to "
                               "send it again. If it is urgent, page security by hand: %s", hand)
                   : xasprintf("sirt cannot save this right now — try again in a minute; if it is urgent, page "
                               "security by hand: %s", hand);
    free(hand);
    return t;
}

static void on_notice_sent(void *ud, const struct api_result *r)
{
    (void)ud;
    if (r->err != API_OK && r->err != API_ECANCELED)
        LOG_WARN("store-failure notice not delivered", "error:s", r->error);
}

/* Tells whoever sent the envelope, by the most private way its payload
 * allows: the response_url (ephemeral), chat.postEphemeral in the channel,
 * else a DM (chat.postMessage to the user id). */
static void notify_direct_loop(struct router *rt, const char *type, const cJSON *payload, const char *text)
{
    struct sirt_app *app = rt->loop_app;
    if (!app->api)
        return;
    const char *user = payload_user_id(type, payload);
    const char *channel = payload_channel_id(type, payload);
    const char *url = util_jstr(payload, "response_url");
    const char *itype = util_jstr(payload, "type");
    bool view = strcmp(type, "interactive") == 0 && itype && strcmp(itype, "view_submission") == 0;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "text", text);
    if (url && !view) {
        cJSON_AddStringToObject(a, "response_type", "ephemeral");
        cJSON_AddFalseToObject(a, "replace_original");
        api_post_url(app->api, url, a, on_notice_sent, NULL);
    } else if (channel && user && !view) {
        cJSON_AddStringToObject(a, "channel", channel);
        cJSON_AddStringToObject(a, "user", user);
        api_call(app->api, "chat.postEphemeral", a, on_notice_sent, NULL);
    } else if (user) {
        cJSON_AddStringToObject(a, "channel", user);
        api_call(app->api, "chat.postMessage", a, on_notice_sent, NULL);
    } else {
        LOG_WARN("store-failure notice: nobody to tell", "type:s", type);
    }
    cJSON_Delete(a);
}

struct notice_msg {
    struct router *rt;
    char type[24];
    cJSON *payload;
    char *text;
};

static void notice_on_loop(void *arg)
{
    struct notice_msg *m = arg;
    notify_direct_loop(m->rt, m->type, m->payload, m->text);
    cJSON_Delete(m->payload);
    free(m->text);
    free(m);
}

/* Store thread: the notice goes out from the loop (it owns the network). */
void router__notify_direct(struct router *rt, const char *type, const cJSON *payload, const char *text)
{
    struct notice_msg *m = xcalloc(1, sizeof(*m));
    m->rt = rt;
    str_lcpy(m->type, type, sizeof(m->type));
    m->payload = cJSON_Duplicate(payload, true);
    m->text = xstrdup(text);
    storeq_to_loop(rt->app->storeq, notice_on_loop, m);
}

/* The block of a modal the error is shown on: its first input block. */
static const char *first_input_block(const cJSON *view)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(view, "blocks")) {
        const char *t = util_jstr(b, "type");
        const char *id = util_jstr(b, "block_id");
        if (t && id && strcmp(t, "input") == 0)
            return id;
    }
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(view, "state"), "values");
    return values && values->child && values->child->string ? values->child->string : "title";
}

/* The inbox write failed before the ack: the envelope cannot be kept, so it
 * is not handled, and the ack says so where Slack lets it (a form stays
 * open with the error on it; a slash command's ack is its reply).  Other
 * envelopes get a direct notice.  Returns the ack payload to send. */
static cJSON *refuse_at_ack(struct router *rt, const char *type, const cJSON *payload, cJSON *ack)
{
    const char *itype = util_jstr(payload, "type");
    if (strcmp(type, "interactive") == 0 && itype && strcmp(itype, "view_submission") == 0) {
        cJSON_Delete(ack);
        char *t = router__notice_text(rt->app, false, false);
        ack = cJSON_CreateObject();
        cJSON_AddStringToObject(ack, "response_action", "errors");
        cJSON *errs = cJSON_AddObjectToObject(ack, "errors");
        cJSON_AddStringToObject(errs, first_input_block(cJSON_GetObjectItemCaseSensitive(payload, "view")), t);
        free(t);
        return ack;
    }
    char *t = router__notice_text(rt->app, false, true);
    if (strcmp(type, "slash_commands") == 0) {
        cJSON_Delete(ack);
        ack = cJSON_CreateObject();
        cJSON_AddStringToObject(ack, "response_type", "ephemeral");
        cJSON_AddStringToObject(ack, "text", t);
    } else {
        router__notify_direct(rt, type, payload, t);
    }
    free(t);
    return ack;
}

/* Durable on its own: its own transaction.  On failure the envelope is
 * refused (the ack says so, or a direct notice). */
void router__keep_alone(struct router *rt, const char *type, cJSON *envelope, cJSON **ack, bool *want_work)
{
    struct store *st = rt->app->store;
    int64_t id = STORE_EIO;
    if (store_begin(st) == 0) {
        id = router__keep_one(rt, type, envelope);
        if (id < 0 || store_txn_failed(st)) {
            store_rollback(st);
            id = id < 0 ? id : STORE_EIO;
        } else if (store_commit(st) != 0) {
            id = STORE_EIO;
        }
    }
    if (id > 0) {
        router__set_inbox_id(envelope, id);
        metrics_store_batch(rt->app->metrics, 1);
    } else if (id == 0) {
        *want_work = false;
    } else {
        /* Not kept, so not handled: handled from memory it could be
         * lost by the same failure, after an ack that promised it. */
        LOG_ERROR("store cannot keep the envelope: refused with a notice to the sender", "type:s", type);
        *want_work = false;
        *ack = refuse_at_ack(rt, type, cJSON_GetObjectItemCaseSensitive(envelope, "payload"), *ack);
    }
}
