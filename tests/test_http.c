/* test_http: the curl-multi-on-uv client against the scripted http_peer:
 * requests and bodies on the wire, concurrency, timeouts, size caps,
 * network errors, Retry-After, cancellation and re-entrant callbacks. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../bot/http.h"
#include "../bot/util.h"
#include "fakes/http_peer.h"
#include "test.h"

struct hx {
    uv_loop_t loop;
    struct http_peer *peer;
    struct http_client *http;
};

static void hx_init(struct hx *x)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ASSERT_EQ(uv_loop_init(&x->loop), 0);
    x->peer = http_peer_create(&x->loop);
    ASSERT_NOT_NULL(x->peer);
    x->http = http_create(&x->loop);
    ASSERT_NOT_NULL(x->http);
}

static void hx_finish(struct hx *x)
{
    if (x->http)
        http_close(x->http);
    http_peer_destroy(x->peer);
    /* Bounded: every handle is closing, so the loop drains. */
    for (int i = 0; i < 1000 && uv_run(&x->loop, UV_RUN_NOWAIT) != 0; i++)
        uv_sleep(1);
    ASSERT_EQ(uv_loop_close(&x->loop), 0);
    curl_global_cleanup();
}

struct got {
    int calls;
    int err;
    long status;
    long retry_after_s;
    uint64_t elapsed_us;
    char *body;
    size_t body_len;
};

static void on_done(void *ud, const struct http_response *r)
{
    struct got *g = ud;
    g->calls++;
    g->err = r->err;
    g->status = r->status;
    g->retry_after_s = r->retry_after_s;
    g->elapsed_us = r->elapsed_us;
    free(g->body);
    g->body = xstrndup(r->body, r->body_len);
    g->body_len = r->body_len;
    ASSERT_NOT_NULL(r->errmsg);
    if (r->err != HTTP_OK)
        ASSERT(r->errmsg[0] != '\0');
}

static bool got_done(void *ud)
{
    return ((struct got *)ud)->calls > 0;
}

static char *url(struct hx *x, const char *path)
{
    return xasprintf("%s%s", http_peer_url(x->peer), path);
}

TEST(http_get_and_post_on_the_wire)
{
    struct hx x;
    hx_init(&x);
    http_peer_push_simple(x.peer, 200, "X-Thing: 1\r\n", "{\"a\":1}");
    http_peer_push_simple(x.peer, 201, NULL, "created");

    char *u1 = url(&x, "/get/path?q=1");
    struct http_request rq = { .url = u1 };
    struct got g1 = { 0 };
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g1), 0);
    ASSERT_EQ(http_in_flight(x.http), 1);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g1, 5000));
    ASSERT_EQ(g1.err, HTTP_OK);
    ASSERT_EQ(g1.status, 200);
    ASSERT_STR_EQ(g1.body, "{\"a\":1}");
    ASSERT_EQ(g1.retry_after_s, -1);
    ASSERT_EQ(http_in_flight(x.http), 0);

    char *u2 = url(&x, "/post");
    const char *hdrs[] = { "Content-Type: text/plain", "X-Custom: yes", NULL };
    struct http_request rp = { .url = u2, .headers = hdrs, .body = "hello\0world", .body_len = 11 };
    struct got g2 = { 0 };
    ASSERT_EQ(http_send(x.http, &rp, on_done, &g2), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g2, 5000));
    ASSERT_EQ(g2.err, HTTP_OK);
    ASSERT_EQ(g2.status, 201);
    ASSERT_STR_EQ(g2.body, "created");

    ASSERT_EQ(http_peer_count(x.peer), 2);
    const struct http_peer_request *r0 = http_peer_request(x.peer, 0);
    ASSERT_STR_EQ(r0->method, "GET");
    ASSERT_STR_EQ(r0->target, "/get/path?q=1");
    ASSERT_EQ(r0->body_len, 0);
    const struct http_peer_request *r1 = http_peer_request(x.peer, 1);
    ASSERT_STR_EQ(r1->method, "POST");
    ASSERT_STR_EQ(r1->target, "/post");
    ASSERT_EQ(r1->body_len, 11);
    ASSERT(memcmp(r1->body, "hello\0world", 11) == 0);
    char *ct = http_peer_header(r1, "content-type");
    char *xc = http_peer_header(r1, "X-Custom");
    char *ex = http_peer_header(r1, "Expect");
    ASSERT_STR_EQ(ct, "text/plain");
    ASSERT_STR_EQ(xc, "yes");
    ASSERT_NULL(ex);
    free(ct);
    free(xc);
    free(u1);
    free(u2);
    free(g1.body);
    free(g2.body);
    hx_finish(&x);
}

