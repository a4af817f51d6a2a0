/* router: turns envelopes into handler calls (see router.h).  Two sides:
 * the loop side owns the ingest list (guarded by mu), the retry timer and
 * the sending of acks and direct notices; the store-thread side owns the
 * event-id de-duplication set, the list of inbox rows whose work failed,
 * and runs every handler (rt->app is the store thread's view of the app).
 * Replies to mentions and DMs go through the outbox from the work phase;
 * slash command replies travel in the ack payload.  Notices that the store
 * is failing are the one exception to "every effect through the outbox"
 * (see notify_direct).  An envelope is owned by its env_item until freed. */
#include "router.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dedup.h"
#include "dispatch.h"
#include "log.h"
#include "mask.h"
#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "outbox.h"
#include "scheduler.h"
#include "slack_api.h"
#include "socket_mode.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

#define DEDUP_CAPACITY 8192
#define VERB_MAX 32
#define RETRY_FIRST_MS 1000       /* first replay of a failed envelope */
#define RETRY_MAX_MS 60000        /* backoff cap between replays */
#define RETRY_BATCH 64            /* envelopes replayed per timer tick */

/* One envelope from the socket to its ack (and, when it needs work, on to
 * its handler).  Built on the loop, filled on the store thread, acked back
 * on the loop. */
struct env_item {
    struct env_item *next;
    struct router *rt;
    struct sm_ack *tok;
    char type[24];
    cJSON *env;               /* owned */
    cJSON *ack;               /* ack payload, owned until sent */
    bool want_work;
    char *notice;             /* direct notice to send from the loop, or NULL */
    cJSON *notice_payload;    /* what it answers (a copy), with notice */
};

struct router {
    struct sirt_app *app;     /* the store thread's view */
    const struct router_table *table;   /* borrowed from the composition root */
    struct sirt_app *loop_app;
    struct dedup *dedup;
    pthread_mutex_t mu;       /* guards the ingest list */
    struct env_item *in_head, *in_tail;
    bool ingest_posted;
    /* Inbox rows this replica holds whose work failed, to replay (ascending ids). */
    int64_t *retry;
    size_t n_retry, cap_retry;
    uint64_t retry_delay_ms;  /* next backoff step */
    int retry_rounds;         /* replay rounds since the last success */
    bool old_pending;         /* the inbox could not be claimed from: try again */
    bool retry_armed;         /* a replay round is on its way (store thread) */
    bool stopping;            /* loop side: closing */
    uv_timer_t retry_timer;   /* loop side */
    bool timer_init;
    uv_timer_t sweep_timer;   /* loop side: leases renewed, the inbox claimed from */
    bool sweep_init;
    bool sweeping;            /* store thread: a sweep is running */
    /* Store thread: kept envelopes waiting for their handlers; what
     * gathered while the thread was busy runs as one batch (one commit). */
    struct env_item *work_head, *work_tail;
    bool work_posted;
};

/* ---- parsing helpers ---- */

void router_split(const char *text, char *verb, size_t verblen, const char **args)
{
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p))
        p++;
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]))
        n++;
    size_t k = 0;
    for (; k < n && k + 1 < verblen; k++)
        verb[k] = (char)tolower((unsigned char)p[k]);
    if (verblen)
        verb[k] = '\0';
    if (n >= verblen && verblen >= 2)   /* too long to be a verb we know: keep it unknown */
        verb[verblen - 2] = '~';
    p += n;
    while (isspace((unsigned char)*p))
        p++;
    *args = p;
}

