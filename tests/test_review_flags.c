/* Unit tests of the review's flags and durations (handlers/review_flags.c)
 * over hand-built rows: each flag just inside and just past its boundary,
 * the severity history, the durations and medians; the duration histograms
 * as /metrics renders them; and improvements in a real store. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/metrics.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "../handlers/review_flags.h"
#include "test.h"

#define T0 1795424400000LL           /* the report */
#define MIN 60000LL
#define HOUR (60 * MIN)

struct rows {
    struct rf_rows r;
    struct rf_event tl[16];
    struct rf_decision dec[4];
    struct rf_params p;
};

static void rows_init(struct rows *x, int sev, int pri)
{
    memset(x, 0, sizeof(*x));
    x->r.inc = (struct rf_incident){ .id = 7, .severity = sev, .priority = pri, .created_ms = T0 };
    x->r.tl = x->tl;
    x->r.dec = x->dec;
    x->p = (struct rf_params){ .now_ms = T0 + 72 * HOUR, .ack_minutes = 15, .acks_followed = true };
}

static void ev(struct rows *x, int64_t ts, const char *kind, const char *actor, const char *text)
{
    x->tl[x->r.n_tl++] = (struct rf_event){ .ts_ms = ts, .kind = kind, .actor = actor, .text = text };
}

static struct rf_result run(struct rows *x)
{
    struct rf_result r;
    rf_compute(&x->r, &x->p, &r);
    return r;
}

TEST(review_flags_page_late_boundary)
{
    struct rows x;
    rows_init(&x, 1, 2);
    ev(&x, T0 + 5 * MIN, "pd.trigger", "sirtbot", "security on-call paged (PagerDuty)");
    struct rf_result r = run(&x);
    ASSERT(!(r.flags & RF_PAGE_LATE));              /* exactly 5 minutes: in time */
    ASSERT_EQ(r.dur_ms[RF_D_PAGE], 5 * MIN);
    x.tl[0].ts_ms = T0 + 5 * MIN + 1000;
    r = run(&x);
    ASSERT(r.flags & RF_PAGE_LATE);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "paged 5m after the report");
    free(d);

    /* P1 counts too; an S3/P3 is never late. */
    rows_init(&x, 3, 1);
    r = run(&x);
    ASSERT(r.flags & RF_PAGE_LATE);
    d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "S1/P1 never paged");
    free(d);
    rows_init(&x, 3, 3);
    ASSERT(!(run(&x).flags & RF_PAGE_LATE));

    /* Never paged, resolved within 5 minutes: not late; after: late. */
    rows_init(&x, 1, 1);
    x.r.inc.resolved = true;
    x.r.inc.resolved_ms = T0 + 5 * MIN;
    ASSERT(!(run(&x).flags & RF_PAGE_LATE));
    x.r.inc.resolved_ms = T0 + 5 * MIN + 1;
    ASSERT(run(&x).flags & RF_PAGE_LATE);
}

TEST(review_flags_page_due_after_raise)
{
    struct rows x;
    rows_init(&x, 1, 3);                 /* now S1, reported S3 */
    ev(&x, T0 + 10 * HOUR, "severity_changed", "U0SIRT001", "S3/P3 -> S1/P3");
    ev(&x, T0 + 10 * HOUR + 4 * MIN, "pd.trigger", "sirtbot", "paged");
    struct rf_result r = run(&x);
    ASSERT_EQ(r.initial_severity, 3);
    ASSERT_EQ(r.page_due_ms, T0 + 10 * HOUR);
    ASSERT_EQ(r.s1_ms, T0 + 10 * HOUR);
    ASSERT(!(r.flags & RF_PAGE_LATE));
    ASSERT_EQ(r.dur_ms[RF_D_PAGE], 4 * MIN);
    x.tl[1].ts_ms = T0 + 10 * HOUR + 6 * MIN;
    r = run(&x);
    ASSERT(r.flags & RF_PAGE_LATE);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "after it became S1/P1");
    free(d);

    /* Reported S1, lowered later: it was due at the report. */
    rows_init(&x, 3, 3);
    ev(&x, T0 + HOUR, "severity_changed", "U0SIRT001", "S1/P2 -> S3/P3");
    r = run(&x);
    ASSERT_EQ(r.initial_severity, 1);
    ASSERT_EQ(r.page_due_ms, T0);
    ASSERT(r.flags & RF_PAGE_LATE);
}

