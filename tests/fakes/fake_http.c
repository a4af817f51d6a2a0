/* fake_http: see fake_http.h.  One lws context (foreign libuv loop), one
 * server vhost on 127.0.0.1, one HTTP protocol.  A request lives in a
 * struct fh_req from LWS_CALLBACK_HTTP until its answer is written or the
 * connection closes; its record (struct fake_http_request) is owned by the
 * fake from the moment the request is complete.  A delayed answer waits on
 * a uv timer allocated apart from the request, closed with uv_close, so the
 * connection may vanish first.  The fake frees itself once lws and every
 * timer have closed (fake_http_destroy). */
#include "fake_http.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bot/util.h"

#define FH_BODY_CAP    (8u << 20)
#define FH_MAX_XH      16           /* extra answer headers */
#define FH_MAX_ARGS    256
#define FH_MAX_CAPTURE 32

static int fh_live;

struct fh_route {
    char *method;
    char *prefix;
    fake_http_handler fn;
    void *ud;
};

struct fh_rule {
    char *pattern;
    int times;
    int status;          /* fail rules */
    char *ctype;
    char *body;
    int retry_after;
    int ms;              /* delay rules */
    bool outage;         /* fail rule for every request until until_us / fake_http_outage_end */
    uint64_t until_us;   /* outage: CLOCK_MONOTONIC end, 0 = until told */
};

struct fake_http_resp {
    int status;
    char ctype[96];
    struct buf body;
    int n_xh;
    char *xh_names[FH_MAX_XH];
    char *xh_values[FH_MAX_XH];
};

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
    bool recorded;
    struct buf body;
    struct fake_http_resp resp;
    int retry_after;
    unsigned char *out;          /* LWS_PRE + body */
    size_t out_len;
    bool ready;                  /* answer may be written */
    bool hdrs_sent;
    struct fh_delay *delay;
};

struct fh_pss {
    struct fh_req *req;
};

struct fake_http {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int port;
    char url[64];
    char name[32];
    bool destroying;

    struct fh_route *routes;
    size_t n_routes;
    char *(*match_fn)(void *ud, const char *path);
    void *match_ud;
    char *capture[FH_MAX_CAPTURE];
    size_t n_capture;
    struct fh_rule *fails, *delays;
    size_t n_fails, n_delays;

    struct fh_req *reqs;
    struct fake_http_request **recs;
    size_t n_recs, cap_recs;
    size_t answered;

    int delays_closing;          /* delay timers whose close is pending */
    uv_timer_t fin;
    int fin_ticks;
    bool fin_busy;
};

/* ------------------------------------------------------------------ */
/* helpers */

uint64_t fake_http_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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

/* obj[k] = v; "k[]" keys collect into an array "k[]". */
static void args_put(cJSON *obj, const char *k, const char *v, bool replace)
{
    size_t kl = strlen(k);
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(obj, k);
    if (kl > 2 && strcmp(k + kl - 2, "[]") == 0) {
        if (!cur)
            cur = cJSON_AddArrayToObject(obj, k);
        if (cJSON_IsArray(cur))
            cJSON_AddItemToArray(cur, cJSON_CreateString(v));
        return;
    }
    if (!cur)
        cJSON_AddStringToObject(obj, k, v);
    else if (replace)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, k, cJSON_CreateString(v));
}

static void form_into(cJSON *obj, const char *s, size_t n)
{
    size_t i = 0;
    for (int guard = 0; i < n && guard < 100000; guard++) {
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
                args_put(obj, k, v, true);
            free(k);
            free(v);
        }
        i = j + 1;
    }
}

static bool ci_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

static void push_pair(size_t *n, char ***names, char ***values, char *name, char *value)
{
    *names = xrealloc(*names, (*n + 1) * sizeof(char *));
    *values = xrealloc(*values, (*n + 1) * sizeof(char *));
    (*names)[*n] = name;
    (*values)[*n] = value;
    (*n)++;
}

static void rec_free(struct fake_http_request *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->path);
    free(r->match_path);
    free(r->query);
    for (size_t i = 0; i < r->n_args; i++) {
        free(r->arg_names[i]);
        free(r->arg_values[i]);
    }
    free(r->arg_names);
    free(r->arg_values);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    free(r->header_names);
    free(r->header_values);
    free(r->body);
    free(r->resp_body);
    free(r);
}

/* ------------------------------------------------------------------ */
/* patterns */

