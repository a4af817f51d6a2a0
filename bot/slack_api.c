/* slack_api: Slack Web API calls over the shared http client (see
 * slack_api.h).  Owns one struct api_call per pending call, on the client's
 * list while it waits for an HTTP attempt or for its retry timer.  A call is
 * freed once its callback has run, no HTTP attempt is in flight and its timer
 * (if it ever had one) is closed.  api_close() detaches calls with an attempt
 * in flight (they are freed when the http client reports back, so the http
 * client must be closed or keep running after api_close) and frees the
 * client itself in a uv_close callback, never synchronously. */
#include "slack_api.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define API_DEFAULT_ATTEMPTS 5
#define API_MAX_ATTEMPTS 20
#define API_BACKOFF_BASE_MS 500
#define API_BACKOFF_CAP_MS 30000
#define API_RETRY_AFTER_DEFAULT_S 1
#define API_RETRY_AFTER_CAP_S 60
#define API_MAX_RESPONSE ((size_t)8 << 20)

struct api_call {
    struct api_call *prev, *next;
    struct api_client *c;        /* NULL once detached from the client */
    char *method;                /* for logs and metrics; "response_url" for api_post_url */
    char *url;                   /* may carry the response_url secret: never logged */
    char *body;                  /* NULL for GET */
    size_t body_len;
    char *auth;                  /* "Authorization: Bearer ...", NULL for response_url */
    bool get;
    bool form;                   /* body is form-encoded */
    bool response_url;
    int max_attempts;
    long timeout_ms;
    int attempts;
    api_cb cb;
    void *ud;
    uv_timer_t timer;
    bool timer_inited;
    bool in_http;                /* an attempt is in flight */
    bool done;                   /* callback has run (or was cancelled) */
};

struct api_client {
    uv_loop_t *loop;
    struct http_client *http;
    char *base_url;
    char *bot_token;
    struct metrics *metrics;
    struct api_call *calls;
    double backoff_scale;        /* SIRT_TEST_BACKOFF_SCALE: 1 in production */
    uv_timer_t anchor;           /* closed by api_close; its close callback frees the client */
    bool closing;
};

const char *api_strerror(int err)
{
    switch (err) {
    case API_OK: return "ok";
    case API_ESLACK: return "slack error";
    case API_EHTTP: return "http error";
    case API_ENET: return "network error";
    case API_EBADJSON: return "bad json";
    case API_ECANCELED: return "canceled";
    case API_ERATELIMITED: return "rate limited";
    default: return "unknown error";
    }
}

uint64_t api_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
    if (attempt < 1)
        attempt = 1;
    uint64_t d = base_ms;
    for (int i = 1; i < attempt && i < 64 && d < cap_ms; i++)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    uint64_t lo = d / 2;
    return lo + rnd % (d - lo + 1);
}

/* ---- call lifetime ---- */

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void call_free(struct api_call *call)
{
    free(call->method);
    free(call->url);
    free(call->body);
    wipe_free(call->auth);
    free(call);
}

static void on_call_timer_closed(uv_handle_t *h)
{
    call_free(container_of((uv_timer_t *)h, struct api_call, timer));
}

static void call_unlink(struct api_call *call)
{
    struct api_client *c = call->c;
    if (!c)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    call->c = NULL;
}

/* Frees the call now or from its timer's close callback.  Only when no
 * attempt is in flight. */
static void call_release(struct api_call *call)
{
    if (call->timer_inited)
        uv_close((uv_handle_t *)&call->timer, on_call_timer_closed);
    else
        call_free(call);
}

static void on_anchor_closed(uv_handle_t *h)
{
    struct api_client *c = container_of((uv_timer_t *)h, struct api_client, anchor);
    free(c->base_url);
    wipe_free(c->bot_token);
    free(c);
}

/* ---- results ---- */

static void record(struct api_client *c, const char *method, const char *result)
{
    if (c && c->metrics)
        metrics_api_call(c->metrics, method, result);
}

/* Reports the final outcome and releases the call.  The user callback may
 * call api_close or api_call: nothing of the client is used after it. */
static void call_complete(struct api_call *call, struct api_result *r, const char *metric)
{
    record(call->c, call->method, metric);
    call_unlink(call);
    call->done = true;
    r->attempts = call->attempts;
    if (call->cb)
        call->cb(call->ud, r);
    call_release(call);
}

