/* test_fake_pd: self-tests of tests/fakes/fake_pagerduty.c (Events v2
 * validation and dedup, /oncalls, /incidents, the knobs), run on the test
 * thread's loop with requests from a helper thread (fake_clients). */
#include <curl/curl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

static cJSON *pd_event(struct fx *fx, const char *body, long *st)
{
    return fc_call(fx, "POST", fake_pagerduty_events_url(fx->pd), HDR_JSON, NULL, body, st);
}

/* the REST API's header lines */
#define PD_AUTH "Authorization: Token token=" FAKE_PD_API_TOKEN
#define PD_ACCEPT "Accept: application/vnd.pagerduty+json;version=2"
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
    ASSERT_EQ(fc_call_status(&fx, "GET", url, "Authorization: Token token=wrong", NULL, NULL), 401);

    j = fc_call(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL, &st);
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
    j = fc_call(&fx, "GET", url, PD_AUTH, NULL, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 1);
    ASSERT_STR_EQ(fc_jstr(j, "oncalls.0.user.type"), "user_reference");
    ASSERT_NULL(fc_jstr(j, "oncalls.0.user.email"));
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/oncalls", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, PD_AUTH, NULL, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 2);
    cJSON_Delete(j);
    fake_pagerduty_clear_oncall(fx.pd, "PSCHED1");
    snprintf(url, sizeof(url), "%s/oncalls?schedule_ids[]=PSCHED1", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, PD_AUTH, NULL, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "oncalls")), 0);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/users", fake_pagerduty_url(fx.pd));
    ASSERT_EQ(fc_call_status(&fx, "GET", url, PD_AUTH, NULL, NULL), 404);
    fc_end(&fx);
}

TEST(fake_pd_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 429, 5);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 500, 0);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 400, 0);
    struct fc_http r = { .method = "POST", .url = fake_pagerduty_events_url(fx.pd), .hdrs = { HDR_JSON }, .body = TRIG("k") };
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "5");
    ASSERT_CONTAINS(r.resp.data, "throttle event");
    fc_http_done(&r);
    ASSERT_EQ(fc_http_status(&fx, &r), 500);
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_CONTAINS(r.resp.data, "invalid event");
    fc_http_done(&r);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);   /* failures have no effect */
    ASSERT_EQ(fc_http_status(&fx, &r), 202);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);

    fake_pagerduty_delay(fx.pd, FAKE_PD_ENQUEUE, 1, 600);
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 202);
    ASSERT_GE(r.ms, 550);
    fc_http_done(&r);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 2);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);

    char url[256];
    snprintf(url, sizeof(url), "%s/oncalls", fake_pagerduty_url(fx.pd));
    fake_pagerduty_fail(fx.pd, FAKE_PD_ONCALLS, 1, 429, 2);
    struct fc_http o = { .method = "GET", .url = url, .hdrs = { PD_AUTH } };
    fc_http_raw(&fx, &o);
    ASSERT_EQ(o.status, 429);
    ASSERT_STR_EQ(o.retry_after, "2");
    ASSERT_CONTAINS(o.resp.data, "\"code\":2020");
    fc_http_done(&o);
    ASSERT_EQ(fc_http_status(&fx, &o), 200);
    fc_end(&fx);
}

TEST(fake_pd_incidents_by_key_and_acknowledgements)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY);
    char ev_url[160], url[256];
    snprintf(ev_url, sizeof(ev_url), "%s", fake_pagerduty_events_url(fx.pd));
    long st;
    cJSON *j = fc_call(&fx, "POST", ev_url, HDR_JSON, NULL,
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
    j = fc_call(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL, &st);
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
    j = fc_call(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents")), 0);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/incidents?statuses[]=open", fake_pagerduty_url(fx.pd));
    ASSERT_EQ(fc_call_status(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL), 400);

    /* A responder acknowledges it. */
    ASSERT(fake_pagerduty_acknowledge(fx.pd, "SIRT-1/page-2", "PALICE01", "Alice", 1795600890));
    ASSERT(!fake_pagerduty_acknowledge(fx.pd, "SIRT-404", "PALICE01", "Alice", 1795600890));
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-1%%2Fpage-2&statuses[]=acknowledged",
             fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.status"), "acknowledged");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.at"), "2026-11-25T10:01:30Z");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.id"), "PALICE01");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.type"), "user_reference");
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.acknowledgements.0.acknowledger.summary"), "Alice");
    cJSON_Delete(j);

    /* Resolved through Events v2: no acknowledgements, no assignments. */
    ASSERT_EQ(fc_call_status(&fx, "POST", ev_url, HDR_JSON, NULL,
             "{\"routing_key\":\"" FAKE_PD_ROUTING_KEY "\",\"event_action\":\"resolve\","
             "\"dedup_key\":\"SIRT-1/page-2\"}"), 202);
    snprintf(url, sizeof(url), "%s/incidents?incident_key=SIRT-1%%2Fpage-2", fake_pagerduty_url(fx.pd));
    j = fc_call(&fx, "GET", url, PD_AUTH, PD_ACCEPT, NULL, &st);
    ASSERT_STR_EQ(fc_jstr(j, "incidents.0.status"), "resolved");
    ASSERT_NOT_NULL(fc_jstr(j, "incidents.0.resolved_at"));
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.acknowledgements")), 0);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "incidents.0.assignments")), 0);
    cJSON_Delete(j);
    ASSERT_EQ(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1/page-2"), 4);
    fc_end(&fx);
}
