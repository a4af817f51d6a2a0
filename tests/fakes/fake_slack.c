/* fake_slack: see fake_slack.h.  The HTTP side (Web API, response URLs,
 * the upload URL) runs on fake_http, which also carries the Socket Mode
 * websocket (fake_slack_ws.c) on the same ports; this file owns the life
 * cycle, the answers' knobs (fail, outage, delay), Slack's auth check and
 * the record of every call.  Methods are in fake_slack_api.c and
 * fake_slack_conv.c, envelopes in fake_slack_send.c.
 * Everything the fake hands out (calls, acks, envelope ids) is owned by the
 * fake and lives until fake_slack_destroy(); with ack recording off an
 * envelope id lives until its ack arrives.  The fake frees itself once
 * fake_http has (see fake_slack_destroy in the header). */
#include "fake_slack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_blocks.h"
#include "fake_files.h"
#include "fake_http_ws.h"
#include "fake_messages.h"
#include "fake_slack_state.h"

static int fs_live;   /* fakes not yet freed (loop thread only) */

/* ------------------------------------------------------------------ */
/* helpers the methods share */

const char *fake_slack__arg_str(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

bool fake_slack__arg_true(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0);
}

char *fake_slack__json_print(const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (!s)
        abort();
    return s;
}

/* ------------------------------------------------------------------ */
/* answers */

/* The answer being built, and the Slack error it carries ("http_<n>" for
 * a non-JSON one), "" when ok. */
struct fs_ans {
    struct fake_http_resp *resp;
    int status;
    char err[64];
};

static void set_resp(struct fs_ans *a, int status, const char *type, const char *body)
{
    fake_http_reply(a->resp, status, type, body);
    a->status = status;
    if (status != 200)
        snprintf(a->err, sizeof(a->err), "http_%d", status);
}

static void set_resp_json(struct fs_ans *a, int status, const cJSON *o, const char *err)
{
    char *s = fake_slack__json_print(o);
    set_resp(a, status, "application/json; charset=utf-8", s);
    cJSON_free(s);
    if (err)
        str_lcpy(a->err, err, sizeof(a->err));
}

/* {"ok":false,"error":err}, plus what the method left in extra
 * ("errors" of conversations.invite with force, response_metadata). */
static void set_resp_error(struct fs_ans *a, int status, const char *err, cJSON *extra)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", err);
    static const char *const keep[] = { "errors", "response_metadata" };
    for (size_t i = 0; extra && i < ARRAY_LEN(keep); i++) {
        cJSON *x = cJSON_DetachItemFromObjectCaseSensitive(extra, keep[i]);
        if (x)
            cJSON_AddItemToObject(o, keep[i], x);
    }
    set_resp_json(a, status, o, err);
    cJSON_Delete(o);
}

static void set_retry_after(struct fs_ans *a, int secs)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", secs);
    fake_http_reply_header(a->resp, "retry-after", v);
}

/* Consumes one configured failure of method, if any. */
static bool apply_fail(struct fake_slack *f, struct fs_ans *a, const char *method)
{
    for (size_t i = 0; i < f->n_fails; i++) {
        struct fs_fail *x = &f->fails[i];
        if (x->times <= 0 || (x->method ? strcmp(x->method, method) != 0 : strcmp(method, "response_url") == 0))
            continue;
        if (x->outage && x->until_us && fake_http_now_us() >= x->until_us) {
            x->times = 0;   /* over */
            continue;
        }
        if (!x->outage)
            x->times--;
        if (x->status == 429) {
            set_resp_error(a, 429, "ratelimited", NULL);
            set_retry_after(a, x->retry_after);
        } else if (x->status == 200) {
            set_resp_error(a, 200, x->error ? x->error : "internal_error", NULL);
        } else {
            char html[160];
            snprintf(html, sizeof(html), "<html><body><h1>%d Fake Slack Error</h1></body></html>\n", x->status);
            set_resp(a, x->status, "text/html", html);
            if (x->retry_after > 0)
                set_retry_after(a, x->retry_after);
        }
        return true;
    }
    return false;
}

/* The request's arguments as one object (form fields or JSON, query args
 * filling in); NULL if the JSON body does not parse (an empty one neither,
 * as Slack). */
