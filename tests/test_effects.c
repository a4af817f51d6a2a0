/* test_effects: every outbox effect against loopback peers: the fake Slack
 * for plain Web API calls, the scripted http_peer for GitLab, PagerDuty and
 * Slack answers the fake cannot give (conversations.list pages, invite
 * error arrays).  Checks request shapes, captures, the outcome rules, the
 * reconcile paths (name_taken, taken project, markers), that done is never
 * called from inside effect_start, and cancellation on close. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../bot/app.h"
#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/effects.h"
#include "../bot/effects_internal.h"
#include "../bot/http.h"
#include "../bot/log.h"
#include "../bot/sha256.h"
#include "../bot/slack_api.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "fakes/fake_slack.h"
#include "fakes/http_peer.h"
#include "test.h"

#define GL_TOKEN "glpat-effectstest0000001"
#define PD_KEY "e93facc04764012d7bfb002500d5d1a6"
#define JSON_HDR "Content-Type: application/json\r\n"

enum slack_mode { SLACK_FAKE, SLACK_PEER };

struct env {
    uv_loop_t loop;
    struct fake_slack *fs;
    struct http_peer *peer;      /* GitLab, PagerDuty, and Slack in SLACK_PEER mode */
    struct http_client *http;
    struct api_client *api;
    struct cfg cfg;
    struct sirt_app app;
    char *api_url;
    bool http_closed, api_closed;
};

static void env_init(struct env *e, enum slack_mode mode)
{
    memset(e, 0, sizeof(*e));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ASSERT_EQ(uv_loop_init(&e->loop), 0);
    e->peer = http_peer_create(&e->loop);
    ASSERT_NOT_NULL(e->peer);
    e->http = http_create(&e->loop);
    ASSERT_NOT_NULL(e->http);
    if (mode == SLACK_FAKE) {
        e->fs = fake_slack_create(&e->loop, 0);
        ASSERT_NOT_NULL(e->fs);
        e->api_url = xstrdup(fake_slack_api_url(e->fs));
    } else {
        e->api_url = xasprintf("%s/api", http_peer_url(e->peer));
    }
    e->api = api_create(&e->loop, e->http, e->api_url, "xoxb-test-token", NULL);
    ASSERT_NOT_NULL(e->api);
    e->cfg.gitlab_url = xasprintf("%s/", http_peer_url(e->peer));
    e->cfg.gitlab_token = xstrdup(GL_TOKEN);
    e->cfg.slack_bot_token = xstrdup("xoxb-test-token");
    e->cfg.gitlab_namespace_id = 42;
    e->cfg.pagerduty_routing_key = xstrdup(PD_KEY);
    e->cfg.pagerduty_events_url = xasprintf("%s/v2/enqueue", http_peer_url(e->peer));
    e->app.loop = &e->loop;
    e->app.cfg = &e->cfg;
    e->app.http = e->http;
    e->app.api = e->api;
    str_lcpy(e->app.bot_user_id, "U0BOT0001", sizeof(e->app.bot_user_id));
    str_lcpy(e->app.team_url, "https://fake.slack.com/", sizeof(e->app.team_url));
}

static void env_finish(struct env *e)
{
    if (!e->api_closed)
        api_close(e->api);
    if (!e->http_closed)
        http_close(e->http);
    fake_slack_destroy(e->fs);
    http_peer_destroy(e->peer);
    for (int i = 0; i < 5000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; i++)
        uv_sleep(1);
    ASSERT_EQ(uv_loop_close(&e->loop), 0);
    free(e->api_url);
    free(e->cfg.gitlab_url);
    free(e->cfg.gitlab_token);
    free(e->cfg.slack_bot_token);
    free(e->cfg.pagerduty_routing_key);
    free(e->cfg.pagerduty_events_url);
    curl_global_cleanup();
}

/* ---- running one effect ---- */

struct got {
    int calls;
    bool sync;                   /* done ran inside effect_start */
    enum effect_outcome outcome;
    char error[256];
    long retry_after_ms;
    bool maybe_sent;
    cJSON *result;               /* copy */
};

static bool in_start;

static void on_done(void *ud, const struct effect_result *r)
{
    struct got *g = ud;
    g->calls++;
    g->sync = g->sync || in_start;
    g->outcome = r->outcome;
    ASSERT_NOT_NULL(r->error);
    str_lcpy(g->error, r->error, sizeof(g->error));
    g->retry_after_ms = r->retry_after_ms;
    g->maybe_sent = r->maybe_sent;
    cJSON_Delete(g->result);
    g->result = r->result ? cJSON_Duplicate(r->result, 1) : NULL;
    if (r->outcome == EFFECT_DONE)
        ASSERT_STR_EQ(r->error, "");
}

static bool got_done(void *ud)
{
    return ((struct got *)ud)->calls > 0;
}

static void got_free(struct got *g)
{
    cJSON_Delete(g->result);
    memset(g, 0, sizeof(*g));
}

struct job_spec {
    const char *op;
    const char *payload;         /* JSON text */
    int64_t incident_id;
    bool maybe_sent;
    int64_t created_ms;
    const char *idem_key;        /* NULL: none (posts carry no metadata) */
};

static void start(struct env *e, const struct job_spec *js, const struct incident *inc, struct got *g)
{
    struct outbox_job job;
    memset(&job, 0, sizeof(job));
    job.id = 99;
    job.incident_id = js->incident_id;
    job.op = (char *)js->op;
    job.payload = (char *)js->payload;
    job.maybe_sent = js->maybe_sent;
    job.created_ms = js->created_ms ? js->created_ms : clock_now_ms();
    job.first_due_ms = job.created_ms;
    job.idem_key = (char *)js->idem_key;
    cJSON *p = cJSON_Parse(js->payload ? js->payload : "{}");
    ASSERT_NOT_NULL(p);
    memset(g, 0, sizeof(*g));
    in_start = true;
    effect_start(&e->app, &job, p, inc, on_done, g);   /* takes p */
    in_start = false;
    ASSERT_EQ(g->calls, 0);
}

static void run(struct env *e, const struct job_spec *js, const struct incident *inc, struct got *g)
{
    start(e, js, inc, g);
    ASSERT(http_peer_run_until(&e->loop, got_done, g, 8000));
    http_peer_run_until(&e->loop, NULL, NULL, 20);   /* a second done would show here */
    ASSERT_EQ(g->calls, 1);
    ASSERT(!g->sync);
}

static const char *res_str(const struct got *g, const char *path1, const char *path2)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(g->result, path1);
    if (path2)
        o = cJSON_GetObjectItemCaseSensitive(o, path2);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

static double res_num(const struct got *g, const char *path1, const char *path2)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(g->result, path1);
    if (path2)
        o = cJSON_GetObjectItemCaseSensitive(o, path2);
    return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

static cJSON *call_json(const struct env *e, const char *method, size_t idx)
{
    const struct fake_call *c = fake_slack_call(e->fs, method, idx);
    ASSERT_NOT_NULL(c);
    return c->json;
}

static const struct http_peer_request *req(const struct env *e, size_t i)
{
    const struct http_peer_request *r = http_peer_request(e->peer, i);
    ASSERT_NOT_NULL(r);
    return r;
}

static cJSON *req_body(const struct env *e, size_t i)
{
    cJSON *j = cJSON_Parse(req(e, i)->body);
    ASSERT_NOT_NULL(j);
    return j;
}

static void incident_init(struct incident *inc, int64_t id)
{
    memset(inc, 0, sizeof(*inc));
    inc->id = id;
    inc->title = "Token leak in CI logs";
    inc->severity = 1;
    inc->priority = 1;
}

/* ================================================================== */
/* pure pieces */

TEST(eff_known_ops_and_channel_url)
{
    ASSERT(effect_known("slack.create_channel"));
    ASSERT(effect_known("pd.resolve"));
    ASSERT(effect_known("gitlab.add_members"));
    ASSERT(!effect_known("slack.nope"));
    ASSERT(!effect_known(NULL));
    struct sirt_app app;
    memset(&app, 0, sizeof(app));
    ASSERT_NULL(effect_channel_url(&app, "C1"));
    str_lcpy(app.team_url, "https://acme.slack.com/", sizeof(app.team_url));
    char *u = effect_channel_url(&app, "C0123");
    ASSERT_STR_EQ(u, "https://acme.slack.com/archives/C0123");
    free(u);
    str_lcpy(app.team_url, "https://acme.slack.com", sizeof(app.team_url));
    u = effect_channel_url(&app, "C0123");
    ASSERT_STR_EQ(u, "https://acme.slack.com/archives/C0123");
    free(u);
}

static struct effect_result map_api(int err, const char *code, long status, long ra, bool mutating,
                                    char *buf, size_t n)
{
    struct api_result r;
    memset(&r, 0, sizeof(r));
    r.err = err;
    r.error = code;
    r.http_status = status;
    r.retry_after_s = ra;
    struct effect_result out;
    eff_outcome_api(&r, mutating, &out, buf, n);
    return out;
}

