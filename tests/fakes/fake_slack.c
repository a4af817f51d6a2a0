/* fake_slack: see fake_slack.h.  One lws context (foreign libuv loop) with
 * one server vhost on 127.0.0.1 (plus a TLS one from fake_slack_create_tls)
 * and one protocol for HTTP and websocket on both.
 * Everything the fake hands out (calls, acks, envelope ids) is owned by the
 * fake and lives until fake_slack_destroy(); with ack recording off an
 * envelope id lives until its ack arrives.  The fake frees itself once lws
 * has closed all its handles (see fake_slack_destroy in the header). */
#include "fake_slack.h"

#include <errno.h>
#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../bot/util.h"
#include "fake_blocks.h"
#include "fake_files.h"
#include "fake_messages.h"

#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

#define FS_HTTP_BODY_CAP   (8u << 20)   /* request bodies */
#define FS_WS_RX_CAP       (4u << 20)   /* one reassembled ws message */
#define FS_BAD_KEEP        100          /* bad frames kept for inspection */
#define FS_BAD_KEEP_BYTES  1024
#define FS_TEAM            "T0FAKE001"
#define FS_APP             "A0FAKE001"
#define FS_BOT_USER        "U0BOT0001"
#define FS_BOT_ID          "B0BOT0001"
#define FS_TAG_LEN         32           /* client tags (fake_slack_client_api_url) */
#define FS_MAX_CONNS       10           /* Slack: 10 Socket Mode connections per app */

static int fs_live;   /* fakes not yet freed (loop thread only) */

enum out_kind { OUT_FRAME, OUT_HELLO, OUT_ENVELOPE };

struct fs_env;

/* One queued outgoing websocket message; data has LWS_PRE headroom. */
struct fs_out {
    struct fs_out *next;
    enum out_kind kind;
    bool binary;
    struct fs_env *env;      /* OUT_ENVELOPE: map entry to stamp */
    size_t len;
    size_t off;              /* bytes already written (fragmented send) */
    unsigned char data[];    /* LWS_PRE + len */
};

struct fs_conn {
    struct fake_slack *f;
    struct lws *wsi;
    struct fs_conn *prev, *next;
    struct fs_out *out_head, *out_tail;
    struct buf rx;
    bool rx_overflow;
    bool hello_written;
    bool silent;
    bool dropping;
    bool ping_want;
    bool over_limit;         /* past the connection limit: no hello, no envelopes */
    unsigned id;
    char tag[FS_TAG_LEN];    /* the client tag of the ticket it used ("" none) */
};

/* Per-request HTTP state; lives from LWS_CALLBACK_HTTP to the final write. */
struct fs_req {
    struct fake_slack *f;
    struct fs_req *prev, *next;
    struct lws *wsi;
    char *path;              /* without the "/c/<tag>" prefix */
    char client[FS_TAG_LEN]; /* that tag, "" without one */
    char err[64];            /* Slack error code answered, "" when ok */
    char *http_method;
    char *auth;
    char *content_type;
    char *query;             /* decoded args joined with '&' */
    cJSON *query_json;
    struct buf body;
    /* the answer */
    int status;
    int retry_after;
    const char *resp_type;
    unsigned char *resp;     /* LWS_PRE + resp_len */
    size_t resp_len;
    bool answered;
    struct fs_delay *delay;  /* pending delayed answer */
    bool delay_done;         /* the delay is over: write the answer */
};

/* A delayed answer's timer; outlives its request if the peer goes first
 * (closed with uv_close, freed in the close callback). */
struct fs_delay {
    uv_timer_t t;
    struct fs_req *r;
};

struct fs_delay_rule {
    char *method;
    int times;
    int ms;
};

struct fs_pss {
    struct fs_req *req;
    struct fs_conn *conn;
    char tag[FS_TAG_LEN];    /* FILTER -> ESTABLISHED: the ticket's client tag */
};

/* One envelope sent (or queued).  pub points into the arrays below. */
struct fs_env {
    struct fs_env *next;                  /* map bucket */
    struct fs_env *pend_prev, *pend_next; /* unacked events_api awaiting redelivery */
    bool pending;
    bool listed;                          /* in f->envs: freed only with the fake */
    uint64_t queued_us;
    uint64_t sent_us;
    struct fake_ack *ack;
    bool written;
    char *payload;                        /* pending only: the payload JSON to send again */
    struct fake_delivery pub;
    char id[40];
    char type[16];
    char event_id[64];
    char conn_tag[FS_TAG_LEN];
};

struct fs_fail {
    char *method;       /* NULL: every Web API method (outages) */
    bool outage;        /* not counted: every call until until_us / fake_slack_outage_end */
    uint64_t until_us;  /* outage end (CLOCK_MONOTONIC), 0 = until told */
    int times;
    int status;
    char *error;
    int retry_after;
};

struct fs_user {
    char *id, *name, *email, *tz;
};

struct fake_slack {
    char *only_bot_token;        /* fake_slack_only_bot_token: other xoxb- tokens are invalid_auth */
    int close_frames;            /* close frames received from the bot */
    int last_close_code;         /* status code of the last one, 0 if none given */
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int port;
    char api_url[64];
    /* TLS listener (fake_slack_create_tls); tls_vh NULL without one */
    struct lws_vhost *tls_vh;
    int tls_port;
    char ws_host[128];
    char tls_api_url[192];
    int ws_tls_total;
    uint32_t prefix;             /* random, makes ids differ per fake */
    bool destroying;

    /* websocket */
    struct fs_conn *conns;       /* newest first */
    int max_conns;               /* FS_MAX_CONNS unless set */
    int ws_over_limit;           /* connections refused for the limit */
    enum fake_slack_spread spread;
    uint64_t rnd;                /* FAKE_SLACK_SPREAD_RANDOM state (xorshift64) */
    unsigned rr_last;            /* FAKE_SLACK_SPREAD_ROUND_ROBIN: last connection id used */
    struct fs_env **envs;        /* every envelope in send order (while acks are recorded) */
    size_t n_envs, cap_envs;
    struct fs_env *pend;         /* redelivery candidates, oldest first */
    struct fs_env *pend_tail;
    int redeliver_ms;            /* 0 = off */
    int redeliver_max;
    size_t redeliveries;
    const char *cur_client;      /* the tag of the Web API call being answered */
    int ws_total, ws_refused;
    unsigned conn_seq;
    bool silent;
    size_t fragment;
    uint64_t env_seq;
    struct fs_env **map;
    size_t map_n, map_buckets;
    struct fake_ack **acks;
    size_t n_acks, cap_acks;
    size_t ack_total;
    bool record_acks;
    void (*on_ack)(void *ud, const struct fake_ack *a);
    void *on_ack_ud;
    size_t bad_frames;
    char *bad[FS_BAD_KEEP];
    uint64_t ping_seq, ping_sent_us, pongs, last_rtt_us;
    char ping_payload[32];

    /* tickets: state per number, 0 unissued, 1 issued, 2 used; and the
     * client tag of the apps.connections.open call that issued it */
    unsigned char *tickets;
    char (*ticket_tags)[FS_TAG_LEN];
    size_t n_tickets;

    /* web api */
    struct fs_req *reqs;
    struct fake_call **calls;
    size_t n_calls, cap_calls;
    struct fs_fail *fails;
    size_t n_fails;
    struct fs_user *users;
    size_t n_users;
    struct fake_channel **channels;   /* known and seen-only, creation order */
    size_t n_channels;
    char **pins;                      /* "channel ts" */
    size_t n_pins;
    struct fs_delay_rule *delays;
    size_t n_delays;
    struct fake_messages *msgs;       /* what chat.postMessage posted */
    struct fake_files *files;         /* external uploads (fake_files.c) */
    uint64_t last_ts_us;              /* ts handed out: wall clock, strictly increasing */
    unsigned ts_seq, chan_seq, view_seq, trigger_seq, cmd_seq, event_seq;
    char last_trigger[64];
    size_t block_refusals;            /* blocks/views refused as Slack would */
    char last_refusal[512];

    /* timers: sweep finds peer-closed silent sockets; fin finishes destroy */
    uv_timer_t sweep;
    uv_timer_t fin;
    uv_timer_t redo;             /* redelivery of unacked events */
    int fin_ticks;
    bool fin_busy;
    int closes_pending;
};

/* ------------------------------------------------------------------ */
/* small helpers */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *arg_str(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static bool arg_true(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *url_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Sets obj[k] = string v, replacing an earlier value of the same key. */
static void obj_set_str(cJSON *obj, const char *k, const char *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, k))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, k, cJSON_CreateString(v));
    else
        cJSON_AddStringToObject(obj, k, v);
}

/* "a=1&b=x%20y" -> {"a":"1","b":"x y"} into obj. */
static void form_into(cJSON *obj, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && s[eq] != '=')
                eq++;
            char *k = url_decode(s + i, eq - i);
            char *v = eq < j ? url_decode(s + eq + 1, j - eq - 1) : xstrdup("");
            if (k[0])
                obj_set_str(obj, k, v);
            free(k);
            free(v);
        }
        i = j + 1;
    }
}

/* Adds a cJSON-printed copy of o to a new queued frame (or response). */
static char *json_print(const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (!s)
        abort();
    return s;
}

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

static struct fs_env *map_find(const struct fake_slack *f, const char *id, struct fs_env ***link)
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

static void ack_free(struct fake_ack *a)
{
    if (!a)
        return;
    free(a->envelope_id);
    cJSON_Delete(a->json);
    free(a);
}

static void map_free(struct fake_slack *f)
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

static void pend_remove(struct fake_slack *f, struct fs_env *e)
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

/* ------------------------------------------------------------------ */
/* websocket connections */

static bool conn_live(const struct fs_conn *c)
{
    return c->wsi && !c->dropping && !c->silent && c->hello_written && !c->over_limit;
}

static bool conn_open(const struct fs_conn *c)
{
    return c->wsi && !c->dropping && !c->over_limit;
}