/* A body over 1 MiB makes curl 7.88 send Expect: 100-continue and stall 1 s
 * against servers that ignore it; the client suppresses the header. */
TEST(http_large_post_has_no_expect_and_no_stall)
{
    struct hx x;
    hx_init(&x);
    size_t n = (size_t)2 << 20;
    char *big = xmalloc(n);
    memset(big, 'x', n);
    char *u = url(&x, "/big");
    struct http_request rq = { .url = u, .body = big, .body_len = n };
    struct got g = { 0 };
    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g), 0);
    free(big);   /* the client copied it */
    ASSERT(http_peer_run_until(&x.loop, got_done, &g, 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ(g.err, HTTP_OK);
    ASSERT_LE(ms, 800);
    const struct http_peer_request *r = http_peer_request(x.peer, 0);
    ASSERT_EQ(r->body_len, n);
    char *ex = http_peer_header(r, "Expect");
    ASSERT_NULL(ex);
    free(u);
    free(g.body);
    hx_finish(&x);
}

struct many {
    int done;
    int ok;
    int bad;
};

struct many_item {
    struct many *m;
    int i;
};

static void on_many(void *ud, const struct http_response *r)
{
    struct many_item *it = ud;
    it->m->done++;
    if (r->err == HTTP_OK && r->status == 200 && strcmp(r->body, "reply") == 0)
        it->m->ok++;
    else
        it->m->bad++;
}

static bool many_done(void *ud)
{
    struct many *m = ud;
    return m->done >= 200;
}

TEST(http_200_concurrent_requests_all_complete)
{
    struct hx x;
    hx_init(&x);
    struct http_peer_reply d = { .status = 200, .body = "reply", .delay_ms = 20 };
    http_peer_set_default(x.peer, &d);
    struct many m = { 0 };
    struct many_item items[200];
    char *u = url(&x, "/many");
    for (int i = 0; i < 200; i++) {
        items[i].m = &m;
        items[i].i = i;
        char body[32];
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        struct http_request rq = { .url = u, .body = body, .body_len = strlen(body) };
        ASSERT_EQ(http_send(x.http, &rq, on_many, &items[i]), 0);
    }
    ASSERT_EQ(http_in_flight(x.http), 200);
    ASSERT(http_peer_run_until(&x.loop, many_done, &m, 20000));
    ASSERT_EQ(m.done, 200);
    ASSERT_EQ(m.ok, 200);
    ASSERT_EQ(m.bad, 0);
    ASSERT_EQ(http_in_flight(x.http), 0);
    ASSERT_EQ(http_peer_count(x.peer), 200);
    /* Every body arrived once. */
    char seen[200];
    memset(seen, 0, sizeof(seen));
    for (size_t k = 0; k < 200; k++) {
        int i = -1;
        ASSERT_EQ(sscanf(http_peer_request(x.peer, k)->body, "{\"i\":%d}", &i), 1);
        ASSERT(i >= 0 && i < 200);
        seen[i]++;
    }
    for (int i = 0; i < 200; i++)
        ASSERT_EQ(seen[i], 1);
    free(u);
    hx_finish(&x);
}

static void on_tick(uv_timer_t *t)
{
    (*(int *)t->data)++;
}

static void on_tick_closed(uv_handle_t *h)
{
    (void)h;
}

TEST(http_timeout_does_not_block_the_loop)
{
    struct hx x;
    hx_init(&x);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_push(x.peer, &silent);
    int ticks = 0;
    uv_timer_t tick;
    uv_timer_init(&x.loop, &tick);
    tick.data = &ticks;
    uv_timer_start(&tick, on_tick, 20, 20);

    char *u = url(&x, "/silent");
    struct http_request rq = { .url = u, .timeout_ms = 400 };
    struct got g = { 0 };
    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g, 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ(g.calls, 1);
    ASSERT_EQ(g.err, HTTP_ETIMEDOUT);
    ASSERT_GE(ms, 380);
    ASSERT_LE(ms, 2000);
    /* The loop kept turning meanwhile (20 ticks when idle; a busy machine
     * coalesces late ticks into one). */
    ASSERT_GE(ticks, 5);
    ASSERT_EQ(http_peer_count(x.peer), 1);
    uv_close((uv_handle_t *)&tick, on_tick_closed);
    free(u);
    free(g.body);
    hx_finish(&x);
}

TEST(http_slow_answer_within_timeout)
{
    struct hx x;
    hx_init(&x);
    struct http_peer_reply slow = { .status = 200, .body = "late", .delay_ms = 300 };
    http_peer_push(x.peer, &slow);
    char *u = url(&x, "/slow");
    struct http_request rq = { .url = u, .timeout_ms = 3000 };
    struct got g = { 0 };
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g, 5000));
    ASSERT_EQ(g.err, HTTP_OK);
    ASSERT_STR_EQ(g.body, "late");
    ASSERT_GE(g.elapsed_us, 280000);
    free(u);
    free(g.body);
    hx_finish(&x);
}

