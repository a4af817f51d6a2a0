/* test_effects_pd: the PagerDuty ops against the scripted peer: the Events
 * API trigger's shape and links, the link follow-ups of a page sent before
 * its GitLab issue, inviting the paged on-call, resolve's outcomes and the
 * disabled case, and page_status's pure pieces (times, "was it seen"). */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/effects_internal.h"
#include "../bot/util.h"
#include "effects_env.h"
#include "test.h"

/* ================================================================== */
/* PagerDuty */

TEST(eff_pd_trigger_shape_and_links)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 7);
    inc.channel_id = "C0INC0007";
    inc.gitlab_issue_url = "https://gitlab.example/sec/p/-/issues/1";
    efx_push_json(&e, 202, "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"SIRT-7\"}");
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "pd.trigger", .incident_id = 7,
                                   .payload = "{\"summary\":\"SIRT-7 S1 gitaly\",\"severity\":\"critical\","
                                           "\"source\":\"sirtbot\",\"component\":\"gitaly\","
                                           "\"custom_details\":{\"severity\":\"S1\",\"priority\":\"P1\"}}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "dedup_key", NULL), "SIRT-7");
    ASSERT_NOT_NULL(efx_res_str(&g, "timeline", NULL));
    const struct http_peer_request *r = efx_req(&e, 0);
    ASSERT_STR_EQ(r->method, "POST");
    ASSERT_STR_EQ(r->target, "/v2/enqueue");
    char *h = http_peer_header(r, "Authorization");
    ASSERT_NULL(h);
    h = http_peer_header(r, "PRIVATE-TOKEN");
    ASSERT_NULL(h);
    h = http_peer_header(r, "Content-Type");
    ASSERT_STR_EQ(h, "application/json");
    free(h);
    cJSON *b = efx_req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "routing_key"), EFX_PD_KEY);
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
    efx_got_free(&g);

    /* nothing known yet, severity passes through: no links at all */
    struct incident bare;
    efx_incident_init(&bare, 8);
    e.app.team_url[0] = '\0';
    efx_push_json(&e, 202, "{\"status\":\"success\"}");
    efx_run(&e, &(struct efx_job){ .op = "pd.trigger", .incident_id = 8,
                                   .payload = "{\"summary\":\"s\",\"severity\":\"warning\"}" }, &bare, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    b = efx_req_body(&e, 1);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "links"));
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-8");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(b, "payload"), "severity"), "warning");
    cJSON_Delete(b);
    efx_got_free(&g);
    efx_finish(&e);
}

/* A page sent before its GitLab issue existed asks for the link to follow:
 * a second trigger under the same (payload's) key and a channel notice,
 * both after the issue's job; sent with the issue, nothing follows. */
TEST(eff_pd_trigger_link_followups)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 7);
    inc.channel_id = "C0INC0007";
    const char *pl = "{\"dedup_key\":\"SIRT-7/page-2\",\"summary\":\"s\",\"severity\":\"critical\","
                     "\"source\":\"sirtbot\",\"issue_job\":41}";
    efx_push_json(&e, 202, "{\"status\":\"success\",\"dedup_key\":\"SIRT-7/page-2\"}");
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "pd.trigger", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *b = efx_req_body(&e, 0);
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
    efx_got_free(&g);

    inc.gitlab_issue_url = "https://gitlab.example/sec/p/-/issues/1";
    efx_push_json(&e, 202, "{\"status\":\"success\"}");
    efx_run(&e, &(struct efx_job){ .op = "pd.trigger", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "jobs"));
    efx_got_free(&g);
    efx_finish(&e);
}

/* The on-call a page reached: invited to the channel, added to the project
 * under their gitlab_users name, recorded on the round. */
TEST(eff_pd_oncall_invites_the_paged_user)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct cfg_gitlab_user gu = { "U0SECOPS1", "sid" };
    e.cfg.gitlab_users = &gu;
    e.cfg.n_gitlab_users = 1;
    struct efx_got g;
    const char *pl = "{\"fallback_user\":\"U0SECOPS1\",\"invite\":true,\"page\":{\"dedup_key\":\"SIRT-7/page-2\"},"
                     "\"channel_job\":5,\"project_job\":6}";
    efx_run(&e, &(struct efx_job){ .op = "pd.oncall", .incident_id = 7, .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "user", NULL), "U0SECOPS1");
    ASSERT_STR_EQ(efx_res_str(&g, "page", "dedup_key"), "SIRT-7/page-2");
    ASSERT_STR_EQ(efx_res_str(&g, "page", "user"), "U0SECOPS1");
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
    efx_got_free(&g);

    /* No GitLab username known: the invitation only.  Without "invite": nothing. */
    e.cfg.n_gitlab_users = 0;
    efx_run(&e, &(struct efx_job){ .op = "pd.oncall", .incident_id = 7, .payload = pl }, NULL, &g);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "jobs")), 1);
    efx_got_free(&g);
    efx_run(&e, &(struct efx_job){ .op = "pd.oncall", .incident_id = 7, .payload = "{\"fallback_user\":\"U0SECOPS1\"}" },
        NULL, &g);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "jobs"));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "page"));
    efx_got_free(&g);
    e.cfg.gitlab_users = NULL;
    efx_finish(&e);
}

TEST(eff_pd_resolve_outcomes_and_disabled)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct efx_got g;
    efx_push_json(&e, 202, "{\"status\":\"success\",\"dedup_key\":\"SIRT-3\"}");
    efx_run(&e, &(struct efx_job){ .op = "pd.resolve", .incident_id = 3, .payload = "{}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *b = efx_req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "event_action"), "resolve");
    ASSERT_STR_EQ(eff_str(b, "dedup_key"), "SIRT-3");
    ASSERT_STR_EQ(eff_str(b, "routing_key"), EFX_PD_KEY);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "payload"));
    cJSON_Delete(b);
    efx_got_free(&g);

    const struct efx_job js = { .op = "pd.trigger", .incident_id = 3, .payload = "{\"summary\":\"s\"}" };
    efx_push_json(&e, 400, "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
                       "\"errors\":[\"Length of 'routing_key' is incorrect\"]}");
    efx_run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "pagerduty http_400");
    ASSERT_NOT_CONTAINS(g.error, EFX_PD_KEY);
    efx_got_free(&g);
    http_peer_push_simple(e.peer, 429, EFX_JSON_HDR "Retry-After: 2\r\n", "{\"status\":\"throttle\"}");
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .retry_after_ms = 2000 });
    efx_push_json(&e, 503, "{}");
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });

    size_t n = http_peer_count(e.peer);
    free(e.cfg.pagerduty_routing_key);
    e.cfg.pagerduty_routing_key = NULL;
    efx_expect(&e, &js, NULL,
               (struct efx_want){ .outcome = EFFECT_FAIL, .error = "paging disabled: PAGERDUTY_ROUTING_KEY is not set" });
    efx_run(&e, &(struct efx_job){ .op = "pd.resolve", .incident_id = 3 }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_EQ(http_peer_count(e.peer), n);
    efx_got_free(&g);
    efx_finish(&e);
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