/* Newest socket to send on: prefer live ones, else any still open. */
static struct fs_conn *newest_conn(struct fake_slack *f)
{
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_live(c))
            return c;
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_open(c))
            return c;
    return NULL;
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
static struct fs_conn *pick_conn(struct fake_slack *f)
{
    if (f->spread == FAKE_SLACK_SPREAD_NEWEST)
        return newest_conn(f);
    size_t n = 0;
    struct fs_conn *first = NULL, *next = NULL;
    for (struct fs_conn *c = f->conns; c; c = c->next) {
        if (!conn_live(c))
            continue;
        n++;
        if (!first || c->id < first->id)
            first = c;
        if (c->id > f->rr_last && (!next || c->id < next->id))
            next = c;
    }
    if (n == 0)
        return newest_conn(f);
    struct fs_conn *pick = next ? next : first;
    if (f->spread == FAKE_SLACK_SPREAD_RANDOM) {
        size_t k = (size_t)(next_rnd(f) % n);
        for (struct fs_conn *c = f->conns; c; c = c->next)
            if (conn_live(c) && k-- == 0)
                pick = c;
    }
    f->rr_last = pick->id;
    return pick;
}

static struct fs_conn *conn_by_id(const struct fake_slack *f, unsigned id)
{
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void out_free_all(struct fs_conn *c)
{
    struct fs_out *o = c->out_head;
    while (o) {
        struct fs_out *next = o->next;
        free(o);
        o = next;
    }
    c->out_head = c->out_tail = NULL;
}

static void conn_unlink_free(struct fs_conn *c)
{
    struct fake_slack *f = c->f;
    if (c->prev)
        c->prev->next = c->next;
    else if (f->conns == c)
        f->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    out_free_all(c);
    buf_finish(&c->rx);
    free(c);
}

static struct fs_out *out_new(enum out_kind kind, const void *data, size_t len, bool binary)
{
    struct fs_out *o = xmalloc(sizeof(*o) + LWS_PRE + len);
    o->next = NULL;
    o->kind = kind;
    o->binary = binary;
    o->env = NULL;
    o->len = len;
    o->off = 0;
    if (len)
        memcpy(o->data + LWS_PRE, data, len);
    return o;
}

static void conn_queue(struct fs_conn *c, struct fs_out *o)
{
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    if (c->wsi && !c->silent && !c->dropping)
        lws_callback_on_writable(c->wsi);
}

static void record_bad(struct fake_slack *f, const void *data, size_t len)
{
    if (f->bad_frames < FS_BAD_KEEP)
        f->bad[f->bad_frames] = xstrndup(data, len < FS_BAD_KEEP_BYTES ? len : FS_BAD_KEEP_BYTES);
    f->bad_frames++;
}

static void handle_ack_frame(struct fake_slack *f, const struct fs_conn *from, const char *data, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(data, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "envelope_id");
    struct fs_env **link = NULL;
    struct fs_env *e = cJSON_IsString(id) ? map_find(f, id->valuestring, &link) : NULL;
    if (!e || !e->written || e->ack) {
        record_bad(f, data, len);
        cJSON_Delete(j);
        return;
    }
    struct fake_ack *a = xcalloc(1, sizeof(*a));
    a->envelope_id = xstrdup(e->id);
    a->json = j;
    a->sent_us = e->sent_us;
    a->acked_us = mono_us();
    a->conn = from->id;
    e->pub.acked_by = from->id;
    e->pub.acked_us = a->acked_us;
    pend_remove(f, e);
    f->ack_total++;
    if (f->record_acks || e->listed) {
        if (f->n_acks == f->cap_acks) {
            f->cap_acks = f->cap_acks ? f->cap_acks * 2 : 64;
            f->acks = xrealloc(f->acks, f->cap_acks * sizeof(*f->acks));
        }
        f->acks[f->n_acks++] = a;
        e->ack = a;
    } else {
        *link = e->next;
        f->map_n--;
        free(e);
    }
    if (f->on_ack)
        f->on_ack(f->on_ack_ud, a);
    if (!f->record_acks)
        ack_free(a);
}

static void ws_received(struct fs_conn *c, const char *in, size_t len, bool binary)
{
    struct fake_slack *f = c->f;
    if (lws_is_first_fragment(c->wsi)) {
        buf_reset(&c->rx);
        c->rx_overflow = false;
    }
    if (binary)
        c->rx_overflow = true;    /* Slack never gets binary frames from a bot */
    if (!c->rx_overflow && buf_append(&c->rx, in, len) != 0)
        c->rx_overflow = true;
    if (!lws_is_final_fragment(c->wsi))
        return;
    if (c->rx_overflow)
        record_bad(f, c->rx.data ? c->rx.data : "(binary or oversized)", c->rx.data ? c->rx.len : 21);
    else
        handle_ack_frame(f, c, c->rx.data ? c->rx.data : "", c->rx.len);
    buf_reset(&c->rx);
    c->rx_overflow = false;
}

static int ws_writeable(struct fs_conn *c)
{
    struct fake_slack *f = c->f;
    struct lws *wsi = c->wsi;
    if (c->silent || c->dropping)
        return 0;
    if (c->ping_want) {
        unsigned char pb[LWS_PRE + 32];
        size_t n = strlen(f->ping_payload);
        memcpy(pb + LWS_PRE, f->ping_payload, n);
        c->ping_want = false;
        f->ping_sent_us = mono_us();
        if (lws_write(wsi, pb + LWS_PRE, n, LWS_WRITE_PING) < (int)n)
            return -1;
        if (c->out_head)
            lws_callback_on_writable(wsi);
        return 0;
    }
    struct fs_out *o = c->out_head;
    if (!o)
        return 0;
    size_t chunk = o->len - o->off;
    int flags;
    bool last = true;
    if (f->fragment && !o->binary && o->len > f->fragment) {
        if (chunk > f->fragment) {
            chunk = f->fragment;
            last = false;
        }
        flags = o->off ? LWS_WRITE_CONTINUATION : LWS_WRITE_TEXT;
        if (!last)
            flags |= LWS_WRITE_NO_FIN;
    } else {
        flags = o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    }
    /* lws writes the frame header into the LWS_PRE bytes before the
     * pointer; for later fragments those are already-sent payload bytes. */
    unsigned char *p = o->data + LWS_PRE + o->off;
    if (o->off == 0 && o->env) {
        o->env->sent_us = mono_us();
        o->env->written = true;
        o->env->pub.sent_us = o->env->sent_us;
        o->env->pub.written = true;
    }
    if (lws_write(wsi, p, chunk, (enum lws_write_protocol)flags) < (int)chunk)
        return -1;
    o->off += chunk;
    if (last) {
        if (o->kind == OUT_HELLO)
            c->hello_written = true;
        c->out_head = o->next;
        if (!c->out_head)
            c->out_tail = NULL;
        free(o);
    }
    if (c->out_head || c->ping_want)
        lws_callback_on_writable(wsi);
    return 0;
}

static int count_open(const struct fake_slack *f)
{
    int n = 0;
    for (const struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_open(c))
            n++;
    return n;
}

/* Slack documents the limit (10 per app) and the disconnect reason
 * too_many_websockets with the shape below, not which socket gets it: the
 * fake refuses the newcomer (no hello, never an envelope) and closes it
 * 2 s later if the peer has not. */
static void refuse_over_limit(struct fake_slack *f, struct fs_conn *c)
{
    c->over_limit = true;
    f->ws_over_limit++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "disconnect");
    cJSON_AddStringToObject(o, "reason", "too_many_websockets");
    cJSON_AddNumberToObject(o, "num_connections", count_open(f));
    cJSON *d = cJSON_AddObjectToObject(o, "debug_info");
    cJSON_AddStringToObject(d, "host", "applink-fake-1");
    cJSON *ci = cJSON_AddObjectToObject(o, "connection_info");
    cJSON_AddStringToObject(ci, "app_id", FS_APP);
    char *s = json_print(o);
    cJSON_Delete(o);
    struct fs_out *out = out_new(OUT_FRAME, s, strlen(s), false);
    cJSON_free(s);
    if (c->out_tail)
        c->out_tail->next = out;
    else
        c->out_head = out;
    c->out_tail = out;
    lws_callback_on_writable(c->wsi);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
}

static void ws_established(struct fake_slack *f, struct lws *wsi, struct fs_pss *pss, const char *tag)
{
    int accepted = count_open(f);
    struct fs_conn *c = xcalloc(1, sizeof(*c));
    c->f = f;
    c->wsi = wsi;
    c->id = ++f->conn_seq;
    buf_init(&c->rx, FS_WS_RX_CAP);
    c->next = f->conns;
    if (f->conns)
        f->conns->prev = c;
    f->conns = c;
    pss->conn = c;
    f->ws_total++;
    if (lws_is_ssl(wsi))
        f->ws_tls_total++;
    str_lcpy(c->tag, tag ? tag : "", sizeof(c->tag));
    if (accepted >= f->max_conns) {
        refuse_over_limit(f, c);
        return;
    }

    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "hello");
    cJSON_AddNumberToObject(h, "num_connections", accepted + 1);
    cJSON *dbg = cJSON_AddObjectToObject(h, "debug_info");
    cJSON_AddStringToObject(dbg, "host", "applink-fake-1");
    cJSON_AddNumberToObject(dbg, "build_number", 1);
    cJSON_AddNumberToObject(dbg, "approximate_connection_time", 18060);
    cJSON *ci = cJSON_AddObjectToObject(h, "connection_info");
    cJSON_AddStringToObject(ci, "app_id", FS_APP);
    char *s = json_print(h);
    cJSON_Delete(h);
    if (f->silent) {
        c->silent = true;
        lws_rx_flow_control(wsi, 0);
    }
    conn_queue(c, out_new(OUT_HELLO, s, strlen(s), false));
    cJSON_free(s);
}

/* Ticket check for the upgrade: "/link/?ticket=<n>-<prefix>&app_id=..". */
static int ws_filter(struct fake_slack *f, struct lws *wsi, struct fs_pss *pss)
{
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || !str_starts(uri, "/link")) {
        f->ws_refused++;
        return -1;
    }
    char frag[256];
    const char *ticket = NULL;
    for (int i = 0; i < 32; i++) {
        if (lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            break;
        if (str_starts(frag, "ticket=")) {
            ticket = frag + 7;
            break;
        }
    }
    char *end = NULL;
    unsigned long n = ticket ? strtoul(ticket, &end, 10) : 0;
    char want[16];
    snprintf(want, sizeof(want), "-%08x", f->prefix);
    if (!ticket || !end || strcmp(end, want) != 0 || n == 0 || n >= f->n_tickets || f->tickets[n] != 1) {
        f->ws_refused++;
        return -1;
    }
    f->tickets[n] = 2;
    if (pss)
        str_lcpy(pss->tag, f->ticket_tags[n], sizeof(pss->tag));
    return 0;
}