TEST(eff_outcome_api_rules)
{
    char b[128];
    struct effect_result o = map_api(API_OK, "", 200, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(o.error, "");
    o = map_api(API_ESLACK, "channel_not_found", 200, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(o.error, "channel_not_found");
    o = map_api(API_ESLACK, "ratelimited", 200, 12, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT_EQ(o.retry_after_ms, 12000);
    ASSERT(!o.maybe_sent);
    const char *retry[] = { "internal_error", "fatal_error", "service_unavailable", "request_timeout" };
    for (size_t i = 0; i < ARRAY_LEN(retry); i++) {
        o = map_api(API_ESLACK, retry[i], 200, -1, true, b, sizeof(b));
        ASSERT_EQ(o.outcome, EFFECT_RETRY);
        ASSERT_STR_EQ(o.error, retry[i]);
    }
    o = map_api(API_ESLACK, "internal_error", 200, -1, true, b, sizeof(b));
    ASSERT(o.maybe_sent);
    o = map_api(API_ERATELIMITED, "ratelimited", 429, 3, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT_EQ(o.retry_after_ms, 3000);
    ASSERT(!o.maybe_sent);
    o = map_api(API_ERATELIMITED, "ratelimited", 429, -1, true, b, sizeof(b));
    ASSERT_EQ(o.retry_after_ms, -1);
    o = map_api(API_EHTTP, "http_503", 503, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT(o.maybe_sent);
    ASSERT_STR_EQ(o.error, "http_503");
    o = map_api(API_EHTTP, "http_503", 503, -1, false, b, sizeof(b));
    ASSERT(!o.maybe_sent);
    o = map_api(API_EHTTP, "http_404", 404, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_FAIL);
    o = map_api(API_ENET, "timeout", 0, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT(o.maybe_sent);
    o = map_api(API_ECANCELED, "canceled", 0, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(o.error, "canceled");
    o = map_api(API_EBADJSON, "bad_json", 200, -1, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
}

static struct effect_result map_http(int err, long status, long ra, const char *body, bool mutating,
                                     char *buf, size_t n)
{
    struct http_response r;
    memset(&r, 0, sizeof(r));
    r.err = err;
    r.status = status;
    r.retry_after_s = ra;
    r.body = body ? body : "";
    r.body_len = strlen(r.body);
    r.errmsg = "";
    struct effect_result out;
    eff_outcome_http(&r, mutating, "gitlab", &out, buf, n);
    return out;
}

TEST(eff_outcome_http_rules)
{
    char b[256];
    struct effect_result o = map_http(HTTP_OK, 201, -1, "{}", true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_DONE);
    o = map_http(HTTP_OK, 202, -1, "{}", true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_DONE);
    o = map_http(HTTP_OK, 429, 7, "{\"message\":\"slow down\"}", true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT_EQ(o.retry_after_ms, 7000);
    ASSERT(!o.maybe_sent);
    o = map_http(HTTP_OK, 500, -1, "oops", true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT(o.maybe_sent);
    ASSERT_STR_EQ(o.error, "gitlab http_500");
    o = map_http(HTTP_OK, 400, -1, "{\"message\":{\"title\":[\"is too long\"]}}", true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(o.error, "gitlab http_400");
    ASSERT_CONTAINS(o.error, "is too long");
    o = map_http(HTTP_OK, 401, -1, "{\"message\":\"401 Unauthorized token=glpat-abcdefghijklmnopqrst\"}", true,
                 b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_FAIL);
    ASSERT_NOT_CONTAINS(o.error, "abcdefghijklmnopqrst");
    o = map_http(HTTP_ENET, 0, -1, NULL, true, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT(o.maybe_sent);
    o = map_http(HTTP_ETIMEDOUT, 0, -1, NULL, false, b, sizeof(b));
    ASSERT_EQ(o.outcome, EFFECT_RETRY);
    ASSERT(!o.maybe_sent);
    o = map_http(HTTP_ECANCELED, 0, -1, NULL, true, b, sizeof(b));
    ASSERT_STR_EQ(o.error, "canceled");
    ASSERT(o.maybe_sent);
}

TEST(eff_channel_name_rules)
{
    char out[81];
    eff_channel_name("SIRT-12 Token Leak!", 0, out);
    ASSERT_STR_EQ(out, "sirt-12-token-leak-");
    eff_channel_name("sirt-12-token-leak", 2, out);
    ASSERT_STR_EQ(out, "sirt-12-token-leak-2");
    eff_channel_name("sirt-12-x_y", 0, out);
    ASSERT_STR_EQ(out, "sirt-12-x_y");
    char longname[120];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    eff_channel_name(longname, 0, out);
    ASSERT_EQ(strlen(out), 80);
    eff_channel_name(longname, 2, out);
    ASSERT_EQ(strlen(out), 80);
    ASSERT(strcmp(out + 78, "-2") == 0);
    eff_channel_name(longname, 17, out);
    ASSERT_EQ(strlen(out), 80);
    ASSERT(strcmp(out + 77, "-17") == 0);
    /* a trimmed base ending in '-' does not give "--2" */
    char dash[81];
    memset(dash, 'b', 80);
    dash[77] = '-';
    dash[80] = '\0';
    eff_channel_name(dash, 2, out);
    ASSERT_STR_EQ(out + strlen(out) - 3, "b-2");
    ASSERT_EQ(strlen(out), 79);
}

TEST(eff_find_own_channel_and_markers)
{
    cJSON *chans = cJSON_Parse(
        "[{\"id\":\"C1\",\"name\":\"sirt-1-x\",\"creator\":\"U0OTHER\"},"
        "{\"id\":\"C2\",\"name\":\"sirt-1-x\",\"creator\":\"U0BOT0001\",\"is_archived\":true},"
        "{\"id\":\"C3\",\"name\":\"sirt-1-x\",\"creator\":\"U0BOT0001\"},"
        "{\"id\":\"C4\",\"name\":\"sirt-1-y\",\"creator\":\"U0BOT0001\"}]");
    const cJSON *c = eff_find_own_channel(chans, "sirt-1-x", "U0BOT0001");
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(eff_str(c, "id"), "C3");
    ASSERT_NULL(eff_find_own_channel(chans, "sirt-1-z", "U0BOT0001"));
    ASSERT_NULL(eff_find_own_channel(chans, "sirt-1-x", ""));
    cJSON_Delete(chans);

    cJSON *issues = cJSON_Parse("[{\"iid\":1,\"description\":\"other\"},"
                                "{\"iid\":2,\"description\":\"x <!-- sirt:SIRT-1:issue -->\"}]");
    const cJSON *hit = eff_find_marker(issues, "description", "sirt:SIRT-1:issue");
    ASSERT_NOT_NULL(hit);
    ASSERT_EQ(eff_int(hit, "iid"), 2);
    ASSERT_NULL(eff_find_marker(issues, "description", "sirt:SIRT-2:issue"));
    ASSERT_NULL(eff_find_marker(issues, "description", NULL));
    cJSON_Delete(issues);

    char *s = eff_with_marker("body", "m1");
    ASSERT_STR_EQ(s, "body\n\n<!-- m1 -->");
    free(s);
    s = eff_with_marker("has m1 inside", "m1");
    ASSERT_STR_EQ(s, "has m1 inside");
    free(s);
    s = eff_with_marker("plain", NULL);
    ASSERT_STR_EQ(s, "plain");
    free(s);
    char *u = eff_urlenc_cat("/projects/", "sec/incidents/sirt-1 x");
    ASSERT_STR_EQ(u, "/projects/sec%2Fincidents%2Fsirt-1%20x");
    free(u);
}

/* ================================================================== */
/* generic */

TEST(eff_unknown_op_fails_later_not_inside_start)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.teleport", .payload = "{}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "unknown op");
    got_free(&g);
    ASSERT_EQ(http_peer_count(e.peer), 0);
    env_finish(&e);
}

/* ================================================================== */
/* Slack */

TEST(eff_create_channel_captures)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct incident inc;
    incident_init(&inc, 1);
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 1,
                                .payload = "{\"name\":\"sirt-1-token-leak\",\"is_private\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "incident", "channel_name"), "sirt-1-token-leak");
    ASSERT(str_starts(res_str(&g, "incident", "channel_id"), "C"));
    ASSERT_STR_EQ(res_str(&g, "timeline", NULL), "private channel created");
    cJSON *a = call_json(&e, "conversations.create", 0);
    ASSERT_STR_EQ(eff_str(a, "name"), "sirt-1-token-leak");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "is_private")));
    ASSERT(str_starts(fake_slack_call(e.fs, "conversations.create", 0)->auth, "Bearer xoxb-"));
    got_free(&g);

    /* the incident already has a channel: nothing is created */
    inc.channel_id = "C0EXIST01";
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 1,
                                .payload = "{\"name\":\"sirt-1-token-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "incident"));
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.create"), 1);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_create_channel_name_taken_suffixes)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct incident inc;
    incident_init(&inc, 3);
    fake_slack_fail(e.fs, "conversations.create", 2, 200, "name_taken", 0);
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 3,
                                .payload = "{\"name\":\"sirt-3-leak\",\"is_private\":true}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 0);
    ASSERT(!g.maybe_sent);
    ASSERT_CONTAINS(g.error, "name_taken");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT(cJSON_IsObject(p));
    ASSERT_STR_EQ(eff_str(p, "name"), "sirt-3-leak-2");
    ASSERT_STR_EQ(eff_str(p, "base_name"), "sirt-3-leak");
    ASSERT_EQ(eff_int(p, "suffix"), 2);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "is_private")));

    /* the stored payload taken again goes to -3 */
    char *next = cJSON_PrintUnformatted(p);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 3, .payload = next }, &inc, &g);
    cJSON_free(next);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT_STR_EQ(eff_str(p, "name"), "sirt-3-leak-3");
    next = cJSON_PrintUnformatted(p);
    got_free(&g);

    /* and then it works with that name */
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 3, .payload = next }, &inc, &g);
    cJSON_free(next);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "incident", "channel_name"), "sirt-3-leak-3");
    ASSERT_STR_EQ(eff_str(call_json(&e, "conversations.create", 2), "name"), "sirt-3-leak-3");
    got_free(&g);

    /* 80-character name: the base is trimmed to fit "-2" */
    char payload[200], name[81];
    memset(name, 'q', 80);
    name[80] = '\0';
    snprintf(payload, sizeof(payload), "{\"name\":\"%s\"}", name);
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "name_taken", 0);
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 3, .payload = payload }, &inc, &g);
    p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT_EQ(strlen(eff_str(p, "name")), 80);
    ASSERT(str_starts(eff_str(p, "name") + 78, "-2"));
    got_free(&g);
    env_finish(&e);
}

