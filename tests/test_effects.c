/* test_effects: the effects' pure pieces (op names, the outcome rules of
 * Slack and HTTP answers, channel names, markers, name placeholders), an
 * unknown op, cancellation when the clients close, and that no token or
 * incident text reaches the log.  Each op against its peer is in
 * test_effects_slack.c, test_effects_gitlab.c and test_effects_pd.c; the
 * fixture they share is effects_env.c. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/effects_internal.h"
#include "../bot/http.h"
#include "../bot/log.h"
#include "../bot/slack_api.h"
#include "../bot/util.h"
#include "effects_env.h"
#include "test.h"

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
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    efx_expect(&e, &(struct efx_job){ .op = "slack.teleport", .payload = "{}" }, NULL,
               (struct efx_want){ .outcome = EFFECT_FAIL, .error = "unknown op" });
    ASSERT_EQ(http_peer_count(e.peer), 0);
    efx_finish(&e);
}

/* ================================================================== */
/* cancellation */

static bool peer_has(void *ud)
{
    struct efx *e = ud;
    return http_peer_count(e->peer) > 0;
}

TEST(eff_cancel_on_http_close_is_retry_canceled)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 13);
    inc.gitlab_project_id = 77;
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_push(e.peer, &silent);
    struct efx_got g;
    efx_start(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 13, .payload = "{\"title\":\"t\"}" },
          &inc, &g);
    ASSERT(http_peer_run_until(&e.loop, peer_has, &e, 5000));
    ASSERT_EQ(g.calls, 0);
    api_close(e.api);
    e.api_closed = true;
    http_close(e.http);
    e.http_closed = true;
    ASSERT(http_peer_run_until(&e.loop, efx_got_done, &g, 2000));
    ASSERT_EQ(g.calls, 1);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(g.maybe_sent);        /* the POST may have landed */
    efx_got_free(&g);

    /* with the clients gone (main clears them), an effect still ends, later, as canceled */
    e.app.api = NULL;
    e.app.http = NULL;
    efx_start(&e, &(struct efx_job){ .op = "slack.post", .payload = "{\"channel\":\"C1\",\"text\":\"x\"}" }, NULL, &g);
    ASSERT(http_peer_run_until(&e.loop, efx_got_done, &g, 2000));
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(!g.maybe_sent);
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_cancel_on_api_close_is_retry_canceled)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct http_peer_reply silent = { .action = PEER_SILENT };
    http_peer_push(e.peer, &silent);
    struct efx_got g;
    efx_start(&e, &(struct efx_job){ .op = "slack.post", .payload = "{\"channel\":\"C1\",\"text\":\"x\"}" }, NULL, &g);
    ASSERT(http_peer_run_until(&e.loop, peer_has, &e, 5000));
    api_close(e.api);
    e.api_closed = true;
    ASSERT(http_peer_run_until(&e.loop, efx_got_done, &g, 2000));
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "canceled");
    ASSERT(g.maybe_sent);
    efx_got_free(&g);
    efx_finish(&e);
}

/* ================================================================== */
/* logs */

TEST(eff_no_tokens_or_incident_text_in_logs)
{
    /* Secrets shaped like no known pattern, so the logger's masking cannot hide a leak. */
    static const char gl_plain[] = "plainGlTok-77aa88bb99cc";
    static const char pd_plain[] = "plainPdKey-11dd22ee33ff";
    struct test_capture cap;
    test_capture_start(&cap);
    log_set_level(LOG_LVL_DEBUG);

    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    free(e.cfg.gitlab_token);
    e.cfg.gitlab_token = xstrdup(gl_plain);
    free(e.cfg.pagerduty_routing_key);
    e.cfg.pagerduty_routing_key = xstrdup(pd_plain);
    struct incident inc;
    efx_incident_init(&inc, 30);
    inc.gitlab_project_id = 77;
    struct efx_got g;
    efx_push_json(&e, 400, "{\"message\":{\"title\":[\"is too long\"]}}");
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 30,
                                   .payload = "{\"title\":\"Xyzzy title\",\"description\":\"Plugh repro\"}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_FAIL });
    efx_push_json(&e, 500, "{}");
    efx_run(&e, &(struct efx_job){ .op = "pd.trigger", .incident_id = 30,
                                   .payload = "{\"summary\":\"Xyzzy title\"}" }, &inc, &g);
    efx_got_free(&g);
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    efx_push_json(&e, 200, "{\"ok\":true,\"channels\":[]}");
    efx_expect(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 30, .maybe_sent = true,
                                   .payload = "{\"name\":\"sirt-30-xyzzy-title\"}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY });
    efx_finish(&e);

    char *logged = test_capture_end(&cap);
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
