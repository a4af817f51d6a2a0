/* test_slack_api: the Slack Web API client against the scripted http_peer:
 * request shape (URL, Authorization, JSON body, GET query), result mapping,
 * 429 / 5xx / network retries, cancellation, backoff bounds, metrics, and
 * that the token never reaches the log. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../bot/http.h"
#include "../bot/log.h"
#include "../bot/metrics.h"
#include "../bot/slack_api.h"
#include "../bot/util.h"
#include "fakes/http_peer.h"
#include "test.h"

#define TOKEN "xoxb-1111-2222-T0KENsekrit"

struct ax {
    uv_loop_t loop;
    struct http_peer *peer;
    struct http_client *http;
    struct api_client *api;
    char *base;
};

static void ax_init(struct ax *x)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ASSERT_EQ(uv_loop_init(&x->loop), 0);
    x->peer = http_peer_create(&x->loop);
    ASSERT_NOT_NULL(x->peer);
    x->http = http_create(&x->loop);
    ASSERT_NOT_NULL(x->http);
    x->base = xasprintf("%s/api/", http_peer_url(x->peer));   /* trailing '/' is tolerated */
    x->api = api_create(&x->loop, x->http, x->base, TOKEN, NULL);
    ASSERT_NOT_NULL(x->api);
}

static void ax_finish(struct ax *x)
{
    if (x->api)
        api_close(x->api);
    if (x->http)
        http_close(x->http);
    http_peer_destroy(x->peer);
    for (int i = 0; i < 1000 && uv_run(&x->loop, UV_RUN_NOWAIT) != 0; i++)
        uv_sleep(1);
    ASSERT_EQ(uv_loop_close(&x->loop), 0);
    free(x->base);
    curl_global_cleanup();
}

struct res {
    int calls;
    int err;
    char error[64];
    long status;
    long retry_after_s;
    int attempts;
    char *json;              /* printed copy of r->json, or NULL */
    uint64_t t_us;
};

static void on_res(void *ud, const struct api_result *r)
{
    struct res *s = ud;
    s->calls++;
    s->err = r->err;
    ASSERT_NOT_NULL(r->error);
    str_lcpy(s->error, r->error, sizeof(s->error));
    s->status = r->http_status;
    s->retry_after_s = r->retry_after_s;
    s->attempts = r->attempts;
    free(s->json);
    s->json = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
    s->t_us = uv_hrtime() / 1000;
    if (r->err == API_OK)
        ASSERT_STR_EQ(r->error, "");
}

static bool res_done(void *ud)
{
    return ((struct res *)ud)->calls > 0;
}

static void res_free(struct res *s)
{
    if (s->json)
        cJSON_free(s->json);
    s->json = NULL;
}

