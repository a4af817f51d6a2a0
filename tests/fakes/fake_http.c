/* fake_http: see fake_http.h.  One lws context (foreign libuv loop), one
 * server vhost on 127.0.0.1 (plus a TLS one when asked), one protocol for
 * HTTP and, for an owner that gives one (fake_http_ws.h), its websocket.
 * A request lives in a struct fh_req from LWS_CALLBACK_HTTP until its
 * answer is written or the connection closes; its record (struct
 * fake_http_request) is owned by the fake from the moment the request is
 * complete (freed then with opts.no_records).  A delayed answer waits on a
 * uv timer allocated apart from the request, closed with uv_close, so the
 * connection may vanish first.  The fake frees itself once lws and every
 * timer have closed (fake_http_destroy); records, arguments, patterns and
 * rules are in fake_http_req.c. */
#include <ctype.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http_state.h"

static int fh_live;

struct fh_req;

/* A delay timer; outlives its request if the connection goes first. */
struct fh_delay {
    uv_timer_t t;
    struct fh_req *r;
    struct fake_http *h;
};

struct fh_req {
    struct fake_http *h;
    struct fh_req *prev, *next;
    struct lws *wsi;
    struct fake_http_request *rec;
    bool processed;              /* complete: recorded (unless no_records) and answered */
    bool recorded;               /* rec belongs to h->recs */
    struct buf body;
    struct fake_http_resp resp;
    int retry_after;
    unsigned char *out;          /* LWS_PRE + body */
    size_t out_len;
    bool ready;                  /* answer may be written */
    bool hdrs_sent;
    struct fh_delay *delay;
};

/* Per connection; the websocket owner's pss_size bytes follow at FH_PSS_WS. */
struct fh_pss {
    struct fh_req *req;
};
#define FH_PSS_WS ((sizeof(struct fh_pss) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

/* ------------------------------------------------------------------ */
/* requests */

static void delay_closed(uv_handle_t *hd)
{
    struct fh_delay *d = hd->data;
    d->h->delays_closing--;
    free(d);
}

static void delay_close(struct fh_delay *d)
{
    if (!d)
        return;
    if (d->r)
        d->r->delay = NULL;
    d->r = NULL;
    d->h->delays_closing++;
    uv_close((uv_handle_t *)&d->t, delay_closed);
}

static void req_free(struct fh_req *r)
{
    if (!r)
        return;
    struct fake_http *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else if (h->reqs == r)
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    delay_close(r->delay);
    if (!r->recorded)
        fake_http__rec_free(r->rec);
    buf_finish(&r->body);
    fake_http__resp_finish(&r->resp);
    free(r->out);
    free(r);
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0)
        return NULL;
    char *s = xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, t) < 0)
        s[0] = '\0';
    return s;
}