static void push_json(struct env *e, int status, const char *body)
{
    http_peer_push_simple(e->peer, status, JSON_HDR, body);
}

TEST(eff_create_channel_name_taken_maybe_sent_adopts_ours)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 4);
    push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0AAA\",\"name\":\"sirt-4-a\",\"creator\":\"U0BOT0001\"}],"
                       "\"response_metadata\":{\"next_cursor\":\"dGVhbTpDMDYx\"}}");
    push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0OURS\",\"name\":\"sirt-4-leak\",\"creator\":\"U0BOT0001\","
                       "\"is_private\":true}],\"response_metadata\":{\"next_cursor\":\"\"}}");
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                .payload = "{\"name\":\"sirt-4-leak\",\"is_private\":true}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "incident", "channel_id"), "C0OURS");
    ASSERT_STR_EQ(res_str(&g, "incident", "channel_name"), "sirt-4-leak");
    ASSERT_EQ(http_peer_count(e.peer), 3);
    ASSERT_STR_EQ(req(&e, 0)->target, "/api/conversations.create");
    ASSERT_STR_EQ(req(&e, 1)->method, "GET");
    ASSERT(str_starts(req(&e, 1)->target, "/api/conversations.list?"));
    ASSERT_CONTAINS(req(&e, 1)->target, "types=private_channel");
    ASSERT_NOT_CONTAINS(req(&e, 1)->target, "cursor=");
    ASSERT_CONTAINS(req(&e, 2)->target, "cursor=dGVhbTpDMDYx");
    got_free(&g);
    env_finish(&e);
}

TEST(eff_create_channel_name_taken_maybe_sent_not_ours_suffixes)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 4);
    push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0THEIRS\",\"name\":\"sirt-4-leak\",\"creator\":\"U0HUMAN\"}]}");
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(!g.maybe_sent);
    ASSERT_EQ(g.retry_after_ms, 0);
    ASSERT_STR_EQ(res_str(&g, "payload", "name"), "sirt-4-leak-2");
    got_free(&g);

    /* listing not allowed (missing scope): still a fresh name, not a stuck job */
    push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    push_json(&e, 200, "{\"ok\":false,\"error\":\"missing_scope\"}");
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(res_str(&g, "payload", "name"), "sirt-4-leak-2");
    got_free(&g);

    /* listing rate limited: retry the whole job later */
    push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    http_peer_push_simple(e.peer, 429, JSON_HDR "Retry-After: 4\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}");
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 4000);
    ASSERT(g.maybe_sent);        /* the job came in maybe_sent and nothing settled it */
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "payload"));
    got_free(&g);
    env_finish(&e);
}

TEST(eff_create_channel_errors)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct got g;
    const struct job_spec js = { .op = "slack.create_channel", .incident_id = 5, .payload = "{\"name\":\"sirt-5-x\"}" };
    fake_slack_fail(e.fs, "conversations.create", 1, 429, NULL, 9);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 9000);
    ASSERT(!g.maybe_sent);
    got_free(&g);
    fake_slack_fail(e.fs, "conversations.create", 1, 500, NULL, 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    ASSERT_STR_EQ(g.error, "http_500");
    got_free(&g);
    fake_slack_fail(e.fs, "conversations.create", 1, 400, NULL, 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    got_free(&g);
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "restricted_action", 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "restricted_action");
    got_free(&g);
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "ratelimited", 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    got_free(&g);
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "internal_error", 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .payload = "{}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "bad payload");
    got_free(&g);
    env_finish(&e);
}

TEST(eff_invite)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct incident inc;
    incident_init(&inc, 6);
    struct got g;
    const char *pl = "{\"users\":[\"U0REP0001\",\"U0BOT0001\",\"U0SIRT001\",\"U0REP0001\"]}";
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for incident channel");
    ASSERT(!g.maybe_sent);
    ASSERT_EQ(fake_slack_call_count(e.fs, NULL), 0);
    got_free(&g);

    inc.channel_id = "C0INC0006";
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *a = call_json(&e, "conversations.invite", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0INC0006");
    ASSERT_STR_EQ(eff_str(a, "users"), "U0REP0001,U0SIRT001");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "force")));
    ASSERT_STR_EQ(res_str(&g, "timeline", NULL), "invited <@U0REP0001>, <@U0SIRT001>");
    got_free(&g);

    fake_slack_fail(e.fs, "conversations.invite", 1, 200, "already_in_channel", 0);
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    got_free(&g);

    fake_slack_fail(e.fs, "conversations.invite", 1, 200, "is_archived", 0);
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "is_archived");
    got_free(&g);

    /* only the bot itself: nothing to call */
    size_t before = fake_slack_call_count(e.fs, NULL);
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = "{\"users\":[\"U0BOT0001\"]}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(fake_slack_call_count(e.fs, NULL), before);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_invite_per_user_errors)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 6);
    inc.channel_id = "C0INC0006";
    struct got g;
    const char *pl = "{\"users\":[\"U1\",\"U2\"]}";
    push_json(&e, 200, "{\"ok\":false,\"error\":\"already_in_channel\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
                       "\"error\":\"already_in_channel\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"already_in_channel\"}]}");
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    got_free(&g);
    push_json(&e, 200, "{\"ok\":false,\"error\":\"already_in_channel\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
                       "\"error\":\"already_in_channel\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"user_disabled\"}]}");
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "user_disabled");
    got_free(&g);
    /* force=true: U1 was invited, U2 could not be: done, with the error listed */
    push_json(&e, 200, "{\"ok\":false,\"error\":\"user_not_found\",\"errors\":[{\"user\":\"U2\",\"ok\":false,"
                       "\"error\":\"user_not_found\"}]}");
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "timeline", NULL), "invited <@U1>");
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "invited")), 1);
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(g.result, "errors")));
    got_free(&g);
    /* nobody could be invited: fail with the per-user code */
    push_json(&e, 200, "{\"ok\":false,\"error\":\"user_not_found\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
                       "\"error\":\"user_not_found\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"user_not_found\"}]}");
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "user_not_found");
    got_free(&g);
    push_json(&e, 200, "{\"ok\":true,\"channel\":{\"id\":\"C0INC0006\"},\"errors\":[{\"user\":\"U2\",\"ok\":false,"
                       "\"error\":\"user_not_found\"}]}");
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(g.result, "errors")));
    got_free(&g);
    env_finish(&e);
}

TEST(eff_post_pin_and_default_channel)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct incident inc;
    incident_init(&inc, 7);
    struct got g;
    const char *pl = "{\"text\":\"summary\",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
                     "\"text\":\"s\"}}],\"pin\":true}";
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for incident channel");
    got_free(&g);

    inc.channel_id = "C0INC0007";
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "channel", NULL), "C0INC0007");
    const char *ts = res_str(&g, "ts", NULL);
    ASSERT_NOT_NULL(ts);
    cJSON *a = call_json(&e, "chat.postMessage", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0INC0007");
    ASSERT_STR_EQ(eff_str(a, "text"), "summary");
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(a, "blocks")));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(a, "pin"));
    cJSON *pin = call_json(&e, "pins.add", 0);
    ASSERT_STR_EQ(eff_str(pin, "channel"), "C0INC0007");
    ASSERT_STR_EQ(eff_str(pin, "timestamp"), ts);
    got_free(&g);

    /* explicit channel and thread, already pinned is fine */
    fake_slack_fail(e.fs, "pins.add", 1, 200, "already_pinned", 0);
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 7,
                                .payload = "{\"channel\":\"C0OTHER\",\"text\":\"t\",\"thread_ts\":\"1.2\",\"pin\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    a = call_json(&e, "chat.postMessage", 1);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0OTHER");
    ASSERT_STR_EQ(eff_str(a, "thread_ts"), "1.2");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    got_free(&g);

    /* a failed pin after a posted message is still done (no double post) */
    fake_slack_fail(e.fs, "pins.add", 1, 200, "not_pinnable", 0);
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "pin_error", NULL), "not_pinnable");
    got_free(&g);
    env_finish(&e);
}