/* ------------------------------------------------------------------ */
/* silent-socket sweep: a silent socket is not read by lws, so notice the
 * peer hanging up ourselves and close our end. */

static void sweep_cb(uv_timer_t *t)
{
    struct fake_slack *f = container_of(t, struct fake_slack, sweep);
    bool any = false;
    for (struct fs_conn *c = f->conns; c; c = c->next) {
        if (!c->wsi || !c->silent || c->dropping)
            continue;
        any = true;
        struct pollfd p = { .fd = lws_get_socket_fd(c->wsi), .events = POLLIN | POLLRDHUP };
        if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            c->dropping = true;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
    if (!any && !f->silent)
        uv_timer_stop(t);
}

static void sweep_start(struct fake_slack *f)
{
    if (!f->destroying && !uv_is_active((uv_handle_t *)&f->sweep))
        uv_timer_start(&f->sweep, sweep_cb, 50, 50);
}

/* ------------------------------------------------------------------ */
/* Web API */

typedef const char *(*api_fn)(struct fake_slack *f, const cJSON *args, cJSON *out);

/* Message timestamps as Slack makes them: wall-clock seconds and
 * microseconds, unique and increasing (conversations.history's oldest and
 * latest compare them with the bot's clock). */
static void next_ts(struct fake_slack *f, char out[32])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    if (us <= f->last_ts_us)
        us = f->last_ts_us + 1;
    f->last_ts_us = us;
    f->ts_seq++;
    snprintf(out, 32, "%llu.%06llu", (unsigned long long)(us / 1000000u), (unsigned long long)(us % 1000000u));
}

static const char *api_connections_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)args;
    if (f->n_tickets == 0) {
        f->n_tickets = 1;
        f->tickets = xcalloc(1, 1);
    }
    if (!f->ticket_tags)
        f->ticket_tags = xcalloc(1, sizeof(*f->ticket_tags));
    size_t n = f->n_tickets;
    f->tickets = xrealloc(f->tickets, n + 1);
    f->tickets[n] = 1;
    f->ticket_tags = xrealloc(f->ticket_tags, (n + 1) * sizeof(*f->ticket_tags));
    str_lcpy(f->ticket_tags[n], f->cur_client ? f->cur_client : "", FS_TAG_LEN);
    f->n_tickets = n + 1;
    char url[256];
    if (f->tls_vh)
        snprintf(url, sizeof(url), "wss://%s:%d/link/?ticket=%zu-%08x&app_id=" FS_APP, f->ws_host, f->tls_port,
                 n, f->prefix);
    else
        snprintf(url, sizeof(url), "ws://127.0.0.1:%d/link/?ticket=%zu-%08x&app_id=" FS_APP, f->port, n, f->prefix);
    cJSON_AddStringToObject(out, "url", url);
    return NULL;
}

static const char *api_auth_test(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)f;
    (void)args;
    cJSON_AddStringToObject(out, "url", "https://fake.slack.com/");
    cJSON_AddStringToObject(out, "team", "Fake");
    cJSON_AddStringToObject(out, "user", "sirt");
    cJSON_AddStringToObject(out, "team_id", FS_TEAM);
    cJSON_AddStringToObject(out, "user_id", FS_BOT_USER);
    cJSON_AddStringToObject(out, "bot_id", FS_BOT_ID);
    cJSON_AddFalseToObject(out, "is_enterprise_install");
    return NULL;
}

static bool has_blocks(const cJSON *args)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "blocks");
    return cJSON_IsArray(b) || (cJSON_IsString(b) && b->valuestring[0]);
}

/* Slack's answer to blocks or a view it cannot take: code plus the
 * message with its JSON pointer in "errors" (blocks only) and in
 * response_metadata.messages with an "[ERROR] " prefix. */
static const char *refuse(struct fake_slack *f, cJSON *out, const char *code, const char *msg)
{
    f->block_refusals++;
    str_lcpy(f->last_refusal, msg, sizeof(f->last_refusal));
    if (strcmp(code, "invalid_blocks") == 0) {
        cJSON *errors = cJSON_AddArrayToObject(out, "errors");
        cJSON_AddItemToArray(errors, cJSON_CreateString(msg));
    }
    cJSON *md = cJSON_AddObjectToObject(out, "response_metadata");
    cJSON *msgs = cJSON_AddArrayToObject(md, "messages");
    char line[600];
    snprintf(line, sizeof(line), "[ERROR] %s", msg);
    cJSON_AddItemToArray(msgs, cJSON_CreateString(line));
    return code;
}

static const char *check_blocks(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    char msg[512];
    if (fake_blocks_check_message(args, msg, sizeof(msg)))
        return NULL;
    return refuse(f, out, "invalid_blocks", msg);
}

static const char *api_post_message(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = arg_str(args, "channel");
    const char *text = arg_str(args, "text");
    if (!ch)
        return "channel_not_found";
    if (!text && !has_blocks(args))
        return "no_text";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    cJSON *md = NULL;
    bad = fake_messages_check_metadata(args, &md);
    if (bad)
        return bad;
    char ts[32];
    next_ts(f, ts);
    const char *thread = arg_str(args, "thread_ts");
    fake_messages_add(f->msgs, ch, ts, thread, FS_BOT_USER, FS_BOT_ID, text, md);
    cJSON_AddStringToObject(out, "channel", ch);
    cJSON_AddStringToObject(out, "ts", ts);
    cJSON *m = cJSON_AddObjectToObject(out, "message");
    cJSON_AddStringToObject(m, "text", text ? text : "");
    cJSON_AddStringToObject(m, "user", FS_BOT_USER);
    cJSON_AddStringToObject(m, "bot_id", FS_BOT_ID);
    cJSON_AddStringToObject(m, "ts", ts);
    cJSON_AddStringToObject(m, "type", "message");
    if (thread)
        cJSON_AddStringToObject(m, "thread_ts", thread);
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(args, "blocks");
    if (cJSON_IsArray(blocks))
        cJSON_AddItemToObject(m, "blocks", cJSON_Duplicate(blocks, 1));
    if (md)
        cJSON_AddItemToObject(m, "metadata", cJSON_Duplicate(md, 1));
    return NULL;
}

static const char *api_post_ephemeral(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!arg_str(args, "channel"))
        return "channel_not_found";
    if (!arg_str(args, "user"))
        return "user_not_found";
    if (!arg_str(args, "text") && !has_blocks(args))
        return "no_text";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    char ts[32];
    next_ts(f, ts);
    cJSON_AddStringToObject(out, "message_ts", ts);
    return NULL;
}

static const char *api_chat_update(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = arg_str(args, "channel");
    const char *ts = arg_str(args, "ts");
    if (!ch)
        return "channel_not_found";
    if (!ts)
        return "message_not_found";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    const char *text = arg_str(args, "text");
    cJSON_AddStringToObject(out, "channel", ch);
    cJSON_AddStringToObject(out, "ts", ts);
    cJSON_AddStringToObject(out, "text", text ? text : "");
    return NULL;
}

/* views.open / views.push / views.update: echo the view with id and hash. */
static const char *view_answer(struct fake_slack *f, const cJSON *args, cJSON *out, bool need_trigger)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "view");
    cJSON *view = NULL;
    if (cJSON_IsObject(v))
        view = cJSON_Duplicate(v, 1);
    else if (cJSON_IsString(v))
        view = cJSON_Parse(v->valuestring);
    if (!cJSON_IsObject(view) || (need_trigger && !arg_str(args, "trigger_id"))) {
        cJSON_Delete(view);
        return "invalid_arguments";
    }
    char msg[512];
    if (!fake_blocks_check_view(view, msg, sizeof(msg))) {
        cJSON_Delete(view);
        return refuse(f, out, "invalid_arguments", msg);
    }
    char id[32], hash[48];
    const char *vid = arg_str(args, "view_id");
    if (vid)
        str_lcpy(id, vid, sizeof(id));
    else
        snprintf(id, sizeof(id), "V0FAKE%05u", ++f->view_seq);
    snprintf(hash, sizeof(hash), "%u.fakehash%08x", ++f->view_seq, f->prefix);
    cJSON_DeleteItemFromObjectCaseSensitive(view, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(view, "hash");
    cJSON_AddStringToObject(view, "id", id);
    cJSON_AddStringToObject(view, "hash", hash);
    cJSON_AddStringToObject(view, "team_id", FS_TEAM);
    cJSON_AddStringToObject(view, "app_id", FS_APP);
    cJSON_AddStringToObject(view, "bot_id", FS_BOT_ID);
    if (!cJSON_GetObjectItemCaseSensitive(view, "state")) {
        cJSON *st = cJSON_AddObjectToObject(view, "state");
        cJSON_AddObjectToObject(st, "values");
    }
    cJSON_AddItemToObject(out, "view", view);
    return NULL;
}

static const char *api_views_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    return view_answer(f, args, out, true);
}

static const char *api_views_update(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    return view_answer(f, args, out, false);
}

/* --- channels --- */

static void channel_free(struct fake_channel *c)
{
    free(c->id);
    free(c->name);
    free(c->creator);
    for (size_t i = 0; i < c->n_members; i++)
        free(c->members[i]);
    free(c->members);
    free(c);
}

static struct fake_channel *channel_find_id(const struct fake_slack *f, const char *id)
{
    for (size_t i = 0; id && i < f->n_channels; i++)
        if (strcmp(f->channels[i]->id, id) == 0)
            return f->channels[i];
    return NULL;
}

static struct fake_channel *channel_new(struct fake_slack *f, const char *id, const char *name, bool is_private,
                                        bool known)
{
    struct fake_channel *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(id);
    c->name = xstrdup(name ? name : "");
    c->is_private = is_private;
    c->known = known;
    c->creator = xstrdup(FS_BOT_USER);
    c->created = (long)time(NULL);
    if (known) {
        c->members = xmalloc(sizeof(char *));
        c->members[0] = xstrdup(FS_BOT_USER);
        c->n_members = 1;
    }
    f->channels = xrealloc(f->channels, (f->n_channels + 1) * sizeof(*f->channels));
    f->channels[f->n_channels++] = c;
    return c;
}

