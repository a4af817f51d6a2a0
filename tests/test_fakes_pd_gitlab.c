/* test_fakes_pd_gitlab: self-tests of tests/fakes/fake_http.c,
 * fake_pagerduty.c, fake_gitlab.c, the conversations/pins/delay additions
 * to fake_slack.c, and harness additions (fx_init_opts, fx_kill).  The fakes
 * run on the test thread's loop; each HTTP request is made with libcurl easy
 * on a helper thread while the test thread keeps the loop turning. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

/* Requests for the fakes' own checks: a fresh connection each, transport
 * errors allowed (a dropped connection is status -1). */
static void req_run(struct fx *fx, struct fc_http *r)
{
    r->fresh = true;
    r->may_fail = true;
    fc_http_run(fx, r);
}

#define CT_JSON "Content-Type: application/json"
#define CT_FORM "Content-Type: application/x-www-form-urlencoded"

/* ------------------------------------------------------------------ */
/* fake_http */

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
    j = fc_call(&fx, "POST", url, CT_JSON, "Private-Token: t2", "{\"a\":1}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "args.a"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "token"), "t2");
    cJSON_Delete(j);
    j = fc_call(&fx, "PUT", url, CT_FORM, NULL, "name=a%20b&x=1", &st);
    ASSERT_STR_EQ(fc_jstr(j, "method"), "PUT");
    ASSERT_STR_EQ(fc_jstr(j, "args.name"), "a b");
    cJSON_Delete(j);
    j = fc_call(&fx, "DELETE", url, NULL, NULL, NULL, &st);
    ASSERT_STR_EQ(fc_jstr(j, "method"), "DELETE");
    cJSON_Delete(j);
    j = fc_call(&fx, "POST", url, CT_JSON, NULL, "{\"a\":", &st);
    ASSERT(cJSON_IsNull(fc_jpath(j, "args")));
    cJSON_Delete(j);

    snprintf(url, sizeof(url), "%s/other", fake_http_url(h));
    j = fc_call(&fx, "GET", url, NULL, NULL, NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);

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
    struct fake_http *h = fake_http_create(&fx.loop, 0, "t");
    int calls = 0;
    fake_http_route(h, NULL, "/", echo_handler, &calls);
    fake_http_fail(h, "POST /a", 2, 429, NULL, "{\"slow\":\"down\"}", 3);
    fake_http_fail(h, "POST /a", 1, 500, "text/html", "<h1>oops</h1>", 0);
    fake_http_fail(h, "GET /gone", 1, 0, NULL, NULL, 0);
    char url[128];
    snprintf(url, sizeof(url), "%s/a", fake_http_url(h));
    struct fc_http r = { .method = "POST", .url = url, .hdrs = { CT_JSON }, .body = "{}" };
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "3");
    ASSERT_STR_EQ(r.resp.data, "{\"slow\":\"down\"}");
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 429);
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 500);
    ASSERT_STR_EQ(r.retry_after, "");
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 201);
    fc_http_done(&r);
    ASSERT_EQ(calls, 1);    /* failed requests never reach the handler */
    ASSERT(fake_http_request(h, "POST /a", 0)->failed);
    ASSERT(!fake_http_request(h, "POST /a", 3)->failed);

    snprintf(url, sizeof(url), "%s/gone", fake_http_url(h));
    struct fc_http g = { .method = "GET", .url = url };
    req_run(&fx, &g);
    ASSERT_EQ(g.status, -1);     /* dropped: curl sees an empty reply */
    fc_http_done(&g);
    req_run(&fx, &g);
    ASSERT_EQ(g.status, 201);
    fc_http_done(&g);

    /* delay: the handler runs at once, the answer comes ms later */
    fake_http_delay(h, "POST /a", 1, 700);
    snprintf(url, sizeof(url), "%s/a", fake_http_url(h));
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 201);
    ASSERT_GE(r.ms, 650);
    fc_http_done(&r);
    const struct fake_http_request *d = fake_http_last(h, "POST /a");
    ASSERT_EQ(d->delay_ms, 700);
    ASSERT_GE(d->answered_us - d->t_us, 650000);
    req_run(&fx, &r);
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
    struct fake_http *h = fake_http_create(&fx.loop, 0, "t");
    int calls = 0;
    fake_http_route(h, NULL, "/", echo_handler, &calls);
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
static void short_job(void *arg)
{
    struct fc_http *r = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 200L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fc_write_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->resp);
    r->status = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
    curl_easy_cleanup(c);
}

TEST(fake_http_delay_client_gone_and_destroy_pending)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    struct fake_http *h = fake_http_create(&fx.loop, 0, "t");
    int calls = 0;
    fake_http_route(h, NULL, "/", echo_handler, &calls);
    fake_http_delay(h, "GET /slow", 2, 1500);
    char url[128];
    snprintf(url, sizeof(url), "%s/slow", fake_http_url(h));
    struct fc_http r = { .method = "GET", .url = url };
    buf_init(&r.resp, 1 << 20);
    fc_off_loop(&fx, short_job, &r);
    ASSERT_EQ(r.status, -1);       /* gave up after 200 ms */
    ASSERT_EQ(calls, 1);           /* but the effect happened */
    fx_run_for(&fx, 1600);         /* the timer fires with nobody to answer */
    ASSERT_EQ(fake_http_last(h, NULL)->answered_us, 0);
    fc_off_loop(&fx, short_job, &r);  /* second delayed request, pending at destroy */
    buf_finish(&r.resp);
    fake_http_destroy(h);
    fc_end(&fx);
}

/* ------------------------------------------------------------------ */
/* fake_pagerduty */

static cJSON *pd_event(struct fx *fx, const char *body, long *st)
{
    return fc_call(fx, "POST", fake_pagerduty_events_url(fx->pd), CT_JSON, NULL, body, st);
}

#define RK "\"routing_key\":\"" FAKE_PD_ROUTING_KEY "\""
#define TRIG(key) "{" RK ",\"event_action\":\"trigger\",\"dedup_key\":\"" key "\",\"payload\":{\"summary\":\"SIRT-1 leak\"," \
                  "\"source\":\"sirtbot\",\"severity\":\"critical\"}}"