TEST(eff_post_outcomes)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct got g;
    const struct job_spec js = { .op = "slack.post", .payload = "{\"channel\":\"C0X\",\"text\":\"hi\"}" };
    fake_slack_fail(e.fs, "chat.postMessage", 1, 429, NULL, 3);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 3000);
    ASSERT(!g.maybe_sent);
    got_free(&g);
    fake_slack_fail(e.fs, "chat.postMessage", 1, 502, NULL, 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);
    fake_slack_fail(e.fs, "chat.postMessage", 1, 200, "channel_not_found", 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "channel_not_found");
    got_free(&g);
    fake_slack_fail(e.fs, "chat.postMessage", 1, 200, "service_unavailable", 0);
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    got_free(&g);
    /* a job that came in maybe_sent stays maybe_sent when a retry does not settle it */
    fake_slack_fail(e.fs, "chat.postMessage", 1, 429, NULL, 1);
    run(&e, &(struct job_spec){ .op = "slack.post", .maybe_sent = true, .payload = js.payload }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.post", .payload = "{\"channel\":\"C0X\"}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_dm_ephemeral_views_response_url)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct got g;
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = "{\"user\":\"U0APPSEC1\",\"text\":\"hand off?\"}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(eff_str(call_json(&e, "conversations.open", 0), "users"), "U0APPSEC1");
    ASSERT_STR_EQ(eff_str(call_json(&e, "chat.postMessage", 0), "channel"), "D0APPSEC1");
    ASSERT_STR_EQ(res_str(&g, "channel", NULL), "D0APPSEC1");
    ASSERT_NOT_NULL(res_str(&g, "ts", NULL));
    got_free(&g);

    fake_slack_fail(e.fs, "conversations.open", 1, 200, "user_not_found", 0);
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = "{\"user\":\"U0GONE\",\"text\":\"x\"}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "user_not_found");
    got_free(&g);

    /* an optional payload "timeline" names the entry */
    run(&e, &(struct job_spec){ .op = "slack.dm",
                                .payload = "{\"user\":\"U0APPSEC2\",\"text\":\"x\",\"timeline\":\"hand-off DM sent\"}" },
        NULL, &g);
    ASSERT_STR_EQ(res_str(&g, "timeline", NULL), "hand-off DM sent");
    got_free(&g);

    run(&e, &(struct job_spec){ .op = "slack.ephemeral", .payload = "{\"channel\":\"C0PUB\",\"user\":\"U0X\",\"text\":\"e\"}" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *a = call_json(&e, "chat.postEphemeral", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0PUB");
    ASSERT_STR_EQ(eff_str(a, "user"), "U0X");
    ASSERT_NOT_NULL(res_str(&g, "message_ts", NULL));
    got_free(&g);

    run(&e, &(struct job_spec){ .op = "slack.views_open",
                                .payload = "{\"trigger_id\":\"123.456.abc\",\"view\":{\"type\":\"modal\",\"callback_id\":\"report\","
                                           "\"title\":{\"type\":\"plain_text\",\"text\":\"R\"},\"blocks\":[]}}" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(str_starts(res_str(&g, "view_id", NULL), "V"));
    a = call_json(&e, "views.open", 0);
    ASSERT_STR_EQ(eff_str(a, "trigger_id"), "123.456.abc");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(a, "view"), "callback_id"), "report");
    got_free(&g);

    /* views.open: retryable error inside 2.5 s is RETRY, after it FAIL */
    fake_slack_fail(e.fs, "views.open", 2, 200, "internal_error", 0);
    const char *vp = "{\"trigger_id\":\"1.2.3\",\"view\":{\"type\":\"modal\"}}";
    run(&e, &(struct job_spec){ .op = "slack.views_open", .payload = vp }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.views_open", .payload = vp, .created_ms = clock_now_ms() - 2600 },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "trigger_id expired");
    got_free(&g);
    size_t n = fake_slack_call_count(e.fs, "views.open");
    run(&e, &(struct job_spec){ .op = "slack.views_open", .payload = vp, .created_ms = clock_now_ms() - 60000 },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_EQ(fake_slack_call_count(e.fs, "views.open"), n);
    got_free(&g);

    /* response_url: a plain POST of the body, no token */
    char *url = xasprintf("http://127.0.0.1:%d/commands/T0/1/abc", fake_slack_port(e.fs));
    char *pl = xasprintf("{\"url\":\"%s\",\"body\":{\"text\":\"SIRT-1 exists\",\"response_type\":\"ephemeral\"}}", url);
    run(&e, &(struct job_spec){ .op = "slack.response_url", .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    const struct fake_call *c = fake_slack_call(e.fs, "response_url", 0);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->auth, "");
    ASSERT_STR_EQ(eff_str(c->json, "text"), "SIRT-1 exists");
    got_free(&g);
    fake_slack_fail(e.fs, "response_url", 1, 404, NULL, 0);
    run(&e, &(struct job_spec){ .op = "slack.response_url", .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "http_404");
    got_free(&g);
    free(pl);
    free(url);
    env_finish(&e);
}

/* ================================================================== */
/* GitLab */

static void assert_gitlab_headers(const struct http_peer_request *r)
{
    char *tok = http_peer_header(r, "PRIVATE-TOKEN");
    ASSERT_STR_EQ(tok, GL_TOKEN);
    free(tok);
    char *acc = http_peer_header(r, "Accept");
    ASSERT_STR_EQ(acc, "application/json");
    free(acc);
    char *auth = http_peer_header(r, "Authorization");
    ASSERT_NULL(auth);
    if (strcmp(r->method, "POST") == 0) {
        char *ct = http_peer_header(r, "Content-Type");
        ASSERT_STR_EQ(ct, "application/json");
        free(ct);
    }
}

#define PROJECT_JSON "{\"id\":77,\"path_with_namespace\":\"sec/incidents/sirt-8-leak\"," \
                     "\"web_url\":\"https://gitlab.example/sec/incidents/sirt-8-leak\"}"

TEST(eff_gitlab_create_project)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 8);
    push_json(&e, 201, PROJECT_JSON);
    struct got g;
    run(&e, &(struct job_spec){ .op = "gitlab.create_project", .incident_id = 8,
                                .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\",\"description\":\"d\"}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "incident", "gitlab_project_id"), 77);
    ASSERT_STR_EQ(res_str(&g, "incident", "gitlab_project_path"), "sec/incidents/sirt-8-leak");
    ASSERT_STR_EQ(res_str(&g, "incident", "gitlab_project_url"), "https://gitlab.example/sec/incidents/sirt-8-leak");
    ASSERT_NOT_NULL(res_str(&g, "timeline", NULL));
    const struct http_peer_request *r = req(&e, 0);
    ASSERT_STR_EQ(r->method, "POST");
    ASSERT_STR_EQ(r->target, "/api/v4/projects");
    assert_gitlab_headers(r);
    cJSON *b = req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "name"), "SIRT-8 leak");
    ASSERT_STR_EQ(eff_str(b, "path"), "sirt-8-leak");
    ASSERT_STR_EQ(eff_str(b, "visibility"), "private");
    ASSERT_STR_EQ(eff_str(b, "description"), "d");
    ASSERT_EQ(eff_int(b, "namespace_id"), 42);
    cJSON_Delete(b);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_gitlab_create_project_taken_adopts)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 8);
    push_json(&e, 400, "{\"message\":{\"name\":[\"has already been taken\"],\"path\":[\"has already been taken\"]}}");
    push_json(&e, 200, "{\"id\":42,\"name\":\"incidents\",\"path\":\"incidents\",\"kind\":\"group\",\"full_path\":\"sec/incidents\"}");
    push_json(&e, 200, PROJECT_JSON);
    struct got g;
    run(&e, &(struct job_spec){ .op = "gitlab.create_project", .incident_id = 8, .maybe_sent = true,
                                .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "incident", "gitlab_project_id"), 77);
    ASSERT_STR_EQ(res_str(&g, "incident", "gitlab_project_path"), "sec/incidents/sirt-8-leak");
    ASSERT_EQ(http_peer_count(e.peer), 3);
    ASSERT_STR_EQ(req(&e, 1)->method, "GET");
    ASSERT_STR_EQ(req(&e, 1)->target, "/api/v4/namespaces/42");
    assert_gitlab_headers(req(&e, 1));
    ASSERT_STR_EQ(req(&e, 2)->target, "/api/v4/projects/sec%2Fincidents%2Fsirt-8-leak");
    got_free(&g);

    /* taken by something we cannot find: fail, do not loop */
    push_json(&e, 400, "{\"message\":{\"name\":[\"has already been taken\"]}}");
    push_json(&e, 200, "{\"id\":42,\"full_path\":\"sec/incidents\"}");
    push_json(&e, 404, "{\"message\":\"404 Project Not Found\"}");
    run(&e, &(struct job_spec){ .op = "gitlab.create_project", .incident_id = 8,
                                .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    got_free(&g);

    /* already captured: no request */
    size_t n = http_peer_count(e.peer);
    inc.gitlab_project_id = 77;
    run(&e, &(struct job_spec){ .op = "gitlab.create_project", .incident_id = 8,
                                .payload = "{\"name\":\"x\",\"path\":\"x\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), n);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_gitlab_outcomes_and_disabled)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct got g;
    const struct job_spec js = { .op = "gitlab.create_project", .incident_id = 9,
                                 .payload = "{\"name\":\"n\",\"path\":\"p\"}" };
    http_peer_push_simple(e.peer, 429, JSON_HDR "Retry-After: 7\r\n", "{\"message\":\"Retry later\"}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 7000);
    ASSERT(!g.maybe_sent);
    got_free(&g);
    push_json(&e, 500, "{\"message\":\"500 Internal Server Error\"}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);
    push_json(&e, 403, "{\"message\":\"403 Forbidden\"}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "gitlab http_403: 403 Forbidden");
    got_free(&g);
    push_json(&e, 400, "{\"message\":{\"path\":[\"is invalid\"]}}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    got_free(&g);

    /* GitLab not configured */
    size_t n = http_peer_count(e.peer);
    free(e.cfg.gitlab_url);
    e.cfg.gitlab_url = NULL;
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "GITLAB_URL");
    ASSERT_EQ(http_peer_count(e.peer), n);
    got_free(&g);

    /* nobody listening: network error, maybe sent */
    e.cfg.gitlab_url = xstrdup("http://127.0.0.1:1");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_gitlab_create_issue)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 10);
    struct got g;
    const char *pl = "{\"title\":\"SIRT-10: leak\",\"description\":\"what happened\","
                     "\"labels\":\"severity::1,priority::2\",\"marker\":\"sirt:SIRT-10:issue\"}";
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 10, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for gitlab project");
    ASSERT(!g.maybe_sent);
    got_free(&g);

    inc.gitlab_project_id = 77;
    push_json(&e, 201, "{\"id\":900,\"iid\":1,\"web_url\":\"https://gitlab.example/sec/p/-/issues/1\"}");
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 10, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "incident", "gitlab_issue_iid"), 1);
    ASSERT_STR_EQ(res_str(&g, "incident", "gitlab_issue_url"), "https://gitlab.example/sec/p/-/issues/1");
    ASSERT_EQ(http_peer_count(e.peer), 1);
    ASSERT_STR_EQ(req(&e, 0)->target, "/api/v4/projects/77/issues");
    assert_gitlab_headers(req(&e, 0));
    cJSON *b = req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "title"), "SIRT-10: leak");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "confidential")));
    ASSERT_STR_EQ(eff_str(b, "labels"), "severity::1,priority::2");
    ASSERT_CONTAINS(eff_str(b, "description"), "what happened");
    ASSERT_CONTAINS(eff_str(b, "description"), "sirt:SIRT-10:issue");
    cJSON_Delete(b);
    got_free(&g);

    /* maybe_sent, found by marker: no second issue */
    push_json(&e, 200, "[{\"iid\":3,\"description\":\"unrelated\"},"
                       "{\"iid\":2,\"web_url\":\"https://gitlab.example/sec/p/-/issues/2\","
                       "\"description\":\"what happened\\n\\n<!-- sirt:SIRT-10:issue -->\"}]");
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 10, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "incident", "gitlab_issue_iid"), 2);
    ASSERT_EQ(http_peer_count(e.peer), 2);
    ASSERT_STR_EQ(req(&e, 1)->method, "GET");
    ASSERT(str_starts(req(&e, 1)->target, "/api/v4/projects/77/issues?"));
    got_free(&g);

    /* maybe_sent, not found: created */
    push_json(&e, 200, "[]");
    push_json(&e, 201, "{\"iid\":4,\"web_url\":\"u4\"}");
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 10, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "incident", "gitlab_issue_iid"), 4);
    ASSERT_STR_EQ(req(&e, 3)->method, "POST");
    got_free(&g);

    /* labels as an array */
    push_json(&e, 201, "{\"iid\":5,\"web_url\":\"u5\"}");
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 10,
                                .payload = "{\"title\":\"t\",\"labels\":[\"severity::2\",\"priority::1\"]}" }, &inc, &g);
    b = req_body(&e, 4);
    ASSERT_STR_EQ(eff_str(b, "labels"), "severity::2,priority::1");
    cJSON_Delete(b);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_gitlab_add_members)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 11);
    inc.gitlab_project_id = 77;
    push_json(&e, 200, "[{\"id\":5,\"username\":\"alice\",\"state\":\"active\"}]");
    push_json(&e, 201, "{\"id\":5,\"username\":\"alice\",\"access_level\":30}");
    push_json(&e, 200, "[]");
    push_json(&e, 200, "[{\"id\":6,\"username\":\"em-gitaly\"}]");
    push_json(&e, 409, "{\"message\":\"Member already exists\"}");
    struct got g;
    run(&e, &(struct job_spec){ .op = "gitlab.add_members", .incident_id = 11,
                                .payload = "{\"usernames\":[\"alice\",\"ghost\",\"@em-gitaly\",\"alice\"],\"access_level\":30}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 5);
    ASSERT_STR_EQ(req(&e, 0)->target, "/api/v4/users?username=alice");
    assert_gitlab_headers(req(&e, 0));
    ASSERT_STR_EQ(req(&e, 1)->target, "/api/v4/projects/77/members");
    assert_gitlab_headers(req(&e, 1));
    cJSON *b = req_body(&e, 1);
    ASSERT_EQ(eff_int(b, "user_id"), 5);
    ASSERT_EQ(eff_int(b, "access_level"), 30);
    cJSON_Delete(b);
    ASSERT_STR_EQ(req(&e, 2)->target, "/api/v4/users?username=ghost");
    ASSERT_STR_EQ(req(&e, 3)->target, "/api/v4/users?username=em-gitaly");
    char *r = cJSON_PrintUnformatted(g.result);
    ASSERT_CONTAINS(r, "\"added\":[\"alice\"]");
    ASSERT_CONTAINS(r, "\"already_member\":[\"em-gitaly\"]");
    ASSERT_CONTAINS(r, "\"unknown\":[\"ghost\"]");
    cJSON_free(r);
    ASSERT_CONTAINS(res_str(&g, "timeline", NULL), "alice");
    got_free(&g);

    /* a server error midway retries the whole job (409 makes the redo harmless) */
    push_json(&e, 200, "[{\"id\":5,\"username\":\"alice\"}]");
    push_json(&e, 502, "bad gateway");
    run(&e, &(struct job_spec){ .op = "gitlab.add_members", .incident_id = 11,
                                .payload = "{\"usernames\":[\"alice\"]}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);

    inc.gitlab_project_id = 0;
    run(&e, &(struct job_spec){ .op = "gitlab.add_members", .incident_id = 11,
                                .payload = "{\"usernames\":[\"alice\"]}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for gitlab project");
    got_free(&g);
    env_finish(&e);
}

TEST(eff_gitlab_note)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 12);
    inc.gitlab_project_id = 77;
    struct got g;
    const char *pl = "{\"body\":\"Decision: rotate keys\",\"marker\":\"sirt:SIRT-12:decision:1\"}";
    run(&e, &(struct job_spec){ .op = "gitlab.note", .incident_id = 12, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for gitlab issue");
    got_free(&g);

    inc.gitlab_issue_iid = 3;
    push_json(&e, 201, "{\"id\":555,\"body\":\"x\"}");
    run(&e, &(struct job_spec){ .op = "gitlab.note", .incident_id = 12, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(res_num(&g, "note_id", NULL), 555);
    ASSERT_STR_EQ(req(&e, 0)->target, "/api/v4/projects/77/issues/3/notes");
    assert_gitlab_headers(req(&e, 0));
    cJSON *b = req_body(&e, 0);
    ASSERT_CONTAINS(eff_str(b, "body"), "Decision: rotate keys");
    ASSERT_CONTAINS(eff_str(b, "body"), "sirt:SIRT-12:decision:1");
    cJSON_Delete(b);
    got_free(&g);

    push_json(&e, 200, "[{\"id\":556,\"body\":\"Decision: rotate keys\\n\\n<!-- sirt:SIRT-12:decision:1 -->\"}]");
    run(&e, &(struct job_spec){ .op = "gitlab.note", .incident_id = 12, .maybe_sent = true, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 2);
    ASSERT(str_starts(req(&e, 1)->target, "/api/v4/projects/77/issues/3/notes?"));
    got_free(&g);

    push_json(&e, 200, "[{\"id\":1,\"body\":\"other\"}]");
    push_json(&e, 201, "{\"id\":557}");
    run(&e, &(struct job_spec){ .op = "gitlab.note", .incident_id = 12, .maybe_sent = true, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 4);
    ASSERT_STR_EQ(req(&e, 3)->method, "POST");
    got_free(&g);
    env_finish(&e);
}

/* ================================================================== */
/* PagerDuty */

TEST(eff_pd_trigger_shape_and_links)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 7);
    inc.channel_id = "C0INC0007";
    inc.gitlab_issue_url = "https://gitlab.example/sec/p/-/issues/1";
    push_json(&e, 202, "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"SIRT-7\"}");
    struct got g;
    run(&e, &(struct job_spec){ .op = "pd.trigger", .incident_id = 7,
                                .payload = "{\"summary\":\"SIRT-7 S1 gitaly\",\"severity\":\"critical\","
                                           "\"source\":\"sirtbot\",\"component\":\"gitaly\","
                                           "\"custom_details\":{\"severity\":\"S1\",\"priority\":\"P1\"}}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "dedup_key", NULL), "SIRT-7");
    ASSERT_NOT_NULL(res_str(&g, "timeline", NULL));
    const struct http_peer_request *r = req(&e, 0);
    ASSERT_STR_EQ(r->method, "POST");
    ASSERT_STR_EQ(r->target, "/v2/enqueue");
    char *h = http_peer_header(r, "Authorization");
    ASSERT_NULL(h);
    h = http_peer_header(r, "PRIVATE-TOKEN");
    ASSERT_NULL(h);
    h = http_peer_header(r, "Content-Type");
    ASSERT_STR_EQ(h, "application/json");
    free(h);
    cJSON *b = req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "routing_key"), PD_KEY);
    ASSERT_STR_EQ(eff_str(b, "event_action"), "trigger");
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-7");
    ASSERT_STR_EQ(eff_str(b, "client"), "sirtbot");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "payload");
    ASSERT_STR_EQ(eff_str(p, "summary"), "SIRT-7 S1 gitaly");
    ASSERT_STR_EQ(eff_str(p, "severity"), "critical");
    ASSERT_STR_EQ(eff_str(p, "source"), "sirtbot");
    ASSERT_STR_EQ(eff_str(p, "component"), "gitaly");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(p, "custom_details"), "priority"), "P1");
    const cJSON *links = cJSON_GetObjectItemCaseSensitive(b, "links");
    ASSERT_EQ(cJSON_GetArraySize(links), 2);
    ASSERT_STR_EQ(eff_str(cJSON_GetArrayItem(links, 0), "href"), "https://fake.slack.com/archives/C0INC0007");
    ASSERT_STR_EQ(eff_str(cJSON_GetArrayItem(links, 0), "text"), "Slack channel");
    ASSERT_STR_EQ(eff_str(cJSON_GetArrayItem(links, 1), "href"), "https://gitlab.example/sec/p/-/issues/1");
    ASSERT_STR_EQ(eff_str(cJSON_GetArrayItem(links, 1), "text"), "GitLab issue");
    cJSON_Delete(b);
    got_free(&g);

    /* nothing known yet, severity passes through: no links at all */
    struct incident bare;
    incident_init(&bare, 8);
    e.app.team_url[0] = '\0';
    push_json(&e, 202, "{\"status\":\"success\"}");
    run(&e, &(struct job_spec){ .op = "pd.trigger", .incident_id = 8,
                                .payload = "{\"summary\":\"s\",\"severity\":\"warning\"}" }, &bare, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    b = req_body(&e, 1);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "links"));
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-8");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(b, "payload"), "severity"), "warning");
    cJSON_Delete(b);
    got_free(&g);
    env_finish(&e);
}

/* A page sent before its GitLab issue existed asks for the link to follow:
 * a second trigger under the same (payload's) key and a channel notice,
 * both after the issue's job; sent with the issue, nothing follows. */
TEST(eff_pd_trigger_link_followups)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 7);
    inc.channel_id = "C0INC0007";
    const char *pl = "{\"dedup_key\":\"SIRT-7/page-2\",\"summary\":\"s\",\"severity\":\"critical\","
                     "\"source\":\"sirtbot\",\"issue_job\":41}";
    push_json(&e, 202, "{\"status\":\"success\",\"dedup_key\":\"SIRT-7/page-2\"}");
    struct got g;
    run(&e, &(struct job_spec){ .op = "pd.trigger", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *b = req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-7/page-2");   /* the payload's key, not recomputed */
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "issue_job"));
    cJSON_Delete(b);
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(g.result, "jobs");
    ASSERT_EQ(cJSON_GetArraySize(jobs), 2);
    const cJSON *j0 = cJSON_GetArrayItem(jobs, 0), *j1 = cJSON_GetArrayItem(jobs, 1);
    ASSERT_STR_EQ(eff_str(j0, "key"), "links");
    ASSERT_STR_EQ(eff_str(j0, "op"), "pd.trigger");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j0, "deps"), 0)->valueint, 41);
    const cJSON *p0 = cJSON_GetObjectItemCaseSensitive(j0, "payload");
    ASSERT_STR_EQ(eff_str(p0, "dedup_key"), "SIRT-7/page-2");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p0, "links_update")));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(p0, "issue_job"));   /* the follow-up has no follow-up */
    ASSERT_STR_EQ(eff_str(j1, "key"), "links_notice");
    ASSERT_STR_EQ(eff_str(j1, "op"), "slack.post");
    ASSERT_CONTAINS(eff_str(cJSON_GetObjectItemCaseSensitive(j1, "payload"), "text"), "{{incident.issue_link}}");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j1, "deps"), 0)->valueint, 41);
    got_free(&g);

    inc.gitlab_issue_url = "https://gitlab.example/sec/p/-/issues/1";
    push_json(&e, 202, "{\"status\":\"success\"}");
    run(&e, &(struct job_spec){ .op = "pd.trigger", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "jobs"));
    got_free(&g);
    env_finish(&e);
}

