/* fake_slack_send: envelopes (see fake_slack.h): the map from envelope id
 * to its delivery and ack, which socket gets the next one (spread modes),
 * redelivery of unacked events_api envelopes, the send_* builders and the
 * delivery and ack records.  Envelope ids and deliveries are owned by the
 * fake; with ack recording off an entry goes when its ack arrives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_slack_state.h"

/* ------------------------------------------------------------------ */
/* envelope map: envelope id -> send time / ack */


static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void map_grow(struct fake_slack *f)
{
    size_t nb = f->map_buckets ? f->map_buckets * 2 : 1024;
    struct fs_env **m = xcalloc(nb, sizeof(*m));
    for (size_t i = 0; i < f->map_buckets; i++) {
        struct fs_env *e = f->map[i];
        while (e) {
            struct fs_env *next = e->next;
            size_t b = hash_str(e->id) & (nb - 1);
            e->next = m[b];
            m[b] = e;
            e = next;
        }
    }
    free(f->map);
    f->map = m;
    f->map_buckets = nb;
}

static struct fs_env *map_add(struct fake_slack *f, const char *id)
{
    if (f->map_n >= f->map_buckets)
        map_grow(f);
    struct fs_env *e = xcalloc(1, sizeof(*e));
    str_lcpy(e->id, id, sizeof(e->id));
    size_t b = hash_str(e->id) & (f->map_buckets - 1);
    e->next = f->map[b];
    f->map[b] = e;
    f->map_n++;
    return e;
}