TEST(http_response_over_cap_is_etoobig)
{
    struct hx x;
    hx_init(&x);
    size_t n = 100000;
    char *big = xmalloc(n + 1);
    memset(big, 'b', n);
    big[n] = '\0';
    /* With Content-Length (curl can refuse early) and without (the write
     * callback has to abort). */
    struct http_peer_reply with_len = { .status = 200, .body = big };
    struct http_peer_reply no_len = { .status = 200, .body = big, .no_length = true };
    http_peer_push(x.peer, &with_len);
    http_peer_push(x.peer, &no_len);
    http_peer_push_simple(x.peer, 200, NULL, "small");
    char *u = url(&x, "/big");

    struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
    struct http_request rq = { .url = u, .max_response = 10000 };
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g1), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g1, 5000));
    ASSERT_EQ(g1.err, HTTP_ETOOBIG);
    ASSERT_EQ(g1.body_len, 0);
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g2), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g2, 5000));
    ASSERT_EQ(g2.err, HTTP_ETOOBIG);
    /* Exactly at the cap is fine. */
    struct http_request rq3 = { .url = u, .max_response = 5 };
    ASSERT_EQ(http_send(x.http, &rq3, on_done, &g3), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g3, 5000));
    ASSERT_EQ(g3.err, HTTP_OK);
    ASSERT_STR_EQ(g3.body, "small");
    free(big);
    free(u);
    free(g1.body);
    free(g2.body);
    free(g3.body);
    hx_finish(&x);
}