TEST(api_ok_request_shape_and_body_round_trip)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, "Content-Type: application/json\r\n",
                          "{\"ok\":true,\"channel\":\"C123\",\"ts\":\"1.2\"}");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", "C123");
    cJSON_AddStringToObject(args, "text", "h\xc3\xa9llo \"quoted\" \\ <b>&amp;</b>\n");
    cJSON *blocks = cJSON_AddArrayToObject(args, "blocks");
    cJSON_AddItemToArray(blocks, cJSON_CreateString("x"));
    cJSON_AddNumberToObject(args, "n", 42);
    struct res r = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", args, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.err, API_OK);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.attempts, 1);
    ASSERT_CONTAINS(r.json, "\"channel\":\"C123\"");

    ASSERT_EQ(http_peer_count(x.peer), 1);
    const struct http_peer_request *rq = http_peer_request(x.peer, 0);
    ASSERT_STR_EQ(rq->method, "POST");
    ASSERT_STR_EQ(rq->target, "/api/chat.postMessage");
    char *auth = http_peer_header(rq, "Authorization");
    char *ct = http_peer_header(rq, "Content-Type");
    ASSERT_STR_EQ(auth, "Bearer " TOKEN);
    ASSERT_STR_EQ(ct, "application/json; charset=utf-8");
    cJSON *sent = cJSON_ParseWithLength(rq->body, rq->body_len);
    ASSERT_NOT_NULL(sent);
    ASSERT(cJSON_Compare(sent, args, true));
    cJSON_Delete(sent);
    cJSON_Delete(args);
    free(auth);
    free(ct);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_null_args_and_token_override)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true,\"url\":\"ws://127.0.0.1:1/link/\"}");
    struct api_opts o = { .token = "xapp-1-A1-OTHER", .no_retry = true };
    struct res r = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "apps.connections.open", NULL, &o, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_OK);
    const struct http_peer_request *rq = http_peer_request(x.peer, 0);
    char *auth = http_peer_header(rq, "Authorization");
    ASSERT_STR_EQ(auth, "Bearer xapp-1-A1-OTHER");
    ASSERT_STR_EQ(rq->body, "{}");
    free(auth);
    /* A token with CR/LF would inject headers: refused, nothing sent. */
    struct api_opts evil = { .token = "xoxb-1\r\nX-Evil: 1" };
    struct res r2 = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "auth.test", NULL, &evil, on_res, &r2), API_ECANCELED);
    http_peer_run_until(&x.loop, NULL, NULL, 50);
    ASSERT_EQ(r2.calls, 0);
    ASSERT_EQ(http_peer_count(x.peer), 1);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_ok_false_is_eslack_with_code)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":false,\"error\":\"channel_not_found\"}");
    struct res r = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_ESLACK);
    ASSERT_STR_EQ(r.error, "channel_not_found");
    ASSERT_EQ(r.attempts, 1);
    ASSERT_NOT_NULL(r.json);
    /* Not JSON at all: API_EBADJSON, no retry. */
    http_peer_push_simple(x.peer, 200, NULL, "<html>oops</html>");
    struct res r2 = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r2), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r2, 5000));
    ASSERT_EQ(r2.err, API_EBADJSON);
    ASSERT_EQ(r2.attempts, 1);
    ASSERT_EQ(http_peer_count(x.peer), 2);
    res_free(&r);
    res_free(&r2);
    ax_finish(&x);
}

TEST(api_429_waits_retry_after_then_succeeds)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 429, "Retry-After: 1\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    struct res r = { 0 };
    uint64_t t0 = uv_hrtime() / 1000;
    ASSERT_EQ(api_call(x.api, "conversations.create", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 10000));
    uint64_t ms = (r.t_us - t0) / 1000;
    ASSERT_EQ(r.err, API_OK);
    ASSERT_EQ(r.attempts, 2);
    ASSERT_GE(ms, 900);
    ASSERT_LE(ms, 3000);
    ASSERT_EQ(http_peer_count(x.peer), 2);
    uint64_t gap_ms = (http_peer_request(x.peer, 1)->t_us - http_peer_request(x.peer, 0)->t_us) / 1000;
    ASSERT_GE(gap_ms, 900);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_429_without_retry_after_waits_one_second)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 429, NULL, "{\"ok\":false,\"error\":\"ratelimited\"}");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    struct res r = { 0 };
    uint64_t t0 = uv_hrtime() / 1000;
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 10000));
    ASSERT_EQ(r.err, API_OK);
    ASSERT_GE((r.t_us - t0) / 1000, 900);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_429_no_retry_reports_ratelimited)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 429, "Retry-After: 30\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}");
    struct api_opts o = { .no_retry = true };
    struct res r = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "chat.postMessage", NULL, &o, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_ERATELIMITED);
    ASSERT_EQ(r.retry_after_s, 30);
    ASSERT_EQ(r.status, 429);
    ASSERT_EQ(r.attempts, 1);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_500_twice_then_ok_after_3_attempts)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 500, NULL, "oops");
    http_peer_push_simple(x.peer, 503, NULL, "");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    struct res r = { 0 };
    uint64_t t0 = uv_hrtime() / 1000;
    ASSERT_EQ(api_call(x.api, "conversations.invite", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 10000));
    ASSERT_EQ(r.err, API_OK);
    ASSERT_EQ(r.attempts, 3);
    ASSERT_EQ(http_peer_count(x.peer), 3);
    /* Backoff after attempt 1 is in [250,500] ms, after 2 in [500,1000]. */
    uint64_t ms = (r.t_us - t0) / 1000;
    ASSERT_GE(ms, 700);
    ASSERT_LE(ms, 4000);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_5xx_exhausts_attempts_as_ehttp)
{
    struct ax x;
    ax_init(&x);
    struct http_peer_reply e502 = { .status = 502, .body = "bad gateway" };
    http_peer_set_default(x.peer, &e502);
    struct api_opts o = { .max_attempts = 2 };
    struct res r = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "chat.update", NULL, &o, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 10000));
    ASSERT_EQ(r.err, API_EHTTP);
    ASSERT_STR_EQ(r.error, "http_502");
    ASSERT_EQ(r.attempts, 2);
    ASSERT_EQ(http_peer_count(x.peer), 2);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_404_is_ehttp_without_retry)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 404, NULL, "not found");
    struct res r = { 0 };
    ASSERT_EQ(api_call(x.api, "no.such.method", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    http_peer_run_until(&x.loop, NULL, NULL, 700);   /* no retry shows up */
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.err, API_EHTTP);
    ASSERT_STR_EQ(r.error, "http_404");
    ASSERT_EQ(r.status, 404);
    ASSERT_EQ(r.attempts, 1);
    ASSERT_EQ(http_peer_count(x.peer), 1);
    res_free(&r);
    ax_finish(&x);
}

