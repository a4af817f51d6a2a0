/* End-to-end test of the review that says how it went (issue 9, part 8):
 * the real bot against the fake Slack and PagerDuty on the settable clock.
 * SIRT-1 (S1) is paged 10 minutes late (PagerDuty is down), never
 * acknowledged, gets no decision for two days and is resolved without a
 * long-term fix; SIRT-2 (S3) has a fix delivered and never validated.
 * `/sirt improve` notes an improvement (masked); `/sirt review` flags each
 * of those, lists the improvement with a Mark done button and ends with
 * the medians; Mark done (refused to an outsider) removes it from the next
 * digest; /metrics shows the duration histograms. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define T0 1795600800000LL          /* Wednesday 2026-11-25 10:00 UTC */
#define MINUTE 60000LL
#define HOUR (60 * MINUTE)
#define SIRT_CH "C0SIRT0001"
#define PUBLIC "C0PUBLIC1"
#define OUTSIDER "U0OUTSID1"

static const struct report_fields s3 = {
    .title = "Verbose error page",
    .what = "Stack traces on the 500 page.",
    .severity = "3",
    .priority = "3",
    .component = "gitaly",
    .repro = "curl https://gitlab.example/-/boom",
};

/* chat.postMessage calls to channel (NULL: any) whose body holds text (NULL: any). */
static size_t posts(struct fx *fx, const char *channel, const char *text)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel, .body = text });
}

static bool wait_posts(struct fx *fx, const char *channel, const char *text, size_t n, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .body = text }, n, ms);
}

/* The idx-th post to channel (its JSON). */
static const cJSON *post_at(struct fx *fx, const char *channel, size_t idx)
{
    const struct fake_call *c = fx_nth(fx, &(struct fx_q){ .channel = channel }, idx);
    return c ? c->json : NULL;
}

/* An ephemeral message to user containing text. */
static bool wait_ephemeral(struct fx *fx, const char *user, const char *text, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .method = "chat.postEphemeral", .user = user, .body = text }, 1, ms);
}

static void send_ok(struct fx *fx, cJSON *p)
{
    fx_send_acked(fx, p, 5000);
}

static void report(struct fx *fx, const struct report_fields *f, const char *view, size_t pins)
{
    send_ok(fx, report_submission_payload(view, "U0REPORT1", f));
    ASSERT(fx_wait_calls(fx, "pins.add", pins, 15000));
}

static void click(struct fx *fx, const char *user, const char *channel, const char *action_id, const char *value,
                  const char *ts)
{
    struct fx_button b = { .user = user, .channel = channel, .action_id = action_id, .block_id = "b1",
                           .value = value, .action_ts = ts };
    send_ok(fx, fx_button_payload(fx, &b));
}

static cJSON *decision_payload(int incident)
{
    char md[64];
    snprintf(md, sizeof(md), "{\"incident\":%d}", incident);
    struct view_submission v = { .user = "U0SIRT001", .view_id = "V0REVDEC01", .metadata = md,
                                 .trigger_id = "1337.44.view", .app = true };
    struct decision_answers a = { "Hide stack traces", "Patch the template", "Stops the leak", "None", "None", "Low",
                                  "None" };
    return decision_submission_payload(&v, &a);
}

/* All texts (text + blocks) of the posts to the SIRT channel from index from on. */
static char *digest_since(struct fx *fx, size_t from)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = from; post_at(fx, SIRT_CH, i); i++) {
        const cJSON *j = post_at(fx, SIRT_CH, i);
        char *s = cJSON_PrintUnformatted(j);
        buf_printf(&b, "%s\n", s);
        free(s);
    }
    return buf_take(&b);
}

static bool pred_metrics(struct fx *fx, void *ud)
{
    (void)fx;
    int port = *(int *)ud;
    struct buf body;
    buf_init(&body, 0);
    bool ok = fx_http_get(port, "/metrics", &body) == 200
              && strstr(body.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"900\"} 1\n");
    buf_finish(&body);
    return ok;
}