static void start_attempt(struct api_call *call);

static void on_retry_timer(uv_timer_t *t)
{
    start_attempt(container_of(t, struct api_call, timer));
}

/* The next retry's delay, times the client's backoff scale (tests). */
static uint64_t call_backoff_ms(const struct api_call *call)
{
    uint64_t d = api_backoff_ms(call->attempts, API_BACKOFF_BASE_MS, API_BACKOFF_CAP_MS, util_rand64());
    double f = call->c ? call->c->backoff_scale : 1.0;
    return f < 1.0 ? (uint64_t)((double)d * f) + 1 : d;
}

static void schedule_retry(struct api_call *call, uint64_t delay_ms, const char *reason, long status)
{
    LOG_INFO("slack api retry", "method:s attempt:d status:l reason:s delay_ms:l",
             call->method, call->attempts, (long long)status, reason, (long long)delay_ms);
    if (!call->timer_inited) {
        uv_timer_init(call->c->loop, &call->timer);
        call->timer_inited = true;
    }
    uv_timer_start(&call->timer, on_retry_timer, delay_ms, 0);
}

static const char *json_error_code(const cJSON *json)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
    return cJSON_IsString(e) && e->valuestring[0] ? e->valuestring : "unknown_error";
}

cJSON *api_parse_response(long status, const char *body, size_t len, bool response_url,
                          struct api_result *r, char code[32])
{
    cJSON *json = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    r->json = json;
    r->error = "";
    if (status < 200 || status > 299) {
        snprintf(code, 32, "http_%ld", status);
        r->err = API_EHTTP;
        r->error = code;
    } else if (response_url) {
        r->err = API_OK;        /* response_url answers a plain "ok": any 2xx is success */
    } else if (!cJSON_IsObject(json) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(json, "ok"))) {
        r->err = API_EBADJSON;
        r->error = "bad_json";
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "ok"))) {
        r->err = API_OK;
    } else {
        r->err = API_ESLACK;
        r->error = json_error_code(json);
    }
    return json;
}

static void on_http_done(void *ud, const struct http_response *resp)
{
    struct api_call *call = ud;
    call->in_http = false;
    if (call->done) {            /* cancelled by api_close meanwhile */
        call_release(call);
        return;
    }

    struct api_result r;
    memset(&r, 0, sizeof(r));
    r.http_status = resp->status;
    r.retry_after_s = resp->retry_after_s;
    r.error = "";
    bool can_retry = call->attempts < call->max_attempts;
    char code[32];

    if (resp->err == HTTP_ECANCELED) {
        r.err = API_ECANCELED;
        r.error = "canceled";
        call_complete(call, &r, "canceled");
        return;
    }
    if (resp->err == HTTP_ETIMEDOUT || resp->err == HTTP_ENET) {
        const char *why = resp->err == HTTP_ETIMEDOUT ? "timeout" : "network";
        if (can_retry) {
            schedule_retry(call, call_backoff_ms(call), why, 0);
            return;
        }
        LOG_WARN("slack api call failed", "method:s attempts:d reason:s detail:s",
                 call->method, call->attempts, why, resp->errmsg);
        r.err = API_ENET;
        r.error = why;
        call_complete(call, &r, "network");
        return;
    }
    if (resp->err != HTTP_OK) {  /* too big, invalid: retrying will not help */
        const char *why = resp->err == HTTP_ETOOBIG ? "response_too_large" : "invalid_request";
        LOG_WARN("slack api call failed", "method:s attempts:d reason:s",
                 call->method, call->attempts, why);
        r.err = API_ENET;
        r.error = why;
        call_complete(call, &r, "network");
        return;
    }

    long st = resp->status;
    if (st == 429) {
        if (can_retry) {
            long s = resp->retry_after_s > 0 ? resp->retry_after_s : API_RETRY_AFTER_DEFAULT_S;
            if (s > API_RETRY_AFTER_CAP_S)
                s = API_RETRY_AFTER_CAP_S;
            schedule_retry(call, (uint64_t)s * 1000, "ratelimited", st);
            return;
        }
        LOG_WARN("slack api rate limited", "method:s attempts:d retry_after_s:l",
                 call->method, call->attempts, (long long)resp->retry_after_s);
        r.err = API_ERATELIMITED;
        r.error = "ratelimited";
        call_complete(call, &r, "ratelimited");
        return;
    }
    if (st >= 500 && st <= 599 && can_retry) {
        schedule_retry(call, call_backoff_ms(call), "server_error", st);
        return;
    }

    cJSON *json = api_parse_response(st, resp->body, resp->body_len, call->response_url, &r, code);
    switch (r.err) {
    case API_EHTTP:
        LOG_WARN("slack api http error", "method:s status:l attempts:d",
                 call->method, (long long)st, call->attempts);
        call_complete(call, &r, code);
        break;
    case API_EBADJSON:
        LOG_WARN("slack api returned no ok field", "method:s status:l", call->method, (long long)st);
        call_complete(call, &r, "bad_json");
        break;
    case API_ESLACK:
        LOG_WARN("slack api error", "method:s error:s", call->method, r.error);
        call_complete(call, &r, r.error);
        break;
    default:
        LOG_DEBUG("slack api ok", "method:s status:l attempts:d elapsed_us:l",
                  call->method, (long long)st, call->attempts, (long long)resp->elapsed_us);
        call_complete(call, &r, "ok");
        break;
    }
    cJSON_Delete(json);
}