TEST_T(api_network_error_gives_enet_after_max_attempts, 40)
{
    struct ax x;
    ax_init(&x);
    struct http_peer_reply drop = { .action = PEER_CLOSE };
    http_peer_set_default(x.peer, &drop);
    /* SIRT_TEST_BACKOFF_SCALE's 1/100: unscaled, the four waits between the
     * five attempts are at least 250+500+1000+2000 ms (api_backoff_ms). */
    api_set_backoff_scale(x.api, 0.01);
    struct res r = { 0 };
    uv_update_time(&x.loop);
    uint64_t t0 = uv_now(&x.loop);
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 20000));
    uv_update_time(&x.loop);
    ASSERT_LE(uv_now(&x.loop) - t0, 3000);
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.err, API_ENET);
    ASSERT_EQ(r.attempts, 5);
    ASSERT_EQ(http_peer_count(x.peer), 5);
    ASSERT_NULL(r.json);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_timeout_is_retried_then_enet)
{
    struct ax x;
    ax_init(&x);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_set_default(x.peer, &silent);
    struct api_opts o = { .max_attempts = 2, .timeout_ms = 200 };
    struct res r = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "chat.postMessage", NULL, &o, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_ENET);
    ASSERT_STR_EQ(r.error, "timeout");
    ASSERT_EQ(r.attempts, 2);
    res_free(&r);
    ax_finish(&x);
}

TEST(api_get_query_encoding)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true,\"user\":{\"tz\":\"Europe/Amsterdam\"}}");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "user", "U1 2&x=y/\xc3\xa9~");
    cJSON_AddTrueToObject(args, "include_locale");
    cJSON_AddFalseToObject(args, "flag");
    cJSON_AddNumberToObject(args, "limit", 200);
    cJSON_AddNumberToObject(args, "ratio", 1.5);
    cJSON_AddNumberToObject(args, "neg", -3);
    cJSON_AddItemToObject(args, "nested", cJSON_CreateObject());   /* skipped */
    cJSON_AddNullToObject(args, "nothing");                          /* skipped */
    struct api_opts o = { .get = true };
    struct res r = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "users.info", args, &o, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_OK);
    const struct http_peer_request *rq = http_peer_request(x.peer, 0);
    ASSERT_STR_EQ(rq->method, "GET");
    ASSERT_STR_EQ(rq->target, "/api/users.info?user=U1%202%26x%3Dy%2F%C3%A9~&include_locale=true"
                              "&flag=false&limit=200&ratio=1.5&neg=-3");
    ASSERT_EQ(rq->body_len, 0);
    char *auth = http_peer_header(rq, "Authorization");
    ASSERT_STR_EQ(auth, "Bearer " TOKEN);
    free(auth);
    cJSON_Delete(args);

    /* No args: no query string at all. */
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    struct res r2 = { 0 };
    ASSERT_EQ(api_call_opts(x.api, "auth.test", NULL, &o, on_res, &r2), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r2, 5000));
    ASSERT_STR_EQ(http_peer_request(x.peer, 1)->target, "/api/auth.test");
    res_free(&r);
    res_free(&r2);
    ax_finish(&x);
}