TEST(fake_pd_events_validation)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    ASSERT_NULL(fx.gitlab);
    long st;
    static const struct {
        const char *body, *err;
    } bad[] = {
        { "{\"routing_key\":\"short\",\"event_action\":\"trigger\"}",
          "Length of 'routing_key' is incorrect (should be 32 characters)" },
        { "{\"event_action\":\"trigger\"}", "'routing_key' is missing or blank" },
        { "{" RK ",\"event_action\":\"page\"}", NULL },
        { "{" RK ",\"event_action\":\"trigger\",\"payload\":{\"source\":\"s\",\"severity\":\"critical\"}}",
          "'payload.summary' is missing or blank" },
        { "{" RK ",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"x\",\"severity\":\"critical\"}}",
          "'payload.source' is missing or blank" },
        { "{" RK ",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"x\",\"source\":\"s\",\"severity\":\"high\"}}",
          NULL },
        { "{" RK ",\"event_action\":\"resolve\"}", "'dedup_key' is missing or blank" },
        { "{" RK ",\"event_action\":\"acknowledge\",\"dedup_key\":\"\"}", "'dedup_key' is missing or blank" },
        { "not json", NULL },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        cJSON *j = pd_event(&fx, bad[i].body, &st);
        ASSERT_EQ(st, 400);
        ASSERT_STR_EQ(fc_jstr(j, "status"), "invalid event");
        ASSERT_STR_EQ(fc_jstr(j, "message"), "Event object is invalid");
        ASSERT_NOT_NULL(fc_jstr(j, "errors.0"));
        if (bad[i].err)
            ASSERT_STR_EQ(fc_jstr(j, "errors.0"), bad[i].err);
        cJSON_Delete(j);
    }
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    ASSERT_EQ(fake_http_count(fake_pagerduty_http(fx.pd), "POST /v2/enqueue"), ARRAY_LEN(bad));

    /* trigger without dedup_key: one is generated */
    cJSON *j = pd_event(&fx, "{" RK ",\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"x\","
                             "\"severity\":\"info\"}}", &st);
    ASSERT_EQ(st, 202);
    ASSERT_STR_EQ(fc_jstr(j, "status"), "success");
    ASSERT_STR_EQ(fc_jstr(j, "message"), "Event processed");
    const char *key = fc_jstr(j, "dedup_key");
    ASSERT_NOT_NULL(key);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, key), "triggered");
    ASSERT_STR_EQ(fake_pagerduty_event(fx.pd, 0)->dedup_key, key);
    cJSON_Delete(j);
    fc_end(&fx);
}

TEST(fake_pd_dedup_incidents)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    long st;
    cJSON *j = pd_event(&fx, TRIG("sirt-1"), &st);
    ASSERT_EQ(st, 202);
    ASSERT_STR_EQ(fc_jstr(j, "dedup_key"), "sirt-1");
    cJSON_Delete(j);
    cJSON_Delete(pd_event(&fx, TRIG("sirt-1"), &st));   /* same open incident: an alert on it */
    ASSERT_EQ(st, 202);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 2);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(fake_pagerduty_incident_by_key(fx.pd, "sirt-1")->alerts, 2);
    ASSERT(fake_pagerduty_event(fx.pd, 0)->new_incident);
    ASSERT(!fake_pagerduty_event(fx.pd, 1)->new_incident);
    ASSERT_STR_EQ(fake_pagerduty_incident(fx.pd, 0)->summary, "SIRT-1 leak");
    ASSERT_STR_EQ(fake_pagerduty_incident(fx.pd, 0)->severity, "critical");

    cJSON_Delete(pd_event(&fx, TRIG("sirt-2"), &st));
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);
    cJSON_Delete(pd_event(&fx, "{" RK ",\"event_action\":\"acknowledge\",\"dedup_key\":\"sirt-1\"}", &st));
    ASSERT_EQ(st, 202);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "sirt-1"), "acknowledged");
    cJSON_Delete(pd_event(&fx, TRIG("sirt-1"), &st));   /* acknowledged is still open */
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);
    cJSON_Delete(pd_event(&fx, "{" RK ",\"event_action\":\"resolve\",\"dedup_key\":\"sirt-1\"}", &st));
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "sirt-1"), "resolved");
    cJSON_Delete(pd_event(&fx, "{" RK ",\"event_action\":\"resolve\",\"dedup_key\":\"nothing\"}", &st));
    ASSERT_EQ(st, 202);                                  /* accepted, no effect */
    ASSERT_NULL(fake_pagerduty_incident_state(fx.pd, "nothing"));
    cJSON_Delete(pd_event(&fx, TRIG("sirt-1"), &st));   /* after resolve: a new incident */
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 3);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "sirt-1"), "triggered");
    ASSERT_STR_EQ(fake_pagerduty_incident(fx.pd, 0)->state, "resolved");

    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 8);
    ASSERT_STR_EQ(fc_jstr(fake_pagerduty_last_event(fx.pd), "event_action"), "trigger");
    ASSERT_STR_EQ(fc_jstr(fake_pagerduty_event_json(fx.pd, 3), "event_action"), "acknowledge");
    ASSERT_STR_EQ(fc_jstr(fake_pagerduty_event_json(fx.pd, 0), "payload.source"), "sirtbot");
    ASSERT_NULL(fake_pagerduty_event_json(fx.pd, 8));
    ASSERT(fake_pagerduty_event_time_us(fx.pd, 0) > 0);
    ASSERT(fake_pagerduty_event_time_us(fx.pd, 7) >= fake_pagerduty_event_time_us(fx.pd, 0));
    ASSERT_EQ(fake_pagerduty_event_time_us(fx.pd, 8), 0);
    fc_end(&fx);
}

