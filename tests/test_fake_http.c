/* test_fake_http: self-tests of tests/fakes/fake_http.c (routes, records,
 * arguments, patterns, the fail/outage/delay knobs, keep-alive, a client
 * gone during a delayed answer).  The fake runs on the test thread's loop;
 * requests are made with libcurl on a helper thread (fake_clients). */
#include <curl/curl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

static void echo_handler(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    int *calls = ud;
    (*calls)++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", rq->method);
    cJSON_AddStringToObject(o, "path", rq->path);
    cJSON_AddStringToObject(o, "query", rq->query);
    cJSON_AddStringToObject(o, "body", rq->body);
    const char *tok = fake_http_header(rq, "private-token");
    cJSON_AddStringToObject(o, "token", tok ? tok : "");
    const char *a = fake_http_arg(rq, "ids[]", 1);
    cJSON_AddStringToObject(o, "ids1", a ? a : "");
    cJSON *args = fake_http_args_json(rq);
    cJSON_AddItemToObject(o, "args", args ? args : cJSON_CreateNull());
    fake_http_reply_header(resp, "X-Fake", "yes");
    fake_http_reply_json(resp, 201, o);
    cJSON_Delete(o);
}

/* A fake_http on fx's loop answering every path with echo_handler. */
static struct fake_http *echo_server(struct fx *fx, int *calls)
{
    struct fake_http *h = fake_http_create(&fx->loop, 0, "t");
    fake_http_route(h, NULL, "/", echo_handler, calls);
    return h;
}

TEST(fake_http_routes_records_and_match)
{
    ASSERT(fake_http_match("POST /projects/*/issues", "POST", "/projects/12/issues"));
    ASSERT(!fake_http_match("POST /projects/*/issues", "GET", "/projects/12/issues"));
    ASSERT(!fake_http_match("POST /projects/*/issues", "POST", "/projects/12/issues/3/notes"));
    ASSERT(!fake_http_match("POST /projects/*/issues", "POST", "/projects/a/b/issues"));
    ASSERT(fake_http_match("* /projects/**", "DELETE", "/projects/a/b/issues"));
    ASSERT(fake_http_match("/projects/**", "GET", "/projects"));
    ASSERT(!fake_http_match("/projects/**", "GET", "/projectsx"));
    ASSERT(fake_http_match("/v2/enq*", "POST", "/v2/enqueue"));
    ASSERT(fake_http_match(NULL, "POST", "/x"));

    struct fx fx;
    fc_begin_opts(&fx, 0);
    struct fake_http *h = fake_http_create(&fx.loop, 0, "t");
    ASSERT_NOT_NULL(h);
    int calls = 0;
    fake_http_capture_header(h, "PRIVATE-TOKEN");
    fake_http_route(h, NULL, "/api/", echo_handler, &calls);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/projects/security%%2Fincidents%%2Fx?ids[]=a&ids[]=b%%26c&q=x%%20y",
             fake_http_url(h));
    long st;
    cJSON *j = fc_call(&fx, "GET", url, "PRIVATE-TOKEN: tok123", NULL, NULL, &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "method"), "GET");
    ASSERT_STR_EQ(fc_jstr(j, "path"), "/api/projects/security/incidents/x");
    ASSERT_STR_EQ(fc_jstr(j, "token"), "tok123");
    ASSERT_STR_EQ(fc_jstr(j, "ids1"), "b&c");
    ASSERT_STR_EQ(fc_jstr(j, "args.q"), "x y");
    ASSERT_STR_EQ(fc_jstr(j, "args.ids[].1"), "b&c");
    cJSON_Delete(j);

    snprintf(url, sizeof(url), "%s/api/things", fake_http_url(h));
    j = fc_call(&fx, "POST", url, HDR_JSON, "Private-Token: t2", "{\"a\":1}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "args.a"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "token"), "t2");
    cJSON_Delete(j);
    j = fc_call(&fx, "PUT", url, HDR_FORM, NULL, "name=a%20b&x=1", &st);
    ASSERT_STR_EQ(fc_jstr(j, "method"), "PUT");
    ASSERT_STR_EQ(fc_jstr(j, "args.name"), "a b");
    cJSON_Delete(j);
    j = fc_call(&fx, "DELETE", url, NULL, NULL, NULL, &st);
    ASSERT_STR_EQ(fc_jstr(j, "method"), "DELETE");
    cJSON_Delete(j);
    j = fc_call(&fx, "POST", url, HDR_JSON, NULL, "{\"a\":", &st);
    ASSERT(cJSON_IsNull(fc_jpath(j, "args")));
    cJSON_Delete(j);

    snprintf(url, sizeof(url), "%s/other", fake_http_url(h));
    ASSERT_EQ(fc_call_status(&fx, "GET", url, NULL, NULL, NULL), 404);

    ASSERT_EQ(calls, 5);
    ASSERT_EQ(fake_http_count(h, NULL), 6);
    ASSERT_EQ(fake_http_count(h, "POST /api/things"), 2);
    ASSERT_EQ(fake_http_count(h, "/api/**"), 5);
    const struct fake_http_request *r = fake_http_request(h, "POST /api/things", 0);
    ASSERT_STR_EQ(r->body, "{\"a\":1}");
    ASSERT_STR_EQ(fake_http_header(r, "Content-Type"), "application/json");
    ASSERT_STR_EQ(fake_http_header(r, "private-token"), "t2");
    ASSERT_EQ(r->status, 201);
    ASSERT(r->t_us > 0 && r->answered_us >= r->t_us);
    ASSERT_CONTAINS(r->resp_body, "\"method\":\"POST\"");
    r = fake_http_request(h, NULL, 0);
    ASSERT_STR_EQ(fake_http_arg(r, "ids[]", 0), "a");
    ASSERT_NULL(fake_http_arg(r, "ids[]", 2));
    ASSERT_STR_EQ(fake_http_last(h, NULL)->path, "/other");
    ASSERT_EQ(fake_http_answered(h), 6);
    fake_http_destroy(h);
    fc_end(&fx);
}