static char *custom_dup(struct lws *wsi, const char *name)
{
    /* lws compares custom names byte for byte: try the usual spellings */
    char variants[3][96];
    size_t n = strlen(name);
    if (n + 2 > sizeof(variants[0]))
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        variants[0][i] = (char)tolower((unsigned char)c);
        variants[1][i] = (char)toupper((unsigned char)c);
        variants[2][i] = (char)((i == 0 || name[i - 1] == '-') ? toupper((unsigned char)c) : tolower((unsigned char)c));
    }
    for (int v = 0; v < 3; v++) {
        char *nm = variants[v];
        nm[n] = ':';
        nm[n + 1] = '\0';
        int len = lws_hdr_custom_length(wsi, nm, (int)n + 1);
        if (len < 0)
            continue;
        char *s = xmalloc((size_t)len + 1);
        if (lws_hdr_custom_copy(wsi, s, len + 1, nm, (int)n + 1) < 0)
            s[0] = '\0';
        return s;
    }
    return NULL;
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} fh_methods[] = {
    { WSI_TOKEN_GET_URI, "GET" },
    { WSI_TOKEN_POST_URI, "POST" },
    { WSI_TOKEN_PUT_URI, "PUT" },
    { WSI_TOKEN_PATCH_URI, "PATCH" },
    { WSI_TOKEN_DELETE_URI, "DELETE" },
    { WSI_TOKEN_HEAD_URI, "HEAD" },
    { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
};

static struct fake_http_request *rec_from_wsi(struct fake_http *h, struct lws *wsi, const char *path)
{
    struct fake_http_request *rec = xcalloc(1, sizeof(*rec));
    const char *m = "OTHER";
    for (size_t i = 0; i < ARRAY_LEN(fh_methods); i++)
        if (lws_hdr_total_length(wsi, fh_methods[i].tok) > 0) {
            m = fh_methods[i].name;
            break;
        }
    rec->method = xstrdup(m);
    rec->path = xstrdup(path && path[0] ? path : "/");
    char *mp = h->match_fn ? h->match_fn(h->match_ud, rec->path) : NULL;
    rec->match_path = mp ? mp : xstrdup(rec->path);

    struct buf q;
    buf_init(&q, 64 * 1024);
    char frag[4096];
    for (int i = 0; i < FH_MAX_ARGS; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (i)
            buf_puts(&q, "&");
        buf_puts(&q, frag);
        char *eq = strchr(frag, '=');
        if (eq)
            *eq = '\0';
        fake_http__push_pair(&rec->n_args, &rec->arg_names, &rec->arg_values, xstrdup(frag), xstrdup(eq ? eq + 1 : ""));
    }
    rec->query = q.data ? buf_take(&q) : xstrdup("");
    buf_finish(&q);

    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        size_t nl = name ? strlen(name) : 0;
        if (nl < 2 || name[nl - 1] != ':' || name[0] == ':' || t == WSI_TOKEN_HTTP_URI_ARGS)
            continue;
        char *v = hdr_dup(wsi, (enum lws_token_indexes)t);
        if (!v)
            continue;
        char *n = xstrndup(name, nl - 1);
        for (char *c = n; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        fake_http__push_pair(&rec->n_headers, &rec->header_names, &rec->header_values, n, v);
    }
    for (size_t i = 0; i < h->n_capture; i++) {
        char *v = custom_dup(wsi, h->capture[i]);
        if (v)
            fake_http__push_pair(&rec->n_headers, &rec->header_names, &rec->header_values, xstrdup(h->capture[i]), v);
    }
    return rec;
}

static void record(struct fake_http *h, struct fh_req *r)
{
    r->processed = true;
    if (h->opts.no_records)
        return;
    if (h->n_recs == h->cap_recs) {
        h->cap_recs = h->cap_recs ? h->cap_recs * 2 : 64;
        h->recs = xrealloc(h->recs, h->cap_recs * sizeof(*h->recs));
    }
    h->recs[h->n_recs++] = r->rec;
    r->recorded = true;
}

static void delay_cb(uv_timer_t *t)
{
    struct fh_delay *d = container_of(t, struct fh_delay, t);
    struct fh_req *r = d->r;
    delay_close(d);
    if (r && r->wsi) {
        r->ready = true;
        lws_callback_on_writable(r->wsi);
    }
}

/* The request is complete: record it, pick the answer.  -1: drop. */
static int process(struct fake_http *h, struct fh_req *r)
{
    struct fake_http_request *rec = r->rec;
    if (h->destroying)
        return -1;   /* handlers' owners may be gone already */
    rec->body_len = r->body.len;
    rec->body = xstrndup(r->body.data ? r->body.data : "", r->body.len);
    rec->body_toobig = r->body.toobig;
    rec->t_us = fake_http_now_us();
    record(h, r);

    struct fh_rule *fail = fake_http__take_rule(h->fails, h->n_fails, rec);
    if (fail) {
        rec->failed = true;
        rec->status = fail->status;
        if (fail->status == 0) {
            rec->resp_body = xstrdup("");
            return -1;
        }
        if (fail->body) {
            fake_http_reply(&r->resp, fail->status, fail->ctype, fail->body);
        } else {
            char b[64];
            snprintf(b, sizeof(b), "{\"error\":\"%d fake failure\"}", fail->status);
            fake_http_reply(&r->resp, fail->status, fail->ctype, b);
        }
        r->retry_after = fail->retry_after;
    } else if (rec->body_toobig) {
        fake_http_reply(&r->resp, 413, "text/plain", "too large\n");
    } else {
        size_t k = 0;
        while (k < h->n_routes && !((!h->routes[k].method || strcmp(h->routes[k].method, rec->method) == 0) &&
                                    str_starts(rec->path, h->routes[k].prefix)))
            k++;
        if (k < h->n_routes)
            h->routes[k].fn(h->routes[k].ud, rec, &r->resp);
        else
            fake_http_reply(&r->resp, 404, "application/json", "{\"error\":\"not found\"}");
    }
    rec->status = r->resp.status;
    rec->resp_body = xstrndup(r->resp.body.data ? r->resp.body.data : "", r->resp.body.len);
    r->out_len = r->resp.body.len;
    r->out = xmalloc(LWS_PRE + r->out_len + 1);
    memcpy(r->out + LWS_PRE, rec->resp_body, r->out_len + 1);

    struct fh_rule *delay = fake_http__take_rule(h->delays, h->n_delays, rec);
    if (delay && delay->ms > 0) {
        rec->delay_ms = delay->ms;
        struct fh_delay *d = xcalloc(1, sizeof(*d));
        d->r = r;
        d->h = h;
        d->t.data = d;
        uv_timer_init(h->loop, &d->t);
        uv_timer_start(&d->t, delay_cb, (uint64_t)delay->ms, 0);
        r->delay = d;
        lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
        return 0;
    }
    r->ready = true;
    lws_callback_on_writable(r->wsi);
    return 0;
}

static int http_begin(struct fake_http *h, struct lws *wsi, struct fh_pss *pss, const char *path)
{
    req_free(pss->req);
    struct fh_req *r = xcalloc(1, sizeof(*r));
    r->h = h;
    r->wsi = wsi;
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    pss->req = r;
    buf_init(&r->body, FH_BODY_CAP);
    fake_http__resp_init(&r->resp);
    r->rec = rec_from_wsi(h, wsi, path);

    char cl[32];
    bool has_cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                  lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    if ((has_cl && atoll(cl) > 0) || chunked)
        return 0;   /* wait for HTTP_BODY / HTTP_BODY_COMPLETION */
    return process(h, r);
}

static int http_writeable(struct fh_pss *pss, struct lws *wsi)
{
    struct fh_req *r = pss->req;
    if (!r || !r->ready)
        return 0;
    if (!r->hdrs_sent) {
        unsigned char hb[LWS_PRE + 4096];
        unsigned char *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;
        r->hdrs_sent = true;
        if (lws_add_http_common_headers(wsi, (unsigned)r->resp.status, r->resp.ctype, r->out_len, &p, end))
            return -1;
        if (r->retry_after > 0) {
            char v[16];
            int n = snprintf(v, sizeof(v), "%d", r->retry_after);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:", (const unsigned char *)v, n,
                                            &p, end))
                return -1;
        }
        for (int i = 0; i < r->resp.n_xh; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)r->resp.xh_names[i],
                                            (const unsigned char *)r->resp.xh_values[i],
                                            (int)strlen(r->resp.xh_values[i]), &p, end))
                return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        if (r->out_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else if (lws_write(wsi, r->out + LWS_PRE, r->out_len, LWS_WRITE_HTTP_FINAL) < 0) {
        pss->req = NULL;
        req_free(r);
        return -1;
    }
    r->rec->answered_us = fake_http_now_us();
    r->h->answered++;
    pss->req = NULL;
    req_free(r);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int fh_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct fh_pss *pss = user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct fake_http *h = ctx ? lws_context_user(ctx) : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!h || !pss || h->destroying)
            return -1;
        return http_begin(h, wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss && pss->req && len)
            buf_append(&pss->req->body, in, len);   /* overflow sets toobig -> 413 */
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!h || !pss || !pss->req)
            return -1;
        if (pss->req->processed)
            return 0;
        return process(h, pss->req);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss)
            return -1;
        return http_writeable(pss, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->req) {
            pss->req->wsi = NULL;
            req_free(pss->req);
            pss->req = NULL;
        }
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED:
        if (h && h->ws.fn)
            return h->ws.fn(h->opts.ud, wsi, reason, pss ? (char *)pss + FH_PSS_WS : NULL, in, len);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}