/* '*' = [^/]*; a trailing "/ **" (no space) matches the rest. */
static bool glob_path(const char *p, const char *s)
{
    for (int guard = 0; guard < 4096; guard++) {
        if (p[0] == '/' && p[1] == '*' && p[2] == '*' && p[3] == '\0')
            return *s == '\0' || *s == '/';
        if (*p == '\0')
            return *s == '\0';
        if (*p == '*') {
            /* try every split within the current segment */
            const char *t = s;
            for (int k = 0; k < 4096; k++) {
                if (glob_path(p + 1, t))
                    return true;
                if (*t == '\0' || *t == '/')
                    return false;
                t++;
            }
            return false;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return false;
}

bool fake_http_match(const char *pattern, const char *method, const char *path)
{
    if (!pattern)
        return true;
    const char *p = pattern;
    if (*p != '/') {
        size_t ml = strcspn(p, " ");
        if (p[ml] != ' ')
            return false;
        if (!(ml == 1 && p[0] == '*') && (strlen(method) != ml || strncmp(p, method, ml) != 0))
            return false;
        p += ml;
        while (*p == ' ')
            p++;
    }
    return glob_path(p, path);
}

static struct fh_rule *take_rule(struct fh_rule *rules, size_t n, const struct fake_http_request *r)
{
    for (size_t i = 0; i < n; i++) {
        if (rules[i].times <= 0 || !fake_http_match(rules[i].pattern, r->method, r->match_path))
            continue;
        if (rules[i].outage) {
            if (rules[i].until_us && fake_http_now_us() >= rules[i].until_us) {
                rules[i].times = 0;   /* over */
                continue;
            }
            return &rules[i];
        }
        rules[i].times--;
        return &rules[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* answers */

static void resp_init(struct fake_http_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    str_lcpy(resp->ctype, "application/json", sizeof(resp->ctype));
    buf_init(&resp->body, 0);
    buf_puts(&resp->body, "{}");
}

static void resp_finish(struct fake_http_resp *resp)
{
    buf_finish(&resp->body);
    for (int i = 0; i < resp->n_xh; i++) {
        free(resp->xh_names[i]);
        free(resp->xh_values[i]);
    }
    resp->n_xh = 0;
}

void fake_http_reply(struct fake_http_resp *resp, int status, const char *content_type, const char *body)
{
    resp->status = status;
    str_lcpy(resp->ctype, content_type ? content_type : "application/json", sizeof(resp->ctype));
    buf_reset(&resp->body);
    buf_puts(&resp->body, body ? body : "");
}

void fake_http_reply_json(struct fake_http_resp *resp, int status, const cJSON *body)
{
    char *s = cJSON_PrintUnformatted(body);
    if (!s)
        abort();
    fake_http_reply(resp, status, "application/json", s);
    cJSON_free(s);
}

void fake_http_reply_msg(struct fake_http_resp *resp, int status, const char *key, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, msg);
    fake_http_reply_json(resp, status, o);
    cJSON_Delete(o);
}

void fake_http_reply_header(struct fake_http_resp *resp, const char *name, const char *value)
{
    if (resp->n_xh == FH_MAX_XH)
        return;
    /* lws wants "name:" */
    char *n = xasprintf("%s:", name);
    for (char *c = n; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    resp->xh_names[resp->n_xh] = n;
    resp->xh_values[resp->n_xh] = xstrdup(value);
    resp->n_xh++;
}

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
        rec_free(r->rec);
    buf_finish(&r->body);
    resp_finish(&r->resp);
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
        push_pair(&rec->n_args, &rec->arg_names, &rec->arg_values, xstrdup(frag), xstrdup(eq ? eq + 1 : ""));
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
        push_pair(&rec->n_headers, &rec->header_names, &rec->header_values, n, v);
    }
    for (size_t i = 0; i < h->n_capture; i++) {
        char *v = custom_dup(wsi, h->capture[i]);
        if (v)
            push_pair(&rec->n_headers, &rec->header_names, &rec->header_values, xstrdup(h->capture[i]), v);
    }
    return rec;
}

static void record(struct fake_http *h, struct fh_req *r)
{
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

    struct fh_rule *fail = take_rule(h->fails, h->n_fails, rec);
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

    struct fh_rule *delay = take_rule(h->delays, h->n_delays, rec);
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
    resp_init(&r->resp);
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
        if (pss->req->recorded)
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
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fh_protocols[] = {
    { "fake-http", fh_callback, sizeof(struct fh_pss), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ------------------------------------------------------------------ */
/* life cycle */

static void rules_free(struct fh_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].pattern);
        free(rules[i].ctype);
        free(rules[i].body);
    }
    free(rules);
}

static void free_all(uv_handle_t *hd)
{
    struct fake_http *h = hd->data;
    while (h->reqs)
        req_free(h->reqs);
    for (size_t i = 0; i < h->n_recs; i++)
        rec_free(h->recs[i]);
    free(h->recs);
    for (size_t i = 0; i < h->n_routes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].prefix);
    }
    free(h->routes);
    for (size_t i = 0; i < h->n_capture; i++)
        free(h->capture[i]);
    rules_free(h->fails, h->n_fails);
    rules_free(h->delays, h->n_delays);
    free(h);
    fh_live--;
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

struct fake_http *fake_http_create(uv_loop_t *loop, int port, const char *name)
{
    struct fake_http *h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    str_lcpy(h->name, name ? name : "fake-http", sizeof(h->name));
    uv_timer_init(loop, &h->fin);
    h->fin.data = h;
    fh_live++;

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof(ci));
    void *loops[1] = { loop };
    ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.foreign_loops = loops;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    ci.pcontext = &h->ctx;
    ci.user = h;
    ci.max_http_header_pool = 64;
    ci.max_http_header_data = 8192;
    ci.fd_limit_per_thread = 1024;
    h->ctx = lws_create_context(&ci);
    if (!h->ctx) {
        fprintf(stderr, "fake_http(%s): lws_create_context failed\n", h->name);
        h->destroying = true;
        uv_close((uv_handle_t *)&h->fin, free_all);
        return NULL;
    }
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.options = ci.options;
    vi.port = port;
    vi.iface = "127.0.0.1";
    vi.protocols = fh_protocols;
    vi.vhost_name = h->name;
    vi.keepalive_timeout = 30;
    h->vh = lws_create_vhost(h->ctx, &vi);
    if (!h->vh || lws_get_vhost_listen_port(h->vh) <= 0) {
        fprintf(stderr, "fake_http(%s): cannot listen on 127.0.0.1:%d\n", h->name, port);
        fake_http_destroy(h);
        return NULL;
    }
    h->port = lws_get_vhost_listen_port(h->vh);
    snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d", h->port);
    return h;
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

static struct fh_rule *add_rule(struct fh_rule **rules, size_t *n, const char *pattern, int times)
{
    *rules = xrealloc(*rules, (*n + 1) * sizeof(**rules));
    struct fh_rule *x = &(*rules)[(*n)++];
    memset(x, 0, sizeof(*x));
    x->pattern = xstrdup(pattern);
    x->times = times;
    return x;
}

void fake_http_fail(struct fake_http *h, const char *pattern, int times, int status, const char *content_type,
                    const char *body, int retry_after)
{
    struct fh_rule *x = add_rule(&h->fails, &h->n_fails, pattern, times);
    x->status = status;
    x->ctype = xstrdup(content_type);
    x->body = xstrdup(body);
    x->retry_after = retry_after;
}

void fake_http_outage(struct fake_http *h, const char *pattern, int status, int ms)
{
    struct fh_rule *x = add_rule(&h->fails, &h->n_fails, pattern, 1);
    x->status = status;
    x->outage = true;
    x->until_us = ms > 0 ? fake_http_now_us() + (uint64_t)ms * 1000 : 0;
}

void fake_http_outage_end(struct fake_http *h)
{
    for (size_t i = 0; i < h->n_fails; i++)
        if (h->fails[i].outage)
            h->fails[i].times = 0;
}

void fake_http_delay(struct fake_http *h, const char *pattern, int times, int ms)
{
    struct fh_rule *x = add_rule(&h->delays, &h->n_delays, pattern, times);
    x->ms = ms;
}

size_t fake_http_count(const struct fake_http *h, const char *pattern)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_recs; i++)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path))
            n++;
    return n;
}