const char *router_strip_mention(const char *text, const char *user_id)
{
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p))
        p++;
    if (user_id && user_id[0] && p[0] == '<' && p[1] == '@') {
        size_t ul = strlen(user_id);
        if (strncmp(p + 2, user_id, ul) == 0 && (p[2 + ul] == '>' || p[2 + ul] == '|')) {
            const char *end = strchr(p, '>');
            if (end)
                p = end + 1;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* Right-trims args into a private copy: trailing whitespace never matters. */
static char *trimmed(const char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

/* ---- replies ---- */

/* The router owns a reply once the handler filled it (bot/dispatch.h). */
static void reply_free(struct sirt_reply *r)
{
    free(r->text);
    cJSON_Delete(r->blocks);
    r->text = NULL;
    r->blocks = NULL;
}

static cJSON *reply_to_ack(struct sirt_reply *r)
{
    if (!r->text && !r->blocks)
        return NULL;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "response_type", "ephemeral");
    cJSON_AddStringToObject(p, "text", r->text ? r->text : "");
    if (r->blocks) {
        cJSON_AddItemToObject(p, "blocks", r->blocks);
        r->blocks = NULL;
    }
    return p;
}

/* Mention and DM replies go through the outbox like every other effect;
 * key names the delivery (event id) so a replayed event cannot post twice. */
static int64_t post_reply(struct router *rt, const struct sirt_req *req, struct sirt_reply *r, const char *key)
{
    if (!r->text && !r->blocks)
        return 0;
    if (!rt->app->store) {
        LOG_ERROR("no store: reply not sent", "channel:s", req->channel_id);
        return 0;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", req->channel_id);
    cJSON_AddStringToObject(p, "text", r->text ? r->text : "");
    if (r->blocks) {
        cJSON_AddItemToObject(p, "blocks", r->blocks);
        r->blocks = NULL;
    }
    if (req->thread_ts)
        cJSON_AddStringToObject(p, "thread_ts", req->thread_ts);
    char *k = xasprintf("reply/%s", key);
    int64_t id = outbox_add(rt->app->store, 0, k, "slack.post", p, NULL, 0, 0);
    free(k);
    cJSON_Delete(p);
    return id;
}

/* ---- slash commands ---- */

struct parsed {
    struct sirt_req req;
    char verb[VERB_MAX];
    char *args;                /* owned */
};

static bool parse_slash(const cJSON *payload, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    const char *user = util_jstr(payload, "user_id");
    const char *channel = util_jstr(payload, "channel_id");
    const char *text = util_jstr(payload, "text");
    if (!user || !channel) {
        LOG_WARN("slash command without user_id/channel_id: ignored", "");
        return false;
    }
    const char *rest;
    router_split(text, p->verb, sizeof(p->verb), &rest);
    p->args = trimmed(rest);
    p->req.source = REQ_SLASH;
    p->req.user_id = user;
    p->req.channel_id = channel;
    p->req.verb = p->verb;
    p->req.args = p->args;
    p->req.trigger_id = util_jstr(payload, "trigger_id");
    p->req.response_url = util_jstr(payload, "response_url");
    p->req.payload = payload;
    return true;
}

static const struct sirt_verb *verb_for(const struct router *rt, const char *verb)
{
    return rt->table->verb(verb[0] ? verb : "help");
}

static cJSON *ack_slash(struct router *rt, const cJSON *payload, bool *want_work)
{
    struct parsed p;
    if (!parse_slash(payload, &p))
        return NULL;
    const struct sirt_verb *v = verb_for(rt, p.verb);
    struct sirt_reply r = { 0 };
    if (v) {
        if (v->respond)
            v->respond(rt->app, &p.req, &r);
        *want_work = v->work != NULL;
    } else {
        rt->table->unknown(rt->app, &p.req, &r);
    }
    LOG_INFO("slash command", "verb:s user:s known:b", p.verb, p.req.user_id, v != NULL);
    cJSON *ack = reply_to_ack(&r);
    reply_free(&r);
    free(p.args);
    return ack;
}

/* Loop: a slash command whose verb the handlers' table marks store_free
 * (no work, a respond that reads neither the store nor the app) is answered
 * here, at once: nothing of it has to be durable before its ack (it changes
 * nothing, and the ack is its whole reply), and slash commands carry no
 * event id to record.  True when it was acked; false leaves the envelope to
 * the store thread as usual. */
static bool ack_store_free(struct router *rt, struct sm_ack *tok, const char *type, const cJSON *envelope)
{
    if (strcmp(type, "slash_commands") != 0)
        return false;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    const char *text = util_jstr(payload, "text");
    char verb[VERB_MAX];
    const char *rest;
    router_split(text, verb, sizeof(verb), &rest);
    const struct sirt_verb *v = verb_for(rt, verb);
    if (!v || !v->store_free || v->work || !v->respond)
        return false;
    struct parsed p;
    if (!parse_slash(payload, &p))
        return false;   /* malformed: the store thread's path logs it */
    struct sirt_reply r = { 0 };
    v->respond(rt->loop_app, &p.req, &r);
    LOG_INFO("slash command", "verb:s user:s known:b", p.verb, p.req.user_id, true);
    cJSON *ack = reply_to_ack(&r);
    reply_free(&r);
    free(p.args);
    sm_ack(rt->loop_app->sm, tok, ack);
    return true;
}

static int work_slash(struct router *rt, const cJSON *payload)
{
    struct parsed p;
    if (!parse_slash(payload, &p))
        return 0;
    const struct sirt_verb *v = verb_for(rt, p.verb);
    int rc = 0;
    if (v && v->work)
        rc = v->work(rt->app, &p.req);
    free(p.args);
    return rc;
}

/* ---- events ---- */

/* Returns the event if it is one we act on (mention, or a human's DM). */
static const cJSON *wanted_event(struct router *rt, const cJSON *event, enum req_source *src)
{
    const char *type = util_jstr(event, "type");
    if (!type)
        return NULL;
    if (strcmp(type, "app_mention") == 0) {
        if (cJSON_GetObjectItemCaseSensitive(event, "bot_id") || cJSON_GetObjectItemCaseSensitive(event, "edited"))
            return NULL;
        *src = REQ_MENTION;
        return event;
    }
    if (strcmp(type, "message") == 0) {
        const char *ct = util_jstr(event, "channel_type");
        const char *user = util_jstr(event, "user");
        if (!ct || strcmp(ct, "im") != 0)
            return NULL;
        /* Bot messages (ours included), edits, deletions, joins: all have a
         * subtype or a bot_id.  A plain DM from a person has neither. */
        if (cJSON_GetObjectItemCaseSensitive(event, "subtype") || cJSON_GetObjectItemCaseSensitive(event, "bot_id")
            || cJSON_GetObjectItemCaseSensitive(event, "edited") || !user)
            return NULL;
        if (rt->app->bot_user_id[0] && strcmp(user, rt->app->bot_user_id) == 0)
            return NULL;
        *src = REQ_DM;
        return event;
    }
    return NULL;
}

static bool ack_event(struct router *rt, const cJSON *payload)
{
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(payload, "event");
    const char *event_id = util_jstr(payload, "event_id");
    enum req_source src;
    if (!cJSON_IsObject(event) || !wanted_event(rt, event, &src))
        return false;
    if (!event_id || !event_id[0]) {
        LOG_WARN("event without event_id: handled without de-duplication", "");
        return true;
    }
    if (dedup_seen(rt->dedup, event_id)) {
        metrics_duplicate_event(rt->app->metrics);
        LOG_INFO("duplicate event ignored", "event_id:s", event_id);
        return false;
    }
    return true;
}

static int work_event(struct router *rt, const cJSON *payload)
{
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(payload, "event");
    enum req_source src;
    if (!wanted_event(rt, event, &src))
        return 0;
    const char *user = util_jstr(event, "user");
    const char *channel = util_jstr(event, "channel");
    if (!user || !channel) {
        LOG_WARN("event without user/channel: ignored", "");
        return 0;
    }
    struct parsed p;
    memset(&p, 0, sizeof(p));
    const char *text = router_strip_mention(util_jstr(event, "text"), rt->app->bot_user_id);
    const char *rest;
    router_split(text, p.verb, sizeof(p.verb), &rest);
    p.args = trimmed(rest);
    p.req.source = src;
    p.req.user_id = user;
    p.req.channel_id = channel;
    p.req.thread_ts = util_jstr(event, "thread_ts");
    p.req.verb = p.verb;
    p.req.args = p.args;
    p.req.payload = payload;

    const struct sirt_verb *v = verb_for(rt, p.verb);
    struct sirt_reply r = { 0 };
    if (v) {
        if (v->respond)
            v->respond(rt->app, &p.req, &r);
    } else {
        rt->table->unknown(rt->app, &p.req, &r);
    }
    LOG_INFO(src == REQ_DM ? "direct message" : "mention", "verb:s user:s channel:s known:b",
             p.verb, user, channel, v != NULL);
    const char *eid = util_jstr(payload, "event_id");
    char fallback[64];
    if (!eid) {
        snprintf(fallback, sizeof(fallback), "%s/%s", channel, util_jstr(event, "ts") ? util_jstr(event, "ts") : "0");
        eid = fallback;
    }
    int rc = post_reply(rt, &p.req, &r, eid);
    reply_free(&r);
    if (rc >= 0 && v && v->work)
        rc = v->work(rt->app, &p.req);
    free(p.args);
    return rc < 0 ? rc : 0;
}

/* ---- interactivity ---- */

static cJSON *ack_interactive(struct router *rt, const cJSON *payload, bool *want_work)
{
    const char *itype = util_jstr(payload, "type");
    if (!itype)
        return NULL;
    if (strcmp(itype, "block_actions") == 0) {
        const cJSON *actions = cJSON_GetObjectItemCaseSensitive(payload, "actions");
        const cJSON *a;
        cJSON_ArrayForEach(a, actions) {
            const char *id = util_jstr(a, "action_id");
            if (id && rt->table->action(id))
                *want_work = true;
            else
                LOG_INFO("block action without a handler", "action_id:s", id);
        }
        return NULL;
    }
    if (strcmp(itype, "view_submission") == 0) {
        const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
        const char *cb = util_jstr(view, "callback_id");
        const struct sirt_view *v = cb ? rt->table->view(cb) : NULL;
        if (!v) {
            LOG_WARN("view submission without a handler", "callback_id:s", cb);
            return NULL;
        }
        cJSON *errors = v->validate ? v->validate(rt->app, payload) : NULL;
        *want_work = errors == NULL && v->work != NULL;
        return errors;
    }
    LOG_DEBUG("interactive payload ignored", "type:s", itype);
    return NULL;
}

/* The first failing action stops the rest: their work would be rolled back
 * with it anyway, and the replay does them all again. */
static int work_interactive(struct router *rt, const cJSON *payload)
{
    const char *itype = util_jstr(payload, "type");
    if (itype && strcmp(itype, "block_actions") == 0) {
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(payload, "actions")) {
            const char *id = util_jstr(a, "action_id");
            const struct sirt_action *h = id ? rt->table->action(id) : NULL;
            int rc = h && h->work ? h->work(rt->app, payload, a) : 0;
            if (rc < 0)
                return rc;
        }
    } else if (itype && strcmp(itype, "view_submission") == 0) {
        const char *cb = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "view"), "callback_id");
        const struct sirt_view *v = cb ? rt->table->view(cb) : NULL;
        if (v && v->work)
            return v->work(rt->app, payload);
    }
    return 0;
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
static char *notice_text(const struct sirt_app *app, bool kept, bool mrkdwn)
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
static void notify_direct(struct router *rt, const char *type, const cJSON *payload, const char *text)
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
        char *t = notice_text(rt->app, false, false);
        ack = cJSON_CreateObject();
        cJSON_AddStringToObject(ack, "response_action", "errors");
        cJSON *errs = cJSON_AddObjectToObject(ack, "errors");
        cJSON_AddStringToObject(errs, first_input_block(cJSON_GetObjectItemCaseSensitive(payload, "view")), t);
        free(t);
        return ack;
    }
    char *t = notice_text(rt->app, false, true);
    if (strcmp(type, "slash_commands") == 0) {
        cJSON_Delete(ack);
        ack = cJSON_CreateObject();
        cJSON_AddStringToObject(ack, "response_type", "ephemeral");
        cJSON_AddStringToObject(ack, "text", t);
    } else {
        notify_direct(rt, type, payload, t);
    }
    free(t);
    return ack;
}