TEST(http_dropped_connection_and_refused_are_enet)
{
    struct hx x;
    hx_init(&x);
    struct http_peer_reply drop = { .action = PEER_CLOSE };
    http_peer_push(x.peer, &drop);
    char *u = url(&x, "/drop");
    struct http_request rq = { .url = u };
    struct got g = { 0 };
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g, 5000));
    ASSERT_EQ(g.err, HTTP_ENET);
    ASSERT_EQ(g.status, 0);

    /* A port nobody listens on: bind one, note it, close it. */
    uv_tcp_t tmp;
    uv_tcp_init(&x.loop, &tmp);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    ASSERT_EQ(uv_tcp_bind(&tmp, (const struct sockaddr *)&a, 0), 0);
    struct sockaddr_storage got_addr;
    int len = sizeof(got_addr);
    uv_tcp_getsockname(&tmp, (struct sockaddr *)&got_addr, &len);
    int port = ntohs(((struct sockaddr_in *)&got_addr)->sin_port);
    uv_close((uv_handle_t *)&tmp, NULL);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    char *u2 = xasprintf("http://127.0.0.1:%d/x", port);
    struct http_request rq2 = { .url = u2 };
    struct got g2 = { 0 };
    ASSERT_EQ(http_send(x.http, &rq2, on_done, &g2), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g2, 5000));
    ASSERT_EQ(g2.err, HTTP_ENET);
    free(u);
    free(u2);
    free(g.body);
    free(g2.body);
    hx_finish(&x);
}

TEST(http_retry_after_is_reported)
{
    struct hx x;
    hx_init(&x);
    http_peer_push_simple(x.peer, 429, "Retry-After: 7\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}");
    http_peer_push_simple(x.peer, 503, "Retry-After: 0\r\n", "");
    http_peer_push_simple(x.peer, 503, NULL, "");
    char *u = url(&x, "/rl");
    struct http_request rq = { .url = u };
    struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g1), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g1, 5000));
    ASSERT_EQ(g1.err, HTTP_OK);
    ASSERT_EQ(g1.status, 429);
    ASSERT_EQ(g1.retry_after_s, 7);
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g2), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g2, 5000));
    ASSERT_EQ(g2.status, 503);
    ASSERT_EQ(g2.retry_after_s, 0);
    ASSERT_EQ(http_send(x.http, &rq, on_done, &g3), 0);
    ASSERT(http_peer_run_until(&x.loop, got_done, &g3, 5000));
    ASSERT_EQ(g3.status, 503);
    ASSERT_EQ(g3.retry_after_s, -1);
    free(u);
    free(g1.body);
    free(g2.body);
    free(g3.body);
    hx_finish(&x);
}

TEST(http_rejects_bad_requests)
{
    struct hx x;
    hx_init(&x);
    struct got g = { 0 };
    struct http_request ftp = { .url = "ftp://127.0.0.1/x" };
    ASSERT_EQ(http_send(x.http, &ftp, on_done, &g), HTTP_EINVAL);
    struct http_request file = { .url = "file:///etc/passwd" };
    ASSERT_EQ(http_send(x.http, &file, on_done, &g), HTTP_EINVAL);
    struct http_request none = { .url = NULL };
    ASSERT_EQ(http_send(x.http, &none, on_done, &g), HTTP_EINVAL);
    ASSERT_EQ(http_send(x.http, NULL, on_done, &g), HTTP_EINVAL);
    struct http_request nobody = { .url = "http://127.0.0.1:1/", .body_len = 3 };
    ASSERT_EQ(http_send(x.http, &nobody, on_done, &g), HTTP_EINVAL);
    ASSERT_EQ(g.calls, 0);
    ASSERT_EQ(http_in_flight(x.http), 0);
    ASSERT_STR_EQ(http_strerror(HTTP_ETIMEDOUT), "timed out");
    hx_finish(&x);
}

struct cancel_state {
    struct http_client *http;
    int calls;
    int canceled;
    int resend_rc;
};

static void on_cancel(void *ud, const struct http_response *r)
{
    struct cancel_state *s = ud;
    s->calls++;
    if (r->err == HTTP_ECANCELED)
        s->canceled++;
    /* Sending from a callback during close is refused, not crashed. */
    struct http_request rq = { .url = "http://127.0.0.1:1/" };
    s->resend_rc = http_send(s->http, &rq, on_cancel, s);
    http_close(s->http);          /* re-entrant close is a no-op */
}