/* ------------------------------------------------------------------ */
/* life cycle */

static void free_all(uv_handle_t *hd)
{
    struct fake_http *h = hd->data;
    while (h->reqs)
        req_free(h->reqs);
    for (size_t i = 0; i < h->n_recs; i++)
        fake_http__rec_free(h->recs[i]);
    free(h->recs);
    for (size_t i = 0; i < h->n_routes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].prefix);
    }
    free(h->routes);
    for (size_t i = 0; i < h->n_capture; i++)
        free(h->capture[i]);
    fake_http__rules_free(h->fails, h->n_fails);
    fake_http__rules_free(h->delays, h->n_delays);
    void (*on_free)(void *) = h->opts.on_free;
    void *ud = h->opts.ud;
    free(h);
    fh_live--;
    if (on_free)
        on_free(ud);
}

static void walk_closing(uv_handle_t *hd, void *arg)
{
    struct fake_http *h = arg;
    if (hd != (uv_handle_t *)&h->fin && uv_is_closing(hd))
        h->fin_busy = true;
}

/* Finishes the destroy once lws and our delay timers have closed: the
 * second lws_context_destroy() frees the context (protocol-facts §8). */
static void fin_cb(uv_timer_t *t)
{
    struct fake_http *h = container_of(t, struct fake_http, fin);
    int ticks = ++h->fin_ticks;
    h->fin_busy = false;
    uv_walk(h->loop, walk_closing, h);
    bool busy = h->fin_busy || h->delays_closing > 0;
    if (ticks < 3 || (busy && ticks < 400))
        return;
    if (h->ctx)
        lws_context_destroy(h->ctx);
    if (h->ctx && ticks < 400)
        return;
    if (h->ctx)
        fprintf(stderr, "fake_http(%s): lws context did not finish closing; leaking it\n", h->name);
    /* requests lws never closed: their timers must close before we go */
    for (struct fh_req *r = h->reqs; r; r = r->next) {
        r->wsi = NULL;
        delay_close(r->delay);
    }
    if (h->delays_closing > 0 && ticks < 800)
        return;
    uv_timer_stop(&h->fin);
    uv_close((uv_handle_t *)&h->fin, free_all);
}