/* One HTTP attempt.  Returns 0, or -1 if the http client refused it (then
 * the call is untouched for the caller to dispose of). */
static int send_attempt(struct api_call *call)
{
    const char *hdrs[4];
    size_t n = 0;
    if (call->auth)
        hdrs[n++] = call->auth;
    if (call->form)
        hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
    else if (!call->get)
        hdrs[n++] = "Content-Type: application/json; charset=utf-8";
    hdrs[n++] = "Accept: application/json";
    hdrs[n] = NULL;

    struct http_request req;
    memset(&req, 0, sizeof(req));
    req.method = call->get ? "GET" : "POST";
    req.url = call->url;
    req.headers = hdrs;
    req.body = call->body;
    req.body_len = call->body_len;
    req.timeout_ms = call->timeout_ms;
    req.max_response = API_MAX_RESPONSE;
    call->attempts++;
    LOG_DEBUG("slack api call", "method:s attempt:d", call->method, call->attempts);
    if (http_send(call->c->http, &req, on_http_done, call) != 0) {
        call->attempts--;
        return -1;
    }
    call->in_http = true;
    return 0;
}

static void start_attempt(struct api_call *call)
{
    if (send_attempt(call) == 0)
        return;
    struct api_result r;
    memset(&r, 0, sizeof(r));
    r.err = API_ECANCELED;
    r.error = "http client unavailable";
    r.retry_after_s = -1;
    call_complete(call, &r, "canceled");
}

/* ---- query strings ---- */

static void url_escape(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf_append(b, p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            buf_append(b, e, 3);
        }
    }
}

/* Appends "?k=v&..." from args' string, number and bool members. */
static void append_query(struct buf *b, const cJSON *args)
{
    if (!cJSON_IsObject(args))
        return;
    char sep = '?';
    const cJSON *it;
    cJSON_ArrayForEach(it, args) {
        char num[64];
        const char *v;
        if (!it->string)
            continue;
        if (cJSON_IsString(it)) {
            v = it->valuestring;
        } else if (cJSON_IsBool(it)) {
            v = cJSON_IsTrue(it) ? "true" : "false";
        } else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
                snprintf(num, sizeof(num), "%lld", (long long)d);
            else
                snprintf(num, sizeof(num), "%.17g", d);
            v = num;
        } else {
            continue;
        }
        buf_append(b, &sep, 1);
        sep = '&';
        url_escape(b, it->string);
        buf_append(b, "=", 1);
        url_escape(b, v);
    }
}

/* ---- public ---- */

struct api_client *api_create(uv_loop_t *loop, struct http_client *http,
                              const char *base_url, const char *bot_token,
                              struct metrics *metrics)
{
    if (!loop || !http || !base_url)
        return NULL;
    struct api_client *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->http = http;
    c->base_url = xstrdup(base_url);
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    c->bot_token = xstrdup(bot_token ? bot_token : "");
    c->metrics = metrics;
    c->backoff_scale = 1.0;
    uv_timer_init(loop, &c->anchor);
    return c;
}