static void channel_add_member(struct fake_channel *c, const char *user)
{
    c->members = xrealloc(c->members, (c->n_members + 1) * sizeof(char *));
    c->members[c->n_members++] = xstrdup(user);
}

static void channel_json(const struct fake_channel *c, cJSON *out, const char *key)
{
    cJSON *ch = key ? cJSON_AddObjectToObject(out, key) : out;
    cJSON_AddStringToObject(ch, "id", c->id);
    cJSON_AddStringToObject(ch, "name", c->name);
    cJSON_AddTrueToObject(ch, "is_channel");
    cJSON_AddBoolToObject(ch, "is_group", c->is_private);
    cJSON_AddFalseToObject(ch, "is_im");
    cJSON_AddFalseToObject(ch, "is_mpim");
    cJSON_AddBoolToObject(ch, "is_private", c->is_private);
    cJSON_AddNumberToObject(ch, "created", (double)c->created);
    cJSON_AddStringToObject(ch, "creator", c->creator);
    cJSON_AddFalseToObject(ch, "is_archived");
    cJSON_AddFalseToObject(ch, "is_general");
    cJSON_AddStringToObject(ch, "name_normalized", c->name);
    cJSON_AddBoolToObject(ch, "is_member", fake_slack_channel_has_member(c, FS_BOT_USER));
    cJSON_AddNumberToObject(ch, "num_members", (double)c->n_members);
}

static const char *api_conv_create(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *name = arg_str(args, "name");
    if (!name)
        return "invalid_name_required";
    if (strlen(name) > 80)
        return "invalid_name_maxlength";
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return "invalid_name_specials";
    if (fake_slack_channel_by_name(f, name))
        return "name_taken";
    char id[32];
    snprintf(id, sizeof(id), "C0FAKE%05u", ++f->chan_seq);
    struct fake_channel *c = channel_new(f, id, name, arg_true(args, "is_private"), true);
    channel_json(c, out, "channel");
    return NULL;
}

/* Cursor "fakecur-<index>". */
static const char *api_conv_list(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *types = arg_str(args, "types");
    if (!types)
        types = "public_channel";
    bool want_pub = strstr(types, "public_channel") != NULL;
    bool want_priv = strstr(types, "private_channel") != NULL;
    long limit = 100;
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(args, "limit");
    long l = cJSON_IsNumber(lj) ? (long)lj->valuedouble : cJSON_IsString(lj) ? atol(lj->valuestring) : 0;
    if (l > 0)
        limit = l > 1000 ? 1000 : l;
    size_t start = 0;
    const char *cur = arg_str(args, "cursor");
    if (cur) {
        char *end = NULL;
        if (!str_starts(cur, "fakecur-"))
            return "invalid_cursor";
        unsigned long n = strtoul(cur + 8, &end, 10);
        if (!end || *end || n > f->n_channels)
            return "invalid_cursor";
        start = n;
    }
    cJSON *arr = cJSON_AddArrayToObject(out, "channels");
    long taken = 0;
    size_t i = start;
    for (; i < f->n_channels && taken < limit; i++) {
        const struct fake_channel *c = f->channels[i];
        if (!c->known || (c->is_private ? !want_priv : !want_pub))
            continue;
        cJSON *o = cJSON_CreateObject();
        channel_json(c, o, NULL);
        cJSON_AddItemToArray(arr, o);
        taken++;
    }
    /* more to come only if a later channel would be listed */
    bool more = false;
    for (size_t k = i; k < f->n_channels && !more; k++)
        more = f->channels[k]->known && (f->channels[k]->is_private ? want_priv : want_pub);
    char next[32] = "";
    if (more)
        snprintf(next, sizeof(next), "fakecur-%zu", i);
    cJSON *md = cJSON_AddObjectToObject(out, "response_metadata");
    cJSON_AddStringToObject(md, "next_cursor", next);
    return NULL;
}

static const char *api_conv_info(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const struct fake_channel *c = channel_find_id(f, arg_str(args, "channel"));
    if (!c || !c->known)
        return "channel_not_found";
    channel_json(c, out, "channel");
    return NULL;
}

static const char *api_conv_invite(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = arg_str(args, "channel");
    if (!ch || (ch[0] != 'C' && ch[0] != 'G'))
        return "channel_not_found";
    const char *users = arg_str(args, "users");
    if (!users)
        return "no_user";
    bool force = arg_true(args, "force");
    struct fake_channel *c = channel_find_id(f, ch);
    if (!c)
        c = channel_new(f, ch, "", ch[0] == 'G', false);

    /* first pass: classify each user */
    char *list = xstrdup(users);
    char *ok_users[100];
    size_t n_ok = 0, n_given = 0, n_already = 0;
    const char *first_err = NULL;
    cJSON *errors = cJSON_CreateArray();
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u && n_given < 1000; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ')
            u++;
        if (!*u)
            continue;
        n_given++;
        const char *err = NULL;
        if (strcmp(u, FS_BOT_USER) == 0)
            err = "cant_invite_self";
        else if (u[0] != 'U' && u[0] != 'W')
            err = "user_not_found";
        if (err) {
            if (!first_err)
                first_err = err;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "user", u);
            cJSON_AddFalseToObject(e, "ok");
            cJSON_AddStringToObject(e, "error", err);
            cJSON_AddItemToArray(errors, e);
            continue;
        }
        bool dup = fake_slack_channel_has_member(c, u);
        for (size_t k = 0; k < n_ok && !dup; k++)
            dup = strcmp(ok_users[k], u) == 0;
        if (dup)
            n_already++;
        else if (n_ok < ARRAY_LEN(ok_users))
            ok_users[n_ok++] = u;
    }
    const char *ret = NULL;
    if (n_given == 0) {
        ret = "no_user";
    } else if (first_err && !force) {
        ret = first_err;
    } else {
        for (size_t k = 0; k < n_ok; k++)
            channel_add_member(c, ok_users[k]);
        if (first_err) {
            ret = first_err;
            cJSON_AddItemToObject(out, "errors", errors);
            errors = NULL;
        } else if (n_ok == 0 && n_already > 0) {
            ret = "already_in_channel";
        } else {
            channel_json(c, out, "channel");
        }
    }
    cJSON_Delete(errors);
    free(list);
    return ret;
}

static const char *api_pins_add(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)out;
    const char *ch = arg_str(args, "channel");
    const char *ts = arg_str(args, "timestamp");
    if (!ch)
        return "channel_not_found";
    if (!ts)
        return "no_item_specified";
    if (fake_slack_is_pinned(f, ch, ts))
        return "already_pinned";
    f->pins = xrealloc(f->pins, (f->n_pins + 1) * sizeof(char *));
    f->pins[f->n_pins++] = xasprintf("%s %s", ch, ts);
    return NULL;
}

/* A channel the reads can answer for: remembered, a DM, or one with posts. */
static bool readable_channel(const struct fake_slack *f, const char *ch)
{
    return ch && (ch[0] == 'D' || channel_find_id(f, ch) || fake_messages_count(f->msgs, ch) > 0);
}

static const char *api_conv_history(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!readable_channel(f, arg_str(args, "channel")))
        return "channel_not_found";
    return fake_messages_history(f->msgs, args, out);
}

static const char *api_conv_replies(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!readable_channel(f, arg_str(args, "channel")))
        return "channel_not_found";
    return fake_messages_replies(f->msgs, args, out);
}

static const char *api_conv_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)f;
    const char *users = arg_str(args, "users");
    const char *ch = arg_str(args, "channel");
    char id[64];
    if (users) {
        /* D + the first user's id without its leading U: U0APPSEC1 -> D0APPSEC1 */
        size_t n = strcspn(users, ",");
        const char *u = users;
        if (*u == 'U' || *u == 'W') {
            u++;
            n--;
        }
        snprintf(id, sizeof(id), "D%.*s", (int)(n < 40 ? n : 40), u);
    } else if (ch) {
        str_lcpy(id, ch, sizeof(id));
    } else {
        return "users_list_not_supplied";
    }
    cJSON *c = cJSON_AddObjectToObject(out, "channel");
    cJSON_AddStringToObject(c, "id", id);
    return NULL;
}

static const struct {
    const char *zone, *label;
    int offset;
} tz_table[] = {
    { "America/Los_Angeles", "Pacific Standard Time", -28800 },
    { "America/Denver", "Mountain Standard Time", -25200 },
    { "America/Chicago", "Central Standard Time", -21600 },
    { "America/New_York", "Eastern Standard Time", -18000 },
    { "America/Sao_Paulo", "Brasilia Standard Time", -10800 },
    { "Europe/London", "Greenwich Mean Time", 0 },
    { "UTC", "Coordinated Universal Time", 0 },
    { "Europe/Amsterdam", "Central European Time", 3600 },
    { "Europe/Berlin", "Central European Time", 3600 },
    { "Europe/Kyiv", "Eastern European Time", 7200 },
    { "Asia/Kolkata", "India Standard Time", 19800 },
    { "Asia/Singapore", "Singapore Standard Time", 28800 },
    { "Asia/Tokyo", "Japan Standard Time", 32400 },
    { "Australia/Sydney", "Australian Eastern Standard Time", 36000 },
    { "Pacific/Auckland", "New Zealand Standard Time", 43200 },
};

static void user_json(const struct fs_user *u, cJSON *out)
{
    const char *label = u->tz;
    int offset = 0;
    for (size_t i = 0; i < ARRAY_LEN(tz_table); i++) {
        if (strcmp(tz_table[i].zone, u->tz) == 0) {
            label = tz_table[i].label;
            offset = tz_table[i].offset;
        }
    }
    cJSON *j = cJSON_AddObjectToObject(out, "user");
    cJSON_AddStringToObject(j, "id", u->id);
    cJSON_AddStringToObject(j, "team_id", FS_TEAM);
    cJSON_AddStringToObject(j, "name", u->name);
    cJSON_AddFalseToObject(j, "deleted");
    cJSON_AddStringToObject(j, "real_name", u->name);
    cJSON_AddStringToObject(j, "tz", u->tz);
    cJSON_AddStringToObject(j, "tz_label", label);
    cJSON_AddNumberToObject(j, "tz_offset", offset);
    cJSON_AddFalseToObject(j, "is_bot");
    cJSON *p = cJSON_AddObjectToObject(j, "profile");
    cJSON_AddStringToObject(p, "email", u->email);
    cJSON_AddStringToObject(p, "real_name", u->name);
    cJSON_AddStringToObject(p, "display_name", u->name);
}

