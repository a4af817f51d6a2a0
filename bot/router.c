/* router: turns envelopes into handler calls (see router.h).  Keeps the
 * event-id de-duplication set.  Replies to mentions and DMs are posted with
 * chat.postMessage from the work phase; slash command replies travel in the
 * ack payload.  Nothing here keeps pointers into an envelope after a call. */
#include "router.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../handlers/handlers.h"
#include "app.h"
#include "log.h"
#include "clock.h"
#include "metrics.h"
#include "outbox.h"
#include "scheduler.h"
#include "store.h"
#include "util.h"

#define DEDUP_CAPACITY 8192
#define VERB_MAX 32

struct router {
    struct sirt_app *app;
    struct dedup *dedup;
    int64_t replay_upto;      /* inbox rows up to this id predate this run */
};

/* ---- de-duplication: open-addressing hash set + FIFO ring for eviction ---- */

struct dedup {
    char **ring;          /* insertion order; ring[i] owns the string */
    size_t cap, head, n;
    char **slots;         /* hash table of borrowed pointers into ring */
    size_t nslots;        /* power of two, >= 2 * cap */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct dedup *dedup_create(size_t capacity)
{
    struct dedup *d = xcalloc(1, sizeof(*d));
    d->cap = capacity ? capacity : 1;
    d->ring = xcalloc(d->cap, sizeof(char *));
    d->nslots = 16;
    while (d->nslots < d->cap * 2)
        d->nslots *= 2;
    d->slots = xcalloc(d->nslots, sizeof(char *));
    return d;
}

void dedup_destroy(struct dedup *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++)
        free(d->ring[i]);
    free(d->ring);
    free(d->slots);
    free(d);
}

static size_t dedup_find(const struct dedup *d, const char *id, bool *found)
{
    size_t mask = d->nslots - 1;
    size_t i = hash_str(id) & mask;
    for (size_t probes = 0; probes < d->nslots; probes++, i = (i + 1) & mask) {
        if (!d->slots[i]) {
            *found = false;
            return i;
        }
        if (strcmp(d->slots[i], id) == 0) {
            *found = true;
            return i;
        }
    }
    *found = false;
    return (size_t)-1;
}

/* Backward-shift deletion keeps linear probing chains intact. */
static void dedup_remove_slot(struct dedup *d, size_t i)
{
    size_t mask = d->nslots - 1;
    size_t j = i;
    d->slots[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->slots[j])
            return;
        size_t k = hash_str(d->slots[j]) & mask;
        /* Move slots[j] to i if its home k is not cyclically in (i, j]. */
        bool in_range = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!in_range) {
            d->slots[i] = d->slots[j];
            d->slots[j] = NULL;
            i = j;
        }
    }
}