TEST(fake_pd_oncalls)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    char url[512];
    snprintf(url, sizeof(url), "%s/oncalls?schedule_ids%%5B%%5D=PSCHED1&include%%5B%%5D=users&earliest=true",
             fake_pagerduty_url(fx.pd));
    long st;
    cJSON *j = fc_call(&fx, "GET", url, NULL, NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    ASSERT_STR_EQ(fc_jstr(j, "error.message"), "Unauthenticated");
    ASSERT_EQ(fc_jnum(j, "error.code"), 2006);
    cJSON_Delete(j);
    j = fc_call(&fx, "GET", url, "Authorization: Token token=wrong", NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    cJSON_Delete(j);

    const char *auth = "Authorization: Token token=" FAKE_PD_API_TOKEN;
    const char *accept = "Accept: application/vnd.pagerduty+json;version=2";
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 1);
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.id"), "PSECOPS01");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.type"), "user");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.email"), "secops@example.com");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.name"), "secops");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.summary"), "secops");
    ASSERT_NOT_NULL(fc_jstr(j, "oncalls.0.user.time_zone"));
    ASSERT_NOT_NULL(fc_jstr(j, "oncalls.0.user.html_url"));
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.schedule.id"), "PSCHED1");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.schedule.type"), "schedule_reference");
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.escalation_policy.type"), "escalation_policy_reference");
    ASSERT_EQ(fc_jnum(j, "oncalls.0.escalation_level"), 1);
    ASSERT_NOT_NULL(fc_jstr(j, "oncalls.0.start"));
    ASSERT_NOT_NULL(fc_jstr(j, "oncalls.0.end"));
    ASSERT_EQ(fc_jnum(j, "limit"), 25);
    ASSERT_EQ(fc_jnum(j, "offset"), 0);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "more")));
    ASSERT(cJSON_IsNull(fc_jpath(j, "total")));
    cJSON_Delete(j);
    const struct fake_http_request *r = fake_http_last(fake_pagerduty_http(fx.pd), "GET /oncalls");
    ASSERT_STR_EQ(fake_http_header(r, "accept"), "application/vnd.pagerduty+json;version=2");
    ASSERT_STR_EQ(fake_http_arg(r, "schedule_ids[]", 0), "PSCHED1");

    /* without include[]=users: a user_reference; other schedules filtered */
    fake_pagerduty_set_oncall(fx.pd, "PSCHED2", "PALICE01", "alice", "alice@example.com");
    snprintf(url, sizeof(url), "%s/oncalls?schedule_ids[]=PSCHED2", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, NULL, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 1);
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.type"), "user_reference");
    ASSERT_NULL(fc_jstr(j, "oncalls.0.user.email"));
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/oncalls", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, NULL, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 2);
    cJSON_Delete(j);
    fake_pagerduty_clear_oncall(fx.pd, "PSCHED1");
    snprintf(url, sizeof(url), "%s/oncalls?schedule_ids[]=PSCHED1", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, NULL, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 0);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/users", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, NULL, NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);
    fc_end(&fx);
}

TEST(fake_pd_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 429, 5);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 500, 0);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 400, 0);
    struct fc_http r = { .method = "POST", .url = fake_pagerduty_events_url(fx.pd), .hdrs = { CT_JSON }, .body = TRIG("k") };
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "5");
    ASSERT_CONTAINS(r.resp.data, "throttle event");
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 500);
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.resp.data, "invalid event");
    fc_http_done(&r);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);   /* failures have no effect */
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 202);
    fc_http_done(&r);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);

    fake_pagerduty_delay(fx.pd, FAKE_PD_ENQUEUE, 1, 600);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 202);
    ASSERT_GE(r.ms, 550);
    fc_http_done(&r);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 2);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);

    char url[256];
    snprintf(url, sizeof(url), "%s/oncalls", fake_pagerduty_url(fx.pd));
    fake_pagerduty_fail(fx.pd, FAKE_PD_ONCALLS, 1, 429, 2);
    struct fc_http o = { .method = "GET", .url = url, .hdrs = { "Authorization: Token token=" FAKE_PD_API_TOKEN } };
    req_run(&fx, &o);
    ASSERT_EQ(o.status, 429);
    ASSERT_STR_EQ(o.retry_after, "2");
    ASSERT_CONTAINS(o.resp.data, "\"code\":2020");
    fc_http_done(&o);
    req_run(&fx, &o);
    ASSERT_EQ(o.status, 200);
    fc_http_done(&o);
    fc_end(&fx);
}

/* ------------------------------------------------------------------ */
/* fake_gitlab */

#define GLTOK "PRIVATE-TOKEN: " FAKE_GITLAB_TOKEN

static cJSON *gl(struct fx *fx, const char *method, const char *path, const char *body, long *st)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/api/v4%s", fake_gitlab_url(fx->gitlab), path);
    return fc_call(fx, method, url, GLTOK, body ? CT_JSON : NULL, body, st);
}