struct fs_env *fake_slack__map_find(const struct fake_slack *f, const char *id, struct fs_env ***link)
{
    if (!f->map_buckets)
        return NULL;
    struct fs_env **pp = &f->map[hash_str(id) & (f->map_buckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

void fake_slack__ack_free(struct fake_ack *a)
{
    if (!a)
        return;
    free(a->envelope_id);
    cJSON_Delete(a->json);
    free(a);
}

void fake_slack__map_free(struct fake_slack *f)
{
    for (size_t i = 0; i < f->map_buckets; i++) {
        struct fs_env *e = f->map[i];
        while (e) {
            struct fs_env *next = e->next;
            free(e->payload);
            free(e);
            e = next;
        }
    }
    free(f->map);
    f->map = NULL;
    f->map_buckets = f->map_n = 0;
}

void fake_slack__pend_remove(struct fake_slack *f, struct fs_env *e)
{
    if (!e->pending)
        return;
    if (e->pend_prev)
        e->pend_prev->pend_next = e->pend_next;
    else
        f->pend = e->pend_next;
    if (e->pend_next)
        e->pend_next->pend_prev = e->pend_prev;
    else
        f->pend_tail = e->pend_prev;
    e->pend_prev = e->pend_next = NULL;
    e->pending = false;
    free(e->payload);
    e->payload = NULL;
}

static void pend_add(struct fake_slack *f, struct fs_env *e, char *payload)
{
    e->payload = payload;
    e->pending = true;
    e->pend_prev = f->pend_tail;
    e->pend_next = NULL;
    if (f->pend_tail)
        f->pend_tail->pend_next = e;
    else
        f->pend = e;
    f->pend_tail = e;
}

static uint64_t next_rnd(struct fake_slack *f)
{
    uint64_t x = f->rnd ? f->rnd : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->rnd = x;
    return x;
}

/* The socket an envelope goes to, by the spread mode: among the live ones
 * (round robin by connection id, or seeded random), else the newest open
 * one (frames then wait in its queue), as with one connection. */
struct fs_conn *fake_slack__pick_conn(struct fake_slack *f)
{
    if (f->spread == FAKE_SLACK_SPREAD_NEWEST)
        return fake_slack__newest_conn(f);
    size_t n = 0;
    struct fs_conn *first = NULL, *next = NULL;
    for (struct fs_conn *c = f->conns; c; c = c->next) {
        if (!fake_slack__conn_live(c))
            continue;
        n++;
        if (!first || c->id < first->id)
            first = c;
        if (c->id > f->rr_last && (!next || c->id < next->id))
            next = c;
    }
    if (n == 0)
        return fake_slack__newest_conn(f);
    struct fs_conn *pick = next ? next : first;
    if (f->spread == FAKE_SLACK_SPREAD_RANDOM) {
        size_t k = (size_t)(next_rnd(f) % n);
        for (struct fs_conn *c = f->conns; c; c = c->next)
            if (fake_slack__conn_live(c) && k-- == 0)
                pick = c;
    }
    f->rr_last = pick->id;
    return pick;
}

/* ------------------------------------------------------------------ */
/* sending */


/* Queues one envelope on the socket the spread mode picks.  payload_json is
 * the payload already printed; with redelivery on, an events_api envelope
 * keeps a copy until it is acked or redelivered. */
static const char *send_env_json(struct fake_slack *f, const char *type, const char *payload_json, int retry,
                                 const char *event_id)
{
    struct fs_conn *c = fake_slack__pick_conn(f);
    if (!c || f->destroying)
        return NULL;
    char id[40];
    uint64_t n = ++f->env_seq;
    snprintf(id, sizeof(id), "%08x-%04x-4%03x-8000-%012llx", f->prefix, (unsigned)(n >> 48) & 0xffffu,
             (unsigned)(n >> 36) & 0xfffu, (unsigned long long)(n & 0xffffffffffffull));
    bool events = strcmp(type, "events_api") == 0;
    struct buf b;
    buf_init(&b, FS_WS_RX_CAP + 1024);
    buf_printf(&b, "{\"envelope_id\":\"%s\",\"payload\":%s,\"type\":\"%s\",\"accepts_response_payload\":%s", id,
               payload_json, type, events ? "false" : "true");
    if (events)
        buf_printf(&b, ",\"retry_attempt\":%d,\"retry_reason\":\"%s\"", retry, retry > 0 ? "timeout" : "");
    buf_puts(&b, "}");
    struct fs_out *out = fake_slack__out_new(OUT_ENVELOPE, b.data, b.len, false);
    buf_finish(&b);
    struct fs_env *e = map_add(f, id);
    out->env = e;
    e->queued_us = fake_http_now_us();
    str_lcpy(e->type, type, sizeof(e->type));
    str_lcpy(e->event_id, event_id ? event_id : "", sizeof(e->event_id));
    str_lcpy(e->conn_tag, c->tag, sizeof(e->conn_tag));
    e->pub.envelope_id = e->id;
    e->pub.type = e->type;
    e->pub.event_id = e->event_id;
    e->pub.conn_tag = e->conn_tag;
    e->pub.retry_attempt = retry;
    e->pub.conn = c->id;
    if (f->record_acks) {
        if (f->n_envs == f->cap_envs) {
            f->cap_envs = f->cap_envs ? f->cap_envs * 2 : 64;
            f->envs = xrealloc(f->envs, f->cap_envs * sizeof(*f->envs));
        }
        f->envs[f->n_envs++] = e;
        e->listed = true;
    }
    if (events && f->redeliver_ms > 0 && retry < f->redeliver_max)
        pend_add(f, e, xstrdup(payload_json));
    fake_slack__conn_queue(c, out);
    return e->id;
}

static const char *send_env(struct fake_slack *f, const char *type, const cJSON *payload, int retry)
{
    if (f->destroying || !fake_slack__newest_conn(f))   /* pick_conn finds one iff this does */
        return NULL;
    cJSON *p = payload ? cJSON_Duplicate(payload, 1) : cJSON_CreateObject();
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(p, "event_id");
    char *s = fake_slack__json_print(p);
    const char *id = send_env_json(f, type, s, retry, cJSON_IsString(ev) ? ev->valuestring : NULL);
    cJSON_Delete(p);
    cJSON_free(s);
    return id;
}

/* Redelivers events_api envelopes not acked within redeliver_ms, as a new
 * envelope with retry_attempt + 1 and retry_reason "timeout", to the socket
 * the spread mode picks (with no socket, at the next tick that has one). */
static void redo_cb(uv_timer_t *t)
{
    struct fake_slack *f = container_of(t, struct fake_slack, redo);
    uint64_t now = fake_http_now_us();
    struct fs_env *e = f->pend;
    while (e && !f->destroying) {
        struct fs_env *next = e->pend_next;
        if (now - e->queued_us < (uint64_t)f->redeliver_ms * 1000u)
            break;   /* oldest first: the rest are younger */
        if (!fake_slack__newest_conn(f))
            break;
        char *payload = e->payload;
        e->payload = NULL;
        char event_id[64];
        str_lcpy(event_id, e->event_id, sizeof(event_id));
        int retry = e->pub.retry_attempt + 1;
        e->pub.redelivered = true;
        fake_slack__pend_remove(f, e);
        send_env_json(f, "events_api", payload, retry, event_id);
        f->redeliveries++;
        free(payload);
        e = next;
    }
}

const char *fake_slack_send_envelope(struct fake_slack *f, const char *type, const cJSON *payload)
{
    return send_env(f, type, payload, 0);
}

const char *fake_slack_send_event(struct fake_slack *f, const cJSON *event, const char *event_id, int retry_attempt)
{
    char eid[32];
    if (!event_id) {
        snprintf(eid, sizeof(eid), "Ev0FAKE%08u", ++f->event_seq);
        event_id = eid;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "token", "verif");
    cJSON_AddStringToObject(p, "team_id", FS_TEAM);
    cJSON_AddStringToObject(p, "api_app_id", FS_APP);
    cJSON_AddItemToObject(p, "event", event ? cJSON_Duplicate(event, 1) : cJSON_CreateObject());
    cJSON_AddStringToObject(p, "type", "event_callback");
    cJSON_AddStringToObject(p, "event_id", event_id);
    cJSON_AddNumberToObject(p, "event_time", (double)time(NULL));
    cJSON *auths = cJSON_AddArrayToObject(p, "authorizations");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNullToObject(a, "enterprise_id");
    cJSON_AddStringToObject(a, "team_id", FS_TEAM);
    cJSON_AddStringToObject(a, "user_id", FS_BOT_USER);
    cJSON_AddTrueToObject(a, "is_bot");
    cJSON_AddFalseToObject(a, "is_enterprise_install");
    cJSON_AddItemToArray(auths, a);
    cJSON_AddFalseToObject(p, "is_ext_shared_channel");
    const char *id = send_env(f, "events_api", p, retry_attempt);
    cJSON_Delete(p);
    return id;
}

const char *fake_slack_send_interactive(struct fake_slack *f, const cJSON *payload)
{
    return send_env(f, "interactive", payload, 0);
}

const char *fake_slack_send_slash(struct fake_slack *f, const char *user, const char *channel, const char *text)
{
    char url[96], trig[64], uname[64], cname[64];
    unsigned cmd = ++f->cmd_seq;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/commands/" FS_TEAM "/%u/fake%08x", f->port, cmd, f->prefix);
    snprintf(trig, sizeof(trig), "%u.%u.fake%08x", 1700000000u + cmd, ++f->trigger_seq, f->prefix);
    const char *un = fake_slack__user_name(f, user);
    if (un)
        str_lcpy(uname, un, sizeof(uname));
    else
        snprintf(uname, sizeof(uname), "user-%s", user);
    if (channel[0] == 'D')
        str_lcpy(cname, "directmessage", sizeof(cname));
    else
        snprintf(cname, sizeof(cname), "channel-%s", channel);
    str_lcpy(f->last_trigger, trig, sizeof(f->last_trigger));
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "token", "verif");
    cJSON_AddStringToObject(p, "team_id", FS_TEAM);
    cJSON_AddStringToObject(p, "team_domain", "fake");
    cJSON_AddStringToObject(p, "channel_id", channel);
    cJSON_AddStringToObject(p, "channel_name", cname);
    cJSON_AddStringToObject(p, "user_id", user);
    cJSON_AddStringToObject(p, "user_name", uname);
    cJSON_AddStringToObject(p, "command", "/sirt");
    cJSON_AddStringToObject(p, "text", text ? text : "");
    cJSON_AddStringToObject(p, "api_app_id", FS_APP);
    cJSON_AddStringToObject(p, "is_enterprise_install", "false");
    cJSON_AddStringToObject(p, "response_url", url);
    cJSON_AddStringToObject(p, "trigger_id", trig);
    const char *id = send_env(f, "slash_commands", p, 0);
    cJSON_Delete(p);
    return id;
}

const char *fake_slack_last_trigger_id(const struct fake_slack *f)
{
    return f->last_trigger;
}

int fake_slack_send_raw(struct fake_slack *f, const void *data, size_t len, bool binary)
{
    struct fs_conn *c = fake_slack__newest_conn(f);
    if (!c || f->destroying)
        return -1;
    fake_slack__conn_queue(c, fake_slack__out_new(OUT_FRAME, data, len, binary));
    return 0;
}

int fake_slack_send_disconnect(struct fake_slack *f, const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "disconnect");
    cJSON_AddStringToObject(o, "reason", reason ? reason : "refresh_requested");
    cJSON *d = cJSON_AddObjectToObject(o, "debug_info");
    cJSON_AddStringToObject(d, "host", "applink-fake-1");
    char *s = fake_slack__json_print(o);
    cJSON_Delete(o);
    int rc = fake_slack_send_raw(f, s, strlen(s), false);
    cJSON_free(s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* records and knobs */


const struct fake_ack *fake_slack_ack(const struct fake_slack *f, const char *envelope_id)
{
    if (!envelope_id)
        return NULL;
    const struct fs_env *e = fake_slack__map_find(f, envelope_id, NULL);
    return e ? e->ack : NULL;
}

size_t fake_slack_ack_count(const struct fake_slack *f)
{
    return f->ack_total;
}

void fake_slack_set_record_acks(struct fake_slack *f, bool on)
{
    f->record_acks = on;
}

void fake_slack_on_ack(struct fake_slack *f, void (*cb)(void *ud, const struct fake_ack *a), void *ud)
{
    f->on_ack = cb;
    f->on_ack_ud = ud;
}

void fake_slack_set_spread(struct fake_slack *f, enum fake_slack_spread mode, uint64_t seed)
{
    f->spread = mode;
    f->rnd = seed ? seed : 0x9e3779b97f4a7c15ull;
    f->rr_last = 0;
}

void fake_slack_set_redelivery(struct fake_slack *f, int timeout_ms, int max_retries)
{
    f->redeliver_ms = timeout_ms > 0 ? timeout_ms : 0;
    f->redeliver_max = max_retries > 0 ? max_retries : 0;
    if (f->redeliver_ms && !f->destroying) {
        uint64_t tick = (uint64_t)f->redeliver_ms / 4;
        tick = tick < 5 ? 5 : tick > 100 ? 100 : tick;
        uv_timer_start(&f->redo, redo_cb, tick, tick);
    } else {
        uv_timer_stop(&f->redo);
        while (f->pend)
            fake_slack__pend_remove(f, f->pend);
    }
}

size_t fake_slack_redeliveries(const struct fake_slack *f)
{
    return f->redeliveries;
}

size_t fake_slack_delivery_count(const struct fake_slack *f)
{
    return f->n_envs;
}

const struct fake_delivery *fake_slack_delivery(const struct fake_slack *f, size_t idx)
{
    return idx < f->n_envs ? &f->envs[idx]->pub : NULL;
}

const struct fake_delivery *fake_slack_delivery_by_id(const struct fake_slack *f, const char *envelope_id)
{
    const struct fs_env *e = envelope_id ? fake_slack__map_find(f, envelope_id, NULL) : NULL;
    return e && e->listed ? &e->pub : NULL;
}

size_t fake_slack_conn_deliveries(const struct fake_slack *f, unsigned id, size_t *acked_there)
{
    size_t n = 0, a = 0;
    for (size_t i = 0; i < f->n_envs; i++) {
        if (f->envs[i]->pub.conn != id)
            continue;
        n++;
        if (f->envs[i]->pub.acked_by == id)
            a++;
    }
    if (acked_there)
        *acked_there = a;
    return n;
}