TEST(api_post_url_plain_ok_without_token)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, "Content-Type: text/plain\r\n", "ok");
    char *u = xasprintf("%s/commands/T1/123/abc", http_peer_url(x.peer));
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "text", "SIRT-1 exists; ask #sirt");
    cJSON_AddStringToObject(body, "response_type", "ephemeral");
    struct res r = { 0 };
    ASSERT_EQ(api_post_url(x.api, u, body, on_res, &r), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r, 5000));
    ASSERT_EQ(r.err, API_OK);
    ASSERT_NULL(r.json);
    const struct http_peer_request *rq = http_peer_request(x.peer, 0);
    ASSERT_STR_EQ(rq->method, "POST");
    ASSERT_STR_EQ(rq->target, "/commands/T1/123/abc");
    char *auth = http_peer_header(rq, "Authorization");
    ASSERT_NULL(auth);
    char *ct = http_peer_header(rq, "Content-Type");
    ASSERT_STR_EQ(ct, "application/json; charset=utf-8");
    free(ct);
    cJSON *sent = cJSON_Parse(rq->body);
    ASSERT(cJSON_Compare(sent, body, true));
    cJSON_Delete(sent);

    /* 404 on a response_url (expired) is EHTTP, no retry; a bad scheme is refused. */
    http_peer_push_simple(x.peer, 404, NULL, "expired_url");
    struct res r2 = { 0 };
    ASSERT_EQ(api_post_url(x.api, u, NULL, on_res, &r2), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r2, 5000));
    ASSERT_EQ(r2.err, API_EHTTP);
    ASSERT_EQ(r2.attempts, 1);
    ASSERT_NE(api_post_url(x.api, "file:///etc/passwd", NULL, on_res, &r2), 0);
    ASSERT_EQ(r2.calls, 1);
    cJSON_Delete(body);
    free(u);
    res_free(&r);
    res_free(&r2);
    ax_finish(&x);
}

struct peer_want {
    struct http_peer *peer;
    size_t n;
};

static bool peer_has(void *ud)
{
    const struct peer_want *w = ud;
    return http_peer_count(w->peer) >= w->n;
}

TEST(api_close_cancels_backoff_and_in_flight)
{
    struct ax x;
    ax_init(&x);
    /* Call A: 500 then waits in backoff.  Call B: the peer never answers. */
    http_peer_push_simple(x.peer, 500, NULL, "");
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_set_default(x.peer, &silent);
    struct res a = { 0 }, b = { 0 };
    /* Waits for the requests themselves, not a fixed time: on a busy
     * machine a fixed wait can outlast A's backoff (>= 250 ms). */
    struct peer_want one = { x.peer, 1 }, two = { x.peer, 2 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &a), 0);
    ASSERT(http_peer_run_until(&x.loop, peer_has, &one, 5000));
    ASSERT_EQ(api_call(x.api, "chat.update", NULL, on_res, &b), 0);
    ASSERT(http_peer_run_until(&x.loop, peer_has, &two, 5000));
    ASSERT_EQ(http_peer_count(x.peer), 2);
    ASSERT_CONTAINS(http_peer_request(x.peer, 1)->target, "chat.update");   /* not A's retry */
    ASSERT_EQ(a.calls + b.calls, 0);

    api_close(x.api);
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(a.err, API_ECANCELED);
    ASSERT_EQ(b.calls, 1);
    ASSERT_EQ(b.err, API_ECANCELED);
    x.api = NULL;
    /* Keep the http client running a while: the detached attempt must not
     * call back again, and the backoff timer must not fire. */
    http_peer_run_until(&x.loop, NULL, NULL, 1200);
    ASSERT_EQ(http_peer_count(x.peer), 2);
    ax_finish(&x);
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(b.calls, 1);
}

