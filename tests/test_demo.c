/* `make demo`, tested: runs the demo binary ($SIRT_DEMO_BIN, default
 * build/rel/sirt_demo; it drives $SIRTBOT_BIN against the fakes) as a
 * user would, and checks that it exits 0 within a minute and that its
 * transcript shows every step of the drill — report form, private channel,
 * page and its acknowledgement, GitLab issue, EM/PM told, decision and directors told, fix
 * delivered and validated, severity change, handoff accepted, resolve,
 * Monday review — with the pasted token masked everywhere the bot repeats
 * it and absent from the bot's log. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "../bot/util.h"
#include "../demo/drill.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs bin --log log; returns its exit status, *out its stdout (caller frees). */
static int run_demo(const char *bin, const char *log, char **out)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "--log", log, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    struct buf b;
    buf_init(&b, 16u << 20);
    char chunk[8192];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    buf_append(&b, "", 1);
    *out = buf_take(&b);
    buf_finish(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        k++;
    return k;
}

TEST_T(e2e_demo_drill, 240)
{
    const char *bin = getenv("SIRT_DEMO_BIN");
    if (!bin || !bin[0])
        bin = "build/rel/sirt_demo";
    if (access(bin, X_OK) != 0)
        TEST_FAIL("cannot run the demo binary %s (make tests-build builds it)", bin);
    const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char log[300];
    snprintf(log, sizeof(log), "%s/sirt-demo-test-%d.log", tmp, (int)getpid());

    double t0 = now_s();
    char *out = NULL;
    int rc = run_demo(bin, log, &out);
    double took = now_s() - t0;
    char *logtext = test_read_file(log, NULL);
    if (!logtext)
        logtext = xstrdup("");
    unlink(log);
    fprintf(stderr, "demo: exit %d after %.1f s; transcript %zu bytes\n", rc, took, strlen(out));
    if (rc != 0)
        fprintf(stderr, "--- transcript ---\n%s\n--- log (end) ---\n%s\n", out,
                strlen(logtext) > 6000 ? logtext + strlen(logtext) - 6000 : logtext);
    ASSERT_EQ(rc, 0);
    if (!getenv("SIRTBOT_WRAPPER"))
        ASSERT(took < 60.0);

    /* 1. The report form, then the report with its token. */
    ASSERT_CONTAINS(out, "Rachel Reyes types in #support:  /sirt report ");
    ASSERT_CONTAINS(out, "→ Rachel Reyes (support engineer, reporter) sees a form: \"Report an incident\"");
    ASSERT_CONTAINS(out, "• Severity: S1 - critical / S2 - high");
    /* 2. The private channel, everyone invited, the summary pinned. */
    ASSERT_CONTAINS(out, "private channel #sirt-1-deploy-token-printed");
    ASSERT_CONTAINS(out, "invited to #sirt-1-deploy-token-printed-in-public-ci-job-lo: Rachel Reyes");
    ASSERT_CONTAINS(out, "the summary is pinned in #sirt-1-");
    /* The page, and the on-call brought in. */
    ASSERT_CONTAINS(out, "PagerDuty → pages Sid Patel (security on-call) (dedup key SIRT-1, a new PagerDuty incident)");
    ASSERT_CONTAINS(out, "SIRT-1 [S1/P1] Deploy token printed in public CI job logs [severity critical]");
    ASSERT_CONTAINS(out, ": Sid Patel (security on-call)");
    /* The page acknowledged in PagerDuty, said in the channel. */
    ASSERT_CONTAINS(out, "👀 Page acknowledged by Sid Patel at 10:08 UTC (PagerDuty page `SIRT-1`).");
    /* The GitLab project and confidential issue. */
    ASSERT_CONTAINS(out, "GitLab    project security/incidents/sirt-1-");
    ASSERT_CONTAINS(out, "GitLab    → confidential issue #1 \"SIRT-1: Deploy token printed in public CI job logs\"");
    /* The EM and PM told, in Slack and on the issue. */
    ASSERT_CONTAINS(out, "→ DM to Erin Walsh (EM of gitaly)");
    ASSERT_CONTAINS(out, "→ DM to Priya Nair (PM of gitaly)");
    ASSERT_CONTAINS(out, "@ewalsh @pnair: this security incident affects gitaly");
    /* The owner told. */
    ASSERT_CONTAINS(out, "→ DM to Bram de Vries (appsec engineer)\n            You own security incident SIRT-1");
    /* The decision: form, channel, issue, directors. */
    ASSERT_CONTAINS(out, "sees a form: \"Short-term decision\"");
    ASSERT_CONTAINS(out, "Short-term decision #1 for SIRT-1, recorded by @Bram de Vries");
    ASSERT_CONTAINS(out, "→ DM to Dana Kim (Director of Security)");
    ASSERT_CONTAINS(out, "→ DM to Omar Haddad (Director of Infrastructure)");
    /* Fix delivered, then validated. */
    ASSERT_CONTAINS(out, "marked the short-term fix of decision #1 as delivered");
    ASSERT_CONTAINS(out, "Is the short-term fix for SIRT-1 validated as effective?");
    ASSERT_CONTAINS(out, "validated the short-term fix (decision #1) as effective");
    /* The severity change. */
    ASSERT_CONTAINS(out, "/sirt severity S2 P2");
    ASSERT_CONTAINS(out, "lowered SIRT-1 from S1/P1 to S2/P2");
    ASSERT_CONTAINS(out, "→ issue updated: add_labels severity::2,priority::2");
    /* The handoff along the sun, accepted on the moved clock. */
    ASSERT_CONTAINS(out, "Wed 25 Nov 15:30 UTC = 16:30 in Amsterdam, 07:30 in Los Angeles");
    ASSERT_CONTAINS(out, "Your working day ends at 17:00 (Europe/Amsterdam)");
    ASSERT_CONTAINS(out, "→ DM to Alice Chen (appsec engineer)\n            SIRT-1 is handed to you");
    ASSERT_CONTAINS(out, "Alice Chen presses [Accept]");
    ASSERT_CONTAINS(out, "@Alice Chen accepted the handoff of SIRT-1 and owns it now.");
    /* The long-term fix and the resolve. */
    ASSERT_CONTAINS(out, "recorded the long-term fix of SIRT-1");
    ASSERT_CONTAINS(out, "@Sasha Ivanova resolved SIRT-1");
    ASSERT_CONTAINS(out, "PagerDuty → page SIRT-1: resolve");
    /* The Monday review in the SIRT channel. */
    ASSERT_CONTAINS(out, "Mon 30 Nov 09:00 UTC");
    ASSERT_CONTAINS(out, "→ #sirt (the SIRT channel, private)\n            📋 Weekly SIRT review — 2026-11-30");
    ASSERT_CONTAINS(out, "1 decision (1 fix delivered, 1 validated effective, 0 not effective)");
    /* Who saw what, and the end. */
    ASSERT_CONTAINS(out, "== Who saw what");
    ASSERT_CONTAINS(out, "Sid Patel (security on-call)");
    ASSERT_CONTAINS(out, "1 page; in the incident channel");
    ASSERT_CONTAINS(out, "Drill complete");
    ASSERT_EQ(count(out, "\n== "), 12);   /* eleven steps and the tally */

    /* The token: shown where Rachel pasted it (twice), masked everywhere after. */
    const char *masked_from = strstr(out, "(the bot masks the token");
    ASSERT_NOT_NULL(masked_from);
    ASSERT_EQ(count(out, DRILL_SECRET), 2);
    ASSERT_NOT_CONTAINS(masked_from, DRILL_SECRET);
    ASSERT_GE(count(masked_from, "glpat-[MASKED]"), 6);
    ASSERT_NOT_CONTAINS(logtext, DRILL_SECRET);
    ASSERT_CONTAINS(logtext, "\"msg\":\"bye\"");
    free(out);
    free(logtext);
}
