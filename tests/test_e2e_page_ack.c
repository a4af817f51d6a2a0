/* End-to-end tests of pages that are seen (issue 9): after a page the bot
 * asks PagerDuty REST (GET /incidents?incident_key=) at most once a minute
 * while the round is open and unacknowledged; an acknowledgement is said
 * once in the incident channel and recorded (timeline page_acked at
 * PagerDuty's time); no acknowledgement within paging.ack_minutes pages the
 * security manager on-call under the round's own escalation key and tells
 * the incident and SIRT channels, once; resolving stops the following and
 * resolves the escalation page; without PAGERDUTY_API_TOKEN the bot says
 * once that acknowledgements are not followed.  The real bot against the
 * fakes, on the bot's settable clock. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"
#include "fakes/fake_http.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"

/* Wednesday 2026-11-25 10:00 UTC. */
#define T0 1795600800000LL
#define MIN_MS 60000LL
#define ESC_KEY "fedcba9876543210fedcba9876543210"
#define SIRT_CH "C0SIRT0001"

static const char cfg_ack[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\",\"U0SIRT002\"],"
    "\"severity1_responders\":[\"U0SIRT001\"],\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\"}],"
    "\"paging\":{\"ack_minutes\":5}}";

static const struct report_fields s1 = {
    .title = "Session cookies readable by other tenants",
    .what = "Cross-tenant read of session cookies.",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "GET /api/v4/session",
    .link = "",
};

static void start(struct fx *fx, const char *const *env)
{
    fx_init_opts(fx, FX_PAGERDUTY);
    fx_write_config(fx, cfg_ack);
    fx_set_clock(fx, T0);
    fx_start(fx, env);
}

static void submit(struct fx *fx)
{
    fx_submit_report(fx, "V0PAGEACK1", "U0APPSEC2", &s1);
}

static void slash(struct fx *fx, const char *user, const char *channel, const char *text)
{
    fx_slash(fx, user, channel, text, 5000);
}

static bool pred_triggered(struct fx *fx, void *ud)
{
    return fake_pagerduty_trigger_count(fx->pd, ud) >= 1;
}

static bool pred_resolved(struct fx *fx, void *ud)
{
    const char *st = fake_pagerduty_incident_state(fx->pd, ud);
    return st && strcmp(st, "resolved") == 0;
}

static bool pred_lookup(struct fx *fx, void *ud)
{
    return fake_pagerduty_incident_lookups(fx->pd, ud) >= 1;
}

/* Posts to channel answered ok whose text holds text. */
static size_t posts_with(struct fx *fx, const char *channel, const char *text)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel, .text = text, .ok = FX_NO_ERROR });
}

static bool wait_post(struct fx *fx, const char *channel, const char *text, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .text = text, .ok = FX_NO_ERROR }, 1, ms);
}

static const char *incident_channel(struct fx *fx)
{
    ASSERT(fake_slack_channel_count(fx->slack) >= 1);
    return fake_slack_channel(fx->slack, 0)->id;
}

/* The report, its channel and its page SIRT-1 out. */
static const char *report_and_page(struct fx *fx)
{
    submit(fx);
    ASSERT(fx_wait(fx, pred_triggered, (void *)"SIRT-1", 20000));
    return incident_channel(fx);
}

/* One SQLite read: "<ts_ms> <actor> <text>" of the first timeline entry of
 * kind for incident 1 into out ("" when none). */
static void timeline_entry(struct fx *fx, const char *kind, char *out, size_t n)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT ts_ms || ' ' || actor || ' ' || text FROM timeline"
                               " WHERE incident_id = 1 AND kind = '%s' ORDER BY id LIMIT 1", kind);
    fx_db_text(fx, sql, out, n);
}

/* When round 1 of SIRT-1 was opened, on the bot's clock: every later
 * moment of a test counts from there (the bot's clock runs on from T0 while
 * it starts, slowly under valgrind). */
static int64_t round1_created_ms(struct fx *fx)
{
    int64_t v = fx_db_int(fx, "SELECT created_ms FROM pages WHERE dedup_key = 'SIRT-1'");
    ASSERT(v >= T0);
    return v;
}

static int64_t ack_ms_of(struct fx *fx, const char *dedup)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT ack_ms FROM page_acks WHERE dedup_key = '%s'", dedup);
    return fx_db_int(fx, sql);
}