/* The on-call a page reached: invited to the channel, added to the project
 * under their gitlab_users name, recorded on the round. */
TEST(eff_pd_oncall_invites_the_paged_user)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct cfg_gitlab_user gu = { "U0SECOPS1", "sid" };
    e.cfg.gitlab_users = &gu;
    e.cfg.n_gitlab_users = 1;
    struct got g;
    const char *pl = "{\"fallback_user\":\"U0SECOPS1\",\"invite\":true,\"page\":{\"dedup_key\":\"SIRT-7/page-2\"},"
                     "\"channel_job\":5,\"project_job\":6}";
    run(&e, &(struct job_spec){ .op = "pd.oncall", .incident_id = 7, .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "user", NULL), "U0SECOPS1");
    ASSERT_STR_EQ(res_str(&g, "page", "dedup_key"), "SIRT-7/page-2");
    ASSERT_STR_EQ(res_str(&g, "page", "user"), "U0SECOPS1");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(g.result, "jobs");
    ASSERT_EQ(cJSON_GetArraySize(jobs), 2);
    const cJSON *j0 = cJSON_GetArrayItem(jobs, 0), *j1 = cJSON_GetArrayItem(jobs, 1);
    ASSERT_STR_EQ(eff_str(j0, "op"), "slack.invite");
    ASSERT_STR_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j0, "payload"),
                                                                      "users"), 0)->valuestring, "U0SECOPS1");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j0, "deps"), 0)->valueint, 5);
    ASSERT_STR_EQ(eff_str(j1, "op"), "gitlab.add_members");
    const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(j1, "payload");
    ASSERT_STR_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p1, "usernames"), 0)->valuestring, "sid");
    ASSERT_EQ(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j1, "deps"), 0)->valueint, 6);
    got_free(&g);

    /* No GitLab username known: the invitation only.  Without "invite": nothing. */
    e.cfg.n_gitlab_users = 0;
    run(&e, &(struct job_spec){ .op = "pd.oncall", .incident_id = 7, .payload = pl }, NULL, &g);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "jobs")), 1);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "pd.oncall", .incident_id = 7, .payload = "{\"fallback_user\":\"U0SECOPS1\"}" },
        NULL, &g);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "jobs"));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "page"));
    got_free(&g);
    e.cfg.gitlab_users = NULL;
    env_finish(&e);
}

