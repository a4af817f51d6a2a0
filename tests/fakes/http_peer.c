/* http_peer: scripted raw HTTP/1.1 server for client tests (see http_peer.h).
 * Owns the listener, one struct peer_conn per accepted socket (each with a
 * delay timer), the reply queue and the request records.  Connections are
 * freed in the close callback of their last handle; the peer in the close
 * callback of its last handle once destroy was asked for. */
#include "http_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../bot/util.h"

#define PEER_MAX_REQUEST ((size_t)16 << 20)

struct peer_reply {
    struct peer_reply *next;
    enum http_peer_action action;
    int status;
    char *headers;
    char *body;
    size_t body_len;
    int delay_ms;
    bool no_length;
};

struct peer_conn {
    struct http_peer *p;
    struct peer_conn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t delay;
    struct buf in;
    struct peer_reply *pending;  /* reply waiting for the delay timer */
    int open_handles;
    bool closing;
    bool silent;                 /* ignore everything from now on */
    bool close_after_write;
};

struct http_peer {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    char url[64];
    struct peer_reply *q_head, *q_tail;
    struct peer_reply dflt;
    struct http_peer_request *reqs;
    size_t n_reqs, alloc_reqs;
    struct peer_conn *conns;
    size_t n_accepted;
    int open_handles;            /* listener + connection handles */
    bool destroyed;
};

struct peer_write {
    uv_write_t req;
    struct peer_conn *conn;
    char *data;
};

static void reply_free(struct peer_reply *r)
{
    if (!r)
        return;
    free(r->headers);
    free(r->body);
    free(r);
}

static struct peer_reply *reply_copy(const struct http_peer_reply *r)
{
    struct peer_reply *c = xcalloc(1, sizeof(*c));
    c->action = r->action;
    c->status = r->status ? r->status : 200;
    c->headers = xstrdup(r->headers ? r->headers : "");
    size_t n = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
    c->body = xstrndup(r->body ? r->body : "", n);
    c->body_len = n;
    c->delay_ms = r->delay_ms;
    c->no_length = r->no_length;
    return c;
}

static void maybe_free_peer(struct http_peer *p)
{
    if (!p->destroyed || p->open_handles > 0)
        return;
    for (size_t i = 0; i < p->n_reqs; i++) {
        free(p->reqs[i].method);
        free(p->reqs[i].target);
        free(p->reqs[i].headers);
        free(p->reqs[i].body);
    }
    free(p->reqs);
    struct peer_reply *r = p->q_head;
    for (int guard = 0; r && guard < 10000000; guard++) {
        struct peer_reply *n = r->next;
        reply_free(r);
        r = n;
    }
    free(p->dflt.headers);
    free(p->dflt.body);
    free(p);
}

/* ---- connections ---- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct peer_conn *conn = h->data;
    struct http_peer *p = conn->p;
    p->open_handles--;
    if (--conn->open_handles > 0)
        return;
    buf_finish(&conn->in);
    reply_free(conn->pending);
    free(conn);
    maybe_free_peer(p);
}

static void conn_close(struct peer_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    struct http_peer *p = conn->p;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        p->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    uv_close((uv_handle_t *)&conn->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&conn->delay, on_conn_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    struct peer_write *w = container_of(req, struct peer_write, req);
    struct peer_conn *conn = w->conn;
    free(w->data);
    free(w);
    if (conn->close_after_write && !conn->closing)
        conn_close(conn);
}

static void send_reply(struct peer_conn *conn, const struct peer_reply *r)
{
    struct buf out;
    buf_init(&out, 0);
    buf_printf(&out, "HTTP/1.1 %d Peer\r\n", r->status);
    if (r->no_length)
        buf_puts(&out, "Connection: close\r\n");
    else
        buf_printf(&out, "Content-Length: %zu\r\n", r->body_len);
    buf_puts(&out, r->headers);
    buf_puts(&out, "\r\n");
    buf_append(&out, r->body, r->body_len);
    struct peer_write *w = xcalloc(1, sizeof(*w));
    w->conn = conn;
    w->data = out.data;
    uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
    if (r->no_length)
        conn->close_after_write = true;
    if (uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_written) != 0) {
        free(w->data);
        free(w);
        conn_close(conn);
    }
}

static void process_input(struct peer_conn *conn);

static void on_delay(uv_timer_t *t)
{
    struct peer_conn *conn = t->data;
    struct peer_reply *r = conn->pending;
    conn->pending = NULL;
    if (r && !conn->closing)
        send_reply(conn, r);
    reply_free(r);
    if (!conn->closing)
        process_input(conn);
}

static struct peer_reply *next_reply(struct http_peer *p)
{
    struct peer_reply *r = p->q_head;
    if (r) {
        p->q_head = r->next;
        if (!p->q_head)
            p->q_tail = NULL;
        r->next = NULL;
        return r;
    }
    struct http_peer_reply d = {
        .action = p->dflt.action, .status = p->dflt.status, .headers = p->dflt.headers,
        .body = p->dflt.body, .body_len = p->dflt.body_len, .delay_ms = p->dflt.delay_ms,
        .no_length = p->dflt.no_length,
    };
    return reply_copy(&d);
}

static size_t parse_content_length(const char *hdrs, size_t len)
{
    const char *p = hdrs, *end = hdrs + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoull(p + 15, NULL, 10);
        p = eol + 1;
    }
    return 0;
}

/* Handles every complete request in the input buffer, one at a time; a
 * delayed reply pauses processing until it has been sent. */