/* ---- replay of kept envelopes ---- */

static bool retry_has(const struct router *rt, int64_t id)
{
    for (size_t i = 0; i < rt->n_retry; i++)
        if (rt->retry[i] == id)
            return true;
    return false;
}

/* Returns true when id was not in the list yet. */
static bool retry_add(struct router *rt, int64_t id)
{
    if (retry_has(rt, id))
        return false;
    if (rt->n_retry == rt->cap_retry) {
        rt->cap_retry = rt->cap_retry ? rt->cap_retry * 2 : 8;
        rt->retry = xrealloc(rt->retry, rt->cap_retry * sizeof(*rt->retry));
    }
    size_t i = rt->n_retry++;
    for (; i > 0 && rt->retry[i - 1] > id; i--)
        rt->retry[i] = rt->retry[i - 1];
    rt->retry[i] = id;
    return true;
}

static void retry_remove(struct router *rt, int64_t id)
{
    for (size_t i = 0; i < rt->n_retry; i++)
        if (rt->retry[i] == id) {
            memmove(&rt->retry[i], &rt->retry[i + 1], (rt->n_retry - i - 1) * sizeof(*rt->retry));
            rt->n_retry--;
            return;
        }
}

static void retry_timer_arm_loop(void *arg);
static void on_retry_timer(uv_timer_t *t);