TEST(eff_pd_resolve_outcomes_and_disabled)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct got g;
    push_json(&e, 202, "{\"status\":\"success\",\"dedup_key\":\"SIRT-3\"}");
    run(&e, &(struct job_spec){ .op = "pd.resolve", .incident_id = 3, .payload = "{}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *b = req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "event_action"), "resolve");
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-3");
    ASSERT_STR_EQ(eff_str(b, "routing_key"), PD_KEY);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "payload"));
    cJSON_Delete(b);
    got_free(&g);

    const struct job_spec js = { .op = "pd.trigger", .incident_id = 3, .payload = "{\"summary\":\"s\"}" };
    push_json(&e, 400, "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
                       "\"errors\":[\"Length of 'routing_key' is incorrect\"]}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "pagerduty http_400");
    ASSERT_NOT_CONTAINS(g.error, PD_KEY);
    got_free(&g);
    http_peer_push_simple(e.peer, 429, JSON_HDR "Retry-After: 2\r\n", "{\"status\":\"throttle\"}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 2000);
    got_free(&g);
    push_json(&e, 503, "{}");
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(g.maybe_sent);
    got_free(&g);

    size_t n = http_peer_count(e.peer);
    free(e.cfg.pagerduty_routing_key);
    e.cfg.pagerduty_routing_key = NULL;
    run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_STR_EQ(g.error, "paging disabled: PAGERDUTY_ROUTING_KEY is not set");
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "pd.resolve", .incident_id = 3 }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_EQ(http_peer_count(e.peer), n);
    got_free(&g);
    env_finish(&e);
}