static cJSON *req_args(const struct fake_http_request *rq)
{
    const char *ct = fake_http_header(rq, "content-type");
    if (strcmp(rq->method, "POST") == 0 && ct && str_starts(ct, "application/json") && rq->body_len == 0)
        return NULL;
    return fake_http_args_json(rq);
}

static void record_call(struct fake_slack *f, const struct fake_http_request *rq, const char *client,
                        const char *method, cJSON *args, const struct fs_ans *a)
{
    const char *auth = fake_http_header(rq, "authorization");
    const char *ct = fake_http_header(rq, "content-type");
    struct fake_call *c = xcalloc(1, sizeof(*c));
    c->method = xstrdup(method);
    c->http_method = xstrdup(rq->method);
    c->auth = xstrdup(auth ? auth : "");
    c->content_type = xstrdup(ct ? ct : "");
    if (strcmp(rq->method, "GET") == 0)
        c->body = xstrdup(rq->query);
    else
        c->body = xstrndup(rq->body, rq->body_len);
    c->json = args;
    c->status = a->status;
    c->client = xstrdup(client);
    c->error = a->err[0] ? xstrdup(a->err) : NULL;
    c->t_us = fake_http_now_us();
    if (f->n_calls == f->cap_calls) {
        f->cap_calls = f->cap_calls ? f->cap_calls * 2 : 64;
        f->calls = xrealloc(f->calls, f->cap_calls * sizeof(*f->calls));
    }
    f->calls[f->n_calls++] = c;
}

/* Slack's token check: Authorization: Bearer, else a token argument;
 * xapp- for apps.connections.open, xoxb- for the rest.  NULL when good. */
static const char *auth_error(const struct fake_slack *f, const struct fake_http_request *rq, const cJSON *args,
                              bool want_app)
{
    const char *auth = fake_http_header(rq, "authorization");
    const char *tok;
    if (auth && str_starts(auth, "Bearer "))
        tok = auth + 7;
    else if (auth && auth[0])
        tok = "";                                   /* some other scheme: a bad token */
    else
        tok = fake_slack__arg_str(args, "token");   /* Slack also takes a token argument */
    if (!tok)
        return "not_authed";
    if (!str_starts(tok, want_app ? "xapp-" : "xoxb-")
        || (!want_app && f->only_bot_token && strcmp(tok, f->only_bot_token) != 0))
        return "invalid_auth";
    return NULL;
}