struct arm_msg {
    struct router *rt;
    uint64_t delay_ms;
};

/* Store thread: asks the loop to run a replay round after the backoff. */
static void retry_arm(struct router *rt)
{
    if ((!rt->n_retry && !rt->old_pending) || !rt->app->storeq || rt->retry_armed)
        return;
    if (!rt->retry_delay_ms)
        rt->retry_delay_ms = RETRY_FIRST_MS;
    LOG_WARN("inbox: envelopes kept after a failure; replay scheduled", "kept:u delay_ms:l round:d",
             rt->n_retry, (long long)rt->retry_delay_ms, rt->retry_rounds + 1);
    rt->retry_armed = true;
    struct arm_msg *m = xcalloc(1, sizeof(*m));
    m->rt = rt;
    m->delay_ms = rt->retry_delay_ms;
    storeq_to_loop(rt->app->storeq, retry_timer_arm_loop, m);
}

static void retry_timer_arm_loop(void *arg)
{
    struct arm_msg *m = arg;
    struct router *rt = m->rt;
    if (rt->loop_app->loop && !rt->stopping) {
        if (!rt->timer_init) {
            uv_timer_init(rt->loop_app->loop, &rt->retry_timer);
            uv_unref((uv_handle_t *)&rt->retry_timer);   /* never keeps a stopping loop alive */
            rt->timer_init = true;
        }
        uv_timer_start(&rt->retry_timer, on_retry_timer, m->delay_ms, 0);
    }
    free(m);
}

static int work_one(struct router *rt, const char *type, const cJSON *envelope, bool batched);

struct replay_pass {
    struct router *rt;
    int tried, done;
};

static int claim_pass(struct router *rt);

