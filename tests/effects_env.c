/* effects_env: see effects_env.h.  The fixture the effect tests share:
 * a loop with the fake Slack or a scripted peer, an app wired to them, and
 * one outbox job run to its single done. */
#include "effects_env.h"

#include <curl/curl.h>
#include <string.h>

#include "../bot/clock.h"
#include "../bot/http.h"
#include "../bot/slack_api.h"
#include "../bot/util.h"
#include "test.h"

void efx_init(struct efx *e, enum efx_slack mode)
{
    memset(e, 0, sizeof(*e));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ASSERT_EQ(uv_loop_init(&e->loop), 0);
    e->peer = http_peer_create(&e->loop);
    ASSERT_NOT_NULL(e->peer);
    e->http = http_create(&e->loop);
    ASSERT_NOT_NULL(e->http);
    if (mode == EFX_SLACK_FAKE) {
        e->fs = fake_slack_create(&e->loop, 0);
        ASSERT_NOT_NULL(e->fs);
        e->api_url = xstrdup(fake_slack_api_url(e->fs));
    } else {
        e->api_url = xasprintf("%s/api", http_peer_url(e->peer));
    }
    e->api = api_create(&e->loop, e->http, e->api_url, "xoxb-test-token", NULL);
    ASSERT_NOT_NULL(e->api);
    e->cfg.gitlab_url = xasprintf("%s/", http_peer_url(e->peer));
    e->cfg.gitlab_token = xstrdup(EFX_GL_TOKEN);
    e->cfg.slack_bot_token = xstrdup("xoxb-test-token");
    e->cfg.gitlab_namespace_id = 42;
    e->cfg.pagerduty_routing_key = xstrdup(EFX_PD_KEY);
    e->cfg.pagerduty_events_url = xasprintf("%s/v2/enqueue", http_peer_url(e->peer));
    e->app.loop = &e->loop;
    e->app.cfg = &e->cfg;
    e->app.http = e->http;
    e->app.api = e->api;
    str_lcpy(e->app.bot_user_id, "U0BOT0001", sizeof(e->app.bot_user_id));
    str_lcpy(e->app.team_url, "https://fake.slack.com/", sizeof(e->app.team_url));
}

void efx_finish(struct efx *e)
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

static bool in_start;

static void on_done(void *ud, const struct effect_result *r)
{
    struct efx_got *g = ud;
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

bool efx_got_done(void *ud)
{
    return ((struct efx_got *)ud)->calls > 0;
}

void efx_got_free(struct efx_got *g)
{
    cJSON_Delete(g->result);
    memset(g, 0, sizeof(*g));
}

void efx_start(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_got *g)
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

void efx_run(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_got *g)
{
    efx_start(e, js, inc, g);
    ASSERT(http_peer_run_until(&e->loop, efx_got_done, g, 8000));
    http_peer_run_until(&e->loop, NULL, NULL, 20);   /* a second done would show here */
    ASSERT_EQ(g->calls, 1);
    ASSERT(!g->sync);
}

void efx_expect(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_want want)
{
    struct efx_got g;
    efx_run(e, js, inc, &g);
    if (g.outcome != want.outcome)
        TEST_FAIL("%s: outcome %d, want %d (error \"%s\")", js->op, (int)g.outcome, (int)want.outcome, g.error);
    if (want.retry_after_ms != 0 && g.retry_after_ms != want.retry_after_ms)
        TEST_FAIL("%s: retry_after_ms %ld, want %ld", js->op, g.retry_after_ms, want.retry_after_ms);
    if (want.sent != EFX_SENT_ANY && g.maybe_sent != (want.sent == EFX_SENT))
        TEST_FAIL("%s: maybe_sent %d, want %d", js->op, (int)g.maybe_sent, (int)(want.sent == EFX_SENT));
    if (want.error && strcmp(g.error, want.error) != 0)
        TEST_FAIL("%s: error \"%s\", want \"%s\"", js->op, g.error, want.error);
    efx_got_free(&g);
}

static const cJSON *res_item(const struct efx_got *g, const char *path1, const char *path2)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(g->result, path1);
    return path2 ? cJSON_GetObjectItemCaseSensitive(o, path2) : o;
}

const char *efx_res_str(const struct efx_got *g, const char *path1, const char *path2)
{
    const cJSON *o = res_item(g, path1, path2);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

double efx_res_num(const struct efx_got *g, const char *path1, const char *path2)
{
    const cJSON *o = res_item(g, path1, path2);
    return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

cJSON *efx_call_json(const struct efx *e, const char *method, size_t idx)
{
    const struct fake_call *c = fake_slack_call(e->fs, method, idx);
    ASSERT_NOT_NULL(c);
    return c->json;
}

const struct http_peer_request *efx_req(const struct efx *e, size_t i)
{
    const struct http_peer_request *r = http_peer_request(e->peer, i);
    ASSERT_NOT_NULL(r);
    return r;
}

cJSON *efx_req_body(const struct efx *e, size_t i)
{
    cJSON *j = cJSON_Parse(efx_req(e, i)->body);
    ASSERT_NOT_NULL(j);
    return j;
}

void efx_incident_init(struct incident *inc, int64_t id)
{
    memset(inc, 0, sizeof(*inc));
    inc->id = id;
    inc->title = "Token leak in CI logs";
    inc->severity = 1;
    inc->priority = 1;
}

void efx_push_json(struct efx *e, int status, const char *body)
{
    http_peer_push_simple(e->peer, status, EFX_JSON_HDR, body);
}