TEST(review_flags_ack_boundary)
{
    struct rows x;
    rows_init(&x, 1, 1);
    ev(&x, T0 + MIN, "pd.trigger", "sirtbot", "paged");
    ev(&x, T0 + 16 * MIN, "page_acked", "U0SECOPS1", "secops");
    struct rf_result r = run(&x);
    ASSERT(!(r.flags & RF_ACK_LATE));               /* exactly 15 minutes */
    ASSERT_EQ(r.dur_ms[RF_D_ACK], 15 * MIN);
    x.tl[1].ts_ms += 1;
    r = run(&x);
    ASSERT(r.flags & RF_ACK_LATE);
    x.p.ack_minutes = 20;                           /* paging.ack_minutes */
    ASSERT(!(run(&x).flags & RF_ACK_LATE));

    /* No ack: late once ack_minutes passed, if acks are followed... */
    rows_init(&x, 1, 1);
    ev(&x, T0 + MIN, "pd.trigger", "sirtbot", "paged");
    x.p.now_ms = T0 + 16 * MIN;
    ASSERT(!(run(&x).flags & RF_ACK_LATE));
    x.p.now_ms += 1;
    ASSERT(run(&x).flags & RF_ACK_LATE);
    x.p.acks_followed = false;                      /* ...unknown otherwise */
    ASSERT(!(run(&x).flags & RF_ACK_LATE));
    ev(&x, T0 + 16 * MIN, "page_escalated", "sirtbot", "escalated");   /* but an escalation says so */
    r = run(&x);
    ASSERT(r.flags & RF_ACK_LATE);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "page not acknowledged within 15m (escalated)");
    free(d);
    /* Not paged: nothing to acknowledge. */
    rows_init(&x, 3, 3);
    ASSERT(!(run(&x).flags & RF_ACK_LATE));
}

TEST(review_flags_handoff_unaccepted)
{
    struct rows x;
    rows_init(&x, 2, 2);
    ev(&x, T0 + HOUR, "handoff_offered", "U0APPSEC2", "offered");
    ev(&x, T0 + 2 * HOUR, "handoff_accepted", "U0APPSEC2", "accepted");
    ASSERT(!(run(&x).flags & RF_HANDOFF_UNACCEPTED));
    ev(&x, T0 + 3 * HOUR, "handoff_unaccepted", "U0APPSEC1", "not accepted in 30 minutes");
    struct rf_result r = run(&x);
    ASSERT(r.flags & RF_HANDOFF_UNACCEPTED);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "1 handoff nobody accepted (first: <@U0APPSEC1>)");
    free(d);
}

