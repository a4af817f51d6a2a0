/* End-to-end tests of "retry until delivered": the real bot against fakes
 * that fail every request (503 or a dropped connection) for longer than the
 * old give-up time (8 attempts, 63-127 s), with SIRT_TEST_BACKOFF_SCALE so
 * that 150 s of outage plays out in 1.5 s.  Each test checks what the fakes
 * received after recovery: every effect exactly once, the page announced
 * when late and when delivered, nothing sent for a resolved incident, and
 * permanent errors still failing fast with their notice. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"

/* 1 s of the bot's own delays = 10 ms: caps 0.6 s (pages) and 3 s, page
 * announcement after 1.2 s. */
#define SCALE_ENV "SIRT_TEST_BACKOFF_SCALE=0.01"
#define OUTAGE_MS 1500   /* 150 s scaled: longer than the old give-up time */

static const char *const scaled_env[] = { SCALE_ENV, NULL };

static const struct report_fields s1 = {
    .title = "Deploy key exposed in a public pipeline",
    .what = "The deploy key was printed in a job log.",
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = "open the job log",
    .link = "",
};

static void submit(struct fx *fx, const char *view_id)
{
    fx_submit_report(fx, view_id, "U0REPORT1", &s1);
}

/* Successful chat.postMessage calls to channel (NULL = any) whose text holds needle. */
static size_t posts(struct fx *fx, const char *channel, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        const char *ch = util_jstr(c->json, "channel"), *t = util_jstr(c->json, "text");
        if (c->status != 200 || (channel && (!ch || strcmp(ch, channel) != 0)))
            continue;
        if (t && strstr(t, needle))
            n++;
    }
    return n;
}

static const char *incident_channel(struct fx *fx)
{
    return fake_slack_channel_count(fx->slack) ? fake_slack_channel(fx->slack, 0)->id : "";
}

static size_t triggers(struct fx *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_pagerduty_event_count(fx->pd); i++) {
        const char *a = util_jstr(fake_pagerduty_event_json(fx->pd, i), "event_action");
        if (a && strcmp(a, "trigger") == 0)
            n++;
    }
    return n;
}

static size_t pins_ok(struct fx *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "pins.add"); i++)
        if (fake_slack_call(fx->slack, "pins.add", i)->status == 200)
            n++;
    return n;
}

static bool pred_settled(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_channel_count(fx->slack) >= 1 && fake_gitlab_issue_count(fx->gitlab) >= 1
           && triggers(fx) >= 1 && fake_gitlab_note_count(fx->gitlab) >= 1 && pins_ok(fx) >= 1
           && posts(fx, "C0GITALY1", "SIRT-1") >= 1 && fake_gitlab_member_count(fx->gitlab) >= 2;
}

/* Every effect of the S1 plan delivered exactly once. */
static void assert_plan_once(struct fx *fx)
{
    ASSERT_EQ(fake_slack_channel_count(fx->slack), 1);
    ASSERT_EQ(fake_gitlab_project_count(fx->gitlab), 1);
    ASSERT_EQ(fake_gitlab_issue_count(fx->gitlab), 1);
    ASSERT_EQ(fake_gitlab_note_count(fx->gitlab), 1);
    ASSERT_EQ(fake_pagerduty_incident_count(fx->pd), 1);
    ASSERT_EQ(triggers(fx), 1);
    ASSERT_EQ(pins_ok(fx), 1);
    ASSERT_EQ(posts(fx, "C0GITALY1", "SIRT-1"), 1);
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    const char *members[] = { "U0REPORT1", "U0SIRT001", "U0SIRT002", "U0EM00001", "U0PM00001" };
    for (size_t i = 0; i < ARRAY_LEN(members); i++)
        if (!fake_slack_channel_has_member(ch, members[i]))
            TEST_FAIL("%s not invited", members[i]);
}

struct count_want {
    const char *channel, *needle;
    size_t n;
};

static bool pred_posts(struct fx *fx, void *ud)
{
    const struct count_want *w = ud;
    return posts(fx, w->channel && !*w->channel ? incident_channel(fx) : w->channel, w->needle) >= w->n;
}