TEST(api_http_closed_first_cancels_calls)
{
    struct ax x;
    ax_init(&x);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_set_default(x.peer, &silent);
    struct res r = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r), 0);
    http_close(x.http);
    x.http = NULL;
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.err, API_ECANCELED);
    /* Further calls are refused synchronously, no callback. */
    struct res r2 = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r2), API_ECANCELED);
    ASSERT_EQ(r2.calls, 0);
    ax_finish(&x);
}

struct reent {
    struct api_client *api;
    int calls;
    int second_rc;
    int errs[4];
};

static void on_reent(void *ud, const struct api_result *r)
{
    struct reent *s = ud;
    if (s->calls < 4)
        s->errs[s->calls] = r->err;
    s->calls++;
    if (s->calls == 1) {
        /* From inside a callback: start another call, then close. */
        s->second_rc = api_call(s->api, "chat.postMessage", NULL, on_reent, s);
        api_close(s->api);
        api_close(s->api);
    }
}

TEST(api_callbacks_may_call_and_close)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    struct reent s = { .api = x.api };
    ASSERT_EQ(api_call(x.api, "auth.test", NULL, on_reent, &s), 0);
    http_peer_run_until(&x.loop, NULL, NULL, 500);
    ASSERT_EQ(s.second_rc, 0);
    ASSERT_EQ(s.calls, 2);
    ASSERT_EQ(s.errs[0], API_OK);
    ASSERT_EQ(s.errs[1], API_ECANCELED);
    x.api = NULL;
    ax_finish(&x);
    ASSERT_EQ(s.calls, 2);
}

TEST(api_fire_and_forget_null_callback)
{
    struct ax x;
    ax_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":false,\"error\":\"not_in_channel\"}");
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, NULL, NULL), 0);
    http_peer_run_until(&x.loop, NULL, NULL, 300);
    ASSERT_EQ(http_peer_count(x.peer), 1);
    ax_finish(&x);
}

TEST(api_backoff_bounds)
{
    const uint64_t rnds[] = { 0, 1, 7, 12345, 0x7fffffffffffffffull, UINT64_MAX };
    for (int attempt = -1; attempt <= 70; attempt++) {
        int n = attempt < 1 ? 1 : attempt;
        uint64_t d = 500;
        for (int i = 1; i < n && d < 30000; i++)
            d *= 2;
        if (d > 30000)
            d = 30000;
        for (size_t k = 0; k < ARRAY_LEN(rnds); k++) {
            uint64_t v = api_backoff_ms(attempt, 500, 30000, rnds[k]);
            ASSERT_GE(v, d / 2);
            ASSERT_LE(v, d);
        }
        for (int k = 0; k < 200; k++) {
            uint64_t v = api_backoff_ms(attempt, 500, 30000, util_rand64());
            ASSERT_GE(v, d / 2);
            ASSERT_LE(v, d);
        }
    }
    ASSERT_EQ(api_backoff_ms(1, 500, 30000, 0), 250);
    ASSERT_EQ(api_backoff_ms(1, 500, 30000, 250), 500);
    ASSERT_EQ(api_backoff_ms(3, 500, 30000, 0), 1000);
    ASSERT_EQ(api_backoff_ms(1000, 500, 30000, 0), 15000);
    ASSERT_EQ(api_backoff_ms(5, 0, 30000, 99), 0);
    ASSERT_LE(api_backoff_ms(64, UINT64_MAX / 4, UINT64_MAX, UINT64_MAX), UINT64_MAX);
    /* Jitter actually spreads. */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 1000; k++) {
        uint64_t v = api_backoff_ms(4, 500, 30000, util_rand64());
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    ASSERT_LE(lo, 2200);
    ASSERT_GE(hi, 3800);
    ASSERT_STR_EQ(api_strerror(API_ESLACK), "slack error");
}