static const char *api_users_info(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *id = arg_str(args, "user");
    for (size_t i = 0; id && i < f->n_users; i++) {
        if (strcmp(f->users[i].id, id) == 0) {
            user_json(&f->users[i], out);
            return NULL;
        }
    }
    return "user_not_found";
}

static const char *api_users_by_email(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *email = arg_str(args, "email");
    for (size_t i = 0; email && i < f->n_users; i++) {
        if (strcmp(f->users[i].email, email) == 0) {
            user_json(&f->users[i], out);
            return NULL;
        }
    }
    return "users_not_found";
}

/* --- files (fake_files.c) --- */

static const char *api_files_url(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", f->port);
    return fake_files_get_upload_url(f->files, base, args, out);
}

static const char *api_files_complete(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = arg_str(args, "channel_id");
    if (ch) {
        const struct fake_channel *c = channel_find_id(f, ch);
        if (!c || !c->known)
            return "channel_not_found";
        if (!fake_slack_channel_has_member(c, FS_BOT_USER))
            return "not_in_channel";
    }
    return fake_files_complete(f->files, args, ch, out);
}

static const char *api_ok(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)f;
    (void)args;
    (void)out;
    return NULL;
}

static const struct {
    const char *name;
    api_fn fn;
    bool app_token;
} api_table[] = {
    { "apps.connections.open", api_connections_open, true },
    { "auth.test", api_auth_test, false },
    { "chat.postEphemeral", api_post_ephemeral, false },
    { "chat.postMessage", api_post_message, false },
    { "chat.update", api_chat_update, false },
    { "conversations.create", api_conv_create, false },
    { "conversations.history", api_conv_history, false },
    { "conversations.info", api_conv_info, false },
    { "conversations.invite", api_conv_invite, false },
    { "conversations.list", api_conv_list, false },
    { "conversations.open", api_conv_open, false },
    { "conversations.replies", api_conv_replies, false },
    { "files.completeUploadExternal", api_files_complete, false },
    { "files.getUploadURLExternal", api_files_url, false },
    { "pins.add", api_pins_add, false },
    { "users.info", api_users_info, false },
    { "users.lookupByEmail", api_users_by_email, false },
    { "views.open", api_views_open, false },
    { "views.push", api_views_open, false },
    { "views.update", api_views_update, false },
};

/* ------------------------------------------------------------------ */
/* HTTP plumbing */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0)
        return xstrdup("");
    char *s = xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, t) < 0)
        s[0] = '\0';
    return s;
}

static void delay_closed(uv_handle_t *h)
{
    free(h->data);
}

static void delay_close(struct fs_delay *d)
{
    if (!d)
        return;
    if (d->r)
        d->r->delay = NULL;
    d->r = NULL;
    uv_close((uv_handle_t *)&d->t, delay_closed);
}

static void req_free(struct fs_req *r)
{
    if (!r)
        return;
    struct fake_slack *f = r->f;
    delay_close(r->delay);
    if (r->prev)
        r->prev->next = r->next;
    else if (f->reqs == r)
        f->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r->path);
    free(r->http_method);
    free(r->auth);
    free(r->content_type);
    free(r->query);
    cJSON_Delete(r->query_json);
    buf_finish(&r->body);
    free(r->resp);
    free(r);
}

static void set_resp(struct fs_req *r, int status, const char *type, const char *body)
{
    size_t n = strlen(body);
    r->status = status;
    if (status != 200)
        snprintf(r->err, sizeof(r->err), "http_%d", status);
    r->resp_type = type;
    free(r->resp);
    r->resp = xmalloc(LWS_PRE + n + 1);
    memcpy(r->resp + LWS_PRE, body, n + 1);
    r->resp_len = n;
}

static void set_resp_json(struct fs_req *r, int status, cJSON *o)
{
    char *s = json_print(o);
    set_resp(r, status, "application/json; charset=utf-8", s);
    cJSON_free(s);
}

static void set_resp_error(struct fs_req *r, int status, const char *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", err);
    set_resp_json(r, status, o);
    cJSON_Delete(o);
    str_lcpy(r->err, err, sizeof(r->err));
}

/* Consumes one configured failure of method, if any. */
static bool apply_fail(struct fake_slack *f, struct fs_req *r, const char *method)
{
    for (size_t i = 0; i < f->n_fails; i++) {
        struct fs_fail *x = &f->fails[i];
        if (x->times <= 0 || (x->method ? strcmp(x->method, method) != 0 : strcmp(method, "response_url") == 0))
            continue;
        if (x->outage && x->until_us && mono_us() >= x->until_us) {
            x->times = 0;   /* over */
            continue;
        }
        if (!x->outage)
            x->times--;
        if (x->status == 429) {
            set_resp_error(r, 429, "ratelimited");
            r->retry_after = x->retry_after;
        } else if (x->status == 200) {
            set_resp_error(r, 200, x->error ? x->error : "internal_error");
        } else {
            char html[160];
            snprintf(html, sizeof(html), "<html><body><h1>%d Fake Slack Error</h1></body></html>\n", x->status);
            set_resp(r, x->status, "text/html", html);
            if (x->retry_after > 0)
                r->retry_after = x->retry_after;
        }
        return true;
    }
    return false;
}

/* The request's arguments as one flat/parsed object; NULL if the JSON body
 * does not parse. */
static cJSON *req_args(struct fs_req *r)
{
    cJSON *args = NULL;
    bool is_json = str_starts(r->content_type, "application/json");
    if (strcmp(r->http_method, "POST") == 0 && is_json) {
        args = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
        if (!cJSON_IsObject(args)) {
            cJSON_Delete(args);
            return NULL;
        }
    } else {
        args = cJSON_CreateObject();
        if (r->body.len)
            form_into(args, r->body.data, r->body.len);
    }
    /* query args fill in what the body did not say */
    const cJSON *q;
    cJSON_ArrayForEach(q, r->query_json)
        if (!cJSON_GetObjectItemCaseSensitive(args, q->string))
            cJSON_AddStringToObject(args, q->string, q->valuestring);
    return args;
}

static void record_call(struct fake_slack *f, struct fs_req *r, const char *method, cJSON *args)
{
    struct fake_call *c = xcalloc(1, sizeof(*c));
    c->method = xstrdup(method);
    c->http_method = xstrdup(r->http_method);
    c->auth = xstrdup(r->auth);
    c->content_type = xstrdup(r->content_type);
    if (strcmp(r->http_method, "GET") == 0)
        c->body = xstrdup(r->query ? r->query : "");
    else
        c->body = xstrndup(r->body.data ? r->body.data : "", r->body.len);
    c->json = args;
    c->status = r->status;
    c->client = xstrdup(r->client);
    c->error = r->err[0] ? xstrdup(r->err) : NULL;
    c->t_us = mono_us();
    if (f->n_calls == f->cap_calls) {
        f->cap_calls = f->cap_calls ? f->cap_calls * 2 : 64;
        f->calls = xrealloc(f->calls, f->cap_calls * sizeof(*f->calls));
    }
    f->calls[f->n_calls++] = c;
}