TEST(fake_gitlab_auth_projects_namespaces)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    ASSERT_NULL(fx.pd);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/namespaces/42", fake_gitlab_url(fx.gitlab));
    long st;
    cJSON *j = fc_call(&fx, "GET", url, NULL, NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "401 Unauthorized");
    cJSON_Delete(j);
    j = fc_call(&fx, "GET", url, "PRIVATE-TOKEN: glpat-wrong", NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    cJSON_Delete(j);
    j = fc_call(&fx, "GET", url, "Authorization: Bearer " FAKE_GITLAB_TOKEN, NULL, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "full_path"), "security/incidents");
    ASSERT_STR_EQ(fc_jstr(j, "path"), "incidents");
    ASSERT_STR_EQ(fc_jstr(j, "kind"), "group");
    ASSERT_EQ(fc_jnum(j, "id"), 42);
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/namespaces/security%2Fincidents", NULL, &st);
    ASSERT_EQ(fc_jnum(j, "id"), 42);
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/namespaces/7", NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);

    j = gl(&fx, "POST", "/projects", "{\"name\":\"SIRT-1 abc\",\"path\":\"sirt-1-abc\",\"namespace_id\":42,"
                                     "\"visibility\":\"private\",\"description\":\"d\"}", &st);
    ASSERT_EQ(st, 201);
    int pid = (int)fc_jnum(j, "id");
    ASSERT(pid > 0);
    ASSERT_STR_EQ(fc_jstr(j, "path_with_namespace"), "security/incidents/sirt-1-abc");
    char want[256];
    snprintf(want, sizeof(want), "%s/security/incidents/sirt-1-abc", fake_gitlab_url(fx.gitlab));
    ASSERT_STR_EQ(fc_jstr(j, "web_url"), want);
    ASSERT_STR_EQ(fc_jstr(j, "visibility"), "private");
    ASSERT_STR_EQ(fc_jstr(j, "namespace.full_path"), "security/incidents");
    ASSERT_EQ(fc_jnum(j, "namespace.id"), 42);
    cJSON_Delete(j);
    j = gl(&fx, "POST", "/projects", "{\"name\":\"other\",\"path\":\"sirt-1-abc\",\"namespace_id\":42}", &st);
    ASSERT_EQ(st, 400);
    ASSERT_STR_EQ(fc_jstr(j, "message.path.0"), "has already been taken");
    ASSERT_STR_EQ(fc_jstr(j, "message.name.0"), "has already been taken");
    cJSON_Delete(j);
    /* form-encoded, and the same path in another namespace is fine */
    fake_gitlab_add_namespace(fx.gitlab, 43, "security/other");
    char url2[256];
    snprintf(url2, sizeof(url2), "%s/api/v4/projects", fake_gitlab_url(fx.gitlab));
    j = fc_call(&fx, "POST", url2, GLTOK, CT_FORM, "name=SIRT-1%20abc&path=sirt-1-abc&namespace_id=43", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "path_with_namespace"), "security/other/sirt-1-abc");
    ASSERT_STR_EQ(fc_jstr(j, "visibility"), "private");
    cJSON_Delete(j);
    j = gl(&fx, "POST", "/projects", "{\"namespace_id\":42}", &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);
    j = gl(&fx, "POST", "/projects", "{\"name\":\"x\",\"visibility\":\"secret\",\"namespace_id\":42}", &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);

    char path[128];
    snprintf(path, sizeof(path), "/projects/%d", pid);
    j = gl(&fx, "GET", path, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "path"), "sirt-1-abc");
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/projects/security%2Fincidents%2Fsirt-1-abc", NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "id"), pid);
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/projects/security%2Fincidents%2Fnope", NULL, &st);
    ASSERT_EQ(st, 404);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "404 Project Not Found");
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/projects/999", NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/nothing/here", NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);

    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_project(fx.gitlab, 0), "description"), "d");
    ASSERT_EQ(fc_jnum(fake_gitlab_project_by_path(fx.gitlab, "security/other/sirt-1-abc"), "namespace.id"), 43);
    ASSERT_NOT_NULL(fake_gitlab_project_by_id(fx.gitlab, pid));
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects"), 5);
    /* the path form of :id is recorded under the numeric id */
    snprintf(want, sizeof(want), "GET /projects/%d", pid);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, want), 2);
    const struct fake_http_request *c = fake_gitlab_call(fx.gitlab, "POST /projects", 0);
    ASSERT_STR_EQ(fake_http_header(c, "private-token"), FAKE_GITLAB_TOKEN);
    ASSERT_EQ(c->status, 201);
    ASSERT_CONTAINS(c->body, "sirt-1-abc");
    fc_end(&fx);
}

TEST(fake_gitlab_issues_members_notes)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    long st;
    cJSON *j = gl(&fx, "POST", "/projects", "{\"name\":\"p\",\"path\":\"sirt-2-x\",\"namespace_id\":42}", &st);
    int pid = (int)fc_jnum(j, "id");
    cJSON_Delete(j);
    char p[160];
    snprintf(p, sizeof(p), "/projects/%d/issues", pid);
    j = gl(&fx, "POST", p, "{\"title\":\"SIRT-2: token leak\",\"description\":\"Found a glpat token\","
                           "\"confidential\":true,\"labels\":\"severity::1, priority::2\"}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "iid"), 1);
    ASSERT_EQ(fc_jnum(j, "project_id"), pid);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "confidential")));
    ASSERT_STR_EQ(fc_jstr(j, "labels.0"), "severity::1");
    ASSERT_STR_EQ(fc_jstr(j, "labels.1"), "priority::2");
    ASSERT_STR_EQ(fc_jstr(j, "state"), "opened");
    char want[256];
    snprintf(want, sizeof(want), "%s/security/incidents/sirt-2-x/-/issues/1", fake_gitlab_url(fx.gitlab));
    ASSERT_STR_EQ(fc_jstr(j, "web_url"), want);
    cJSON_Delete(j);
    /* by path, form-encoded */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/projects/security%%2Fincidents%%2Fsirt-2-x/issues", fake_gitlab_url(fx.gitlab));
    j = fc_call(&fx, "POST", url, GLTOK, CT_FORM, "title=second&confidential=false&labels=a,b", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "iid"), 2);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "confidential")));
    ASSERT(cJSON_IsNull(fc_jpath(j, "description")));
    cJSON_Delete(j);
    j = gl(&fx, "POST", p, "{\"description\":\"no title\"}", &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects/*/issues"), 3);

    char q[200];
    snprintf(q, sizeof(q), "%s?search=GLPAT", p);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.iid"), 1);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "%s?search=SIRT-2%%3A", p);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    ASSERT_EQ(fc_jnum(j, "0.iid"), 2);     /* newest first */
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/projects/9999/issues", NULL, &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);

    snprintf(q, sizeof(q), "%s/1", p);
    j = gl(&fx, "PUT", q, "{\"state_event\":\"close\",\"add_labels\":\"resolved\",\"remove_labels\":\"priority::2\"}",
           &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "state"), "closed");
    ASSERT_STR_EQ(fc_jstr(j, "labels.1"), "resolved");
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "labels")), 2);
    cJSON_Delete(j);
    /* Edit an issue takes its documented parameters only, and at least one. */
    j = gl(&fx, "PUT", q, "{\"add_labels\":\"severity::1\",\"severity\":1}", &st);
    ASSERT_EQ(st, 400);
    ASSERT_CONTAINS(fc_jstr(j, "error"), "severity does not have a valid value");
    cJSON_Delete(j);
    j = gl(&fx, "PUT", q, "{}", &st);
    ASSERT_EQ(st, 400);
    ASSERT_CONTAINS(fc_jstr(j, "error"), "at least one parameter must be provided");
    cJSON_Delete(j);
    j = gl(&fx, "PUT", q, "{\"state_event\":\"shut\"}", &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);
    j = gl(&fx, "PUT", q, "{\"remove_labels\":[\"resolved\"],\"add_labels\":[\"severity::1\",\"priority::2\"]}", &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "labels")), 3);
    ASSERT_STR_EQ(fc_jstr(j, "labels.2"), "priority::2");
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "%s/7", p);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(st, 404);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "404 Not found");
    cJSON_Delete(j);

    /* users and members */
    j = gl(&fx, "GET", "/users?username=alice", NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.id"), 201);
    ASSERT_STR_EQ(fc_jstr(j, "0.state"), "active");
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/users?username=mallory", NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 0);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "/projects/%d/members", pid);
    j = gl(&fx, "POST", q, "{\"user_id\":201,\"access_level\":30}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "username"), "alice");
    ASSERT_EQ(fc_jnum(j, "access_level"), 30);
    ASSERT_NULL(fc_jpath(j, "_internal_project_id"));
    cJSON_Delete(j);
    j = gl(&fx, "POST", q, "{\"user_id\":\"201\",\"access_level\":\"40\"}", &st);
    ASSERT_EQ(st, 409);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "Member already exists");
    cJSON_Delete(j);
    j = gl(&fx, "POST", q, "{\"user_id\":777,\"access_level\":30}", &st);
    ASSERT_EQ(st, 404);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "404 User Not Found");
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/api/v4/projects/%d/members", fake_gitlab_url(fx.gitlab), pid);
    j = fc_call(&fx, "POST", url, GLTOK, CT_FORM, "user_id=202&access_level=20", &st);
    ASSERT_EQ(st, 201);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "/projects/%d/members/all", pid);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    cJSON_Delete(j);
    ASSERT_EQ(fake_gitlab_member_count(fx.gitlab), 2);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 201), 30);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 203), 0);

    /* notes */
    snprintf(q, sizeof(q), "/projects/%d/issues/1/notes", pid);
    j = gl(&fx, "POST", q, "{\"body\":\"cc @em-gitaly\",\"internal\":true}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "body"), "cc @em-gitaly");
    ASSERT_STR_EQ(fc_jstr(j, "author.username"), "sirtbot");
    ASSERT_EQ(fc_jnum(j, "noteable_iid"), 1);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "internal")));
    ASSERT_NOT_NULL(fc_jstr(j, "created_at"));
    cJSON_Delete(j);
    cJSON_Delete(gl(&fx, "POST", q, "{\"body\":\"second\"}", &st));
    j = gl(&fx, "POST", q, "{}", &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    ASSERT_STR_EQ(fc_jstr(j, "0.body"), "second");   /* desc by default */
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "/projects/%d/issues/5/notes", pid);
    j = gl(&fx, "POST", q, "{\"body\":\"x\"}", &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(j);

    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue(fx.gitlab, 0), "title"), "SIRT-2: token leak");
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue_by_iid(fx.gitlab, pid, 2), "title"), "second");
    ASSERT_EQ(fake_gitlab_note_count(fx.gitlab), 2);
    ASSERT_EQ(fake_gitlab_issue_note_count(fx.gitlab, pid, 1), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue_note(fx.gitlab, pid, 1, 0), "body"), "cc @em-gitaly");
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_note(fx.gitlab, 1), "body"), "second");
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects/*/issues/*/notes"), 4);
    fc_end(&fx);
}

