/* http: libcurl multi driven by the libuv loop (see http.h).  Owns one CURLM,
 * one uv_timer_t (curl's timeout), one uv_poll_t per socket curl asks us to
 * watch, and one struct http_xfer per request on an intrusive list (curl 7.88
 * has no curl_multi_get_handles), whose easy handles go back to a pool of
 * idle ones when they finish.  Transfers are freed right after their
 * callback returns; poll contexts and the client only in uv_close callbacks.
 * No user code ever runs inside a curl callback, so callbacks may call
 * http_send or http_close freely. */
#include "http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "util.h"

#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_MAX_CONNECT_TIMEOUT_MS 5000L
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)4 << 20)
#define HTTP_POOL_MAX 16   /* idle easy handles kept for the next requests */

/* The client's two intrusive lists (socks, xfers), newest first. */
#define DL_PUSH(head, x)                                                                                         \
    do {                                                                                                         \
        (x)->prev = NULL;                                                                                        \
        (x)->next = (head);                                                                                      \
        if (head)                                                                                                \
            (head)->prev = (x);                                                                                  \
        (head) = (x);                                                                                            \
    } while (0)
#define DL_UNLINK(head, x)                                                                                       \
    do {                                                                                                         \
        if ((x)->prev)                                                                                           \
            (x)->prev->next = (x)->next;                                                                         \
        else                                                                                                     \
            (head) = (x)->next;                                                                                  \
        if ((x)->next)                                                                                           \
            (x)->next->prev = (x)->prev;                                                                         \
        (x)->prev = (x)->next = NULL;                                                                            \
    } while (0)

struct http_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http_client *c;
    struct http_sock *prev, *next;
};

struct http_xfer {
    struct http_xfer *prev, *next;
    struct http_client *c;
    CURL *easy;
    struct curl_slist *headers;
    struct buf resp;
    http_done_cb cb;
    void *ud;
    uint64_t start_us;
    char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_xfer *xfers;     /* in flight, newest first */
    size_t n_xfers;
    struct http_sock *socks;     /* polls not yet closed */
    /* Easy handles of finished transfers, reset, for the next requests:
     * no allocation and set-up of a handle per request.  Connections live
     * in the multi's cache either way. */
    CURL *idle[HTTP_POOL_MAX];
    size_t n_idle;
    int open_handles;            /* timer + polls awaiting their close callback */
    bool closing;
    /* OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR, which libcurl itself ignores
     * (Debian builds it with a fixed bundle path): honoured so the Web API
     * trusts what the websocket trusts. */
    char *ca_file;
    char *ca_dir;
};

const char *http_strerror(int err)
{
    switch (err) {
    case HTTP_OK: return "ok";
    case HTTP_ENET: return "network error";
    case HTTP_ETIMEDOUT: return "timed out";
    case HTTP_ETOOBIG: return "response too large";
    case HTTP_ECANCELED: return "canceled";
    case HTTP_EINVAL: return "invalid request";
    default: return "unknown error";
    }
}

/* ---- teardown ---- */

static void maybe_free_client(struct http_client *c)
{
    if (c->closing && c->open_handles == 0 && c->multi == NULL) {
        free(c->ca_file);
        free(c->ca_dir);
        free(c);
    }
}

static void on_sock_closed(uv_handle_t *h)
{
    struct http_sock *s = container_of((uv_poll_t *)h, struct http_sock, poll);
    struct http_client *c = s->c;
    free(s);
    c->open_handles--;
    maybe_free_client(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct http_client *c = container_of((uv_timer_t *)h, struct http_client, timer);
    c->open_handles--;
    maybe_free_client(c);
}

static void sock_release(struct http_sock *s)
{
    DL_UNLINK(s->c->socks, s);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* An easy handle from the pool, or a new one; NULL on out-of-memory. */
static CURL *easy_get(struct http_client *c)
{
    return c->n_idle ? c->idle[--c->n_idle] : curl_easy_init();
}

/* Back to the pool (its options reset), or freed when the pool is full or
 * the client closing. */
static void easy_put(struct http_client *c, CURL *e)
{
    if (!e)
        return;
    if (c->closing || c->n_idle == HTTP_POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    c->idle[c->n_idle++] = e;
}

/* Unlinks x and takes its handle out of the multi, back to the pool. */
static void xfer_detach(struct http_xfer *x)
{
    struct http_client *c = x->c;
    DL_UNLINK(c->xfers, x);
    c->n_xfers--;
    curl_multi_remove_handle(c->multi, x->easy);
    easy_put(c, x->easy);
    x->easy = NULL;
}

static void xfer_free(struct http_xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_finish(&x->resp);
    free(x);
}

/* ---- completion ---- */

static int map_curl_error(const struct http_xfer *x, CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTP_ETIMEDOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return HTTP_ETOOBIG;
    case CURLE_WRITE_ERROR:
        return x->resp.toobig ? HTTP_ETOOBIG : HTTP_ENET;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return HTTP_EINVAL;
    default:
        return HTTP_ENET;
    }
}

/* Unlinks x, reports to its owner, frees it.  Touches nothing of the client
 * after the user callback returns (it may have called http_close). */
static void xfer_finish(struct http_xfer *x, CURLcode rc)
{
    struct http_response r;
    memset(&r, 0, sizeof(r));
    r.err = map_curl_error(x, rc);
    r.retry_after_s = -1;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.status > 0) {
        struct curl_header *h = NULL;
        if (curl_easy_header(x->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
            curl_off_t ra = 0;
            if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0)
                r.retry_after_s = (long)ra;
        }
    }
    if (r.err == HTTP_OK)
        r.errmsg = "";
    else if (r.err == HTTP_ETOOBIG)
        r.errmsg = "response larger than the configured maximum";
    else
        r.errmsg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    if (r.err == HTTP_ETOOBIG || r.err == HTTP_EINVAL) {
        r.body = "";
        r.body_len = 0;
    } else {
        r.body = x->resp.data ? x->resp.data : "";
        r.body_len = x->resp.len;
    }
    r.elapsed_us = clock_mono_us() - x->start_us;

    xfer_detach(x);   /* r points into x, never into its handle */
    if (x->cb)
        x->cb(x->ud, &r);
    xfer_free(x);
}

static void drain_done(struct http_client *c)
{
    /* Each message is a distinct finished transfer, so this ends; stop at
     * once if a callback closed the client. */
    while (!c->closing) {
        int left = 0;
        CURLMsg *msg = curl_multi_info_read(c->multi, &left);
        if (!msg)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (priv)
            xfer_finish((struct http_xfer *)(void *)priv, rc);
    }
}

/* ---- curl <-> uv glue ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct http_sock *s = container_of(p, struct http_sock, poll);
    struct http_client *c = s->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    /* s may be closed (not freed) by curl inside this call. */
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    drain_done(c);
}

