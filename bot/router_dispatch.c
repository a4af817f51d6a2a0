/* router_dispatch: the router's phases for each kind of envelope — a
 * slash command, an event (mention or DM) or an interactive payload parsed
 * into a request and handed to the handlers' table (bot/dispatch.h): the
 * ack phase (pure: it may only compute the ack's reply) and the work phase,
 * run before the ack when the envelope is alone (router__work_inline) or
 * after it, with the inbox row's deletion in one transaction (router__work_one).
 * Replies filled by handlers are owned here until sent or freed. */
#include "router_state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dedup.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "router.h"
#include "scheduler.h"
#include "socket_mode.h"
#include "store.h"
#include "util.h"

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

/* Right-trims args into a private copy: trailing whitespace never matters. */
static char *trimmed(const char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
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

/* The respond phase of req's verb v (NULL: nobody has it) into r. */
static void respond(const struct router *rt, const struct sirt_verb *v, const struct sirt_req *req,
                    struct sirt_reply *r)
{
    if (!v)
        rt->table->unknown(rt->ctx, req, r);
    else if (v->respond)
        v->respond(rt->ctx, req, r);
}

static cJSON *ack_slash(struct router *rt, const cJSON *payload, bool *want_work)
{
    struct parsed p;
    if (!parse_slash(payload, &p))
        return NULL;
    const struct sirt_verb *v = verb_for(rt, p.verb);
    struct sirt_reply r = { 0 };
    respond(rt, v, &p.req, &r);
    if (v)
        *want_work = v->work != NULL;
    LOG_INFO("slash command", "verb:s user:s known:b", p.verb, p.req.user_id, v != NULL);
    cJSON *ack = reply_to_ack(&r);
    reply_free(&r);
    free(p.args);
    return ack;
}

/* Loop: a slash command whose verb the handlers' table marks store_free
 * (no work, a respond that needs no context) is answered
 * here, at once: nothing of it has to be durable before its ack (it changes
 * nothing, and the ack is its whole reply), and slash commands carry no
 * event id to record.  True when it was acked; false leaves the envelope to
 * the store thread as usual. */
bool router__ack_store_free(struct router *rt, struct sm_ack *tok, const char *type, const cJSON *envelope)
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
    v->respond(NULL, &p.req, &r);   /* store_free: no context on the loop */
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
        rc = v->work(rt->ctx, &p.req);
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
    respond(rt, v, &p.req, &r);
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
        rc = v->work(rt->ctx, &p.req);
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
        cJSON *errors = v->validate ? v->validate(rt->ctx, payload) : NULL;
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
            int rc = h && h->work ? h->work(rt->ctx, payload, a) : 0;
            if (rc < 0)
                return rc;
        }
    } else if (itype && strcmp(itype, "view_submission") == 0) {
        const char *cb = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "view"), "callback_id");
        const struct sirt_view *v = cb ? rt->table->view(cb) : NULL;
        if (v && v->work)
            return v->work(rt->ctx, payload);
    }
    return 0;
}

/* ---- both phases, by envelope type ---- */

cJSON *router__ack_dispatch(struct router *rt, const char *type, const cJSON *payload, bool *want_work)
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

/* Inside the work's transaction: the work phase of payload.  0, or <0
 * when the handler failed. */
static int work_dispatch(struct router *rt, const char *type, const cJSON *payload)
{
    if (strcmp(type, "slash_commands") == 0)
        return work_slash(rt, payload);
    if (strcmp(type, "events_api") == 0)
        return work_event(rt, payload);   /* its event id was recorded with its inbox row, before the ack */
    if (strcmp(type, "interactive") == 0)
        return work_interactive(rt, payload);
    return 0;
}

/* ---- the work phase before the ack, or in its own transaction ---- */

bool router__inline_type(const char *type)
{
    return strcmp(type, "events_api") == 0 || strcmp(type, "slash_commands") == 0;
}

int router__work_inline(struct router *rt, const char *type, const cJSON *envelope)
{
    struct store *st = rt->app->store;
    int dup = router__record_event(rt, type, envelope);
    if (dup != 0)
        return dup < 0 ? dup : 0;
    int rc = work_dispatch(rt, type, cJSON_GetObjectItemCaseSensitive(envelope, "payload"));
    if (rc < 0 || store_txn_failed(st))
        return rc < 0 ? rc : STORE_EIO;
    return 1;
}

int router__work_one(struct router *rt, const char *type, const cJSON *envelope, bool batched)
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
    if (rc >= 0)
        rc = work_dispatch(rt, type, payload);
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