TEST(fake_gitlab_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    long st;
    cJSON *j = gl(&fx, "POST", "/projects", "{\"name\":\"p\",\"path\":\"sirt-3-x\",\"namespace_id\":42}", &st);
    int pid = (int)fc_jnum(j, "id");
    cJSON_Delete(j);
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 429, NULL, 4);
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 502, NULL, 0);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/projects/security%%2Fincidents%%2Fsirt-3-x/issues", fake_gitlab_url(fx.gitlab));
    struct fc_http r = { .method = "POST", .url = url, .hdrs = { GLTOK, CT_JSON }, .body = "{\"title\":\"t\"}" };
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "4");
    fc_http_done(&r);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.resp.data, "502 Bad Gateway");
    fc_http_done(&r);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 0);
    fake_gitlab_delay(fx.gitlab, "POST /projects/*/issues", 1, 600);
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 201);
    ASSERT_GE(r.ms, 550);
    fc_http_done(&r);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    char pat[64];
    snprintf(pat, sizeof(pat), "POST /projects/%d/issues", pid);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 3);
    ASSERT(fake_gitlab_call(fx.gitlab, pat, 0)->failed);
    ASSERT_EQ(fake_gitlab_call(fx.gitlab, pat, 2)->delay_ms, 600);
    fc_end(&fx);
}

/* Issue links in GitLab's documented shapes, internal notes, an issue the
 * token cannot read (fake_gitlab_links.c). */
TEST(fake_gitlab_issue_links_and_hidden)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    long st;
    const cJSON *h1 = fake_gitlab_add_issue(fx.gitlab, "hackerone/reports", "H1 #1234: SSRF", true);
    ASSERT_NOT_NULL(h1);
    int hp = (int)fc_jnum(h1, "project_id");
    ASSERT_EQ(fc_jnum(h1, "iid"), 1);
    ASSERT_NOT_NULL(fake_gitlab_project_by_path(fx.gitlab, "hackerone/reports"));
    cJSON *j = gl(&fx, "GET", "/projects/hackerone%2Freports", NULL, &st);   /* project by path */
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "id"), hp);
    cJSON_Delete(j);
    j = gl(&fx, "POST", "/projects", "{\"name\":\"p\",\"path\":\"sirt-4-x\",\"namespace_id\":42}", &st);
    int sp = (int)fc_jnum(j, "id");
    cJSON_Delete(j);
    char p[160], body[200];
    snprintf(p, sizeof(p), "/projects/%d/issues", sp);
    cJSON_Delete(gl(&fx, "POST", p, "{\"title\":\"SIRT-4\"}", &st));
    snprintf(p, sizeof(p), "/projects/%d/issues/1/links", sp);

    /* validation */
    j = gl(&fx, "POST", p, "{\"target_issue_iid\":1}", &st);
    ASSERT_EQ(st, 400);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "target_project_id is missing");
    cJSON_Delete(j);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1,\"link_type\":\"duplicates\"}", hp);
    cJSON_Delete(gl(&fx, "POST", p, body, &st));
    ASSERT_EQ(st, 400);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":9}", hp);
    j = gl(&fx, "POST", p, body, &st);
    ASSERT_EQ(st, 404);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "No Issue found for given params");
    cJSON_Delete(j);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", sp);
    cJSON_Delete(gl(&fx, "POST", p, body, &st));
    ASSERT_EQ(st, 400);   /* itself */

    /* created, by the target's path (form-encoded): {source_issue, target_issue, link_type} */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4%s", fake_gitlab_url(fx.gitlab), p);
    j = fc_call(&fx, "POST", url, GLTOK, CT_FORM, "target_project_id=hackerone%2Freports&target_issue_iid=1", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "source_issue.project_id"), sp);
    ASSERT_EQ(fc_jnum(j, "target_issue.project_id"), hp);
    ASSERT_EQ(fc_jnum(j, "target_issue.iid"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "link_type"), "relates_to");
    cJSON_Delete(j);
    ASSERT_EQ(fake_gitlab_link_count(fx.gitlab), 1);
    /* twice, from either side: 409 */
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", hp);
    j = gl(&fx, "POST", p, body, &st);
    ASSERT_EQ(st, 409);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "Issue(s) already assigned");
    cJSON_Delete(j);
    char hpath[160];
    snprintf(hpath, sizeof(hpath), "/projects/%d/issues/1/links", hp);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", sp);
    cJSON_Delete(gl(&fx, "POST", hpath, body, &st));
    ASSERT_EQ(st, 409);

    /* listed from both sides */
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.project_id"), hp);
    ASSERT_EQ(fc_jnum(j, "0.issue_link_id"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "0.link_type"), "relates_to");
    ASSERT_NOT_NULL(fc_jstr(j, "0.link_created_at"));
    cJSON_Delete(j);
    j = gl(&fx, "GET", hpath, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.project_id"), sp);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/1", hpath);
    j = gl(&fx, "GET", url, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "source_issue.project_id"), sp);
    cJSON_Delete(j);

    /* internal notes */
    snprintf(url, sizeof(url), "/projects/%d/issues/1/notes", hp);
    j = gl(&fx, "POST", url, "{\"body\":\"repro\",\"internal\":true}", &st);
    ASSERT_EQ(st, 201);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "internal")));
    cJSON_Delete(j);

    /* hidden: 404 on the issue, its notes and links, as a target, and in the other side's list */
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, true);
    snprintf(url, sizeof(url), "/projects/%d/issues/1", hp);
    j = gl(&fx, "GET", url, NULL, &st);
    ASSERT_EQ(st, 404);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "404 Not found");
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "/projects/%d/issues/1/notes", hp);
    cJSON_Delete(gl(&fx, "POST", url, "{\"body\":\"x\"}", &st));
    ASSERT_EQ(st, 404);
    cJSON_Delete(gl(&fx, "GET", hpath, NULL, &st));
    ASSERT_EQ(st, 404);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, false);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    fc_end(&fx);
}