/* ================================================================== */
/* cancellation */

static bool peer_has(void *ud)
{
    struct env *e = ud;
    return http_peer_count(e->peer) > 0;
}

TEST(eff_cancel_on_http_close_is_retry_canceled)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct incident inc;
    incident_init(&inc, 13);
    inc.gitlab_project_id = 77;
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_push(e.peer, &silent);
    struct got g;
    start(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 13, .payload = "{\"title\":\"t\"}" },
          &inc, &g);
    ASSERT(http_peer_run_until(&e.loop, peer_has, &e, 5000));
    ASSERT_EQ(g.calls, 0);
    api_close(e.api);
    e.api_closed = true;
    http_close(e.http);
    e.http_closed = true;
    ASSERT(http_peer_run_until(&e.loop, got_done, &g, 2000));
    ASSERT_EQ(g.calls, 1);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(g.maybe_sent);        /* the POST may have landed */
    got_free(&g);

    /* with the clients gone (main clears them), an effect still ends, later, as canceled */
    e.app.api = NULL;
    e.app.http = NULL;
    start(&e, &(struct job_spec){ .op = "slack.post", .payload = "{\"channel\":\"C1\",\"text\":\"x\"}" }, NULL, &g);
    ASSERT(http_peer_run_until(&e.loop, got_done, &g, 2000));
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(!g.maybe_sent);
    got_free(&g);
    env_finish(&e);
}

TEST(eff_cancel_on_api_close_is_retry_canceled)
{
    struct env e;
    env_init(&e, SLACK_PEER);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_push(e.peer, &silent);
    struct got g;
    start(&e, &(struct job_spec){ .op = "slack.post", .payload = "{\"channel\":\"C1\",\"text\":\"x\"}" }, NULL, &g);
    ASSERT(http_peer_run_until(&e.loop, peer_has, &e, 5000));
    api_close(e.api);
    e.api_closed = true;
    ASSERT(http_peer_run_until(&e.loop, got_done, &g, 2000));
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(g.maybe_sent);
    got_free(&g);
    env_finish(&e);
}

/* ================================================================== */
/* against the fake's channel model (conversations.list, invite, pins) */

TEST(eff_fake_slack_adopt_invite_pin_round_trip)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct incident inc;
    incident_init(&inc, 21);
    struct got g;
    const char *pl = "{\"name\":\"sirt-21-leak\",\"is_private\":true}";
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 21, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *id = xstrdup(res_str(&g, "incident", "channel_id"));
    got_free(&g);

    /* the bot died before recording it: the retry finds and adopts it */
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 21, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "incident", "channel_id"), id);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.list"), 1);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.create"), 2);
    got_free(&g);

    inc.channel_id = id;
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 21,
                                .payload = "{\"users\":[\"U0REP0001\",\"X0BOGUS\",\"U0SIRT001\"]}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "invited")), 2);
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.invite", .incident_id = 21,
                                .payload = "{\"users\":[\"U0REP0001\",\"U0SIRT001\"]}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    got_free(&g);

    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 21, .payload = "{\"text\":\"s\",\"pin\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    ASSERT_EQ(fake_slack_call_count(e.fs, "pins.add"), 1);
    got_free(&g);
    free(id);
    env_finish(&e);
}

/* ================================================================== */
/* posting exactly once: metadata token, and the maybe_sent scan */

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(eff_sha256_hmac_vectors_and_token)
{
    unsigned char d[SHA256_LEN];
    char h[2 * SHA256_LEN + 1];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_final(&c, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* FIPS 180-4 two-block message, fed in odd pieces */
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&c);
    sha256_update(&c, two, 5);
    sha256_update(&c, two + 5, strlen(two) - 5);
    sha256_final(&c, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* RFC 4231 test cases 2 and 6 (a key longer than the block) */
    sha256_hmac("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char key[131];
    memset(key, 0xaa, sizeof(key));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    sha256_hmac(key, sizeof(key), msg, strlen(msg), d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* the token: stable, per key and per secret, opaque */
    char t1[EFF_TOKEN_HEX + 1], t2[EFF_TOKEN_HEX + 1], t3[EFF_TOKEN_HEX + 1];
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/summary", t1));
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/summary", t2));
    ASSERT_STR_EQ(t1, t2);
    ASSERT_EQ(strlen(t1), EFF_TOKEN_HEX);
    ASSERT_EQ(strspn(t1, "0123456789abcdef"), EFF_TOKEN_HEX);
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/notice", t3));
    ASSERT(strcmp(t1, t3) != 0);
    ASSERT(eff_outbox_token("xoxb-2", "Ev1/SIRT-3/summary", t3));
    ASSERT(strcmp(t1, t3) != 0);
    ASSERT(!eff_outbox_token(NULL, "k", t3));
    ASSERT_STR_EQ(t3, "");
    ASSERT(!eff_outbox_token("xoxb-1", "", t3));

    /* only our own message with our token */
    char msgs[1024];
    snprintf(msgs, sizeof(msgs),
             "[{\"user\":\"U0HUMAN01\",\"ts\":\"5.1\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"%s\"}}},"
             "{\"user\":\"U0BOT0001\",\"ts\":\"5.2\",\"metadata\":{\"event_type\":\"other\",\"event_payload\":{\"job\":\"%s\"}}},"
             "{\"user\":\"U0BOT0001\",\"ts\":\"5.3\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"x\"}}},"
             "{\"bot_id\":\"B0BOT0001\",\"ts\":\"5.4\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"%s\"}}}]",
             t1, t1, t1);
    cJSON *arr = cJSON_Parse(msgs);
    ASSERT_NOT_NULL(arr);
    const cJSON *m = eff_find_own_message(arr, t1, "U0BOT0001", "B0BOT0001");
    ASSERT_STR_EQ(eff_str(m, "ts"), "5.4");
    ASSERT_NULL(eff_find_own_message(arr, t1, "U0BOT0001", ""));
    ASSERT_NULL(eff_find_own_message(arr, "", "U0BOT0001", "B0BOT0001"));
    ASSERT_STR_EQ(eff_str(eff_find_own_message(arr, t1, "", ""), "ts"), "5.1");   /* identity unknown: token decides */
    cJSON_Delete(arr);
}

static const char *hist_arg(const struct env *e, const char *method, size_t idx, const char *k)
{
    const struct fake_call *c = fake_slack_call(e->fs, method, idx);
    ASSERT_NOT_NULL(c);
    return eff_str(c->json, k);
}

TEST(eff_post_maybe_sent_adopts_its_own_message)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    str_lcpy(e.app.bot_id, "B0BOT0001", sizeof(e.app.bot_id));
    struct incident inc;
    incident_init(&inc, 8);
    inc.channel_id = "G0INC0008";
    const char *pl = "{\"text\":\"summary\",\"pin\":true}";
    struct got g;
    /* first attempt: posted with the opaque token, no scan */
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 8, .payload = pl, .idem_key = "Ev8/SIRT-8/summary" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *ts = xstrdup(res_str(&g, "ts", NULL));
    got_free(&g);
    char token[EFF_TOKEN_HEX + 1];
    ASSERT(eff_outbox_token("xoxb-test-token", "Ev8/SIRT-8/summary", token));
    cJSON *a = call_json(&e, "chat.postMessage", 0);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(a, "metadata");
    ASSERT_STR_EQ(eff_str(md, "event_type"), "sirt_outbox");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(md, "event_payload"), "job"), token);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), 0);
    ASSERT_NOT_CONTAINS(fake_slack_call(e.fs, "chat.postMessage", 0)->body, "SIRT-8");

    /* the crash lost the answer: the retry finds it, pins it, posts nothing */
    int64_t t0 = clock_now_ms();
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 8, .payload = pl, .maybe_sent = true,
                                .idem_key = "Ev8/SIRT-8/summary" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "ts", NULL), ts);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "adopted")));
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 1);
    ASSERT_EQ(fake_slack_call_count(e.fs, "pins.add"), 2);   /* second: already_pinned */
    ASSERT_EQ(fake_slack_pin_count(e.fs), 1);
    ASSERT_STR_EQ(fake_slack_call(e.fs, "conversations.history", 0)->http_method, "GET");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "channel"), "G0INC0008");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "include_all_metadata"), "true");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "limit"), "15");
    double oldest = atof(hist_arg(&e, "conversations.history", 0, "oldest"));
    ASSERT(oldest <= (double)t0 / 1000 - 299 && oldest >= (double)t0 / 1000 - 310);
    got_free(&g);

    /* another job's retry does not take it: it scans, then posts */
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 8, .payload = pl, .maybe_sent = true,
                                .idem_key = "Ev8/SIRT-8/notice" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(strcmp(res_str(&g, "ts", NULL), ts) != 0);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "adopted"));
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 2);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), 2);
    got_free(&g);

    /* a thread reply is looked for in its thread */
    const char *tp = "{\"text\":\"in thread\",\"thread_ts\":\"%s\"}";
    char *tpl = xasprintf(tp, ts);
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 8, .payload = tpl, .idem_key = "Ev8/reply" }, &inc, &g);
    char *rts = xstrdup(res_str(&g, "ts", NULL));
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.post", .incident_id = 8, .payload = tpl, .maybe_sent = true,
                                .idem_key = "Ev8/reply" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "ts", NULL), rts);
    ASSERT_STR_EQ(hist_arg(&e, "conversations.replies", 0, "ts"), ts);
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 3);
    got_free(&g);
    free(tpl);
    free(rts);
    free(ts);
    env_finish(&e);
}