TEST(review_flags_fix_validation_boundary)
{
    struct rows x;
    rows_init(&x, 2, 2);
    x.dec[x.r.n_dec++] = (struct rf_decision){ .id = 3, .created_ms = T0 + HOUR, .fix_delivered_ms = T0 + 2 * HOUR,
                                               .validated = -1 };
    x.p.now_ms = T0 + 50 * HOUR;                    /* delivered exactly 48 h ago */
    ASSERT(!(run(&x).flags & RF_FIX_UNVALIDATED));
    x.p.now_ms += 1;
    struct rf_result r = run(&x);
    ASSERT(r.flags & RF_FIX_UNVALIDATED);
    ASSERT_EQ(r.unvalidated_id, 3);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "fix of decision #3 not validated within 48h");
    free(d);
    /* Validated (either answer) at 48 h: fine; a moment later: flagged. */
    x.dec[0].validated = 0;
    x.dec[0].validated_ms = T0 + 50 * HOUR;
    x.p.now_ms = T0 + 100 * HOUR;
    r = run(&x);
    ASSERT(!(r.flags & RF_FIX_UNVALIDATED));
    ASSERT_EQ(r.dur_ms[RF_D_VALIDATED], -1);        /* not effective: no validated fix */
    x.dec[0].validated_ms += 1;
    ASSERT(run(&x).flags & RF_FIX_UNVALIDATED);
    x.dec[0].validated = 1;
    x.dec[0].validated_ms = T0 + 10 * HOUR;
    r = run(&x);
    ASSERT(!(r.flags & RF_FIX_UNVALIDATED));
    ASSERT_EQ(r.dur_ms[RF_D_VALIDATED], 10 * HOUR);
    ASSERT_EQ(r.dur_ms[RF_D_DECISION], HOUR);
    /* Not delivered: nothing to validate. */
    x.dec[0] = (struct rf_decision){ .id = 3, .created_ms = T0 + HOUR, .validated = -1 };
    ASSERT(!(run(&x).flags & RF_FIX_UNVALIDATED));
}

TEST(review_flags_s1_decision_boundary)
{
    struct rows x;
    rows_init(&x, 1, 2);
    x.dec[x.r.n_dec++] = (struct rf_decision){ .id = 1, .created_ms = T0 + 24 * HOUR, .validated = -1 };
    ASSERT(!(run(&x).flags & RF_NO_DECISION));
    x.dec[0].created_ms += 1;
    struct rf_result r = run(&x);
    ASSERT(r.flags & RF_NO_DECISION);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "S1 without a decision for 1d 0h (more than 24h)");
    free(d);
    /* None at all: flagged once 24 h passed. */
    x.r.n_dec = 0;
    x.p.now_ms = T0 + 24 * HOUR;
    ASSERT(!(run(&x).flags & RF_NO_DECISION));
    x.p.now_ms += 1;
    r = run(&x);
    ASSERT(r.flags & RF_NO_DECISION);
    d = rf_describe(&x.r, &x.p, &r);
    ASSERT_CONTAINS(d, "S1 with no decision recorded within 24h");
    free(d);
    /* S2: not this flag. */
    x.r.inc.severity = 2;
    ASSERT(!(run(&x).flags & RF_NO_DECISION));
}

TEST(review_flags_resolved_without_release)
{
    struct rows x;
    rows_init(&x, 2, 1);                            /* P1 */
    ASSERT(!(run(&x).flags & RF_NO_RELEASE));       /* open: not yet */
    x.r.inc.resolved = true;
    x.r.inc.resolved_ms = T0 + 30 * HOUR;
    struct rf_result r = run(&x);
    ASSERT(r.flags & RF_NO_RELEASE);
    ASSERT_EQ(r.dur_ms[RF_D_RESOLVE], 30 * HOUR);
    ev(&x, T0 + 20 * HOUR, "release_recorded", "U0SIRT001", "https://gitlab.example/sec/-/issues/4");
    ASSERT(!(run(&x).flags & RF_NO_RELEASE));
    /* An S3 without a release is fine, unless resolved "anyway". */
    rows_init(&x, 3, 3);
    x.r.inc.resolved = true;
    x.r.inc.resolved_ms = T0 + HOUR;
    ASSERT(!(run(&x).flags & RF_NO_RELEASE));
    ev(&x, T0 + HOUR, "resolved_without_release", "U0SIRT001", "resolved anyway");
    r = run(&x);
    ASSERT(r.flags & RF_NO_RELEASE);
    char *d = rf_describe(&x.r, &x.p, &r);
    ASSERT_STR_EQ(d, "resolved without a long-term fix recorded");
    free(d);
}