static cJSON *answer_api(struct fake_slack *f, const struct fake_http_request *rq, const char *client,
                         const char *method, struct fs_ans *a)
{
    cJSON *args = req_args(rq);
    if (apply_fail(f, a, method))
        return args;
    if (!args) {
        set_resp_error(a, 200, "invalid_json", NULL);
        return NULL;
    }
    bool want_app = false;
    fake_slack__api_fn fn = fake_slack__api_find(method, &want_app);
    const char *err = auth_error(f, rq, args, want_app);
    if (err) {
        set_resp_error(a, 200, err, NULL);
        return args;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    f->cur_client = client;
    err = fn ? fn(f, args, o) : NULL;
    f->cur_client = NULL;
    if (err)
        set_resp_error(a, 200, err, o);
    else
        set_resp_json(a, 200, o, NULL);
    cJSON_Delete(o);
    return args;
}

/* Slack's upload URL: the raw bytes, no token (the URL is the grant). */
static void answer_upload(struct fake_slack *f, const struct fake_http_request *rq, const char *path,
                          struct fs_ans *a)
{
    if (apply_fail(f, a, "upload"))
        return;
    const char *msg = "";
    int st = fake_files_upload(f->files, path, rq->body, rq->body_len, &msg);
    char body[64];
    if (st == 200)
        snprintf(body, sizeof(body), "OK - %zu", rq->body_len);
    else
        snprintf(body, sizeof(body), "%s", msg);
    set_resp(a, st, "text/plain; charset=utf-8", body);
}

static cJSON *answer_response_url(struct fake_slack *f, const struct fake_http_request *rq, struct fs_ans *a)
{
    cJSON *args = req_args(rq);
    char msg[512];
    if (apply_fail(f, a, "response_url"))
        return args;
    if (args && !fake_blocks_check_message(args, msg, sizeof(msg))) {
        /* What Slack answers a response_url with bad blocks is not
         * documented: a 400 with the chat.postMessage-style body. */
        cJSON *e = cJSON_CreateObject();
        set_resp_error(a, 400, fake_slack__refuse(f, e, "invalid_blocks", msg), e);
        cJSON_Delete(e);
    } else {
        set_resp(a, 200, "text/plain; charset=utf-8", "ok");
    }
    return args;
}

/* "/c/<tag>/api/..." is "/api/..." from the client <tag>: the rest of the
 * path, and the tag in client ("" without one). */
static const char *client_split(const char *path, char client[FS_TAG_LEN])
{
    client[0] = '\0';
    if (str_starts(path, "/c/")) {
        size_t tl = strcspn(path + 3, "/");
        if (tl > 0 && tl < FS_TAG_LEN && path[3 + tl] == '/') {
            memcpy(client, path + 3, tl);
            client[tl] = '\0';
            return path + 3 + tl;
        }
    }
    return path;
}

/* The fake_http route for every request. */
static void fs_http(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_slack *f = ud;
    struct fs_ans a = { .resp = resp, .status = 200 };
    char client[FS_TAG_LEN];
    const char *path = client_split(rq->path, client);
    bool post = strcmp(rq->method, "POST") == 0;
    cJSON *args = NULL;
    const char *method = path;
    if (str_starts(path, "/api/") && path[5]) {
        method = path + 5;
        if (!post && strcmp(rq->method, "GET") != 0)
            set_resp_error(&a, 200, "insecure_request", NULL);
        else
            args = answer_api(f, rq, client, method, &a);
    } else if (str_starts(path, "/upload/v1/") && post) {
        method = "upload";
        answer_upload(f, rq, path, &a);
    } else if (str_starts(path, "/commands/") && post) {
        method = "response_url";
        args = answer_response_url(f, rq, &a);
    } else {
        set_resp(&a, 404, "text/plain", "not found\n");
    }
    record_call(f, rq, client, method, args, &a);
}

/* Patterns see the path without the client tag. */
static char *fs_match_path(void *ud, const char *path)
{
    (void)ud;
    char client[FS_TAG_LEN];
    const char *rest = client_split(path, client);
    return rest != path ? xstrdup(rest) : NULL;
}

/* ------------------------------------------------------------------ */
/* life cycle */

static void free_all(struct fake_slack *f)
{
    while (f->conns)
        fake_slack__conn_unlink_free(f->conns);
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
        fake_slack__ack_free(f->acks[i]);
    free(f->acks);
    fake_slack__map_free(f);
    for (size_t i = 0; i < f->n_fails; i++) {
        free(f->fails[i].method);
        free(f->fails[i].error);
    }
    free(f->fails);
    fake_slack__conv_free(f);
    fake_messages_destroy(f->msgs);
    fake_files_destroy(f->files);
    for (size_t i = 0; i < FS_BAD_KEEP; i++)
        free(f->bad[i]);
    free(f->tickets);
    free(f->ticket_tags);
    free(f->envs);
    free(f->only_bot_token);
    free(f);
    fs_live--;
}

static void timer_closed(uv_handle_t *h)
{
    struct fake_slack *f = h->data;
    if (--f->closes_pending == 0)
        free_all(f);
}

/* fake_http has freed itself (lws is done with every socket): close our
 * timers, then free. */
static void http_freed(void *ud)
{
    struct fake_slack *f = ud;
    f->http = NULL;
    f->destroying = true;
    f->closes_pending = 2;
    uv_close((uv_handle_t *)&f->sweep, timer_closed);
    uv_close((uv_handle_t *)&f->redo, timer_closed);
}

void fake_slack_destroy(struct fake_slack *f)
{
    if (!f || f->destroying)
        return;
    f->destroying = true;
    uv_timer_stop(&f->sweep);
    uv_timer_stop(&f->redo);
    for (struct fs_conn *c = f->conns; c; c = c->next)
        c->silent = false;
    fake_http_destroy(f->http);   /* delayed answers are never written */
}

static const struct fake_http_ws fs_ws = { fake_slack__ws_callback, sizeof(struct fs_pss) };

static struct fake_slack *create_fake(uv_loop_t *loop, int port, const struct fake_slack_tls *tls)
{
    struct fake_slack *f = xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->record_acks = true;
    f->prefix = (uint32_t)util_rand64();
    uv_timer_init(loop, &f->sweep);
    uv_timer_init(loop, &f->redo);
    f->sweep.data = f;
    f->redo.data = f;
    f->max_conns = FS_MAX_CONNS;
    f->msgs = fake_messages_create();
    f->files = fake_files_create();
    fs_live++;

    struct fake_http_opts o = {
        .port = port,
        .name = "fake-slack",
        .tls_cert_pem = tls ? tls->cert_pem : NULL,
        .tls_key_pem = tls ? tls->key_pem : NULL,
        .tls_port = tls ? tls->port : 0,
        .ws = &fs_ws,
        .no_records = true,
        .on_free = http_freed,
        .ud = f,
    };
    f->http = fake_http_create_opts(loop, &o);
    if (!f->http) {
        f->destroying = true;   /* http_freed comes on the loop and frees f */
        return NULL;
    }
    fake_http_route(f->http, NULL, "/", fs_http, f);
    fake_http_set_match_path(f->http, fs_match_path, f);
    f->port = fake_http_port(f->http);
    snprintf(f->api_url, sizeof(f->api_url), "http://127.0.0.1:%d/api", f->port);
    if (tls) {
        f->tls_port = fake_http_tls_port(f->http);
        str_lcpy(f->ws_host, tls->ws_host ? tls->ws_host : "127.0.0.1", sizeof(f->ws_host));
        snprintf(f->tls_api_url, sizeof(f->tls_api_url), "https://%s:%d/api", f->ws_host, f->tls_port);
    }
    return f;
}

struct fake_slack *fake_slack_create_tls(uv_loop_t *loop, int port, const struct fake_slack_tls *tls)
{
    if (!tls || !tls->cert_pem || !tls->key_pem || (tls->ws_host && strlen(tls->ws_host) >= 128)) {
        fprintf(stderr, "fake_slack_create_tls: certificate, key and a short host are required\n");
        return NULL;
    }
    return create_fake(loop, port, tls);
}

/* ------------------------------------------------------------------ */
/* delays: the knob's method name as a fake_http pattern */

static void delay_pattern(const char *method, char *out, size_t n)
{
    if (strcmp(method, "response_url") == 0)
        str_lcpy(out, "/commands/**", n);
    else if (strcmp(method, "upload") == 0)
        str_lcpy(out, "/upload/v1/**", n);
    else if (method[0] == '/')
        str_lcpy(out, method, n);
    else
        snprintf(out, n, "/api/%s", method);
}

void fake_slack_delay(struct fake_slack *f, const char *method, int times, int ms)
{
    char pattern[256];
    delay_pattern(method, pattern, sizeof(pattern));
    if (f->http)
        fake_http_delay(f->http, pattern, times, ms);
}

void fake_slack_delay_clear(struct fake_slack *f)
{
    if (f->http)
        fake_http_delay_clear(f->http);
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
    x->until_us = ms > 0 ? fake_http_now_us() + (uint64_t)ms * 1000 : 0;
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

size_t fake_slack_block_refusals(const struct fake_slack *f)
{
    return f->block_refusals;
}

const char *fake_slack_last_refusal(const struct fake_slack *f)
{
    return f->last_refusal;
}

size_t fake_slack_message_count(const struct fake_slack *f, const char *channel)
{
    return fake_messages_count(f->msgs, channel);
}

const struct fake_message *fake_slack_message(const struct fake_slack *f, const char *channel, size_t idx)
{
    return fake_messages_get(f->msgs, channel, idx);
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

int fake_slack_client_api_url(const struct fake_slack *f, const char *tag, char *out, size_t n)
{
    if (!tag || !tag[0] || strlen(tag) >= FS_TAG_LEN || strchr(tag, '/'))
        return -1;
    int w = snprintf(out, n, "http://127.0.0.1:%d/c/%s/api", f->port, tag);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

int fake_slack_tls_port(const struct fake_slack *f)
{
    return f->tls_port;
}

const char *fake_slack_tls_api_url(const struct fake_slack *f)
{
    return f->tls_api_url;
}

int fake_slack_port(const struct fake_slack *f)
{
    return f->port;
}

const char *fake_slack_api_url(const struct fake_slack *f)
{
    return f->api_url;
}

int fake_slack_live_count(void)
{
    return fs_live;
}

struct fake_slack *fake_slack_create(uv_loop_t *loop, int port)
{
    return create_fake(loop, port, NULL);
}