static void answer_api(struct fake_slack *f, struct fs_req *r, const char *method)
{
    cJSON *args = req_args(r);
    if (apply_fail(f, r, method))
        goto out;
    if (r->body.toobig) {
        set_resp(r, 413, "text/plain", "too large\n");
        goto out;
    }
    if (!args) {
        set_resp_error(r, 200, "invalid_json");
        goto out;
    }
    size_t k = 0;
    while (k < ARRAY_LEN(api_table) && strcmp(api_table[k].name, method) != 0)
        k++;
    bool want_app = k < ARRAY_LEN(api_table) && api_table[k].app_token;
    const char *tok = NULL;
    if (str_starts(r->auth, "Bearer "))
        tok = r->auth + 7;
    else if (r->auth[0])
        tok = "";                       /* some other scheme: a bad token */
    else
        tok = arg_str(args, "token");   /* Slack also takes a token argument */
    if (!tok) {
        set_resp_error(r, 200, "not_authed");
        goto out;
    }
    if (!str_starts(tok, want_app ? "xapp-" : "xoxb-")
        || (!want_app && f->only_bot_token && strcmp(tok, f->only_bot_token) != 0)) {
        set_resp_error(r, 200, "invalid_auth");
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    f->cur_client = r->client;
    const char *err = k < ARRAY_LEN(api_table) ? api_table[k].fn(f, args, o) : api_ok(f, args, o);
    f->cur_client = NULL;
    if (err) {
        /* keep "errors" (conversations.invite with force) next to the code */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddFalseToObject(e, "ok");
        cJSON_AddStringToObject(e, "error", err);
        cJSON *errors = cJSON_DetachItemFromObjectCaseSensitive(o, "errors");
        if (errors)
            cJSON_AddItemToObject(e, "errors", errors);
        cJSON *md = cJSON_DetachItemFromObjectCaseSensitive(o, "response_metadata");
        if (md)
            cJSON_AddItemToObject(e, "response_metadata", md);
        set_resp_json(r, 200, e);
        cJSON_Delete(e);
        str_lcpy(r->err, err, sizeof(r->err));
    } else {
        set_resp_json(r, 200, o);
    }
    cJSON_Delete(o);
out:
    record_call(f, r, method, args);
}

static void answer(struct fake_slack *f, struct fs_req *r)
{
    if (str_starts(r->path, "/api/") && r->path[5]) {
        if (strcmp(r->http_method, "POST") != 0 && strcmp(r->http_method, "GET") != 0) {
            set_resp_error(r, 200, "insecure_request");
            record_call(f, r, r->path + 5, NULL);
        } else {
            answer_api(f, r, r->path + 5);
        }
    } else if (str_starts(r->path, "/upload/v1/") && strcmp(r->http_method, "POST") == 0) {
        /* Slack's upload URL: the raw bytes, no token (the URL is the grant). */
        if (!apply_fail(f, r, "upload")) {
            const char *msg = "";
            int st = fake_files_upload(f->files, r->path, r->body.data, r->body.len, &msg);
            char body[64];
            if (st == 200)
                snprintf(body, sizeof(body), "OK - %zu", r->body.len);
            else
                snprintf(body, sizeof(body), "%s", msg);
            set_resp(r, st, "text/plain; charset=utf-8", body);
        }
        record_call(f, r, "upload", NULL);
    } else if (str_starts(r->path, "/commands/") && strcmp(r->http_method, "POST") == 0) {
        cJSON *args = req_args(r);
        char msg[512];
        if (apply_fail(f, r, "response_url")) {
        } else if (args && !fake_blocks_check_message(args, msg, sizeof(msg))) {
            /* What Slack answers a response_url with bad blocks is not
             * documented: a 400 with the chat.postMessage-style body. */
            cJSON *e = cJSON_CreateObject();
            cJSON_AddFalseToObject(e, "ok");
            cJSON_AddStringToObject(e, "error", refuse(f, e, "invalid_blocks", msg));
            set_resp_json(r, 400, e);
            str_lcpy(r->err, "invalid_blocks", sizeof(r->err));
            cJSON_Delete(e);
        } else {
            set_resp(r, 200, "text/plain; charset=utf-8", "ok");
        }
        record_call(f, r, "response_url", args);
    } else {
        set_resp(r, 404, "text/plain", "not found\n");
        record_call(f, r, r->path, NULL);
    }
}

/* The method name the knobs use for a request. */
static const char *req_method(const struct fs_req *r)
{
    if (str_starts(r->path, "/api/") && r->path[5])
        return r->path + 5;
    if (str_starts(r->path, "/commands/"))
        return "response_url";
    if (str_starts(r->path, "/upload/v1/"))
        return "upload";
    return r->path;
}

static void delay_cb(uv_timer_t *t)
{
    struct fs_delay *d = container_of(t, struct fs_delay, t);
    struct fs_req *r = d->r;
    delay_close(d);
    if (r && r->wsi) {
        r->delay_done = true;
        lws_callback_on_writable(r->wsi);
    }
}

/* Consumes a delay rule for the request's method; true if the answer waits. */
static bool start_delay(struct fake_slack *f, struct fs_req *r)
{
    const char *m = req_method(r);
    for (size_t i = 0; i < f->n_delays && !f->destroying; i++) {
        struct fs_delay_rule *x = &f->delays[i];
        if (x->times <= 0 || strcmp(x->method, m) != 0)
            continue;
        x->times--;
        struct fs_delay *d = xcalloc(1, sizeof(*d));
        d->r = r;
        d->t.data = d;
        uv_timer_init(f->loop, &d->t);
        uv_timer_start(&d->t, delay_cb, (uint64_t)(x->ms > 0 ? x->ms : 0), 0);
        r->delay = d;
        lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
        return true;
    }
    return false;
}

/* Writes the status line and headers now; the body goes in HTTP_WRITEABLE. */
static int send_headers(struct fs_req *r)
{
    unsigned char hb[LWS_PRE + 1024];
    unsigned char *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;
    struct lws *wsi = r->wsi;
    r->answered = true;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->resp_type, r->resp_len, &p, end))
        return -1;
    if (r->retry_after > 0) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", r->retry_after);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:", (const unsigned char *)v, n,
                                        &p, end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int http_begin(struct fake_slack *f, struct lws *wsi, struct fs_pss *pss, const char *path)
{
    req_free(pss->req);
    struct fs_req *r = xcalloc(1, sizeof(*r));
    r->f = f;
    r->wsi = wsi;
    r->next = f->reqs;
    if (f->reqs)
        f->reqs->prev = r;
    f->reqs = r;
    pss->req = r;
    /* "/c/<tag>/api/..." is "/api/..." from the client <tag> */
    if (path && str_starts(path, "/c/")) {
        size_t tl = strcspn(path + 3, "/");
        if (tl > 0 && tl < FS_TAG_LEN && path[3 + tl] == '/') {
            memcpy(r->client, path + 3, tl);
            r->client[tl] = '\0';
            path += 3 + tl;
        }
    }
    r->path = xstrdup(path ? path : "/");
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    r->http_method = xstrdup(post ? "POST" : get ? "GET" : "OTHER");
    r->auth = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    r->content_type = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    buf_init(&r->body, FS_HTTP_BODY_CAP);

    /* lws hands URL args over decoded, one "name=value" per fragment */
    r->query_json = cJSON_CreateObject();
    struct buf q;
    buf_init(&q, 64 * 1024);
    char frag[4096];
    for (int i = 0; i < 256; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (i)
            buf_puts(&q, "&");
        buf_puts(&q, frag);
        char *eq = strchr(frag, '=');
        if (eq) {
            *eq = '\0';
            if (frag[0])
                obj_set_str(r->query_json, frag, eq + 1);
        }
    }
    r->query = buf_take(&q);

    if (post) {
        char cl[32];
        bool has_cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                      lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
        if (!has_cl || atoll(cl) > 0)
            return 0;   /* wait for HTTP_BODY / HTTP_BODY_COMPLETION */
    }
    answer(f, r);
    if (start_delay(f, r))
        return 0;
    return send_headers(r);
}

