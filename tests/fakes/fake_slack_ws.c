/* fake_slack_ws: the Socket Mode side of fake_slack (see fake_slack.h):
 * sockets accepted with a ticket from apps.connections.open, their hello,
 * the connection limit, queued frames written in order (fragmented on
 * request), acks read back, pings, silence, drops and the sweep that
 * notices a silent socket's peer hanging up.  lws runs the sockets through
 * fake_http's listeners (fake_http_ws.h); a connection is freed when lws
 * closes it. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fake_slack_state.h"

#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

/* ------------------------------------------------------------------ */
/* connections */


bool fake_slack__conn_live(const struct fs_conn *c)
{
    return c->wsi && !c->dropping && !c->silent && c->hello_written && !c->over_limit;
}

static bool conn_open(const struct fs_conn *c)
{
    return c->wsi && !c->dropping && !c->over_limit;
}

/* Newest socket to send on: prefer live ones, else any still open. */
struct fs_conn *fake_slack__newest_conn(struct fake_slack *f)
{
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (fake_slack__conn_live(c))
            return c;
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (conn_open(c))
            return c;
    return NULL;
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

void fake_slack__conn_unlink_free(struct fs_conn *c)
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

struct fs_out *fake_slack__out_new(enum fs_out_kind kind, const void *data, size_t len, bool binary)
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

void fake_slack__conn_queue(struct fs_conn *c, struct fs_out *o)
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
    struct fs_env *e = cJSON_IsString(id) ? fake_slack__map_find(f, id->valuestring, &link) : NULL;
    if (!e || !e->written || e->ack) {
        record_bad(f, data, len);
        cJSON_Delete(j);
        return;
    }
    struct fake_ack *a = xcalloc(1, sizeof(*a));
    a->envelope_id = xstrdup(e->id);
    a->json = j;
    a->sent_us = e->sent_us;
    a->acked_us = fake_http_now_us();
    a->conn = from->id;
    e->pub.acked_by = from->id;
    e->pub.acked_us = a->acked_us;
    fake_slack__pend_remove(f, e);
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
        fake_slack__ack_free(a);
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
        f->ping_sent_us = fake_http_now_us();
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
        o->env->sent_us = fake_http_now_us();
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
    char *s = fake_slack__json_print(o);
    cJSON_Delete(o);
    fake_slack__conn_queue(c, fake_slack__out_new(OUT_FRAME, s, strlen(s), false));   /* c is not silent */
    cJSON_free(s);
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
    char *s = fake_slack__json_print(h);
    cJSON_Delete(h);
    if (f->silent) {
        c->silent = true;
        lws_rx_flow_control(wsi, 0);
    }
    fake_slack__conn_queue(c, fake_slack__out_new(OUT_HELLO, s, strlen(s), false));
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
/* the websocket reasons fake_http hands over */


int fake_slack__ws_callback(void *ud, struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct fake_slack *f = ud;
    struct fs_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (f->destroying)
            return -1;
        return ws_filter(f, wsi, pss);
    case LWS_CALLBACK_ESTABLISHED:
        if (!pss || f->destroying)
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
        if (f->ping_sent_us && len == strlen(f->ping_payload) && memcmp(in, f->ping_payload, len) == 0) {
            f->pongs++;
            f->last_rtt_us = fake_http_now_us() - f->ping_sent_us;
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
            fake_slack__conn_unlink_free(pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* knobs and counts */


int fake_slack_ws_count(const struct fake_slack *f)
{
    int n = 0;
    for (const struct fs_conn *c = f->conns; c; c = c->next)
        if (fake_slack__conn_live(c))
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

int fake_slack_ws_tls_total(const struct fake_slack *f)
{
    return f->ws_tls_total;
}

/* Abrupt close: the peer sees EOF, never a close frame. */
static void conn_drop(struct fs_conn *c)
{
    c->dropping = true;
    out_free_all(c);
    int fd = lws_get_socket_fd(c->wsi);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void fake_slack_drop(struct fake_slack *f)
{
    for (struct fs_conn *c = f->conns; c; c = c->next)
        if (c->wsi && !c->dropping)
            conn_drop(c);
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
    struct fs_conn *c = fake_slack__newest_conn(f);
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

size_t fake_slack_bad_frames(const struct fake_slack *f)
{
    return f->bad_frames;
}

const char *fake_slack_bad_frame(const struct fake_slack *f, size_t idx)
{
    return idx < FS_BAD_KEEP && idx < f->bad_frames ? f->bad[idx] : NULL;
}

int fake_slack_close_frames(const struct fake_slack *f)
{
    return f->close_frames;
}

int fake_slack_last_close_code(const struct fake_slack *f)
{
    return f->last_close_code;
}

void fake_slack_set_max_connections(struct fake_slack *f, int n)
{
    f->max_conns = n > 0 ? n : FS_MAX_CONNS;
}

int fake_slack_ws_over_limit(const struct fake_slack *f)
{
    return f->ws_over_limit;
}

int fake_slack_conns(const struct fake_slack *f, unsigned *ids, int max)
{
    int n = 0;
    /* the list is newest first: walk to the end, then back */
    const struct fs_conn *last = f->conns;
    while (last && last->next)
        last = last->next;
    for (const struct fs_conn *c = last; c; c = c->prev)
        if (fake_slack__conn_live(c)) {
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
        if (fake_slack__conn_live(c) && strcmp(c->tag, tag ? tag : "") == 0)
            n++;
    return n;
}

int fake_slack_drop_conn(struct fake_slack *f, unsigned id)
{
    struct fs_conn *c = conn_by_id(f, id);
    if (!c || !c->wsi || c->dropping)
        return -1;
    conn_drop(c);
    return 0;
}