static bool replay_kept(void *ud, int64_t id, const char *type, const char *json)
{
    struct replay_pass *p = ud;
    if (!retry_has(p->rt, id))
        return true;   /* this run's own envelope: its work is queued */
    if (p->tried >= RETRY_BATCH)
        return false;
    p->tried++;
    cJSON *env = cJSON_Parse(json);
    if (!cJSON_IsObject(env)) {
        LOG_ERROR("inbox: unreadable envelope dropped", "inbox_id:l", (long long)id);
        if (store_inbox_delete(p->rt->app->store, id) == 0)
            retry_remove(p->rt, id);
        cJSON_Delete(env);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(env, "sirt_inbox_id");
    cJSON_AddNumberToObject(env, "sirt_inbox_id", (double)id);
    if (work_one(p->rt, type, env, false) == 0) {
        retry_remove(p->rt, id);
        p->done++;
        LOG_INFO("inbox: kept envelope handled on replay", "inbox_id:l type:s", (long long)id, type);
    }
    cJSON_Delete(env);
    return true;
}

static void retry_round_st(struct store *st, void *arg)
{
    (void)st;
    struct router *rt = arg;
    rt->retry_armed = false;
    struct replay_pass p = { rt, 0, 0 };
    size_t before = rt->n_retry;
    if (rt->old_pending && rt->app->store && claim_pass(rt) >= 0)
        rt->old_pending = false;   /* claimed: their failures are now in the list */
    int rc = rt->app->store ? store_inbox_list(rt->app->store, replay_kept, &p) : STORE_EIO;
    if (rc == 0 && p.tried == 0 && before == rt->n_retry) {
        /* Read fine, and none of the kept ids is in the inbox any more. */
        rt->n_retry = 0;
    }
    rt->retry_rounds++;
    if ((rt->n_retry == 0 && !rt->old_pending) || p.done > 0) {
        rt->retry_delay_ms = RETRY_FIRST_MS;   /* progress: the store works again */
        rt->retry_rounds = rt->n_retry ? rt->retry_rounds : 0;
    } else {
        rt->retry_delay_ms = rt->retry_delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : rt->retry_delay_ms * 2;
        LOG_ERROR("inbox: replay failed again; envelopes stay kept", "kept:u next_ms:l round:d", rt->n_retry,
                  (long long)rt->retry_delay_ms, rt->retry_rounds);
    }
    retry_arm(rt);
}

static void on_retry_timer(uv_timer_t *t)
{
    struct router *rt = container_of(t, struct router, retry_timer);
    storeq_post(rt->loop_app->storeq, retry_round_st, NULL, rt);
}

/* ---- entry points ---- */

struct router *router_create(struct sirt_app *app, const struct router_table *table)
{
    struct router *r = xcalloc(1, sizeof(*r));
    r->table = table;
    r->loop_app = app;
    r->app = app->st_app ? app->st_app : app;
    r->dedup = dedup_create(DEDUP_CAPACITY);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void env_item_free(struct env_item *it)
{
    cJSON_Delete(it->env);
    cJSON_Delete(it->ack);
    if (it->tok)
        sm_ack(NULL, it->tok, NULL);
    free(it);
}

/* The retry timer is closed with the loop's other handles (main's
 * close_walk) before this runs, and the store thread has ended. */
void router_destroy(struct router *r)
{
    if (!r)
        return;
    while (r->in_head) {
        struct env_item *it = r->in_head;
        r->in_head = it->next;
        env_item_free(it);
    }
    while (r->work_head) {
        struct env_item *it = r->work_head;
        r->work_head = it->next;
        env_item_free(it);
    }
    dedup_destroy(r->dedup);
    pthread_mutex_destroy(&r->mu);
    free(r->retry);
    free(r);
}

void router_stop(struct router *r)
{
    if (r)
        r->stopping = true;
}

static cJSON *ack_dispatch(struct router *rt, const char *type, const cJSON *payload, bool *want_work)
{
    if (strcmp(type, "slash_commands") == 0)
        return ack_slash(rt, payload, want_work);
    if (strcmp(type, "events_api") == 0) {
        *want_work = ack_event(rt, payload);
        return NULL;
    }
    if (strcmp(type, "interactive") == 0)
        return ack_interactive(rt, payload, want_work);
    LOG_WARN("envelope of unknown type: acked and ignored", "type:s", type);
    return NULL;
}

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

/* Makes one envelope durable inside the caller's transaction: its event id
 * (events) and its inbox row.  Returns the inbox id, 0 for an event already
 * recorded (a duplicate: no work), or <0. */
static int64_t keep_one(struct router *rt, const char *type, const cJSON *envelope)
{
    struct store *st = rt->app->store;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    if (strcmp(type, "events_api") == 0) {
        const char *eid = util_jstr(payload, "event_id");
        int dup = eid && eid[0] ? store_event_record(st, eid, clock_now_ms()) : 0;
        if (dup < 0)
            return dup;
        if (dup == 1) {
            metrics_duplicate_event(rt->app->metrics);
            LOG_INFO("duplicate event ignored", "event_id:s", eid);
            return 0;
        }
    }
    cJSON *kept = cJSON_Duplicate(envelope, true);
    inbox_mask(kept, NULL, 0);
    char *json = kept ? cJSON_PrintUnformatted(kept) : NULL;
    cJSON_Delete(kept);
    int64_t id = json ? store_inbox_add(st, type, json, clock_now_ms()) : STORE_EIO;
    cJSON_free(json);
    return id > 0 ? id : (id < 0 ? id : STORE_EIO);
}

static void set_inbox_id(cJSON *envelope, int64_t id)
{
    cJSON_DeleteItemFromObjectCaseSensitive(envelope, "sirt_inbox_id");
    cJSON_AddNumberToObject(envelope, "sirt_inbox_id", (double)id);
}

/* Durable on its own: its own transaction.  On failure the envelope is
 * refused (the ack says so, or a direct notice). */
static void keep_alone(struct router *rt, const char *type, cJSON *envelope, cJSON **ack, bool *want_work)
{
    struct store *st = rt->app->store;
    int64_t id = STORE_EIO;
    if (store_begin(st) == 0) {
        id = keep_one(rt, type, envelope);
        if (id < 0 || store_txn_failed(st)) {
            store_rollback(st);
            id = id < 0 ? id : STORE_EIO;
        } else if (store_commit(st) != 0) {
            id = STORE_EIO;
        }
    }
    if (id > 0) {
        set_inbox_id(envelope, id);
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

cJSON *router_ack(void *router, const char *type, cJSON *envelope, bool *want_work)
{
    struct router *rt = router;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    *want_work = false;
    cJSON *ack = ack_dispatch(rt, type, payload, want_work);
    if (*want_work && rt->app->store)
        keep_alone(rt, type, envelope, &ack, want_work);
    return ack;
}

/* ---- the store thread: group commit of what arrived together ---- */

/* Every envelope of the batch that needs work, durable in one commit.
 * False when anything failed: nothing of it was committed. */
static bool keep_batch(struct router *rt, struct env_item *batch, size_t *n_kept)
{
    struct store *st = rt->app->store;
    size_t n = 0;
    for (struct env_item *it = batch; it; it = it->next)
        n += it->want_work;
    *n_kept = 0;
    if (!n)
        return true;
    if (store_begin(st) != 0)
        return false;
    int64_t *ids = xcalloc(n, sizeof(*ids));
    size_t k = 0;
    bool ok = true;
    for (struct env_item *it = batch; it && ok; it = it->next) {
        if (!it->want_work)
            continue;
        ids[k] = keep_one(rt, it->type, it->env);
        ok = ids[k++] >= 0;
    }
    if (!ok || store_txn_failed(st)) {
        store_rollback(st);
        ok = false;
    } else if (store_commit(st) != 0) {
        ok = false;
    }
    if (ok) {
        k = 0;
        for (struct env_item *it = batch; it; it = it->next) {
            if (!it->want_work)
                continue;
            if (ids[k] > 0) {
                set_inbox_id(it->env, ids[k]);
                (*n_kept)++;
            } else {
                it->want_work = false;   /* a duplicate event */
            }
            k++;
        }
    }
    free(ids);
    return ok;
}

struct ack_batch {
    struct router *rt;
    size_t n;
    struct sm_ack **toks;
    cJSON **acks;
};

static void acks_on_loop(void *arg)
{
    struct ack_batch *b = arg;
    for (size_t i = 0; i < b->n; i++)
        sm_ack(b->rt->loop_app->sm, b->toks[i], b->acks[i]);
    free(b->toks);
    free(b->acks);
    free(b);
}

static void work_batch_st(struct store *st, void *arg);

static void ingest_st(struct store *st, void *arg)
{
    (void)st;
    struct router *rt = arg;
    pthread_mutex_lock(&rt->mu);
    struct env_item *batch = rt->in_head;
    rt->in_head = rt->in_tail = NULL;
    rt->ingest_posted = false;
    pthread_mutex_unlock(&rt->mu);

    size_t n = 0;
    for (struct env_item *it = batch; it; it = it->next, n++) {
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(it->env, "payload");
        it->ack = ack_dispatch(rt, it->type, payload, &it->want_work);
        if (!rt->app->store)
            it->want_work = false;
    }
    size_t kept = 0;
    if (rt->app->store && !keep_batch(rt, batch, &kept)) {
        /* One of them failed: each on its own, so only the ones that
         * cannot be kept are refused. */
        for (struct env_item *it = batch; it; it = it->next)
            if (it->want_work)
                keep_alone(rt, it->type, it->env, &it->ack, &it->want_work);
    } else if (kept) {
        metrics_store_batch(rt->app->metrics, kept);
    }
    /* Durable: the acks go out now, before any handler runs. */
    struct ack_batch *b = xcalloc(1, sizeof(*b));
    b->rt = rt;
    b->toks = xcalloc(n, sizeof(*b->toks));
    b->acks = xcalloc(n, sizeof(*b->acks));
    for (struct env_item *it = batch; it; it = it->next) {
        b->toks[b->n] = it->tok;
        b->acks[b->n++] = it->ack;
        it->tok = NULL;
        it->ack = NULL;
    }
    storeq_to_loop(rt->app->storeq, acks_on_loop, b);
    while (batch) {
        struct env_item *it = batch;
        batch = it->next;
        it->next = NULL;
        if (!it->want_work) {
            env_item_free(it);
            continue;
        }
        if (rt->work_tail)
            rt->work_tail->next = it;
        else
            rt->work_head = it;
        rt->work_tail = it;
    }
    if (rt->work_head && !rt->work_posted) {
        rt->work_posted = true;
        storeq_post(rt->app->storeq, work_batch_st, NULL, rt);
    }
}

void router_envelope(void *router, struct sm_ack *tok, const char *type, cJSON *envelope)
{
    struct router *rt = router;
    struct env_item *it = xcalloc(1, sizeof(*it));
    it->rt = rt;
    it->tok = tok;
    if (!rt->loop_app->storeq) {   /* shutting down: Slack sends it again */
        it->env = envelope;
        env_item_free(it);
        return;
    }
    if (ack_store_free(rt, tok, type, envelope)) {
        it->tok = NULL;
        it->env = envelope;
        env_item_free(it);
        return;
    }
    str_lcpy(it->type, type, sizeof(it->type));
    it->env = envelope;
    pthread_mutex_lock(&rt->mu);
    if (rt->in_tail)
        rt->in_tail->next = it;
    else
        rt->in_head = it;
    rt->in_tail = it;
    bool post = !rt->ingest_posted;
    rt->ingest_posted = true;
    pthread_mutex_unlock(&rt->mu);
    if (post)
        storeq_post_urgent(rt->loop_app->storeq, ingest_st, NULL, rt);
}

/* The handler's store writes, its outbox jobs, the inbox row's deletion and
 * (for events) the event id commit in one transaction: all of them or none.
 * 0, or <0 when the work was rolled back (its inbox row stays).  batched:
 * inside the batch's transaction (a savepoint of it); the caller commits
 * and tells the outbox and the scheduler. */
static int work_one(struct router *rt, const char *type, const cJSON *envelope, bool batched)
{
    struct store *st = rt->app->store;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    const cJSON *inbox = cJSON_GetObjectItemCaseSensitive(envelope, "sirt_inbox_id");
    int64_t inbox_id = cJSON_IsNumber(inbox) ? (int64_t)inbox->valuedouble : 0;
    int rc = 0;
    if (st && store_begin(st) != 0)
        return STORE_EIO;
    if (st && inbox_id)
        rc = store_inbox_delete(st, inbox_id);
    if (rc == STORE_ENOTFOUND) {
        /* Gone, or taken over by another replica after this one's lease
         * ended: the work is not this replica's any more. */
        LOG_WARN("inbox: envelope no longer held by this replica; left to its holder", "type:s inbox_id:l", type,
                 (long long)inbox_id);
        store_rollback(st);
        return 0;
    }
    if (rc < 0) {
        /* nothing to do: rolled back below */
    } else if (strcmp(type, "slash_commands") == 0) {
        rc = work_slash(rt, payload);
    } else if (strcmp(type, "events_api") == 0) {
        /* Its event id was recorded with its inbox row, before the ack. */
        rc = work_event(rt, payload);
    } else if (strcmp(type, "interactive") == 0) {
        rc = work_interactive(rt, payload);
    }
    if (!st)
        return rc;
    if (rc < 0 || store_txn_failed(st)) {
        LOG_ERROR("handler failed: rolled back, envelope kept in the inbox", "type:s inbox_id:l error:s", type,
                  (long long)inbox_id, store_strerror(rc < 0 ? rc : STORE_EIO));
        store_rollback(st);
        outbox_st_rolled_back(rt->app->outbox);
        return rc < 0 ? rc : STORE_EIO;
    }
    /* Alone, the jobs it created are marked sending in its own commit. */
    if (!batched)
        outbox_st_precommit(rt->app->outbox);
    if (store_commit(st) != 0) {
        /* Rolled back by the store, the inbox row's deletion with it. */
        LOG_ERROR("store commit failed: envelope kept in the inbox", "type:s inbox_id:l", type, (long long)inbox_id);
        if (!batched)
            outbox_st_postcommit(rt->app->outbox, false);
        outbox_st_rolled_back(rt->app->outbox);
        return STORE_EIO;
    }
    if (!batched) {
        outbox_st_postcommit(rt->app->outbox, true);
        scheduler_st_changed(rt->app->scheduler);
    }
    return 0;
}

/* A failed envelope: kept for the replay timer; its sender told once. */
static void keep_for_replay(struct router *rt, const char *type, const cJSON *envelope, bool tell)
{
    const cJSON *inbox = cJSON_GetObjectItemCaseSensitive(envelope, "sirt_inbox_id");
    int64_t inbox_id = cJSON_IsNumber(inbox) ? (int64_t)inbox->valuedouble : 0;
    if (!inbox_id)
        return;   /* no store: nothing was promised durably */
    if (retry_add(rt, inbox_id) && tell) {
        char *t = notice_text(rt->app, true, true);
        notify_direct(rt, type, cJSON_GetObjectItemCaseSensitive(envelope, "payload"), t);
        free(t);
    }
    retry_arm(rt);
}

void router_work(void *router, const char *type, const cJSON *envelope)
{
    struct router *rt = router;
    if (work_one(rt, type, envelope, false) < 0)
        keep_for_replay(rt, type, envelope, true);
}

/* Store thread: the handlers of every kept envelope waiting, each in a
 * savepoint of one transaction, so a burst costs one commit (one fsync on
 * PostgreSQL) instead of one each.  A handler that fails rolls back its own
 * savepoint only.  When the commit itself fails (or a write failed with an
 * I/O error, which fails the whole transaction), nothing of the batch is
 * durable: each envelope runs again alone, as it would have unbatched. */
static void work_batch_st(struct store *st, void *arg)
{
    struct router *rt = arg;
    struct env_item *list = rt->work_head;
    rt->work_head = rt->work_tail = NULL;
    rt->work_posted = false;
    if (!list)
        return;
    if (!list->next || !st) {
        while (list) {
            struct env_item *it = list;
            list = it->next;
            router_work(rt, it->type, it->env);
            env_item_free(it);
        }
        return;
    }
    /* Per envelope: 0 not run (or its failure ended the transaction),
     * 1 handled inside the batch, 2 failed alone and kept for replay. */
    size_t n = 0;
    for (struct env_item *it = list; it; it = it->next)
        n++;
    unsigned char *fate = xcalloc(n, 1);
    bool ok = store_begin(st) == 0;
    size_t i = 0;
    for (struct env_item *it = list; it && ok; it = it->next, i++) {
        if (work_one(rt, it->type, it->env, true) >= 0) {
            fate[i] = 1;
        } else if (!store_txn_failed(st) && store_txn_depth(st) == 1) {
            fate[i] = 2;   /* its savepoint rolled back; the others stand */
            keep_for_replay(rt, it->type, it->env, true);
        } else {
            ok = false;    /* the transaction is failed or gone: no savepoint helps */
        }
    }
    if (ok) {
        outbox_st_precommit(rt->app->outbox);   /* their jobs marked sending in the same commit */
        ok = store_commit(st) == 0;             /* on failure rolled back, all of it */
        outbox_st_postcommit(rt->app->outbox, ok);
    } else if (store_txn_depth(st) == 1) {
        store_rollback(st);
    }
    if (ok) {
        scheduler_st_changed(rt->app->scheduler);
    } else {
        LOG_WARN("handlers: a batch could not commit; its envelopes run again one by one", "envelopes:l",
                 (long long)n);
        outbox_st_rolled_back(rt->app->outbox);
    }
    for (i = 0; list; i++) {
        struct env_item *it = list;
        list = it->next;
        if (!ok && fate[i] != 2)
            router_work(rt, it->type, it->env);
        env_item_free(it);
    }
    free(fate);
}

/* ---- claims: envelopes nobody holds any more ---- */

struct replay {
    struct router *rt;
    int n;
};

static bool replay_one(void *ud, int64_t id, const char *type, const char *json)
{
    struct replay *r = ud;
    cJSON *env = cJSON_Parse(json);
    r->n++;
    if (!cJSON_IsObject(env)) {
        LOG_ERROR("inbox: unreadable envelope dropped", "inbox_id:l", (long long)id);
        store_inbox_delete(r->rt->app->store, id);
        cJSON_Delete(env);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(env, "sirt_inbox_id");
    cJSON_AddNumberToObject(env, "sirt_inbox_id", (double)id);
    LOG_WARN("inbox: handling an envelope its replica did not finish", "inbox_id:l type:s", (long long)id, type);
    if (work_one(r->rt, type, env, false) < 0)
        keep_for_replay(r->rt, type, env, false);   /* its sender heard from the last run, or hears nothing new */
    cJSON_Delete(env);
    return true;
}

/* Claims (a lease, in its own commit) and handles, a batch at a time, the
 * rows nobody holds: an earlier run's, or those of a replica that died or
 * stopped.  How many were claimed, or <0 when the inbox could not be read. */
static int claim_pass(struct router *rt)
{
    struct replay r = { rt, 0 };
    for (;;) {
        int before = r.n;
        int got = store_inbox_claim(rt->app->store, RETRY_BATCH, replay_one, &r);
        if (got < 0)
            return got;
        if (got < RETRY_BATCH || r.n == before)
            return r.n;
    }
}

static void on_sweep_timer(uv_timer_t *t);

static void sweep_start_loop(void *arg)
{
    struct router *rt = arg;
    if (rt->loop_app->loop && !rt->stopping && !rt->sweep_init) {
        uint64_t every = (uint64_t)store_lease_ms(rt->app->store) / 3;
        uv_timer_init(rt->loop_app->loop, &rt->sweep_timer);
        uv_unref((uv_handle_t *)&rt->sweep_timer);
        rt->sweep_init = true;
        uv_timer_start(&rt->sweep_timer, on_sweep_timer, every, every);
    }
}

/* Store thread, every third of a lease on a shared store: this replica's
 * leases are renewed, then rows whose replica is gone are claimed. */
static void sweep_st(struct store *st, void *arg)
{
    struct router *rt = arg;
    if (rt->sweeping)
        return;
    rt->sweeping = true;
    if (store_leases_renew(st) < 0)
        LOG_ERROR("leases: cannot renew; the work this replica holds may be taken over", "");
    int n = claim_pass(rt);
    if (n > 0)
        LOG_WARN("inbox: envelopes of a stopped replica taken over", "count:d", n);
    rt->sweeping = false;
}

static void on_sweep_timer(uv_timer_t *t)
{
    struct router *rt = container_of(t, struct router, sweep_timer);
    if (!rt->stopping)
        storeq_post(rt->loop_app->storeq, sweep_st, NULL, rt);
}

int router_replay_inbox(struct router *rt)
{
    if (!rt->app->store)
        return 0;
    int n = claim_pass(rt);
    if (n < 0) {
        /* Cannot even read the inbox: try again later. */
        LOG_ERROR("inbox: cannot claim the kept envelopes; retried later", "");
        rt->old_pending = true;
        retry_arm(rt);
        n = 0;
    }
    if (store_shared(rt->app->store) && rt->app->storeq)
        storeq_to_loop(rt->app->storeq, sweep_start_loop, rt);
    return n;
}