TEST_T(e2e_review_flags_improvements_medians_metrics, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    fake_slack_add_channel(fx.slack, SIRT_CH, "sirt", true);   /* private: the digest has details */
    fx_set_clock(&fx, T0);
    const char *env[] = { "SIRT_TEST_BACKOFF_SCALE=0.01", "SIRT_LOG=warn", NULL };
    int port = fx_start_http(&fx, env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));

    /* SIRT-1, S1: PagerDuty is down, so the page goes out 10-11 minutes late. */
    fake_pagerduty_outage(fx.pd, FAKE_PD_ENQUEUE, 500, 0);
    report(&fx, &report_secret_s1, "V0REVIEW01", 1);
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    fx_set_clock(&fx, T0 + 11 * MINUTE);
    fake_pagerduty_outage_end(fx.pd);
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 20000));

    /* SIRT-2, S3: a fix delivered, never validated. */
    report(&fx, &s3, "V0REVIEW02", 2);
    send_ok(&fx, decision_payload(2));
    ASSERT(wait_posts(&fx, NULL, "Short-term decision #1", 1, 10000));
    click(&fx, "U0SIRT001", PUBLIC, "decision_fix_delivered", "1", "1795601500.000100");
    fx_run_for(&fx, 500);
    /* ... and handed to an engineer who never presses Accept. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "handoff SIRT-2 <@U0APPSEC1>"), "SIRT-2");
    ASSERT(wait_posts(&fx, NULL, "Handoff pending", 1, 10000));

    /* An improvement, by the SIRT team only; its text is masked. */
    ASSERT_CONTAINS(fx_slash_text(&fx, OUTSIDER, PUBLIC, "improve SIRT-1 something"), "Only the SIRT team");
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "improve SIRT-1"), "Usage");
    const char *t = fx_slash_text(&fx, "U0SIRT001", PUBLIC,
                          "improve SIRT-1 Escalate to the manager when PagerDuty is down, token glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm");
    ASSERT_CONTAINS(t, "Noted a process improvement for SIRT-1");
    ASSERT_NOT_CONTAINS(t, "Escalate");
    fx_run_for(&fx, 300);

    /* Two days later SIRT-1 is resolved, still without a decision or an ack. */
    fx_set_clock(&fx, T0 + 10 * MINUTE + 49 * HOUR);
    fx_run_for(&fx, 500);
    /* An S1 without a long-term fix: resolving asks first; "Resolve anyway". */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "resolve SIRT-1"), "SIRT-1");
    click(&fx, "U0SIRT001", PUBLIC, "resolve_anyway", "SIRT-1", "1795777000.000100");
    ASSERT(wait_posts(&fx, NULL, "resolved SIRT-1", 1, 10000));

    /* The digest: each flag, the improvement with its button, the medians last. */
    size_t before = posts(&fx, SIRT_CH, NULL);
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "review"), "Posting the weekly review");
    ASSERT(wait_posts(&fx, SIRT_CH, "Median times over the last 4 weeks", 1, 15000));
    fx_run_for(&fx, 300);
    char *d = digest_since(&fx, before);
    ASSERT_CONTAINS(d, "*Handling*: paged 10m after the report (more than 5m)");
    ASSERT_CONTAINS(d, "page not acknowledged within 15m");
    ASSERT_CONTAINS(d, "S1 with no decision recorded within 24h");
    ASSERT_CONTAINS(d, "resolved without a long-term fix recorded");
    ASSERT_CONTAINS(d, "fix of decision #1 not validated within 48h");
    ASSERT_CONTAINS(d, "1 handoff nobody accepted");
    ASSERT_CONTAINS(d, "(2 with something flagged)");
    ASSERT_CONTAINS(d, "Process improvements noted");
    ASSERT_CONTAINS(d, "(SIRT-1) Escalate to the manager when PagerDuty is down");
    ASSERT_NOT_CONTAINS(d, "Zx9Yw8Vu7Ts6Rq5Po4Nm");
    ASSERT_CONTAINS(d, "\"action_id\":\"review_improvement_done\"");
    ASSERT_CONTAINS(d, "• S1: page 10m (1)");
    ASSERT_CONTAINS(d, "resolve 2d 1h (1)");
    ASSERT_CONTAINS(d, "• S3: page — · acknowledge ");   /* its handoff page is no response time */
    ASSERT_CONTAINS(d, "• S2: page — · acknowledge — · first decision — · validated fix — · resolve —");
    /* the medians come last */
    const cJSON *last = post_at(&fx, SIRT_CH, posts(&fx, SIRT_CH, NULL) - 1);
    ASSERT_CONTAINS(util_jstr(last, "text"), "Median times over the last 4 weeks");
    free(d);

    /* Mark done: refused to an outsider, done by the SIRT team. */
    click(&fx, OUTSIDER, SIRT_CH, "review_improvement_done", "1", "1795780000.000100");
    ASSERT(wait_ephemeral(&fx, OUTSIDER, "Only the SIRT team can mark process improvements done", 10000));
    click(&fx, "U0SIRT002", SIRT_CH, "review_improvement_done", "1", "1795780001.000100");
    ASSERT(wait_ephemeral(&fx, "U0SIRT002", "Process improvement #1 marked done", 10000));

    /* The next digest no longer lists it; the medians end its last message. */
    before = posts(&fx, SIRT_CH, NULL);
    fx_slash_text(&fx, "U0SIRT001", PUBLIC, "review");
    ASSERT(wait_posts(&fx, SIRT_CH, "Median times over the last 4 weeks", 2, 15000));
    fx_run_for(&fx, 1000);
    d = digest_since(&fx, before);
    ASSERT_NOT_CONTAINS(d, "Process improvements noted");
    ASSERT_NOT_CONTAINS(d, "Escalate to the manager");
    ASSERT_CONTAINS(d, "page not acknowledged within 15m");
    free(d);

    /* /metrics: the same durations as histograms by severity. */
    ASSERT(fx_wait(&fx, pred_metrics, &port, 20000));
    struct buf body;
    buf_init(&body, 0);
    ASSERT_EQ(fx_http_get(port, "/metrics", &body), 200);
    ASSERT_CONTAINS(body.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"300\"} 0\n");
    ASSERT_CONTAINS(body.data, "sirt_incident_time_to_resolve_seconds_bucket{severity=\"1\",le=\"172800\"} 0\n");
    ASSERT_CONTAINS(body.data, "sirt_incident_time_to_resolve_seconds_bucket{severity=\"1\",le=\"345600\"} 1\n");
    ASSERT_CONTAINS(body.data, "sirt_incident_time_to_decision_seconds_count{severity=\"3\"} 1\n");
    ASSERT_CONTAINS(body.data, "sirt_incident_time_to_acknowledge_seconds_count{severity=\"1\"} 0\n");
    buf_finish(&body);

    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