/* ------------------------------------------------------------------ */
/* fake_slack additions */

static cJSON *slack(struct fx *fx, const char *method, const char *json, long *st)
{
    return fc_api(fx, "POST", method, XOXB, JSONT, json, st);
}

static bool ok(const cJSON *j)
{
    return cJSON_IsTrue(fc_jpath(j, "ok"));
}

TEST(fake_slack_channels_create_list_info)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    long st;
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"sirt-1-token-leak\",\"is_private\":true}", &st);
    ASSERT(ok(j));
    char id1[32];
    str_lcpy(id1, fc_jstr(j, "channel.id"), sizeof(id1));
    ASSERT_STR_EQ(fc_jstr(j, "channel.creator"), "U0BOT0001");
    ASSERT(cJSON_IsTrue(fc_jpath(j, "channel.is_private")));
    cJSON_Delete(j);
    j = slack(&fx, "conversations.create", "{\"name\":\"sirt-1-token-leak\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "name_taken");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.create", "{\"name\":\"Has Caps\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_name_specials");
    cJSON_Delete(j);
    char long_name[120];
    memset(long_name, 'a', 81);
    long_name[81] = '\0';
    char body[200];
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", long_name);
    j = slack(&fx, "conversations.create", body, &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_name_maxlength");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.create", "{}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_name_required");
    cJSON_Delete(j);
    long_name[80] = '\0';
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", long_name);
    j = slack(&fx, "conversations.create", body, &st);     /* 80 is fine, public */
    ASSERT(ok(j));
    cJSON_Delete(j);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "{\"name\":\"priv_%d\",\"is_private\":true}", i);
        cJSON_Delete(slack(&fx, "conversations.create", body, &st));
    }
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 5);
    const struct fake_channel *c = fake_slack_channel_by_name(fx.slack, "sirt-1-token-leak");
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->id, id1);
    ASSERT(c->is_private);
    ASSERT_EQ(c->n_members, 1);
    ASSERT(fake_slack_channel_has_member(c, "U0BOT0001"));
    ASSERT(fake_slack_channel_by_id(fx.slack, id1) == c);
    ASSERT(fake_slack_channel(fx.slack, 0) == c);
    ASSERT_NULL(fake_slack_channel(fx.slack, 5));

    /* list: private only, two per page */
    const char *next = "";
    int seen = 0, pages = 0;
    char cursor[64] = "";
    for (; pages < 10; pages++) {
        snprintf(body, sizeof(body), "{\"types\":\"private_channel\",\"limit\":2%s%s%s}", cursor[0] ? ",\"cursor\":\"" : "",
                 cursor, cursor[0] ? "\"" : "");
        j = slack(&fx, "conversations.list", body, &st);
        ASSERT(ok(j));
        const cJSON *ch;
        cJSON_ArrayForEach(ch, fc_jpath(j, "channels")) {
            ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "is_private")));
            seen++;
        }
        next = fc_jstr(j, "response_metadata.next_cursor");
        ASSERT_NOT_NULL(next);
        str_lcpy(cursor, next, sizeof(cursor));
        cJSON_Delete(j);
        if (!cursor[0])
            break;
    }
    ASSERT_EQ(seen, 4);
    ASSERT_EQ(pages, 1);   /* two pages: 0 and 1 */
    /* form-encoded, both types, default limit */
    j = fc_api(&fx, "POST", "conversations.list", XOXB, FORMT, "types=public_channel%2Cprivate_channel", &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "channels")), 5);
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.next_cursor"), "");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.list", "{}", &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "channels")), 1);   /* public only */
    cJSON_Delete(j);
    j = slack(&fx, "conversations.list", "{\"cursor\":\"bogus\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_cursor");
    cJSON_Delete(j);

    snprintf(body, sizeof(body), "{\"channel\":\"%s\"}", id1);
    j = slack(&fx, "conversations.info", body, &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "channel.name"), "sirt-1-token-leak");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.info", "{\"channel\":\"C0NOPE\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "channel_not_found");
    cJSON_Delete(j);
    fc_end(&fx);
}