bool dedup_seen(struct dedup *d, const char *id)
{
    bool found;
    dedup_find(d, id, &found);
    if (found)
        return true;
    if (d->n == d->cap) {
        /* Evict the oldest: ring[head]. */
        char *old = d->ring[d->head];
        bool f2;
        size_t os = dedup_find(d, old, &f2);
        if (f2)
            dedup_remove_slot(d, os);
        free(old);
        d->ring[d->head] = NULL;
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
    size_t slot = dedup_find(d, id, &found);
    size_t pos = (d->head + d->n) % d->cap;
    d->ring[pos] = xstrdup(id);
    d->slots[slot] = d->ring[pos];
    d->n++;
    return false;
}

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

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
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

void reply_set_text(struct sirt_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(r->text);
    r->text = xvasprintf(fmt, ap);
    va_end(ap);
}

void reply_finish(struct sirt_reply *r)
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
static void post_reply(struct router *rt, const struct sirt_req *req, struct sirt_reply *r, const char *key)
{
    if (!r->text && !r->blocks)
        return;
    if (!rt->app->store) {
        LOG_ERROR("no store: reply not sent", "channel:s", req->channel_id);
        return;
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
    outbox_add(rt->app->store, 0, k, "slack.post", p, NULL, 0, 0);
    free(k);
    cJSON_Delete(p);
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
    const char *user = jstr(payload, "user_id");
    const char *channel = jstr(payload, "channel_id");
    const char *text = jstr(payload, "text");
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
    p->req.trigger_id = jstr(payload, "trigger_id");
    p->req.response_url = jstr(payload, "response_url");
    p->req.payload = payload;
    return true;
}

static const struct sirt_verb *verb_for(const char *verb)
{
    return handlers_verb(verb[0] ? verb : "help");
}

static cJSON *ack_slash(struct router *rt, const cJSON *payload, bool *want_work)
{
    struct parsed p;
    if (!parse_slash(payload, &p))
        return NULL;
    const struct sirt_verb *v = verb_for(p.verb);
    struct sirt_reply r = { 0 };
    if (v) {
        if (v->respond)
            v->respond(rt->app, &p.req, &r);
        *want_work = v->work != NULL;
    } else {
        handlers_unknown(rt->app, &p.req, &r);
    }
    LOG_INFO("slash command", "verb:s user:s known:b", p.verb, p.req.user_id, v != NULL);
    cJSON *ack = reply_to_ack(&r);
    reply_finish(&r);
    free(p.args);
    return ack;
}

static void work_slash(struct router *rt, const cJSON *payload)
{
    struct parsed p;
    if (!parse_slash(payload, &p))
        return;
    const struct sirt_verb *v = verb_for(p.verb);
    if (v && v->work)
        v->work(rt->app, &p.req);
    free(p.args);
}

/* ---- events ---- */

/* Returns the event if it is one we act on (mention, or a human's DM). */
static const cJSON *wanted_event(struct router *rt, const cJSON *event, enum req_source *src)
{
    const char *type = jstr(event, "type");
    if (!type)
        return NULL;
    if (strcmp(type, "app_mention") == 0) {
        if (cJSON_GetObjectItemCaseSensitive(event, "bot_id") || cJSON_GetObjectItemCaseSensitive(event, "edited"))
            return NULL;
        *src = REQ_MENTION;
        return event;
    }
    if (strcmp(type, "message") == 0) {
        const char *ct = jstr(event, "channel_type");
        const char *user = jstr(event, "user");
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
    const char *event_id = jstr(payload, "event_id");
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

static void work_event(struct router *rt, const cJSON *payload)
{
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(payload, "event");
    enum req_source src;
    if (!wanted_event(rt, event, &src))
        return;
    const char *user = jstr(event, "user");
    const char *channel = jstr(event, "channel");
    if (!user || !channel) {
        LOG_WARN("event without user/channel: ignored", "");
        return;
    }
    struct parsed p;
    memset(&p, 0, sizeof(p));
    const char *text = router_strip_mention(jstr(event, "text"), rt->app->bot_user_id);
    const char *rest;
    router_split(text, p.verb, sizeof(p.verb), &rest);
    p.args = trimmed(rest);
    p.req.source = src;
    p.req.user_id = user;
    p.req.channel_id = channel;
    p.req.thread_ts = jstr(event, "thread_ts");
    p.req.verb = p.verb;
    p.req.args = p.args;
    p.req.payload = payload;

    const struct sirt_verb *v = verb_for(p.verb);
    struct sirt_reply r = { 0 };
    if (v) {
        if (v->respond)
            v->respond(rt->app, &p.req, &r);
    } else {
        handlers_unknown(rt->app, &p.req, &r);
    }
    LOG_INFO(src == REQ_DM ? "direct message" : "mention", "verb:s user:s channel:s known:b",
             p.verb, user, channel, v != NULL);
    const char *eid = jstr(payload, "event_id");
    char fallback[64];
    if (!eid) {
        snprintf(fallback, sizeof(fallback), "%s/%s", channel, jstr(event, "ts") ? jstr(event, "ts") : "0");
        eid = fallback;
    }
    post_reply(rt, &p.req, &r, eid);
    reply_finish(&r);
    if (v && v->work)
        v->work(rt->app, &p.req);
    free(p.args);
}

/* ---- interactivity ---- */

static cJSON *ack_interactive(struct router *rt, const cJSON *payload, bool *want_work)
{
    const char *itype = jstr(payload, "type");
    if (!itype)
        return NULL;
    if (strcmp(itype, "block_actions") == 0) {
        const cJSON *actions = cJSON_GetObjectItemCaseSensitive(payload, "actions");
        const cJSON *a;
        cJSON_ArrayForEach(a, actions) {
            const char *id = jstr(a, "action_id");
            if (id && handlers_action(id))
                *want_work = true;
            else
                LOG_INFO("block action without a handler", "action_id:s", id);
        }
        return NULL;
    }
    if (strcmp(itype, "view_submission") == 0) {
        const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
        const char *cb = jstr(view, "callback_id");
        const struct sirt_view *v = cb ? handlers_view(cb) : NULL;
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

static void work_interactive(struct router *rt, const cJSON *payload)
{
    const char *itype = jstr(payload, "type");
    if (itype && strcmp(itype, "block_actions") == 0) {
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(payload, "actions")) {
            const char *id = jstr(a, "action_id");
            const struct sirt_action *h = id ? handlers_action(id) : NULL;
            if (h && h->work)
                h->work(rt->app, payload, a);
        }
    } else if (itype && strcmp(itype, "view_submission") == 0) {
        const char *cb = jstr(cJSON_GetObjectItemCaseSensitive(payload, "view"), "callback_id");
        const struct sirt_view *v = cb ? handlers_view(cb) : NULL;
        if (v && v->work)
            v->work(rt->app, payload);
    }
}

/* ---- entry points ---- */

struct router *router_create(struct sirt_app *app)
{
    struct router *r = xcalloc(1, sizeof(*r));
    r->app = app;
    r->dedup = dedup_create(DEDUP_CAPACITY);
    return r;
}

void router_destroy(struct router *r)
{
    if (!r)
        return;
    dedup_destroy(r->dedup);
    free(r);
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

cJSON *router_ack(void *router, const char *type, cJSON *envelope, bool *want_work)
{
    struct router *rt = router;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    *want_work = false;
    cJSON *ack = ack_dispatch(rt, type, payload, want_work);
    if (*want_work && rt->app->store) {
        /* Durable before the ack: a crash between the ack and the work's
         * commit is replayed at the next start instead of being forgotten. */
        char *json = cJSON_PrintUnformatted(envelope);
        int64_t id = json ? store_inbox_add(rt->app->store, type, json, clock_now_ms()) : -1;
        cJSON_free(json);
        if (id > 0)
            cJSON_AddNumberToObject(envelope, "sirt_inbox_id", (double)id);
        else
            LOG_ERROR("cannot make the envelope durable; handling it from memory", "type:s", type);
    }
    return ack;
}

/* The handler's store writes, its outbox jobs and (for events) the event id
 * commit in one transaction: all of them or none. */
void router_work(void *router, const char *type, const cJSON *envelope)
{
    struct router *rt = router;
    struct store *st = rt->app->store;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    const cJSON *inbox = cJSON_GetObjectItemCaseSensitive(envelope, "sirt_inbox_id");
    int64_t inbox_id = cJSON_IsNumber(inbox) ? (int64_t)inbox->valuedouble : 0;
    if (st && store_begin(st) != 0) {
        LOG_ERROR("store unavailable: envelope left in the inbox for the next start", "type:s", type);
        return;
    }
    if (st && inbox_id)
        store_inbox_delete(st, inbox_id);
    if (strcmp(type, "slash_commands") == 0) {
        work_slash(rt, payload);
    } else if (strcmp(type, "events_api") == 0) {
        const char *eid = jstr(payload, "event_id");
        if (st && eid && store_event_record(st, eid, clock_now_ms()) == 1) {
            metrics_duplicate_event(rt->app->metrics);
            LOG_INFO("duplicate event ignored", "event_id:s", eid);
            store_rollback(st);
            if (inbox_id)
                store_inbox_delete(st, inbox_id);
            return;
        }
        work_event(rt, payload);
    } else if (strcmp(type, "interactive") == 0) {
        work_interactive(rt, payload);
    }
    if (st) {
        if (store_commit(st) != 0) {
            /* Rolled back by the store, the inbox row with it: the envelope
             * is handled again at the next start. */
            LOG_ERROR("store commit failed: envelope left in the inbox for the next start", "type:s", type);
            return;
        }
        outbox_kick(rt->app->outbox);
        scheduler_kick(rt->app->scheduler);
    }
}

struct replay {
    struct router *rt;
    int n;
};

static bool note_max(void *ud, int64_t id, const char *type, const char *json)
{
    (void)type;
    (void)json;
    int64_t *max = ud;
    if (id > *max)
        *max = id;
    return true;
}

void router_inbox_mark(struct router *rt)
{
    rt->replay_upto = 0;
    if (rt->app->store)
        store_inbox_list(rt->app->store, note_max, &rt->replay_upto);
}

static bool replay_one(void *ud, int64_t id, const char *type, const char *json)
{
    struct replay *r = ud;
    if (id > r->rt->replay_upto)
        return false;   /* this run's own envelopes: their work is queued */
    cJSON *env = cJSON_Parse(json);
    if (!cJSON_IsObject(env)) {
        LOG_ERROR("inbox: unreadable envelope dropped", "inbox_id:l", (long long)id);
        store_inbox_delete(r->rt->app->store, id);
        cJSON_Delete(env);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(env, "sirt_inbox_id");
    cJSON_AddNumberToObject(env, "sirt_inbox_id", (double)id);
    LOG_WARN("inbox: handling an envelope acked before the last stop", "inbox_id:l type:s", (long long)id, type);
    router_work(r->rt, type, env);
    cJSON_Delete(env);
    r->n++;
    return true;
}

int router_replay_inbox(struct router *rt)
{
    struct replay r = { rt, 0 };
    if (rt->app->store)
        store_inbox_list(rt->app->store, replay_one, &r);
    return r.n;
}