TEST_T(e2e_outage_pagerduty_down_page_delivered_once_and_announced, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_pagerduty_outage(fx.pd, FAKE_PD_ENQUEUE, 503, 0);
    fx_start(&fx, scaled_env);
    submit(&fx, "V0OUTPD001");
    uint64_t t0 = fake_http_now_us();

    /* Still refused after the announcement delay: said once in both channels. */
    struct count_want late_inc = { "", "PagerDuty has not accepted the page for SIRT-1", 1 };
    struct count_want late_sirt = { "C0SIRT0001", "PagerDuty has not accepted the page for SIRT-1", 1 };
    ASSERT(fx_wait(&fx, pred_posts, &late_inc, 15000));
    ASSERT(fx_wait(&fx, pred_posts, &late_sirt, 5000));
    ASSERT_CONTAINS(fake_slack_last_call(fx.slack, "chat.postMessage")->body, "call the on-call by phone");
    /* Keep PagerDuty down past the old give-up time. */
    while (fake_http_now_us() - t0 < (uint64_t)OUTAGE_MS * 1000)
        fx_run_for(&fx, 50);
    size_t tried = fake_http_count(fake_pagerduty_http(fx.pd), "POST /v2/enqueue");
    ASSERT_GE(tried, 3);
    ASSERT_EQ(triggers(&fx), 0);
    fake_pagerduty_outage_end(fx.pd);

    struct count_want ok_inc = { "", "PagerDuty accepted the page for SIRT-1", 1 };
    struct count_want ok_sirt = { "C0SIRT0001", "PagerDuty accepted the page for SIRT-1", 1 };
    ASSERT(fx_wait(&fx, pred_settled, NULL, 20000));
    ASSERT(fx_wait(&fx, pred_posts, &ok_inc, 5000));
    ASSERT(fx_wait(&fx, pred_posts, &ok_sirt, 5000));
    fx_run_for(&fx, 1500);
    assert_plan_once(&fx);
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_last_event(fx.pd), "dedup_key"), "SIRT-1");
    ASSERT_EQ(posts(&fx, incident_channel(&fx), "has not accepted the page"), 1);
    ASSERT_EQ(posts(&fx, "C0SIRT0001", "has not accepted the page"), 1);
    ASSERT_EQ(posts(&fx, incident_channel(&fx), "PagerDuty accepted the page"), 1);
    ASSERT_EQ(posts(&fx, "C0SIRT0001", "PagerDuty accepted the page"), 1);
    ASSERT_EQ(posts(&fx, NULL, "Nothing more will be tried"), 0);

    /* The announcements are durable: a restart makes none again. */
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_start(&fx, scaled_env);
    fx_run_for(&fx, 1000);
    ASSERT_EQ(posts(&fx, NULL, "has not accepted the page"), 2);
    ASSERT_EQ(posts(&fx, NULL, "PagerDuty accepted the page"), 2);
    ASSERT_EQ(triggers(&fx), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_outage_slack_down_channel_summary_and_notices_once, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_start(&fx, scaled_env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    fx_run_for(&fx, 300);
    fake_slack_outage(fx.slack, 503, NULL, 0);   /* until told */
    submit(&fx, "V0OUTSL001");
    /* Down for at least the scaled 150 s, and until the channel was tried
     * three times (a slow start, e.g. under valgrind, must not end it early). */
    uint64_t t0 = fake_http_now_us();
    for (int i = 0; i < 600 && (fake_http_now_us() - t0 < (uint64_t)OUTAGE_MS * 1000
                                || fake_slack_call_count(fx.slack, "conversations.create") < 3); i++)
        fx_run_for(&fx, 50);
    /* Tried during the outage, nothing got through. */
    ASSERT_GE(fake_slack_call_count(fx.slack, "conversations.create"), 3);
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 0);
    fake_slack_outage_end(fx.slack);
    ASSERT(fx_wait(&fx, pred_settled, NULL, 30000));
    fx_run_for(&fx, 1500);
    assert_plan_once(&fx);
    /* EM and PM told by DM once each. */
    ASSERT_EQ(posts(&fx, "D0EM00001", "SIRT-1"), 1);
    ASSERT_EQ(posts(&fx, "D0PM00001", "SIRT-1"), 1);
    ASSERT_EQ(posts(&fx, NULL, "Nothing more will be tried"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_outage_gitlab_down_project_and_issue_once, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_gitlab_outage(fx.gitlab, NULL, 0, 0);   /* connections dropped, until told */
    fx_start(&fx, scaled_env);
    submit(&fx, "V0OUTGL001");
    uint64_t t0 = fake_http_now_us();
    for (int i = 0; i < 600 && (fake_http_now_us() - t0 < (uint64_t)OUTAGE_MS * 1000
                                || fake_http_count(fake_gitlab_http(fx.gitlab), "POST /projects") < 3); i++)
        fx_run_for(&fx, 50);
    ASSERT_GE(fake_http_count(fake_gitlab_http(fx.gitlab), "POST /projects"), 3);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 0);
    fake_gitlab_outage_end(fx.gitlab);
    ASSERT(fx_wait(&fx, pred_settled, NULL, 30000));
    fx_run_for(&fx, 1500);
    assert_plan_once(&fx);
    ASSERT_EQ(posts(&fx, NULL, "Nothing more will be tried"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_outage_page_for_resolved_incident_is_dropped, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_pagerduty_outage(fx.pd, FAKE_PD_ENQUEUE, 503, 0);
    fx_start(&fx, scaled_env);
    submit(&fx, "V0OUTRS001");
    struct count_want late = { "C0SIRT0001", "has not accepted the page for SIRT-1", 1 };
    ASSERT(fx_wait(&fx, pred_posts, &late, 15000));
    const char *eid = fake_slack_send_slash(fx.slack, "U0SIRT001", incident_channel(&fx),
                                            "release SIRT-1 https://gitlab.example/security/release/-/issues/7");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT(fx_wait_post_text(&fx, "the long-term fix of SIRT-1", 10000));   /* recorded before the resolve asks */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", incident_channel(&fx), "resolve SIRT-1");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    struct count_want dropped = { "C0SIRT0001", "no longer sent", 1 };
    ASSERT(fx_wait(&fx, pred_posts, &dropped, 10000));
    fake_pagerduty_outage_end(fx.pd);
    fx_run_for(&fx, 2000);
    ASSERT_EQ(triggers(&fx), 0);
    ASSERT_EQ(posts(&fx, NULL, "PagerDuty accepted the page"), 0);
    ASSERT(fx_stderr_has(&fx, "outbox: job dropped"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_outage_permanent_errors_still_fail_fast, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 400, 0);
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 404, "{\"message\":\"404 Project Not Found\"}", 0);
    fx_start(&fx, scaled_env);
    submit(&fx, "V0OUTFF001");
    struct count_want page = { "", "paging the security on-call (PagerDuty) failed", 1 };
    struct count_want issue = { "", "creating the confidential GitLab issue failed", 1 };
    ASSERT(fx_wait(&fx, pred_posts, &page, 15000));
    ASSERT(fx_wait(&fx, pred_posts, &issue, 15000));
    fx_run_for(&fx, 1500);
    /* One request each: no retry of what cannot succeed. */
    ASSERT_EQ(fake_http_count(fake_pagerduty_http(fx.pd), "POST /v2/enqueue"), 1);
    ASSERT_EQ(fake_http_count(fake_gitlab_http(fx.gitlab), "POST /projects/*/issues"), 1);
    ASSERT_EQ(triggers(&fx), 0);
    ASSERT_EQ(posts(&fx, NULL, "400"), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_outage_gives_up_after_give_up_hours, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    /* give_up_hours 1 at scale 0.0001: 0.36 s. */
    char *cfg = xstrdup(fx_default_config);
    char *end = strrchr(cfg, '}');
    *end = '\0';
    char *text = xasprintf("%s, \"outbox\": {\"give_up_hours\": 1}}\n", cfg);
    fx_write_config(&fx, text);
    free(text);
    free(cfg);
    fake_gitlab_outage(fx.gitlab, "POST /projects", 503, 0);
    const char *env[] = { "SIRT_TEST_BACKOFF_SCALE=0.0001", NULL };
    fx_start(&fx, env);
    submit(&fx, "V0OUTGU001");
    struct count_want gave_up = { "", "creating the private GitLab project failed (gave up after", 1 };
    ASSERT(fx_wait(&fx, pred_posts, &gave_up, 15000));
    ASSERT_GE(fake_http_count(fake_gitlab_http(fx.gitlab), "POST /projects"), 2);
    fake_gitlab_outage_end(fx.gitlab);
    fx_run_for(&fx, 1000);
    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 0);
    ASSERT_EQ(triggers(&fx), 1);   /* the page does not wait for the project */
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* ---- the pure pieces: backoff bounds and the queue metrics ---- */

#include "../bot/metrics.h"
#include "../bot/outbox.h"
#include "../bot/outbox_outcome.h"
#include "../bot/util.h"

TEST(outage_backoff_is_capped_and_jittered)
{
    /* Equal jitter in [d/2, d] with d = base doubled per attempt, capped. */
    ASSERT_EQ(outbox_backoff_ms(1, 1000, 60000, 0), 500);
    ASSERT_EQ(outbox_backoff_ms(1, 1000, 60000, 500), 1000);
    ASSERT_EQ(outbox_backoff_ms(3, 1000, 60000, 0), 2000);
    for (int a = 1; a < 200; a++) {
        uint64_t v = outbox_backoff_ms(a, 1000, 60000, util_rand64());
        ASSERT_LE(v, 60000);
        if (a >= 8)
            ASSERT_GE(v, 30000);   /* at the cap: never faster than every 30 s */
    }
    ASSERT_LE(outbox_backoff_ms(1000, 1000, 300000, UINT64_MAX), 300000);
    ASSERT_NE(outbox_backoff_ms(9, 1000, 300000, 1), outbox_backoff_ms(9, 1000, 300000, 99999));
}

static bool fake_probe(void *ud, int64_t counts[METRICS_OUTBOX_STATES], int64_t *oldest_age_ms)
{
    (void)ud;
    for (int i = 0; i < METRICS_OUTBOX_STATES; i++)
        counts[i] = i + 1;
    *oldest_age_ms = 90500;
    return true;
}

TEST(outage_metrics_render_queue_gauges_and_retries)
{
    struct metrics *m = metrics_create();
    metrics_outbox(m, "pd.trigger", "retry");   /* the existing series keep their names */
    metrics_outbox_retry(m, "pd.trigger");
    metrics_outbox_retry(m, "pd.trigger");
    metrics_outbox_retry(m, "slack.post");
    struct buf b;
    buf_init(&b, 1 << 20);
    metrics_render(m, &b);
    ASSERT_CONTAINS(b.data, "sirt_outbox_jobs_total{op=\"pd.trigger\",outcome=\"retry\"} 1");
    ASSERT_CONTAINS(b.data, "sirt_outbox_retries_total{op=\"pd.trigger\"} 2");
    ASSERT_CONTAINS(b.data, "sirt_outbox_retries_total{op=\"slack.post\"} 1");
    ASSERT_NOT_CONTAINS(b.data, "sirt_outbox_jobs_by_state");   /* no probe: left out */
    metrics_set_outbox_probe(m, fake_probe, NULL);
    buf_reset(&b);
    metrics_render(m, &b);
    ASSERT_CONTAINS(b.data, "# TYPE sirt_outbox_jobs_by_state gauge");
    ASSERT_CONTAINS(b.data, "sirt_outbox_jobs_by_state{state=\"pending\"} 1");
    ASSERT_CONTAINS(b.data, "sirt_outbox_jobs_by_state{state=\"failed\"} 4");
    ASSERT_CONTAINS(b.data, "sirt_outbox_jobs_by_state{state=\"dropped\"} 5");
    ASSERT_CONTAINS(b.data, "sirt_outbox_oldest_pending_age_seconds 90.500");
    buf_finish(&b);
    metrics_destroy(m);
}
