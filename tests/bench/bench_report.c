/* bench_report: time from the view_submission envelope of an S1 report to
 * the PagerDuty trigger received by the fake, over N reports one after the
 * other, with the real bot, its store on disk, and fake Slack, GitLab and
 * PagerDuty on 127.0.0.1.  Prints p50/p99/max, and the ack latency of the
 * submissions (which includes writing the envelope to the store).
 * --db URI runs the bot on that database (PostgreSQL) instead of a SQLite
 * file; "skipped: <reason>" (exit 0) when the bot refuses it.
 * Usage: bench_report [--db URI] [n]   (default 1000) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fakes/fake_gitlab.h"
#include "../fakes/fake_pagerduty.h"
#include "../fakes/fake_slack.h"
#include "../harness.h"
#include "../report_payloads.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    return n ? v[(size_t)(p * (double)(n - 1) + 0.5)] : 0;
}

static bool pred_events(struct fx *fx, void *ud)
{
    return fake_pagerduty_event_count(fx->pd) >= *(size_t *)ud;
}

static bool pred_online_or_exited(struct fx *fx, void *ud)
{
    (void)ud;
    return fx->exited || fx_pred_online(fx, NULL);
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    if (argc > 2 && strcmp(argv[1], "--db") == 0) {
        db = argv[2];
        argc -= 2;
        argv += 2;
    }
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    if (n < 10 || n > 100000) {
        fprintf(stderr, "usage: bench_report [n 10..100000]\n");
        return 2;
    }
    static struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    char dbenv[1100];
    snprintf(dbenv, sizeof(dbenv), "SIRT_DB=%s", db ? db : "");
    const char *env[] = { "SIRT_LOG=warn", db ? dbenv : NULL, NULL };
    if (fx_spawn(&fx, env) != 0 || !fx_wait(&fx, pred_online_or_exited, NULL, 20000) || !fx_pred_online(&fx, NULL)) {
        const char *why = strstr(fx_stderr_since_spawn(&fx), "sirtbot: ");
        printf("(d) S1 report -> PagerDuty trigger on %s: skipped: %.*s\n", db ? "PostgreSQL" : "SQLite",
               why ? (int)strcspn(why, "\n") : 30, why ? why : "the bot did not come up in 20 s");
        fx_finish(&fx);
        return 0;
    }
    uint64_t *page = calloc(n, sizeof(uint64_t));
    uint64_t *ack = calloc(n, sizeof(uint64_t));
    struct report_fields f = { .title = "Bench: token leaked in CI logs", .what = "benchmark report",
                               .severity = "1", .priority = "1", .component = "gitaly",
                               .repro = "GET /api/v4/projects\nPRIVATE-TOKEN: glpat-abcdefghijklmnopqrst" };
    for (size_t i = 0; i < n; i++) {
        char view[32];
        snprintf(view, sizeof(view), "V0BENCH%06zu", i);
        cJSON *p = report_submission_payload(view, "U0REPORT1", &f);
        const char *eid = fake_slack_send_interactive(fx.slack, p);
        cJSON_Delete(p);
        size_t want = i + 1;
        if (!eid || !fx_wait(&fx, pred_events, &want, 10000)) {
            fprintf(stderr, "bench: report %zu was not paged in time\n", i);
            return 1;
        }
        const struct fake_ack *a = fake_slack_ack(fx.slack, eid);
        if (!a) {
            fprintf(stderr, "bench: report %zu not acked\n", i);
            return 1;
        }
        page[i] = fake_pagerduty_event_time_us(fx.pd, i) - a->sent_us;
        ack[i] = a->acked_us - a->sent_us;
    }
    qsort(page, n, sizeof(uint64_t), cmp_u64);
    qsort(ack, n, sizeof(uint64_t), cmp_u64);
    printf("(d) S1 report -> PagerDuty trigger, %zu reports one at a time, store %s:\n", n,
           db ? "PostgreSQL" : "SQLite on disk");
    printf("    page  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms\n", pct(page, n, 0.5) / 1000.0,
           pct(page, n, 0.99) / 1000.0, page[n - 1] / 1000.0);
    printf("    ack of the view_submission  p50 %5llu us  p99 %5llu us\n", (unsigned long long)pct(ack, n, 0.5),
           (unsigned long long)pct(ack, n, 0.99));
    printf("    PagerDuty incidents %zu, GitLab issues %zu, Slack channels %zu\n",
           fake_pagerduty_incident_count(fx.pd), fake_gitlab_issue_count(fx.gitlab),
           fake_slack_channel_count(fx.slack));
    int code = fx_stop(&fx, 10000);
    fx_finish(&fx);
    free(page);
    free(ack);
    return code == 0 ? 0 : 1;
}