TEST(review_flags_nothing_flagged)
{
    struct rows x;
    rows_init(&x, 1, 1);
    ev(&x, T0 + 2 * MIN, "pd.trigger", "sirtbot", "paged");
    ev(&x, T0 + 4 * MIN, "page_acked", "U0SECOPS1", "secops");
    ev(&x, T0 + 5 * HOUR, "release_recorded", "U0SIRT001", "https://x/1");
    x.dec[x.r.n_dec++] = (struct rf_decision){ .id = 1, .created_ms = T0 + HOUR, .fix_delivered_ms = T0 + 2 * HOUR,
                                               .validated = 1, .validated_ms = T0 + 3 * HOUR };
    x.r.inc.resolved = true;
    x.r.inc.resolved_ms = T0 + 6 * HOUR;
    struct rf_result r = run(&x);
    ASSERT_EQ(r.flags, 0);
    ASSERT(rf_describe(&x.r, &x.p, &r) == NULL);
    ASSERT_EQ(r.dur_ms[RF_D_PAGE], 2 * MIN);
    ASSERT_EQ(r.dur_ms[RF_D_ACK], 2 * MIN);
    ASSERT_EQ(r.dur_ms[RF_D_DECISION], HOUR);
    ASSERT_EQ(r.dur_ms[RF_D_VALIDATED], 3 * HOUR);
    ASSERT_EQ(r.dur_ms[RF_D_RESOLVE], 6 * HOUR);
    ASSERT_EQ(r.dur_end_ms[RF_D_RESOLVE], T0 + 6 * HOUR);
}

TEST(review_flags_medians_and_format)
{
    int64_t v[] = { 30, 10, 20 };
    ASSERT_EQ(rf_median(v, 3), 20);
    int64_t w[] = { 40, 10, 20, 30 };
    ASSERT_EQ(rf_median(w, 4), 25);
    ASSERT_EQ(rf_median(NULL, 0), -1);
    char d[32];
    rf_fmt_duration(-1, d);
    ASSERT_STR_EQ(d, "—");
    rf_fmt_duration(45000, d);
    ASSERT_STR_EQ(d, "45s");
    rf_fmt_duration(12 * MIN, d);
    ASSERT_STR_EQ(d, "12m");
    rf_fmt_duration(3 * HOUR + 5 * MIN, d);
    ASSERT_STR_EQ(d, "3h 05m");
    rf_fmt_duration(52 * HOUR, d);
    ASSERT_STR_EQ(d, "2d 4h");

    /* Samples: only durations that ended inside the window, by severity. */
    struct rf_samples s;
    memset(&s, 0, sizeof(s));
    struct rf_result r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < RF_N_DUR; i++)
        r.dur_ms[i] = r.dur_end_ms[i] = -1;
    r.dur_ms[RF_D_RESOLVE] = 5 * HOUR;
    r.dur_end_ms[RF_D_RESOLVE] = T0;
    rf_samples_add(&s, 1, &r, T0, T0 + HOUR);
    rf_samples_add(&s, 1, &r, T0 + 1, T0 + HOUR);   /* ended before the window */
    r.dur_ms[RF_D_RESOLVE] = 7 * HOUR;
    rf_samples_add(&s, 1, &r, T0 - HOUR, T0);
    rf_samples_add(&s, 2, &r, T0 - HOUR, T0);
    rf_samples_add(&s, 5, &r, T0 - HOUR, T0);       /* no such severity */
    ASSERT_EQ(s.n[0][RF_D_RESOLVE], 2);
    ASSERT_EQ(s.n[1][RF_D_RESOLVE], 1);
    ASSERT_EQ(s.n[0][RF_D_PAGE], 0);
    ASSERT_EQ(rf_median(s.v[0][RF_D_RESOLVE], s.n[0][RF_D_RESOLVE]), 6 * HOUR);
    rf_samples_finish(&s);
}