TEST(fake_slack_invite_pins_open_lookup)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    long st;
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"sirt-2-x\",\"is_private\":true}", &st);
    char id[32], body[256];
    str_lcpy(id, fc_jstr(j, "channel.id"), sizeof(id));
    cJSON_Delete(j);

    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0REPORT1,U0SIRT001\"}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "channel.id"), id);
    cJSON_Delete(j);
    const struct fake_channel *c = fake_slack_channel_by_id(fx.slack, id);
    ASSERT_EQ(c->n_members, 3);
    ASSERT(fake_slack_channel_has_member(c, "U0SIRT001"));
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "already_in_channel");
    cJSON_Delete(j);
    /* some already in, one new: ok */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0SIRT001,U0SIRT002\"}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT(ok(j));
    cJSON_Delete(j);
    ASSERT_EQ(c->n_members, 4);
    /* the bot itself, without force: nobody is added */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0APPSEC1,U0BOT0001\"}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "cant_invite_self");
    cJSON_Delete(j);
    ASSERT(!fake_slack_channel_has_member(c, "U0APPSEC1"));
    /* with force the valid ones are added and the errors listed */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0APPSEC1,U0BOT0001,bogus\",\"force\":true}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "error"), "cant_invite_self");
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "errors")), 2);
    ASSERT_STR_EQ(fc_jstr(j, "errors.0.user"), "U0BOT0001");
    ASSERT(cJSON_IsFalse(fc_jpath(j, "errors.0.ok")));
    ASSERT_STR_EQ(fc_jstr(j, "errors.1.error"), "user_not_found");
    cJSON_Delete(j);
    ASSERT(fake_slack_channel_has_member(c, "U0APPSEC1"));
    ASSERT_EQ(c->n_members, 5);
    /* an unknown C id is accepted and remembered as seen */
    j = slack(&fx, "conversations.invite", "{\"channel\":\"C0SIRT0001\",\"users\":\"U0APPSEC2\"}", &st);
    ASSERT(ok(j));
    cJSON_Delete(j);
    const struct fake_channel *s = fake_slack_channel_by_id(fx.slack, "C0SIRT0001");
    ASSERT_NOT_NULL(s);
    ASSERT(!s->known);
    ASSERT(fake_slack_channel_has_member(s, "U0APPSEC2"));
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    fake_slack_add_channel(fx.slack, "C0SIRT0001", "sirt", false);
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 2);
    ASSERT(fake_slack_channel_by_name(fx.slack, "sirt") == s);
    j = slack(&fx, "conversations.invite", "{\"channel\":\"X1\",\"users\":\"U0APPSEC2\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "channel_not_found");
    cJSON_Delete(j);

    /* pins */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"timestamp\":\"1700000000.000100\"}", id);
    j = slack(&fx, "pins.add", body, &st);
    ASSERT(ok(j));
    cJSON_Delete(j);
    j = slack(&fx, "pins.add", body, &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "already_pinned");
    cJSON_Delete(j);
    j = slack(&fx, "pins.add", "{\"channel\":\"C1\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "no_item_specified");
    cJSON_Delete(j);
    ASSERT_EQ(fake_slack_pin_count(fx.slack), 1);
    ASSERT(fake_slack_is_pinned(fx.slack, id, "1700000000.000100"));
    ASSERT(!fake_slack_is_pinned(fx.slack, id, "1700000000.000200"));

    j = slack(&fx, "chat.update", "{\"channel\":\"C1\",\"ts\":\"1.2\",\"text\":\"new\"}", &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "text"), "new");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.open", "{\"users\":\"U0SECOPS1\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "channel.id"), "D0SECOPS1");
    cJSON_Delete(j);
    j = slack(&fx, "users.lookupByEmail", "{\"email\":\"secops@example.com\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "user.id"), "U0SECOPS1");
    cJSON_Delete(j);
    fc_end(&fx);
}

TEST(fake_slack_delay_knob)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    fake_slack_delay(fx.slack, "conversations.create", 1, 700);
    long st;
    uint64_t t0 = uv_hrtime();
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"slow\"}", &st);
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    ASSERT(ok(j));
    ASSERT_GE(ms, 650);
    cJSON_Delete(j);
    t0 = uv_hrtime();
    j = slack(&fx, "conversations.create", "{\"name\":\"fast\"}", &st);
    ASSERT_LE((uv_hrtime() - t0) / 1000000u, 500);
    cJSON_Delete(j);
    /* a GET (answered from LWS_CALLBACK_HTTP) can be delayed too */
    fake_slack_delay(fx.slack, "users.info", 1, 400);
    char url[256];
    snprintf(url, sizeof(url), "%s/users.info?user=U0APPSEC1", fake_slack_api_url(fx.slack));
    struct fc_http r = { .method = "GET", .url = url, .auth = XOXB };
    req_run(&fx, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_GE(r.ms, 350);
    ASSERT_CONTAINS(r.resp.data, "alice");
    fc_http_done(&r);

    /* the effect happens even if the client gives up; destroy with one pending */
    fake_slack_delay(fx.slack, "conversations.create", 2, 1500);
    snprintf(url, sizeof(url), "%s/conversations.create?token=xoxb-t&name=gone", fake_slack_api_url(fx.slack));
    struct fc_http g = { .method = "GET", .url = url };
    buf_init(&g.resp, 1 << 16);
    fc_off_loop(&fx, short_job, &g);
    ASSERT_EQ(g.status, -1);
    buf_finish(&g.resp);
    ASSERT_NOT_NULL(fake_slack_channel_by_name(fx.slack, "gone"));
    snprintf(url, sizeof(url), "%s/conversations.create?token=xoxb-t&name=pending", fake_slack_api_url(fx.slack));
    struct fc_http g2 = { .method = "GET", .url = url };
    buf_init(&g2.resp, 1 << 16);
    fc_off_loop(&fx, short_job, &g2);
    buf_finish(&g2.resp);
    fc_end(&fx);
}

TEST(fake_slack_send_interactive)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    ASSERT_NULL(fake_slack_send_interactive(fx.slack, NULL));   /* no socket yet */
    fc_end(&fx);
}

/* ------------------------------------------------------------------ */
/* harness: env for the bot, fx_kill and respawn */

static void write_script(struct fx *fx, const char *body)
{
    char *path = xasprintf("%s/fakebot.sh", fx->dir);
    FILE *fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    chmod(path, 0755);
    setenv("SIRTBOT_BIN", path, 1);
    free(path);
}