TEST(fake_http_fail_and_delay_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    int calls = 0;
    struct fake_http *h = echo_server(&fx, &calls);
    fake_http_fail(h, "POST /a", 2, 429, NULL, "{\"slow\":\"down\"}", 3);
    fake_http_fail(h, "POST /a", 1, 500, "text/html", "<h1>oops</h1>", 0);
    fake_http_fail(h, "GET /gone", 1, 0, NULL, NULL, 0);
    char url[128];
    snprintf(url, sizeof(url), "%s/a", fake_http_url(h));
    struct fc_http r = { .method = "POST", .url = url, .hdrs = { HDR_JSON }, .body = "{}" };
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "3");
    ASSERT_STR_EQ(r.resp.data, "{\"slow\":\"down\"}");
    fc_http_done(&r);
    ASSERT_EQ(fc_http_status(&fx, &r), 429);
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 500);
    ASSERT_STR_EQ(r.retry_after, "");
    fc_http_done(&r);
    ASSERT_EQ(fc_http_status(&fx, &r), 201);
    ASSERT_EQ(calls, 1);    /* failed requests never reach the handler */
    ASSERT(fake_http_request(h, "POST /a", 0)->failed);
    ASSERT(!fake_http_request(h, "POST /a", 3)->failed);

    snprintf(url, sizeof(url), "%s/gone", fake_http_url(h));
    struct fc_http g = { .method = "GET", .url = url };
    fc_http_raw(&fx, &g);
    ASSERT_EQ(g.status, -1);     /* dropped: curl sees an empty reply */
    fc_http_done(&g);
    ASSERT_EQ(fc_http_status(&fx, &g), 201);

    /* delay: the handler runs at once, the answer comes ms later */
    fake_http_delay(h, "POST /a", 1, 700);
    snprintf(url, sizeof(url), "%s/a", fake_http_url(h));
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 201);
    ASSERT_GE(r.ms, 650);
    fc_http_done(&r);
    const struct fake_http_request *d = fake_http_last(h, "POST /a");
    ASSERT_EQ(d->delay_ms, 700);
    ASSERT_GE(d->answered_us - d->t_us, 650000);
    fc_http_raw(&fx, &r);
    ASSERT_LE(r.ms, 500);
    fc_http_done(&r);
    fake_http_destroy(h);
    fc_end(&fx);
}

/* Several requests on one keep-alive connection (as the bot's curl multi
 * reuses connections): plain, delayed, failed, plain. */
struct ka {
    const char *base;
    long status[4];
    long conns;
};

static void ka_job(void *arg)
{
    struct ka *k = arg;
    CURL *c = curl_easy_init();
    struct buf b;
    buf_init(&b, 1 << 20);
    static const char *const paths[4] = { "/a", "/slow", "/bad", "/a" };
    for (int i = 0; i < 4; i++) {
        char url[160];
        snprintf(url, sizeof(url), "%s%s", k->base, paths[i]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fc_write_buf);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        k->status[i] = -1;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &k->status[i]);
        long n = 0;
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
        k->conns += n;
    }
    buf_finish(&b);
    curl_easy_cleanup(c);
}

TEST(fake_http_keepalive_with_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    int calls = 0;
    struct fake_http *h = echo_server(&fx, &calls);
    fake_http_delay(h, "/slow", 1, 300);
    fake_http_fail(h, "POST /bad", 1, 503, NULL, NULL, 1);
    struct ka k = { .base = fake_http_url(h) };
    fc_off_loop(&fx, ka_job, &k);
    ASSERT_EQ(k.status[0], 201);
    ASSERT_EQ(k.status[1], 201);
    ASSERT_EQ(k.status[2], 503);
    ASSERT_EQ(k.status[3], 201);
    ASSERT_EQ(k.conns, 1);          /* one connection for all four */
    ASSERT_EQ(calls, 3);
    ASSERT_EQ(fake_http_answered(h), 4);
    fake_http_destroy(h);
    fc_end(&fx);
}

/* A client that goes away during a delayed answer; then destroy with
 * another delayed answer still pending. */
TEST(fake_http_delay_client_gone_and_destroy_pending)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    int calls = 0;
    struct fake_http *h = echo_server(&fx, &calls);
    fake_http_delay(h, "GET /slow", 2, 1500);
    char url[128];
    snprintf(url, sizeof(url), "%s/slow", fake_http_url(h));
    struct fc_http r = { .method = "GET", .url = url, .timeout_ms = 200 };
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, -1);       /* gave up after 200 ms */
    fc_http_done(&r);
    ASSERT_EQ(calls, 1);           /* but the effect happened */
    fx_run_for(&fx, 1600);         /* the timer fires with nobody to answer */
    ASSERT_EQ(fake_http_last(h, NULL)->answered_us, 0);
    fc_http_raw(&fx, &r);          /* second delayed request, pending at destroy */
    fc_http_done(&r);
    fake_http_destroy(h);
    fc_end(&fx);
}