TEST(review_flags_metrics_histograms)
{
    struct metrics *m = metrics_create();
    struct buf out;
    buf_init(&out, 0);
    metrics_render(m, &out);
    ASSERT(!strstr(out.data, "sirt_incident_time_to_page_seconds"));   /* no snapshot yet */
    buf_finish(&out);

    struct metrics_durations d;
    memset(&d, 0, sizeof(d));
    metrics_durations_observe(&d, 0, 1, 240);       /* S1 paged after 4 minutes */
    metrics_durations_observe(&d, 0, 1, 600);       /* and one after 10 */
    metrics_durations_observe(&d, 4, 3, 90000);     /* an S3 resolved after 25 h */
    metrics_durations_observe(&d, 9, 1, 1);         /* ignored */
    metrics_durations_observe(&d, 0, 0, 1);         /* ignored */
    metrics_set_durations(m, &d);
    buf_init(&out, 0);
    metrics_render(m, &out);
    ASSERT_CONTAINS(out.data, "# TYPE sirt_incident_time_to_page_seconds histogram");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"60\"} 0\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"300\"} 1\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"900\"} 2\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_bucket{severity=\"1\",le=\"+Inf\"} 2\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_count{severity=\"1\"} 2\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_sum{severity=\"1\"} 840.000\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_page_seconds_count{severity=\"2\"} 0\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_resolve_seconds_bucket{severity=\"3\",le=\"86400\"} 0\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_resolve_seconds_bucket{severity=\"3\",le=\"172800\"} 1\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_acknowledge_seconds_count{severity=\"4\"} 0\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_decision_seconds_count{severity=\"1\"} 0\n");
    ASSERT_CONTAINS(out.data, "sirt_incident_time_to_validated_fix_seconds_count{severity=\"1\"} 0\n");
    buf_finish(&out);
    metrics_destroy(m);
}

TEST(review_flags_improvements_store)
{
    char dir[64], path[128], err[256];
    snprintf(dir, sizeof(dir), "/tmp/sirt-rf-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sirt.db", dir);
    struct store *s = NULL;
    if (store_open(&s, path, err, sizeof(err)) != 0)
        TEST_FAIL("store_open: %s", err);
    struct improvement a = { .author = "U0SIRT001", .text = "page the manager sooner", .created_ms = T0 };
    struct improvement b = { .author = "U0SIRT002", .text = "runbook for cache incidents", .created_ms = T0 + 1 };
    ASSERT_EQ(store_improvement_add(s, &a), 0);
    ASSERT_EQ(store_improvement_add(s, &b), 0);
    ASSERT(a.id > 0 && b.id > a.id);
    struct improvement g;
    ASSERT_EQ(store_improvement_get(s, b.id, &g), 0);
    ASSERT_STR_EQ(g.text, "runbook for cache incidents");
    ASSERT_EQ(g.incident_id, 0);
    ASSERT_EQ(g.done_ms, 0);
    improvement_finish(&g);
    ASSERT_EQ(store_improvement_done(s, a.id, "U0SIRT002", T0 + 5), 0);
    ASSERT_EQ(store_improvement_done(s, a.id, "U0SIRT002", T0 + 6), STORE_ENOTFOUND);   /* once */
    ASSERT_EQ(store_improvement_get(s, a.id, &g), 0);
    ASSERT_EQ(g.done_ms, T0 + 5);
    ASSERT_STR_EQ(g.done_by, "U0SIRT002");
    improvement_finish(&g);
    ASSERT_EQ(store_improvement_get(s, 999, &g), STORE_ENOTFOUND);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
}

TEST(review_flags_page_time_only_when_due)
{
    struct rows x;
    rows_init(&x, 3, 3);                             /* paged for a handoff to secops */
    ev(&x, T0 + 50 * HOUR, "pd.trigger", "sirtbot", "paged");
    ev(&x, T0 + 50 * HOUR + 3 * MIN, "page_acked", "U0SECOPS1", "secops");
    struct rf_result r = run(&x);
    ASSERT_EQ(r.flags, 0);
    ASSERT_EQ(r.dur_ms[RF_D_PAGE], -1);
    ASSERT_EQ(r.dur_ms[RF_D_ACK], 3 * MIN);
}