TEST(http_close_cancels_in_flight_once_each)
{
    struct hx x;
    hx_init(&x);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_set_default(x.peer, &silent);
    struct cancel_state s = { .http = x.http };
    char *u = url(&x, "/hang");
    for (int i = 0; i < 20; i++) {
        struct http_request rq = { .url = u, .body = "{}", .body_len = 2 };
        ASSERT_EQ(http_send(x.http, &rq, on_cancel, &s), 0);
    }
    /* Let them reach the peer, then close with all of them in flight. */
    http_peer_run_until(&x.loop, NULL, NULL, 300);
    ASSERT_EQ(http_peer_count(x.peer), 20);
    ASSERT_EQ(s.calls, 0);
    http_close(x.http);
    ASSERT_EQ(s.calls, 20);       /* synchronously, before http_close returned */
    ASSERT_EQ(s.canceled, 20);
    ASSERT_EQ(s.resend_rc, HTTP_EINVAL);
    x.http = NULL;
    free(u);
    hx_finish(&x);
    ASSERT_EQ(s.calls, 20);
}

TEST(http_close_right_after_send)
{
    struct hx x;
    hx_init(&x);
    struct cancel_state s = { .http = x.http };
    char *u = url(&x, "/x");
    struct http_request rq = { .url = u };
    ASSERT_EQ(http_send(x.http, &rq, on_cancel, &s), 0);
    http_close(x.http);
    x.http = NULL;
    ASSERT_EQ(s.calls, 1);
    ASSERT_EQ(s.canceled, 1);
    free(u);
    hx_finish(&x);
}

struct chain {
    struct http_client *http;
    char *url;
    int done;
    int ok;
};

static void on_chain(void *ud, const struct http_response *r)
{
    struct chain *c = ud;
    c->done++;
    if (r->err == HTTP_OK && r->status == 200)
        c->ok++;
    if (c->done < 5) {
        struct http_request rq = { .url = c->url };
        ASSERT_EQ(http_send(c->http, &rq, on_chain, c), 0);
    }
}

static bool chain_done(void *ud)
{
    return ((struct chain *)ud)->done >= 5;
}

TEST(http_send_from_callback)
{
    struct hx x;
    hx_init(&x);
    struct chain c = { .http = x.http, .url = url(&x, "/chain") };
    struct http_request rq = { .url = c.url };
    ASSERT_EQ(http_send(x.http, &rq, on_chain, &c), 0);
    ASSERT(http_peer_run_until(&x.loop, chain_done, &c, 5000));
    ASSERT_EQ(c.ok, 5);
    ASSERT_EQ(http_peer_count(x.peer), 5);
    /* Keep-alive: one connection served them all. */
    ASSERT_EQ(http_peer_connections(x.peer), 1);
    free(c.url);
    hx_finish(&x);
}

struct closer {
    struct http_client *http;
    int done;
    int ok;
    int canceled;
    bool closed;
};

static void on_closer(void *ud, const struct http_response *r)
{
    struct closer *c = ud;
    c->done++;
    if (r->err == HTTP_OK)
        c->ok++;
    if (r->err == HTTP_ECANCELED)
        c->canceled++;
    if (!c->closed && r->err == HTTP_OK) {
        c->closed = true;
        http_close(c->http);   /* from inside a completion callback */
    }
}

static bool closer_done(void *ud)
{
    return ((struct closer *)ud)->done >= 10;
}

TEST(http_close_from_completion_callback)
{
    struct hx x;
    hx_init(&x);
    http_peer_push_simple(x.peer, 200, NULL, "first");
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_set_default(x.peer, &silent);
    struct closer c = { .http = x.http };
    char *u = url(&x, "/c");
    struct http_request rq = { .url = u };
    /* Whichever reaches the peer first is answered; its callback closes
     * the client while the other nine hang. */
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(http_send(x.http, &rq, on_closer, &c), 0);
    ASSERT(http_peer_run_until(&x.loop, closer_done, &c, 5000));
    x.http = NULL;
    ASSERT_EQ(c.done, 10);
    ASSERT_EQ(c.ok, 1);
    ASSERT_EQ(c.canceled, 9);
    free(u);
    hx_finish(&x);
    ASSERT_EQ(c.done, 10);
}