static bool pred_stderr(struct fx *fx, void *s)
{
    return strstr(fx_stderr_since_spawn(fx), s) != NULL;
}

TEST(harness_opts_env_and_kill_respawn)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    unsetenv("SIRTBOT_WRAPPER");
    ASSERT_NOT_NULL(fx.pd);
    ASSERT_NOT_NULL(fx.gitlab);
    write_script(&fx, "echo \"RK=$PAGERDUTY_ROUTING_KEY EV=$PAGERDUTY_EVENTS_URL API=$PAGERDUTY_API_URL"
                      " TOK=$PAGERDUTY_API_TOKEN GL=$GITLAB_URL GT=$GITLAB_TOKEN\" >&2\n"
                      "echo \"db=$SIRT_DB\" >> \"$(dirname \"$SIRT_DB\")/runs\"\n"
                      "echo started >&2\n"
                      "trap '' TERM\n"
                      "i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_stderr, "started", 5000));
    char want[512];
    snprintf(want, sizeof(want), "RK=%s EV=http://127.0.0.1:%d/v2/enqueue API=http://127.0.0.1:%d TOK=pd-test-token "
             "GL=http://127.0.0.1:%d GT=%s", FAKE_PD_ROUTING_KEY, fake_pagerduty_port(fx.pd),
             fake_pagerduty_port(fx.pd), fake_gitlab_port(fx.gitlab), FAKE_GITLAB_TOKEN);
    ASSERT_CONTAINS(fx.stderr_buf.data, want);
    ASSERT_EQ(strlen(FAKE_PD_ROUTING_KEY), 32);
    ASSERT(str_starts(FAKE_GITLAB_TOKEN, "glpat-") && strlen(FAKE_GITLAB_TOKEN) == 26);

    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(fx_kill(&fx), 128 + 9);       /* ignores SIGTERM, not SIGKILL */
    ASSERT_LE((uv_hrtime() - t0) / 1000000u, 2000);
    ASSERT(!fx.running);
    ASSERT(fx.exited);
    ASSERT_EQ(fx.term_signal, 9);
    ASSERT_EQ(fx_kill(&fx), 128 + 9);       /* again: already dead */

    /* respawn on the same dir */
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_stderr, "started", 5000));
    ASSERT_NOT_CONTAINS(fx_stderr_since_spawn(&fx), "RK=x");
    ASSERT_EQ(fx_kill(&fx), 128 + 9);
    char *runs = xasprintf("%s/runs", fx.dir);
    FILE *fp = fopen(runs, "r");
    ASSERT_NOT_NULL(fp);
    char line[512], first[512] = "";
    int n = 0;
    while (fgets(line, sizeof(line), fp) && n < 10) {
        if (n == 0)
            str_lcpy(first, line, sizeof(first));
        else
            ASSERT_STR_EQ(line, first);      /* same SIRT_DB both times */
        n++;
    }
    fclose(fp);
    free(runs);
    ASSERT_EQ(n, 2);
    fc_end(&fx);
}

TEST(harness_kill_without_child)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    ASSERT_EQ(fx_kill(&fx), -1);
    ASSERT_NULL(fx.pd);
    fc_end(&fx);
}

/* REST GET /incidents by incident_key (issue 9): token, documented shape,
 * acknowledgements only while acknowledged; Events v2 stays as it was. */
TEST(fake_pd_incidents_by_key_and_acknowledgements)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    char ev_url[160], url[256];
    snprintf(ev_url, sizeof(ev_url), "%s", fake_pagerduty_events_url(fx.pd));
    long st;
    cJSON *j = fc_call(&fx, "POST", ev_url, CT_JSON, NULL,
                    "{\"routing_key\":\"" FAKE_PD_ROUTING_KEY "\",\"event_action\":\"trigger\","
                    "\"dedup_key\":\"SIRT-1/page-2\",\"payload\":{\"summary\":\"s\",\"source\":\"x\","
                    "\"severity\":\"critical\"}}", &st);
    ASSERT_EQ(st, 202);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-1%%2Fpage-2&date_range=all",
             fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, NULL, NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    ASSERT_EQ(fc_jnum(j, "error.code"), 2006);
    cJSON_Delete(j);
    const char *auth = "Authorization: Token token=" FAKE_PD_API_TOKEN;
    const char *accept = "Accept: application/vnd.pagerduty+json;version=2";
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents")), 1);
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.type"), "incident");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.status"), "triggered");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.incident_key"), "SIRT-1/page-2");
    ASSERT_EQ(fc_jnum(j, "incidents.0.incident_number"), 1);
    ASSERT_NOT_NULL(fc_jstr(j, "incidents.0.id"));
    ASSERT_NOT_NULL(fc_jstr(j, "incidents.0.created_at"));
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.service.type"), "service_reference");
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.acknowledgements")), 0);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.assignments")), 1);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "more")));
    cJSON_Delete(j);
    /* Another key: nothing. A bad status filter: 400. */
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-9", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents")), 0);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/incidents?statuses[]=open", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_EQ(st, 400);
    cJSON_Delete(j);

    /* A responder acknowledges it. */
    ASSERT(fake_pagerduty_acknowledge(fx.pd, "SIRT-1/page-2", "PALICE01", "Alice", 1795600890));
    ASSERT(!fake_pagerduty_acknowledge(fx.pd, "SIRT-404", "PALICE01", "Alice", 1795600890));
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-1%%2Fpage-2&statuses[]=acknowledged",
             fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.status"), "acknowledged");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.at"), "2026-11-25T10:01:30Z");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.id"), "PALICE01");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.type"), "user_reference");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.summary"), "Alice");
    cJSON_Delete(j);

    /* Resolved through Events v2: no acknowledgements, no assignments. */
    j = fc_call(&fx, "POST", ev_url, CT_JSON, NULL,
             "{\"routing_key\":\"" FAKE_PD_ROUTING_KEY "\",\"event_action\":\"resolve\","
             "\"dedup_key\":\"SIRT-1/page-2\"}", &st);
    ASSERT_EQ(st, 202);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-1%%2Fpage-2", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, auth, accept, NULL, &st);
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.status"), "resolved");
    ASSERT_NOT_NULL(fc_jstr(j, "incidents.0.resolved_at"));
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.acknowledgements")), 0);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.assignments")), 0);
    cJSON_Delete(j);
    ASSERT_EQ(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1/page-2"), 4);
    fc_end(&fx);
}