static int http_writeable(struct fs_pss *pss, struct lws *wsi)
{
    struct fs_req *r = pss->req;
    if (r && !r->answered && r->delay_done)
        return send_headers(r);
    if (!r || !r->answered)
        return 0;
    int n = lws_write(wsi, r->resp + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
    pss->req = NULL;
    req_free(r);
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* the protocol callback */

static int fs_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct fs_pss *pss = user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct fake_slack *f = ctx ? lws_context_user(ctx) : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!f || !pss)
            return -1;
        return http_begin(f, wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss && pss->req && len)
            buf_append(&pss->req->body, in, len);   /* overflow sets toobig -> 413 */
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!pss || !pss->req)
            return -1;
        if (pss->req->answered || pss->req->delay)
            return 0;   /* explicit zero Content-Length: answered in HTTP */
        answer(f, pss->req);
        if (start_delay(f, pss->req))
            return 0;
        return send_headers(pss->req);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss)
            return -1;
        return http_writeable(pss, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->req) {
            req_free(pss->req);
            pss->req = NULL;
        }
        break;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!f || f->destroying)
            return -1;
        return ws_filter(f, wsi, pss);
    case LWS_CALLBACK_ESTABLISHED:
        if (!f || !pss || f->destroying)
            return -1;
        ws_established(f, wsi, pss, pss->tag);
        if (f->silent)
            sweep_start(f);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (pss && pss->conn)
            ws_received(pss->conn, in, len, lws_frame_is_binary(wsi) != 0);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (f && f->ping_sent_us && len == strlen(f->ping_payload) && memcmp(in, f->ping_payload, len) == 0) {
            f->pongs++;
            f->last_rtt_us = mono_us() - f->ping_sent_us;
            f->ping_sent_us = 0;
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (pss && pss->conn)
            return ws_writeable(pss->conn);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The bot sent a close frame: remember its status code. */
        f->close_frames++;
        f->last_close_code = len >= 2 ? (((const unsigned char *)in)[0] << 8) | ((const unsigned char *)in)[1] : 0;
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (pss && pss->conn) {
            conn_unlink_free(pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fs_protocols[] = {
    { "fake-slack", fs_callback, sizeof(struct fs_pss), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ------------------------------------------------------------------ */
/* life cycle */

static void free_all(struct fake_slack *f)
{
    while (f->conns)
        conn_unlink_free(f->conns);
    while (f->reqs)
        req_free(f->reqs);
    for (size_t i = 0; i < f->n_calls; i++) {
        struct fake_call *c = f->calls[i];
        free(c->method);
        free(c->http_method);
        free(c->auth);
        free(c->content_type);
        free(c->body);
        free(c->client);
        free(c->error);
        cJSON_Delete(c->json);
        free(c);
    }
    free(f->calls);
    for (size_t i = 0; i < f->n_acks; i++)
        ack_free(f->acks[i]);
    free(f->acks);
    map_free(f);
    for (size_t i = 0; i < f->n_fails; i++) {
        free(f->fails[i].method);
        free(f->fails[i].error);
    }
    free(f->fails);
    for (size_t i = 0; i < f->n_users; i++) {
        free(f->users[i].id);
        free(f->users[i].name);
        free(f->users[i].email);
        free(f->users[i].tz);
    }
    free(f->users);
    for (size_t i = 0; i < f->n_channels; i++)
        channel_free(f->channels[i]);
    free(f->channels);
    for (size_t i = 0; i < f->n_pins; i++)
        free(f->pins[i]);
    free(f->pins);
    for (size_t i = 0; i < f->n_delays; i++)
        free(f->delays[i].method);
    free(f->delays);
    fake_messages_destroy(f->msgs);
    fake_files_destroy(f->files);
    for (size_t i = 0; i < FS_BAD_KEEP; i++)
        free(f->bad[i]);
    free(f->tickets);
    free(f->ticket_tags);
    free(f->envs);
    free(f);
    fs_live--;
}

static void timer_closed(uv_handle_t *h)
{
    struct fake_slack *f = h->data;
    if (--f->closes_pending == 0)
        free_all(f);
}

static void walk_closing(uv_handle_t *h, void *arg)
{
    struct fake_slack *f = arg;
    if (h != (uv_handle_t *)&f->fin && h != (uv_handle_t *)&f->sweep && h != (uv_handle_t *)&f->redo
        && uv_is_closing(h))
        f->fin_busy = true;
}

/* Finishes the destroy once lws has no handle left closing: the second
 * lws_context_destroy() frees the context (protocol-facts §8). */
static void fin_cb(uv_timer_t *t)
{
    struct fake_slack *f = container_of(t, struct fake_slack, fin);
    int ticks = ++f->fin_ticks;
    f->fin_busy = false;
    uv_walk(f->loop, walk_closing, f);
    bool busy = f->fin_busy;
    if (ticks < 3 || (busy && ticks < 400))
        return;
    if (f->ctx)
        lws_context_destroy(f->ctx);
    if (f->ctx && ticks < 400)
        return;   /* not done yet: try again on the next tick */
    if (f->ctx)
        fprintf(stderr, "fake_slack: lws context did not finish closing; leaking it\n");
    uv_timer_stop(&f->fin);
    f->closes_pending = 3;
    uv_close((uv_handle_t *)&f->sweep, timer_closed);
    uv_close((uv_handle_t *)&f->fin, timer_closed);
    uv_close((uv_handle_t *)&f->redo, timer_closed);
}

void fake_slack_destroy(struct fake_slack *f)
{
    if (!f || f->destroying)
        return;
    f->destroying = true;
    free(f->only_bot_token);
    f->only_bot_token = NULL;
    uv_timer_stop(&f->sweep);
    uv_timer_stop(&f->redo);
    for (struct fs_conn *c = f->conns; c; c = c->next)
        c->silent = false;
    for (struct fs_req *r = f->reqs; r; r = r->next)
        delay_close(r->delay);   /* delayed answers are never written */
    if (f->ctx)
        lws_context_destroy(f->ctx);
    f->fin_ticks = 0;
    uv_timer_start(&f->fin, fin_cb, 5, 5);
}

int fake_slack_live_count(void)
{
    return fs_live;
}

static struct fake_slack *create_fake(uv_loop_t *loop, int port, const struct fake_slack_tls *tls)
{
    struct fake_slack *f = xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->record_acks = true;
    f->prefix = (uint32_t)util_rand64();
    uv_timer_init(loop, &f->sweep);
    uv_timer_init(loop, &f->fin);
    uv_timer_init(loop, &f->redo);
    f->sweep.data = f;
    f->fin.data = f;
    f->redo.data = f;
    f->max_conns = FS_MAX_CONNS;
    f->msgs = fake_messages_create();
    f->files = fake_files_create();
    fs_live++;

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof(ci));
    void *loops[1] = { loop };
    ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (tls)
        ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;   /* protocol-facts §8 */
    ci.foreign_loops = loops;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    ci.pcontext = &f->ctx;
    ci.user = f;
    ci.max_http_header_pool = 64;
    ci.max_http_header_data = 8192;
    ci.fd_limit_per_thread = 4096;
    f->ctx = lws_create_context(&ci);
    if (!f->ctx) {
        fprintf(stderr, "fake_slack: lws_create_context failed\n");
        f->destroying = true;
        f->closes_pending = 3;
        uv_close((uv_handle_t *)&f->sweep, timer_closed);
        uv_close((uv_handle_t *)&f->fin, timer_closed);
        uv_close((uv_handle_t *)&f->redo, timer_closed);
        return NULL;
    }
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;   /* plain */
    vi.port = port;
    vi.iface = "127.0.0.1";
    vi.protocols = fs_protocols;
    vi.vhost_name = "fake-slack";
    vi.keepalive_timeout = 30;
    f->vh = lws_create_vhost(f->ctx, &vi);
    if (!f->vh || lws_get_vhost_listen_port(f->vh) <= 0) {
        fprintf(stderr, "fake_slack: cannot listen on 127.0.0.1:%d\n", port);
        fake_slack_destroy(f);
        return NULL;
    }
    f->port = lws_get_vhost_listen_port(f->vh);
    snprintf(f->api_url, sizeof(f->api_url), "http://127.0.0.1:%d/api", f->port);
    if (tls) {
        /* Same protocol on a second, TLS-only listener: https API and wss. */
        memset(&vi, 0, sizeof(vi));
        vi.options = ci.options;
        vi.port = tls->port;
        vi.iface = "127.0.0.1";
        vi.protocols = fs_protocols;
        vi.vhost_name = "fake-slack-tls";
        vi.keepalive_timeout = 30;
        vi.ssl_cert_filepath = tls->cert_pem;
        vi.ssl_private_key_filepath = tls->key_pem;
        f->tls_vh = lws_create_vhost(f->ctx, &vi);
        if (!f->tls_vh || lws_get_vhost_listen_port(f->tls_vh) <= 0) {
            fprintf(stderr, "fake_slack: cannot listen with TLS on 127.0.0.1:%d (cert %s, key %s)\n", tls->port,
                    tls->cert_pem, tls->key_pem);
            fake_slack_destroy(f);
            return NULL;
        }
        f->tls_port = lws_get_vhost_listen_port(f->tls_vh);
        str_lcpy(f->ws_host, tls->ws_host ? tls->ws_host : "127.0.0.1", sizeof(f->ws_host));
        snprintf(f->tls_api_url, sizeof(f->tls_api_url), "https://%s:%d/api", f->ws_host, f->tls_port);
    }
    return f;
}

struct fake_slack *fake_slack_create(uv_loop_t *loop, int port)
{
    return create_fake(loop, port, NULL);
}

struct fake_slack *fake_slack_create_tls(uv_loop_t *loop, int port, const struct fake_slack_tls *tls)
{
    if (!tls || !tls->cert_pem || !tls->key_pem || (tls->ws_host && strlen(tls->ws_host) >= 128)) {
        fprintf(stderr, "fake_slack_create_tls: certificate, key and a short host are required\n");
        return NULL;
    }
    return create_fake(loop, port, tls);
}

int fake_slack_tls_port(const struct fake_slack *f)
{
    return f->tls_port;
}

const char *fake_slack_tls_api_url(const struct fake_slack *f)
{
    return f->tls_api_url;
}

int fake_slack_ws_tls_total(const struct fake_slack *f)
{
    return f->ws_tls_total;
}

int fake_slack_port(const struct fake_slack *f)
{
    return f->port;
}

const char *fake_slack_api_url(const struct fake_slack *f)
{
    return f->api_url;
}

/* ------------------------------------------------------------------ */
/* websocket knobs */

int fake_slack_ws_count(const struct fake_slack *f)
{
    int n = 0;
    for (const struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_live(c))
            n++;
    return n;
}

int fake_slack_ws_open(const struct fake_slack *f)
{
    return count_open(f);
}

int fake_slack_ws_total(const struct fake_slack *f)
{
    return f->ws_total;
}

int fake_slack_ws_refused(const struct fake_slack *f)
{
    return f->ws_refused;
}

/* Queues one envelope on the socket the spread mode picks.  payload_json is
 * the payload already printed; with redelivery on, an events_api envelope
 * keeps a copy until it is acked or redelivered. */
static const char *send_env_json(struct fake_slack *f, const char *type, const char *payload_json, int retry,
                                 const char *event_id)
{
    struct fs_conn *c = pick_conn(f);
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
    struct fs_out *out = out_new(OUT_ENVELOPE, b.data, b.len, false);
    buf_finish(&b);
    struct fs_env *e = map_add(f, id);
    out->env = e;
    e->queued_us = mono_us();
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
    conn_queue(c, out);
    return e->id;
}

static const char *send_env(struct fake_slack *f, const char *type, const cJSON *payload, int retry)
{
    if (f->destroying || !newest_conn(f))   /* pick_conn finds one iff this does */
        return NULL;
    cJSON *p = payload ? cJSON_Duplicate(payload, 1) : cJSON_CreateObject();
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(p, "event_id");
    char *s = json_print(p);
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
    uint64_t now = mono_us();
    struct fs_env *e = f->pend;
    while (e && !f->destroying) {
        struct fs_env *next = e->pend_next;
        if (now - e->queued_us < (uint64_t)f->redeliver_ms * 1000u)
            break;   /* oldest first: the rest are younger */
        if (!newest_conn(f))
            break;
        char *payload = e->payload;
        e->payload = NULL;
        char event_id[64];
        str_lcpy(event_id, e->event_id, sizeof(event_id));
        int retry = e->pub.retry_attempt + 1;
        e->pub.redelivered = true;
        pend_remove(f, e);
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

static const char *user_name(const struct fake_slack *f, const char *id)
{
    for (size_t i = 0; i < f->n_users; i++)
        if (strcmp(f->users[i].id, id) == 0)
            return f->users[i].name;
    return NULL;
}

const char *fake_slack_send_slash(struct fake_slack *f, const char *user, const char *channel, const char *text)
{
    char url[96], trig[64], uname[64], cname[64];
    unsigned cmd = ++f->cmd_seq;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/commands/" FS_TEAM "/%u/fake%08x", f->port, cmd, f->prefix);
    snprintf(trig, sizeof(trig), "%u.%u.fake%08x", 1700000000u + cmd, ++f->trigger_seq, f->prefix);
    const char *un = user_name(f, user);
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
    struct fs_conn *c = newest_conn(f);
    if (!c || f->destroying)
        return -1;
    conn_queue(c, out_new(OUT_FRAME, data, len, binary));
    return 0;
}

int fake_slack_send_disconnect(struct fake_slack *f, const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "disconnect");
    cJSON_AddStringToObject(o, "reason", reason ? reason : "refresh_requested");
    cJSON *d = cJSON_AddObjectToObject(o, "debug_info");
    cJSON_AddStringToObject(d, "host", "applink-fake-1");
    char *s = json_print(o);
    cJSON_Delete(o);
    int rc = fake_slack_send_raw(f, s, strlen(s), false);
    cJSON_free(s);
    return rc;
}

void fake_slack_drop(struct fake_slack *f)
{
    for (struct fs_conn *c = f->conns; c; c = c->next) {
        if (!c->wsi || c->dropping)
            continue;
        c->dropping = true;
        out_free_all(c);
        int fd = lws_get_socket_fd(c->wsi);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);   /* the peer sees EOF, never a close frame */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

void fake_slack_set_silent(struct fake_slack *f, bool on)
{
    f->silent = on;
    for (struct fs_conn *c = f->conns; c; c = c->next) {
        if (!c->wsi || c->dropping || c->silent == on)
            continue;
        c->silent = on;
        int how = LWS_RXFLOW_REASON_USER_BOOL | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW |
                  (on ? LWS_RXFLOW_REASON_APPLIES_DISABLE : LWS_RXFLOW_REASON_APPLIES_ENABLE);
        lws_rx_flow_control(c->wsi, how);
        if (!on)
            lws_callback_on_writable(c->wsi);
    }
    if (on)
        sweep_start(f);
}

void fake_slack_set_fragment(struct fake_slack *f, size_t chunk)
{
    f->fragment = chunk;
}

int fake_slack_ping(struct fake_slack *f)
{
    struct fs_conn *c = newest_conn(f);
    if (!c || f->destroying)
        return -1;
    snprintf(f->ping_payload, sizeof(f->ping_payload), "fake-ping-%llu", (unsigned long long)++f->ping_seq);
    f->ping_sent_us = 0;
    c->ping_want = true;
    if (!c->silent)
        lws_callback_on_writable(c->wsi);
    return 0;
}

uint64_t fake_slack_pongs(const struct fake_slack *f)
{
    return f->pongs;
}

uint64_t fake_slack_last_rtt_us(const struct fake_slack *f)
{
    return f->last_rtt_us;
}

const struct fake_ack *fake_slack_ack(const struct fake_slack *f, const char *envelope_id)
{
    if (!envelope_id)
        return NULL;
    const struct fs_env *e = map_find(f, envelope_id, NULL);
    return e ? e->ack : NULL;
}

size_t fake_slack_ack_count(const struct fake_slack *f)
{
    return f->ack_total;
}

size_t fake_slack_bad_frames(const struct fake_slack *f)
{
    return f->bad_frames;
}

const char *fake_slack_bad_frame(const struct fake_slack *f, size_t idx)
{
    return idx < FS_BAD_KEEP && idx < f->bad_frames ? f->bad[idx] : NULL;
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

/* ------------------------------------------------------------------ */
/* Web API knobs and records */

void fake_slack_fail(struct fake_slack *f, const char *method, int times, int http_status, const char *slack_error,
                     int retry_after)
{
    f->fails = xrealloc(f->fails, (f->n_fails + 1) * sizeof(*f->fails));
    struct fs_fail *x = &f->fails[f->n_fails++];
    memset(x, 0, sizeof(*x));
    x->method = xstrdup(method);
    x->times = times;
    x->status = http_status;
    x->error = xstrdup(slack_error);
    x->retry_after = retry_after;
}

void fake_slack_outage(struct fake_slack *f, int http_status, const char *slack_error, int ms)
{
    fake_slack_fail(f, "*", 1, http_status, slack_error, 0);
    struct fs_fail *x = &f->fails[f->n_fails - 1];
    free(x->method);
    x->method = NULL;
    x->outage = true;
    x->until_us = ms > 0 ? mono_us() + (uint64_t)ms * 1000 : 0;
}

void fake_slack_outage_end(struct fake_slack *f)
{
    for (size_t i = 0; i < f->n_fails; i++)
        if (f->fails[i].outage)
            f->fails[i].times = 0;
}

static bool method_match(const struct fake_call *c, const char *method)
{
    return !method || strcmp(c->method, method) == 0;
}

size_t fake_slack_call_count(const struct fake_slack *f, const char *method)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_calls; i++)
        if (method_match(f->calls[i], method))
            n++;
    return n;
}

const struct fake_call *fake_slack_call(const struct fake_slack *f, const char *method, size_t idx)
{
    for (size_t i = 0; i < f->n_calls; i++)
        if (method_match(f->calls[i], method) && idx-- == 0)
            return f->calls[i];
    return NULL;
}

const struct fake_call *fake_slack_last_call(const struct fake_slack *f, const char *method)
{
    for (size_t i = f->n_calls; i-- > 0;)
        if (method_match(f->calls[i], method))
            return f->calls[i];
    return NULL;
}

void fake_slack_add_user(struct fake_slack *f, const char *id, const char *name, const char *email, const char *tz)
{
    struct fs_user *u = NULL;
    for (size_t i = 0; i < f->n_users; i++)
        if (strcmp(f->users[i].id, id) == 0)
            u = &f->users[i];
    if (u) {
        free(u->id);
        free(u->name);
        free(u->email);
        free(u->tz);
    } else {
        f->users = xrealloc(f->users, (f->n_users + 1) * sizeof(*f->users));
        u = &f->users[f->n_users++];
    }
    u->id = xstrdup(id);
    u->name = xstrdup(name ? name : id);
    u->email = xstrdup(email ? email : "");
    u->tz = xstrdup(tz ? tz : "UTC");
}

/* ------------------------------------------------------------------ */
/* delays, channels, pins */

void fake_slack_delay(struct fake_slack *f, const char *method, int times, int ms)
{
    f->delays = xrealloc(f->delays, (f->n_delays + 1) * sizeof(*f->delays));
    struct fs_delay_rule *x = &f->delays[f->n_delays++];
    x->method = xstrdup(method);
    x->times = times;
    x->ms = ms;
}

void fake_slack_delay_clear(struct fake_slack *f)
{
    for (size_t i = 0; i < f->n_delays; i++)
        f->delays[i].times = 0;
}

const char *fake_slack_send_interactive(struct fake_slack *f, const cJSON *payload)
{
    return send_env(f, "interactive", payload, 0);
}

size_t fake_slack_channel_count(const struct fake_slack *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_channels; i++)
        if (f->channels[i]->known)
            n++;
    return n;
}

const struct fake_channel *fake_slack_channel(const struct fake_slack *f, size_t idx)
{
    for (size_t i = 0; i < f->n_channels; i++)
        if (f->channels[i]->known && idx-- == 0)
            return f->channels[i];
    return NULL;
}

const struct fake_channel *fake_slack_channel_by_name(const struct fake_slack *f, const char *name)
{
    for (size_t i = 0; name && i < f->n_channels; i++)
        if (f->channels[i]->known && strcmp(f->channels[i]->name, name) == 0)
            return f->channels[i];
    return NULL;
}

const struct fake_channel *fake_slack_channel_by_id(const struct fake_slack *f, const char *id)
{
    return channel_find_id(f, id);
}

bool fake_slack_channel_has_member(const struct fake_channel *c, const char *user)
{
    for (size_t i = 0; c && user && i < c->n_members; i++)
        if (strcmp(c->members[i], user) == 0)
            return true;
    return false;
}

void fake_slack_add_channel(struct fake_slack *f, const char *id, const char *name, bool is_private)
{
    struct fake_channel *c = channel_find_id(f, id);
    if (c) {
        /* seen by id before: it becomes a known channel */
        free(c->name);
        c->name = xstrdup(name ? name : "");
        c->is_private = is_private;
        if (!c->known && !fake_slack_channel_has_member(c, FS_BOT_USER))
            channel_add_member(c, FS_BOT_USER);
        c->known = true;
        return;
    }
    channel_new(f, id, name, is_private, true);
}

size_t fake_slack_pin_count(const struct fake_slack *f)
{
    return f->n_pins;
}

bool fake_slack_is_pinned(const struct fake_slack *f, const char *channel, const char *ts)
{
    size_t cl = strlen(channel);
    for (size_t i = 0; i < f->n_pins; i++)
        if (strncmp(f->pins[i], channel, cl) == 0 && f->pins[i][cl] == ' ' && strcmp(f->pins[i] + cl + 1, ts) == 0)
            return true;
    return false;
}

int fake_slack_close_frames(const struct fake_slack *f)
{
    return f->close_frames;
}

int fake_slack_last_close_code(const struct fake_slack *f)
{
    return f->last_close_code;
}

size_t fake_slack_block_refusals(const struct fake_slack *f)
{
    return f->block_refusals;
}

const char *fake_slack_last_refusal(const struct fake_slack *f)
{
    return f->last_refusal;
}

/* ------------------------------------------------------------------ */
/* several connections */

void fake_slack_set_spread(struct fake_slack *f, enum fake_slack_spread mode, uint64_t seed)
{
    f->spread = mode;
    f->rnd = seed ? seed : 0x9e3779b97f4a7c15ull;
    f->rr_last = 0;
}

void fake_slack_set_max_connections(struct fake_slack *f, int n)
{
    f->max_conns = n > 0 ? n : FS_MAX_CONNS;
}

int fake_slack_ws_over_limit(const struct fake_slack *f)
{
    return f->ws_over_limit;
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
            pend_remove(f, f->pend);
    }
}

size_t fake_slack_redeliveries(const struct fake_slack *f)
{
    return f->redeliveries;
}

int fake_slack_client_api_url(const struct fake_slack *f, const char *tag, char *out, size_t n)
{
    if (!tag || !tag[0] || strlen(tag) >= FS_TAG_LEN || strchr(tag, '/'))
        return -1;
    int w = snprintf(out, n, "http://127.0.0.1:%d/c/%s/api", f->port, tag);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

int fake_slack_conns(const struct fake_slack *f, unsigned *ids, int max)
{
    int n = 0;
    /* the list is newest first: walk to the end, then back */
    const struct fs_conn *last = f->conns;
    while (last && last->next)
        last = last->next;
    for (const struct fs_conn *c = last; c; c = c->prev)
        if (conn_live(c)) {
            if (n < max)
                ids[n] = c->id;
            n++;
        }
    return n;
}

const char *fake_slack_conn_tag(const struct fake_slack *f, unsigned id)
{
    const struct fs_conn *c = conn_by_id(f, id);
    return c ? c->tag : NULL;
}

int fake_slack_ws_count_tag(const struct fake_slack *f, const char *tag)
{
    int n = 0;
    for (const struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_live(c) && strcmp(c->tag, tag ? tag : "") == 0)
            n++;
    return n;
}

int fake_slack_drop_conn(struct fake_slack *f, unsigned id)
{
    struct fs_conn *c = conn_by_id(f, id);
    if (!c || !c->wsi || c->dropping)
        return -1;
    c->dropping = true;
    out_free_all(c);
    int fd = lws_get_socket_fd(c->wsi);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return 0;
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
    const struct fs_env *e = envelope_id ? map_find(f, envelope_id, NULL) : NULL;
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

size_t fake_slack_message_count(const struct fake_slack *f, const char *channel)
{
    return fake_messages_count(f->msgs, channel);
}

const struct fake_message *fake_slack_message(const struct fake_slack *f, const char *channel, size_t idx)
{
    return fake_messages_get(f->msgs, channel, idx);
}

void fake_slack_channel_remove_member(struct fake_slack *f, const char *id, const char *user)
{
    struct fake_channel *c = channel_find_id(f, id);
    for (size_t i = 0; c && i < c->n_members; i++) {
        if (strcmp(c->members[i], user) == 0) {
            free(c->members[i]);
            memmove(&c->members[i], &c->members[i + 1], (c->n_members - i - 1) * sizeof(c->members[0]));
            c->n_members--;
            return;
        }
    }
}

void fake_slack_only_bot_token(struct fake_slack *f, const char *token)
{
    free(f->only_bot_token);
    f->only_bot_token = token ? xstrdup(token) : NULL;
}

size_t fake_slack_file_count(const struct fake_slack *f)
{
    return fake_files_count(f->files);
}

const struct fake_file *fake_slack_file(const struct fake_slack *f, size_t idx)
{
    return fake_files_get(f->files, idx);
}