TEST(api_metrics_once_per_outcome)
{
    struct ax x;
    ax_init(&x);
    struct metrics *m = metrics_create();
    api_close(x.api);
    x.api = api_create(&x.loop, x.http, x.base, TOKEN, m);
    http_peer_push_simple(x.peer, 500, NULL, "");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":false,\"error\":\"name_taken\"}");
    struct res r1 = { 0 }, r2 = { 0 };
    ASSERT_EQ(api_call(x.api, "chat.postMessage", NULL, on_res, &r1), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r1, 5000));
    ASSERT_EQ(api_call(x.api, "conversations.create", NULL, on_res, &r2), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r2, 5000));
    struct buf out;
    buf_init(&out, 0);
    metrics_render(m, &out);
    ASSERT_CONTAINS(out.data, "\"chat.postMessage\"");
    ASSERT_CONTAINS(out.data, "\"conversations.create\"");
    ASSERT_CONTAINS(out.data, "\"name_taken\"");
    ASSERT_NOT_CONTAINS(out.data, "http_500");     /* retried, not final */
    buf_finish(&out);
    ax_finish(&x);
    metrics_destroy(m);
    res_free(&r1);
    res_free(&r2);
}

TEST(api_token_never_logged)
{
    /* A token shaped like no known secret pattern, so masking in the logger
     * cannot hide a leak. */
    static const char plain_token[] = "plainTok3n-9f8e7d6c5b4a";
    struct test_capture cap;
    test_capture_start(&cap);
    log_set_level(LOG_LVL_DEBUG);

    struct ax x;
    ax_init(&x);
    api_close(x.api);
    x.api = api_create(&x.loop, x.http, x.base, plain_token, NULL);
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":true}");
    http_peer_push_simple(x.peer, 200, NULL, "{\"ok\":false,\"error\":\"invalid_auth\"}");
    http_peer_push_simple(x.peer, 500, NULL, "");
    http_peer_push_simple(x.peer, 404, NULL, "");
    /* Then drop everything (also curl's own silent retry on a fresh
     * connection when a reused one dies). */
    struct http_peer_reply drop = { .action = PEER_CLOSE };
    http_peer_set_default(x.peer, &drop);
    struct res r[5];
    memset(r, 0, sizeof(r));
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "text", "hello");
    struct api_opts get = { .get = true, .token = plain_token };
    struct api_opts one = { .no_retry = true };
    ASSERT_EQ(api_call(x.api, "auth.test", args, on_res, &r[0]), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r[0], 5000));
    ASSERT_EQ(api_call_opts(x.api, "users.info", args, &get, on_res, &r[1]), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r[1], 5000));
    ASSERT_EQ(api_call(x.api, "chat.postMessage", args, on_res, &r[2]), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r[2], 5000));
    ASSERT_EQ(api_call_opts(x.api, "chat.update", args, &one, on_res, &r[3]), 0);
    ASSERT(http_peer_run_until(&x.loop, res_done, &r[3], 5000));
    ASSERT_EQ(r[1].err, API_ESLACK);
    ASSERT_EQ(r[2].err, API_EHTTP);
    ASSERT_EQ(r[3].err, API_ENET);
    cJSON_Delete(args);
    ax_finish(&x);
    for (int i = 0; i < 5; i++)
        res_free(&r[i]);

    char *logged = test_capture_end(&cap);
    ASSERT_CONTAINS(logged, "invalid_auth");
    ASSERT_CONTAINS(logged, "users.info");
    ASSERT_NOT_CONTAINS(logged, plain_token);
    ASSERT_NOT_CONTAINS(logged, "9f8e7d6c5b4a");
    ASSERT_NOT_CONTAINS(logged, "Bearer");
    free(logged);
}