void fake_http_destroy(struct fake_http *h)
{
    if (!h || h->destroying)
        return;
    h->destroying = true;
    /* pending delayed answers will never be written */
    for (struct fh_req *r = h->reqs; r; r = r->next)
        delay_close(r->delay);
    if (h->ctx)
        lws_context_destroy(h->ctx);
    h->fin_ticks = 0;
    uv_timer_start(&h->fin, fin_cb, 5, 5);
}

int fake_http_live_count(void)
{
    return fh_live;
}

/* One listener on 127.0.0.1 with our protocol; TLS when cert is set. */
static struct lws_vhost *listen_on(struct fake_http *h, int port, const char *vname, const char *cert,
                                   const char *key, uint64_t options)
{
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.options = options;
    vi.port = port;
    vi.iface = "127.0.0.1";
    vi.protocols = h->protocols;
    vi.vhost_name = vname;
    vi.keepalive_timeout = 30;
    vi.ssl_cert_filepath = cert;
    vi.ssl_private_key_filepath = key;
    struct lws_vhost *vh = lws_create_vhost(h->ctx, &vi);
    if (!vh || lws_get_vhost_listen_port(vh) <= 0) {
        fprintf(stderr, "fake_http(%s): cannot listen%s on 127.0.0.1:%d%s%s%s%s%s\n", h->name,
                cert ? " with TLS" : "", port, cert ? " (cert " : "", cert ? cert : "", cert ? ", key " : "",
                cert ? key : "", cert ? ")" : "");
        return NULL;
    }
    return vh;
}