TEST(eff_dm_maybe_sent_adopts_and_scan_errors)
{
    struct env e;
    env_init(&e, SLACK_FAKE);
    struct got g;
    const char *pl = "{\"user\":\"U0APPSEC1\",\"text\":\"you are on call\"}";
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = pl, .idem_key = "handoff/SIRT-2/dm" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *ts = xstrdup(res_str(&g, "ts", NULL));
    got_free(&g);
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/dm" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(res_str(&g, "ts", NULL), ts);
    ASSERT_STR_EQ(res_str(&g, "channel", NULL), "D0APPSEC1");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "channel"), "D0APPSEC1");
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 1);
    got_free(&g);

    /* rate limited: retry after Retry-After, still maybe_sent, nothing posted */
    fake_slack_fail(e.fs, "conversations.history", 1, 429, NULL, 60);
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/x" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 60000);
    ASSERT(g.maybe_sent);
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 1);
    got_free(&g);
    /* a lasting error (no history scope): posted anyway */
    fake_slack_fail(e.fs, "conversations.history", 1, 200, "missing_scope", 0);
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/x" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 2);
    got_free(&g);
    /* a plain retry (not maybe_sent) never reads history */
    size_t before = fake_slack_call_count(e.fs, "conversations.history");
    run(&e, &(struct job_spec){ .op = "slack.dm", .payload = pl, .idem_key = "handoff/SIRT-2/y" }, NULL, &g);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), before);
    got_free(&g);
    free(ts);
    env_finish(&e);
}

/* ================================================================== */
/* logs */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    struct buf b;
    buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_puts(&b, "");
    return buf_take(&b);
}

TEST(eff_no_tokens_or_incident_text_in_logs)
{
    /* Secrets shaped like no known pattern, so the logger's masking cannot hide a leak. */
    static const char gl_plain[] = "plainGlTok-77aa88bb99cc";
    static const char pd_plain[] = "plainPdKey-11dd22ee33ff";
    char path[] = "/tmp/sirt-fx-log-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    ASSERT(saved >= 0);
    ASSERT(dup2(fd, 2) >= 0);
    log_set_level(LOG_LVL_DEBUG);

    struct env e;
    env_init(&e, SLACK_PEER);
    free(e.cfg.gitlab_token);
    e.cfg.gitlab_token = xstrdup(gl_plain);
    free(e.cfg.pagerduty_routing_key);
    e.cfg.pagerduty_routing_key = xstrdup(pd_plain);
    struct incident inc;
    incident_init(&inc, 30);
    inc.gitlab_project_id = 77;
    struct got g;
    push_json(&e, 400, "{\"message\":{\"title\":[\"is too long\"]}}");
    run(&e, &(struct job_spec){ .op = "gitlab.create_issue", .incident_id = 30,
                                .payload = "{\"title\":\"Xyzzy title\",\"description\":\"Plugh repro\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    got_free(&g);
    push_json(&e, 500, "{}");
    run(&e, &(struct job_spec){ .op = "pd.trigger", .incident_id = 30,
                                .payload = "{\"summary\":\"Xyzzy title\"}" }, &inc, &g);
    got_free(&g);
    push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    push_json(&e, 200, "{\"ok\":true,\"channels\":[]}");
    run(&e, &(struct job_spec){ .op = "slack.create_channel", .incident_id = 30, .maybe_sent = true,
                                .payload = "{\"name\":\"sirt-30-xyzzy-title\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    got_free(&g);
    env_finish(&e);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *logged = slurp(path);
    unlink(path);
    ASSERT_CONTAINS(logged, "gitlab.create_issue");
    ASSERT_CONTAINS(logged, "http_400");
    ASSERT_NOT_CONTAINS(logged, gl_plain);
    ASSERT_NOT_CONTAINS(logged, "77aa88bb99cc");
    ASSERT_NOT_CONTAINS(logged, pd_plain);
    ASSERT_NOT_CONTAINS(logged, "11dd22ee33ff");
    ASSERT_NOT_CONTAINS(logged, "Xyzzy");
    ASSERT_NOT_CONTAINS(logged, "xyzzy");
    ASSERT_NOT_CONTAINS(logged, "Plugh");
    free(logged);
}

TEST(eff_names_placeholders)
{
    cJSON *map = cJSON_CreateObject();
    cJSON_AddStringToObject(map, "U0ALICE01", "Alice A");
    char *s = eff_names_apply("by {{user.U0ALICE01}} and {{user.U0BOB0001}}; {{user.bad id}} {{user.", map);
    ASSERT_STR_EQ(s, "by Alice A and U0BOB0001; {{user.bad id}} {{user.");
    free(s);
    s = eff_names_apply("no placeholders", map);
    ASSERT_STR_EQ(s, "no placeholders");
    free(s);
    cJSON_Delete(map);
    char *n = eff_name_clean("  <b>`Eve`*_|\x01 ");
    ASSERT_STR_EQ(n, "(b)'Eve'");
    free(n);
    ASSERT(effect_known("slack.file_upload"));
    ASSERT(effect_known("slack.file_bytes"));
    ASSERT(effect_known("slack.file_complete"));
    ASSERT(effect_known("gitlab.issue_state"));
}

/* pd.page_status's pure pieces: PagerDuty's times and "was it seen". */
TEST(eff_pd_parse_time_and_page_seen)
{
    ASSERT_EQ(eff_pd_parse_time("2026-11-25T10:01:30Z"), 1795600890000LL);
    ASSERT_EQ(eff_pd_parse_time("2026-11-25T11:01:30+01:00"), 1795600890000LL);
    ASSERT_EQ(eff_pd_parse_time("2026-11-25T05:01:30.250-05:00"), 1795600890250LL);
    ASSERT_EQ(eff_pd_parse_time("2026-11-25T10:01:30"), 0);
    ASSERT_EQ(eff_pd_parse_time("yesterday"), 0);
    ASSERT_EQ(eff_pd_parse_time(NULL), 0);

    int64_t at;
    const char *by, *how;
    cJSON *j = cJSON_Parse("{\"incidents\":[{\"status\":\"triggered\",\"created_at\":\"2026-11-25T10:00:00Z\","
                           "\"acknowledgements\":[]}]}");
    ASSERT_EQ(eff_pd_page_seen(j, &at, &by, &how), 0);
    cJSON_Delete(j);
    /* The newest incident of the key counts; its earliest acknowledgement. */
    j = cJSON_Parse("{\"incidents\":[{\"status\":\"resolved\",\"created_at\":\"2026-10-01T10:00:00Z\","
                    "\"resolved_at\":\"2026-10-01T11:00:00Z\"},"
                    "{\"status\":\"acknowledged\",\"created_at\":\"2026-11-25T10:00:00Z\",\"acknowledgements\":["
                    "{\"at\":\"2026-11-25T10:03:00Z\",\"acknowledger\":{\"id\":\"P2\",\"type\":\"user_reference\","
                    "\"summary\":\"Bob\"}},"
                    "{\"at\":\"2026-11-25T10:01:30Z\",\"acknowledger\":{\"id\":\"P1\",\"type\":\"user_reference\","
                    "\"summary\":\"Alice\"}}]}]}");
    ASSERT_EQ(eff_pd_page_seen(j, &at, &by, &how), 1);
    ASSERT_EQ(at, 1795600890000LL);
    ASSERT_STR_EQ(by, "Alice");
    ASSERT_STR_EQ(how, "acknowledged");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"incidents\":[{\"status\":\"resolved\",\"created_at\":\"2026-11-25T10:00:00Z\","
                    "\"resolved_at\":\"2026-11-25T10:04:00Z\",\"acknowledgements\":[],"
                    "\"last_status_change_by\":{\"summary\":\"Carol\"}}]}");
    ASSERT_EQ(eff_pd_page_seen(j, &at, &by, &how), 1);
    ASSERT_EQ(at, 1795600800000LL + 240000);
    ASSERT_STR_EQ(by, "Carol");
    ASSERT_STR_EQ(how, "resolved");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"incidents\":[]}");
    ASSERT_EQ(eff_pd_page_seen(j, &at, &by, &how), 0);
    cJSON_Delete(j);
}