static void process_input(struct peer_conn *conn)
{
    struct http_peer *p = conn->p;
    for (int guard = 0; guard < 10000 && !conn->closing && !conn->silent && !conn->pending; guard++) {
        if (conn->in.len == 0)
            return;
        char *hend = strstr(conn->in.data, "\r\n\r\n");
        if (!hend)
            return;
        size_t head_len = (size_t)(hend - conn->in.data) + 4;
        size_t clen = parse_content_length(conn->in.data, head_len);
        if (conn->in.len - head_len < clen)
            return;

        /* Record it. */
        if (p->n_reqs == p->alloc_reqs) {
            p->alloc_reqs = p->alloc_reqs ? p->alloc_reqs * 2 : 16;
            p->reqs = xrealloc(p->reqs, p->alloc_reqs * sizeof(*p->reqs));
        }
        struct http_peer_request *rq = &p->reqs[p->n_reqs++];
        memset(rq, 0, sizeof(*rq));
        char *line_end = strstr(conn->in.data, "\r\n");
        char *sp1 = memchr(conn->in.data, ' ', (size_t)(line_end - conn->in.data));
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
        if (sp1 && sp2) {
            rq->method = xstrndup(conn->in.data, (size_t)(sp1 - conn->in.data));
            rq->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        } else {
            rq->method = xstrdup("");
            rq->target = xstrdup("");
        }
        rq->headers = xstrndup(line_end + 2, (size_t)(hend + 2 - (line_end + 2)));
        rq->body = xstrndup(conn->in.data + head_len, clen);
        rq->body_len = clen;
        rq->t_us = uv_hrtime() / 1000;

        /* Consume it. */
        size_t used = head_len + clen;
        memmove(conn->in.data, conn->in.data + used, conn->in.len - used);
        conn->in.len -= used;
        conn->in.data[conn->in.len] = '\0';

        struct peer_reply *r = next_reply(p);
        switch (r->action) {
        case PEER_SILENT:
            conn->silent = true;
            reply_free(r);
            return;
        case PEER_CLOSE:
            reply_free(r);
            conn_close(conn);
            return;
        case PEER_RESPOND:
            if (r->delay_ms > 0) {
                conn->pending = r;
                uv_timer_start(&conn->delay, on_delay, (uint64_t)r->delay_ms, 0);
                return;
            }
            send_reply(conn, r);
            reply_free(r);
            break;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct peer_conn *conn = s->data;
    if (nread < 0) {
        free(b->base);
        conn_close(conn);
        return;
    }
    if (nread > 0 && !conn->silent && !conn->closing) {
        if (buf_append(&conn->in, b->base, (size_t)nread) != 0) {
            free(b->base);
            conn_close(conn);
            return;
        }
        process_input(conn);
    }
    free(b->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct http_peer *p = server->data;
    if (status < 0 || p->destroyed)
        return;
    struct peer_conn *conn = xcalloc(1, sizeof(*conn));
    conn->p = p;
    buf_init(&conn->in, PEER_MAX_REQUEST);
    uv_tcp_init(p->loop, &conn->tcp);
    uv_timer_init(p->loop, &conn->delay);
    conn->tcp.data = conn;
    conn->delay.data = conn;
    conn->open_handles = 2;
    p->open_handles += 2;
    conn->next = p->conns;
    if (p->conns)
        p->conns->prev = conn;
    p->conns = conn;
    if (uv_accept(server, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    p->n_accepted++;
    uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
}

/* ---- public ---- */

static void on_listener_closed(uv_handle_t *h)
{
    struct http_peer *p = h->data;
    p->open_handles--;
    maybe_free_peer(p);
}

struct http_peer *http_peer_create(uv_loop_t *loop)
{
    struct http_peer *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->dflt.action = PEER_RESPOND;
    p->dflt.status = 200;
    p->dflt.headers = xstrdup("");
    p->dflt.body = xstrdup("ok");
    p->dflt.body_len = 2;
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    p->open_handles = 1;
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof(got);
    if (uv_ip4_addr("127.0.0.1", 0, &addr) != 0 ||
        uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&p->listener, 511, on_connection) != 0 ||
        uv_tcp_getsockname(&p->listener, (struct sockaddr *)&got, &len) != 0) {
        http_peer_destroy(p);
        return NULL;
    }
    p->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
    return p;
}

void http_peer_destroy(struct http_peer *p)
{
    if (!p || p->destroyed)
        return;
    p->destroyed = true;
    for (int guard = 0; p->conns && guard < 1000000; guard++)
        conn_close(p->conns);
    uv_close((uv_handle_t *)&p->listener, on_listener_closed);
}

int http_peer_port(const struct http_peer *p)
{
    return p->port;
}

const char *http_peer_url(const struct http_peer *p)
{
    return p->url;
}

void http_peer_push(struct http_peer *p, const struct http_peer_reply *r)
{
    struct peer_reply *c = reply_copy(r);
    if (p->q_tail)
        p->q_tail->next = c;
    else
        p->q_head = c;
    p->q_tail = c;
}

void http_peer_push_n(struct http_peer *p, const struct http_peer_reply *r, int n)
{
    for (int i = 0; i < n; i++)
        http_peer_push(p, r);
}

void http_peer_push_simple(struct http_peer *p, int status, const char *headers, const char *body)
{
    struct http_peer_reply r = { .status = status, .headers = headers, .body = body };
    http_peer_push(p, &r);
}

void http_peer_set_default(struct http_peer *p, const struct http_peer_reply *r)
{
    struct peer_reply *c = reply_copy(r);
    free(p->dflt.headers);
    free(p->dflt.body);
    p->dflt = *c;
    p->dflt.next = NULL;
    free(c);
}

size_t http_peer_count(const struct http_peer *p)
{
    return p->n_reqs;
}

const struct http_peer_request *http_peer_request(const struct http_peer *p, size_t i)
{
    return i < p->n_reqs ? &p->reqs[i] : NULL;
}

char *http_peer_header(const struct http_peer_request *r, const char *name)
{
    size_t nl = strlen(name);
    const char *p = r->headers;
    for (int guard = 0; p && *p && guard < 10000; guard++) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            eol = p + strlen(p);
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            return xstrndup(v, (size_t)(eol - v));
        }
        p = *eol ? eol + 2 : eol;
    }
    return NULL;
}

size_t http_peer_connections(const struct http_peer *p)
{
    return p->n_accepted;
}

static void on_wake_closed(uv_handle_t *h)
{
    free(h);
}

static void on_wake(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool http_peer_run_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud, int timeout_ms)
{
    bool expired = false;
    uv_timer_t *wake = xcalloc(1, sizeof(*wake));
    uv_timer_init(loop, wake);
    wake->data = &expired;
    /* Repeating: a wake timer that fires in uv_run's timer phase, before
     * the poll (the loop's clock was behind: a busy machine), must still
     * bound that poll, or it blocks until some I/O. */
    uv_update_time(loop);
    uv_timer_start(wake, on_wake, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), 10);
    bool ok = pred ? pred(ud) : false;
    /* Each uv_run returns at the latest when the wake timer fires. */
    while (!ok && !expired) {
        uv_run(loop, UV_RUN_ONCE);
        ok = pred ? pred(ud) : false;
    }
    uv_close((uv_handle_t *)wake, on_wake_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}