struct fake_http *fake_http_create_opts(uv_loop_t *loop, const struct fake_http_opts *o)
{
    struct fake_http *h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->opts = *o;
    bool tls = o->tls_cert_pem && o->tls_key_pem;
    if (o->ws)
        h->ws = *o->ws;
    str_lcpy(h->name, o->name ? o->name : "fake-http", sizeof(h->name));
    h->protocols[0] = (struct lws_protocols){ "fake-http", fh_callback, FH_PSS_WS + h->ws.pss_size, 65536, 0, NULL, 0 };
    uv_timer_init(loop, &h->fin);
    h->fin.data = h;
    fh_live++;

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof(ci));
    void *loops[1] = { loop };
    uint64_t plain = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.options = plain;
    if (tls)
        ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;   /* protocol-facts §8 */
    ci.foreign_loops = loops;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    ci.pcontext = &h->ctx;
    ci.user = h;
    ci.max_http_header_pool = 64;
    ci.max_http_header_data = 8192;
    ci.fd_limit_per_thread = 4096;
    h->ctx = lws_create_context(&ci);
    if (!h->ctx) {
        fprintf(stderr, "fake_http(%s): lws_create_context failed\n", h->name);
        h->destroying = true;
        uv_close((uv_handle_t *)&h->fin, free_all);
        return NULL;
    }
    h->vh = listen_on(h, o->port, h->name, NULL, NULL, plain);
    if (!h->vh) {
        fake_http_destroy(h);
        return NULL;
    }
    h->port = lws_get_vhost_listen_port(h->vh);
    snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d", h->port);
    if (tls) {
        char vname[48];
        snprintf(vname, sizeof(vname), "%s-tls", h->name);
        h->tls_vh = listen_on(h, o->tls_port, vname, o->tls_cert_pem, o->tls_key_pem, ci.options);
        if (!h->tls_vh) {
            fake_http_destroy(h);
            return NULL;
        }
        h->tls_port = lws_get_vhost_listen_port(h->tls_vh);
    }
    return h;
}

struct fake_http *fake_http_create(uv_loop_t *loop, int port, const char *name)
{
    struct fake_http_opts o = { .port = port, .name = name };
    return fake_http_create_opts(loop, &o);
}

int fake_http_tls_port(const struct fake_http *h)
{
    return h->tls_port;
}

int fake_http_port(const struct fake_http *h)
{
    return h->port;
}

const char *fake_http_url(const struct fake_http *h)
{
    return h->url;
}

void fake_http_route(struct fake_http *h, const char *method, const char *prefix, fake_http_handler fn, void *ud)
{
    h->routes = xrealloc(h->routes, (h->n_routes + 1) * sizeof(*h->routes));
    struct fh_route *r = &h->routes[h->n_routes++];
    r->method = xstrdup(method);
    r->prefix = xstrdup(prefix ? prefix : "/");
    r->fn = fn;
    r->ud = ud;
}

void fake_http_set_match_path(struct fake_http *h, char *(*fn)(void *ud, const char *path), void *ud)
{
    h->match_fn = fn;
    h->match_ud = ud;
}

void fake_http_capture_header(struct fake_http *h, const char *name)
{
    if (h->n_capture < FH_MAX_CAPTURE) {
        char *n = xstrdup(name);
        for (char *c = n; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        h->capture[h->n_capture++] = n;
    }
}