TEST_T(e2e_page_ack_acknowledged_is_said_once_and_recorded, 120)
{
    struct fx fx;
    start(&fx, NULL);
    const char *ch = report_and_page(&fx);
    const int64_t base = round1_created_ms(&fx);
    /* Nobody asks PagerDuty before a minute has passed. */
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1"), 0);

    /* A minute on: the first look, still triggered. */
    fx_set_clock(&fx, base + MIN_MS + 1000);
    ASSERT(fx_wait(&fx, pred_lookup, (void *)"SIRT-1", 10000));
    const struct fake_http_request *rq = fake_http_last(fake_pagerduty_http(fx.pd), "GET /incidents");
    ASSERT_STR_EQ(fake_http_header(rq, "authorization"), "Token token=" FAKE_PD_API_TOKEN);
    ASSERT_STR_EQ(fake_http_header(rq, "accept"), "application/vnd.pagerduty+json;version=2");
    ASSERT_STR_EQ(fake_http_arg(rq, "incident_key", 0), "SIRT-1");
    fx_run_for(&fx, 500);
    ASSERT_EQ(posts_with(&fx, ch, "Page acknowledged"), 0);

    /* Alice acknowledges it in PagerDuty 90 s after the page. */
    const int64_t ack_s = (base + 90000) / 1000;
    ASSERT(fake_pagerduty_acknowledge(fx.pd, "SIRT-1", "PALICE01", "Alice Oncall", ack_s));
    fx_set_clock(&fx, base + 2 * MIN_MS + 2000);
    ASSERT(wait_post(&fx, ch, "Page acknowledged by Alice Oncall", 10000));

    /* Well past ack_minutes: no escalation, no more looks, said once. */
    size_t looks = fake_pagerduty_incident_lookups(fx.pd, "SIRT-1");
    for (int m = 3; m <= 9; m += 3) {
        fx_set_clock(&fx, base + m * MIN_MS + 3000);
        fx_run_for(&fx, 700);
    }
    ASSERT_EQ(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1"), looks);
    ASSERT_EQ(posts_with(&fx, ch, "Page acknowledged by Alice Oncall"), 1);
    ASSERT_EQ(posts_with(&fx, ch, "not acknowledged within"), 0);
    ASSERT_EQ(posts_with(&fx, SIRT_CH, "not acknowledged within"), 0);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);

    /* Recorded: PagerDuty's time on the round and on the timeline. */
    ASSERT_EQ(ack_ms_of(&fx, "SIRT-1"), ack_s * 1000);
    char tl[1024], want[128];
    timeline_entry(&fx, "page_acked", tl, sizeof(tl));
    snprintf(want, sizeof(want), "%lld pagerduty Alice Oncall", (long long)(ack_s * 1000));
    ASSERT_STR_EQ(tl, want);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_page_ack_unacknowledged_escalates_once_and_resolve_stops_it, 120)
{
    struct fx fx;
    const char *env[] = { "PAGERDUTY_ESCALATION_ROUTING_KEY=" ESC_KEY, NULL };
    start(&fx, env);
    const char *ch = report_and_page(&fx);
    const int64_t base = round1_created_ms(&fx);
    fx_set_clock(&fx, base + MIN_MS + 1000);
    ASSERT(fx_wait(&fx, pred_lookup, (void *)"SIRT-1", 10000));
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1/escalation-1"), 0);

    /* ack_minutes (5) pass with nobody acknowledging. */
    fx_set_clock(&fx, base + 5 * MIN_MS + 1000);
    ASSERT(fx_wait(&fx, pred_triggered, (void *)"SIRT-1/escalation-1", 15000));
    const struct fake_pd_incident *esc = fake_pagerduty_incident_by_key(fx.pd, "SIRT-1/escalation-1");
    ASSERT(esc != NULL);
    ASSERT_STR_EQ(esc->severity, "critical");
    /* On the escalation service's key, not the on-call's. */
    const cJSON *ev = fake_pagerduty_last_event(fx.pd);
    ASSERT_STR_EQ(util_jstr(ev, "dedup_key"), "SIRT-1/escalation-1");
    ASSERT_STR_EQ(util_jstr(ev, "routing_key"), ESC_KEY);
    ASSERT(wait_post(&fx, ch, "was not acknowledged within 5 minutes: paging the security manager", 10000));
    ASSERT(wait_post(&fx, SIRT_CH, "SIRT-1 (`SIRT-1`) was not acknowledged within 5 minutes", 10000));
    /* The SIRT channel hears no details of the incident. */
    ASSERT_EQ(posts_with(&fx, SIRT_CH, "Session cookies"), 0);
    char tl[1024];
    timeline_entry(&fx, "page_escalated", tl, sizeof(tl));
    ASSERT_CONTAINS(tl, "SIRT-1/escalation-1");

    /* Later minutes: still followed (asked again), escalated only once. */
    size_t looks = fake_pagerduty_incident_lookups(fx.pd, "SIRT-1");
    fx_set_clock(&fx, base + 7 * MIN_MS + 2000);
    fx_run_for(&fx, 800);
    fx_set_clock(&fx, base + 9 * MIN_MS + 3000);
    fx_run_for(&fx, 800);
    ASSERT(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1") > looks);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1/escalation-1"), 1);
    ASSERT_EQ(posts_with(&fx, ch, "not acknowledged within 5 minutes"), 1);
    ASSERT_EQ(posts_with(&fx, SIRT_CH, "not acknowledged within 5 minutes"), 1);

    /* Resolving resolves the page and the escalation page, and stops the
     * looks (the long-term fix recorded first: an S1 without one asks). */
    slash(&fx, "U0SIRT001", "C0PUBLIC1", "release SIRT-1 https://gitlab.example/security/release/-/issues/7");
    fx_run_for(&fx, 500);
    ASSERT(fx_wait_post_text(&fx, "the long-term fix of SIRT-1", 10000));   /* recorded before the resolve asks */
    slash(&fx, "U0SIRT001", "C0PUBLIC1", "resolve SIRT-1");
    ASSERT(fx_wait(&fx, pred_resolved, (void *)"SIRT-1", 10000));
    ASSERT(fx_wait(&fx, pred_resolved, (void *)"SIRT-1/escalation-1", 10000));
    const cJSON *last = fake_pagerduty_last_event(fx.pd);
    ASSERT_STR_EQ(util_jstr(last, "event_action"), "resolve");
    fx_run_for(&fx, 500);
    looks = fake_pagerduty_incident_lookups(fx.pd, "SIRT-1");
    for (int m = 11; m <= 15; m += 2) {
        fx_set_clock(&fx, base + m * MIN_MS);
        fx_run_for(&fx, 600);
    }
    ASSERT_EQ(fake_pagerduty_incident_lookups(fx.pd, "SIRT-1"), looks);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1/escalation-1"), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_page_ack_without_escalation_key_says_so_once, 120)
{
    struct fx fx;
    start(&fx, NULL);
    const char *ch = report_and_page(&fx);
    const int64_t base = round1_created_ms(&fx);
    for (int m = 1; m <= 9; m += 2) {
        fx_set_clock(&fx, base + m * MIN_MS + 1000);
        fx_run_for(&fx, 600);
    }
    ASSERT(wait_post(&fx, ch, "PAGERDUTY_ESCALATION_ROUTING_KEY is not set", 10000));
    ASSERT(wait_post(&fx, SIRT_CH, "PAGERDUTY_ESCALATION_ROUTING_KEY is not set", 10000));
    fx_set_clock(&fx, base + 12 * MIN_MS);
    fx_run_for(&fx, 800);
    ASSERT_EQ(posts_with(&fx, ch, "PAGERDUTY_ESCALATION_ROUTING_KEY is not set"), 1);
    ASSERT_EQ(posts_with(&fx, SIRT_CH, "PAGERDUTY_ESCALATION_ROUTING_KEY is not set"), 1);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);   /* the page only */
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_page_ack_without_api_token_says_once_acks_are_not_followed, 120)
{
    struct fx fx;
    const char *env[] = { "PAGERDUTY_API_TOKEN=", "PAGERDUTY_ESCALATION_ROUTING_KEY=" ESC_KEY, NULL };
    start(&fx, env);
    const char *ch = report_and_page(&fx);
    const int64_t base = round1_created_ms(&fx);
    ASSERT(wait_post(&fx, ch, "PagerDuty acknowledgements are not followed", 10000));
    /* A second round (after a resolve and a new page would reopen): here, a
     * page again on the open round, and time well past ack_minutes. */
    slash(&fx, "U0SIRT001", ch, "page");
    ASSERT(fx_wait(&fx, pred_triggered, (void *)"SIRT-1", 10000));
    for (int m = 2; m <= 20; m += 6) {
        fx_set_clock(&fx, base + m * MIN_MS);
        fx_run_for(&fx, 600);
    }
    ASSERT_EQ(posts_with(&fx, ch, "acknowledgements are not followed"), 1);
    ASSERT_EQ(fake_http_count(fake_pagerduty_http(fx.pd), "GET /incidents"), 0);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1/escalation-1"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    /* And once in the log, at start. */
    const char *log = fx.stderr_buf.data;
    const char *hit = strstr(log, "page acknowledgements are not followed");
    ASSERT(hit != NULL);
    ASSERT(strstr(hit + 1, "page acknowledgements are not followed") == NULL);
    fx_finish(&fx);
}