static void on_timer(uv_timer_t *t)
{
    struct http_client *c = container_of(t, struct http_client, timer);
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(c);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct http_client *c = userp;
    struct http_sock *s = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_release(s);
        }
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        c->open_handles++;
        DL_PUSH(c->socks, s);
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

/* Never calls curl: a 0 ms timeout runs on the next loop iteration. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_client *c = userp;
    if (timeout_ms < 0 || c->closing)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    size_t n = size * nmemb;
    if (buf_append(&x->resp, ptr, n) != 0)
        return 0;   /* aborts the transfer with CURLE_WRITE_ERROR; resp.toobig tells */
    return n;
}

/* ---- public ---- */

struct http_client *http_create(uv_loop_t *loop)
{
    if (!loop)
        return NULL;
    struct http_client *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->timer);
    c->open_handles = 1;
    const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
    c->ca_file = f && *f ? xstrdup(f) : NULL;
    c->ca_dir = d && *d ? xstrdup(d) : NULL;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

static struct curl_slist *slist_add(struct curl_slist *l, const char *s)
{
    struct curl_slist *n = curl_slist_append(l, s);
    if (!n) {
        curl_slist_free_all(l);
        return NULL;
    }
    return n;
}

int http_send(struct http_client *c, const struct http_request *req,
              http_done_cb cb, void *ud)
{
    if (!c || c->closing || !req || !req->url)
        return HTTP_EINVAL;
    if (!str_starts(req->url, "http://") && !str_starts(req->url, "https://"))
        return HTTP_EINVAL;
    if (req->body_len && !req->body)
        return HTTP_EINVAL;
    if (req->timeout_ms < 0)
        return HTTP_EINVAL;

    struct http_xfer *x = xcalloc(1, sizeof(*x));
    x->c = c;
    x->cb = cb;
    x->ud = ud;
    size_t max = req->max_response ? req->max_response : HTTP_DEFAULT_MAX_RESPONSE;
    buf_init(&x->resp, max);
    x->easy = easy_get(c);
    if (!x->easy)
        goto fail;

    CURL *e = x->easy;
    long timeout = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    long connect_timeout = timeout < HTTP_MAX_CONNECT_TIMEOUT_MS ? timeout : HTTP_MAX_CONNECT_TIMEOUT_MS;
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK)
        goto fail;
    /* http/https only, also for redirects (which we do not follow anyway). */
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        goto fail;
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sirtbot/1");
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_dir)
        curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_dir);

    const char *method = req->method;
    if (!method)
        method = req->body ? "POST" : "GET";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        /* POSTFIELDSIZE before COPYPOSTFIELDS so binary bodies copy whole. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") != CURLE_OK)
            goto fail;
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }

    /* lws servers do not implement 100-continue: never wait for it. */
    x->headers = slist_add(NULL, "Expect:");
    for (size_t i = 0; x->headers && req->headers && req->headers[i] && i < 256; i++)
        x->headers = slist_add(x->headers, req->headers[i]);
    if (!x->headers)
        goto fail;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);

    x->start_us = clock_mono_us();
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
        goto fail;
    DL_PUSH(c->xfers, x);
    c->n_xfers++;
    return 0;

fail:
    xfer_free(x);
    return HTTP_EINVAL;
}

size_t http_in_flight(const struct http_client *c)
{
    return c ? c->n_xfers : 0;
}

void http_close(struct http_client *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->timer);

    /* Callbacks may not add transfers (http_send refuses while closing),
     * so the list only shrinks. */
    struct http_xfer *x;
    while ((x = c->xfers) != NULL) {
        struct http_response r;
        memset(&r, 0, sizeof(r));
        r.err = HTTP_ECANCELED;
        r.errmsg = "client closed";
        r.body = "";
        r.retry_after_s = -1;
        r.elapsed_us = clock_mono_us() - x->start_us;
        xfer_detach(x);
        if (x->cb)
            x->cb(x->ud, &r);
        xfer_free(x);
    }

    while (c->n_idle)
        curl_easy_cleanup(c->idle[--c->n_idle]);
    /* Closes cached connections; curl reports their sockets as REMOVE. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    for (int guard = 0; c->socks && guard < 1000000; guard++)
        sock_release(c->socks);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