const struct fake_http_request *fake_http_request(const struct fake_http *h, const char *pattern, size_t idx)
{
    for (size_t i = 0; i < h->n_recs; i++)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path) && idx-- == 0)
            return h->recs[i];
    return NULL;
}

const struct fake_http_request *fake_http_last(const struct fake_http *h, const char *pattern)
{
    for (size_t i = h->n_recs; i-- > 0;)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path))
            return h->recs[i];
    return NULL;
}

size_t fake_http_answered(const struct fake_http *h)
{
    return h->answered;
}

const char *fake_http_arg(const struct fake_http_request *r, const char *name, size_t idx)
{
    for (size_t i = 0; i < r->n_args; i++)
        if (strcmp(r->arg_names[i], name) == 0 && idx-- == 0)
            return r->arg_values[i];
    return NULL;
}

const char *fake_http_header(const struct fake_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (ci_eq(r->header_names[i], name))
            return r->header_values[i];
    return NULL;
}

cJSON *fake_http_args_json(const struct fake_http_request *r)
{
    const char *ct = fake_http_header(r, "content-type");
    cJSON *args;
    if (ct && str_starts(ct, "application/json") && r->body_len) {
        args = cJSON_ParseWithLength(r->body, r->body_len);
        if (!cJSON_IsObject(args)) {
            cJSON_Delete(args);
            return NULL;
        }
    } else {
        args = cJSON_CreateObject();
        if (r->body_len)
            form_into(args, r->body, r->body_len);
    }
    for (size_t i = 0; i < r->n_args; i++)
        if (r->arg_names[i][0])
            args_put(args, r->arg_names[i], r->arg_values[i], false);
    return args;
}