void api_set_backoff_scale(struct api_client *c, double f)
{
    if (c && f > 0 && f <= 1)
        c->backoff_scale = f;
}

static struct api_call *call_new(struct api_client *c, const char *method, const struct api_opts *o,
                                 api_cb cb, void *ud)
{
    struct api_call *call = xcalloc(1, sizeof(*call));
    call->c = c;
    call->method = xstrdup(method);
    call->cb = cb;
    call->ud = ud;
    int max = o && o->max_attempts > 0 ? o->max_attempts : API_DEFAULT_ATTEMPTS;
    if (max > API_MAX_ATTEMPTS)
        max = API_MAX_ATTEMPTS;
    if (o && o->no_retry)
        max = 1;
    call->max_attempts = max;
    call->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
    return call;
}

/* Sends the first attempt and links the call; on refusal frees it. */
static int call_start(struct api_client *c, struct api_call *call)
{
    if (send_attempt(call) != 0) {
        LOG_WARN("slack api call refused by http client", "method:s", call->method);
        call_free(call);
        return API_ECANCELED;
    }
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    return 0;
}

static char *json_body(const cJSON *v, size_t *len)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    char *out = xstrdup(s ? s : "{}");
    if (s)
        cJSON_free(s);
    *len = strlen(out);
    return out;
}

int api_call_opts(struct api_client *c, const char *method, const cJSON *args,
                  const struct api_opts *opts, api_cb cb, void *ud)
{
    if (!c || c->closing || !method || !method[0])
        return API_ECANCELED;
    const char *token = opts && opts->token ? opts->token : c->bot_token;
    /* A CR/LF in a token would inject headers; refuse, without echoing it. */
    for (const char *t = token; *t; t++) {
        if ((unsigned char)*t < 0x20 || *t == 0x7f) {
            LOG_WARN("slack api token contains control characters", "method:s", method);
            return API_ECANCELED;
        }
    }
    struct api_call *call = call_new(c, method, opts, cb, ud);
    call->auth = xasprintf("Authorization: Bearer %s", token);
    call->get = opts && opts->get;
    struct buf u;
    buf_init(&u, 0);
    buf_printf(&u, "%s/", c->base_url);
    url_escape(&u, method);
    call->form = !call->get && opts && opts->form;
    if (call->get) {
        append_query(&u, args);
    } else if (call->form) {
        struct buf f;
        buf_init(&f, 0);
        append_query(&f, args);
        /* append_query writes "?k=v&...": the body is what follows the '?' */
        call->body = xstrdup(f.len ? f.data + 1 : "");
        call->body_len = strlen(call->body);
        buf_finish(&f);
    } else {
        call->body = json_body(args, &call->body_len);
    }
    call->url = buf_take(&u);
    return call_start(c, call);
}

int api_call(struct api_client *c, const char *method, const cJSON *args,
             api_cb cb, void *ud)
{
    return api_call_opts(c, method, args, NULL, cb, ud);
}

int api_post_url(struct api_client *c, const char *url, const cJSON *body,
                 api_cb cb, void *ud)
{
    if (!c || c->closing || !url)
        return API_ECANCELED;
    struct api_call *call = call_new(c, "response_url", NULL, cb, ud);
    call->response_url = true;
    call->url = xstrdup(url);
    call->body = json_body(body, &call->body_len);
    return call_start(c, call);
}

void api_close(struct api_client *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    /* Callbacks cannot add calls (api_call refuses while closing), so the
     * list only shrinks. */
    struct api_call *call;
    while ((call = c->calls) != NULL) {
        struct api_result r;
        memset(&r, 0, sizeof(r));
        r.err = API_ECANCELED;
        r.error = "canceled";
        r.retry_after_s = -1;
        bool in_http = call->in_http;
        if (call->timer_inited)
            uv_timer_stop(&call->timer);
        record(c, call->method, "canceled");
        call_unlink(call);
        call->done = true;
        r.attempts = call->attempts;
        if (call->cb)
            call->cb(call->ud, &r);
        if (!in_http)
            call_release(call);
        /* else freed by on_http_done when the http client reports back */
    }
    uv_close((uv_handle_t *)&c->anchor, on_anchor_closed);
}
