/* test_harness_opts: the harness's options for the bot (fx_init_opts: env,
 * the fakes it starts) and fx_kill with and without a child to respawn. */
#include <curl/curl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

static void write_script(struct fx *fx, const char *body)
{
    char *path = xasprintf("%s/fakebot.sh", fx->dir);
    FILE *fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    chmod(path, 0755);
    setenv("SIRTBOT_BIN", path, 1);
    free(path);
}

static bool pred_stderr(struct fx *fx, void *s)
{
    return strstr(fx_stderr_since_spawn(fx), s) != NULL;
}

TEST(harness_opts_env_and_kill_respawn)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    unsetenv("SIRTBOT_WRAPPER");
    ASSERT_NOT_NULL(fx.pd);
    ASSERT_NOT_NULL(fx.gitlab);
    write_script(&fx, "echo \"RK=$PAGERDUTY_ROUTING_KEY EV=$PAGERDUTY_EVENTS_URL API=$PAGERDUTY_API_URL"
                      " TOK=$PAGERDUTY_API_TOKEN GL=$GITLAB_URL GT=$GITLAB_TOKEN\" >&2\n"
                      "echo \"db=$SIRT_DB\" >> \"$(dirname \"$SIRT_DB\")/runs\"\n"
                      "echo started >&2\n"
                      "trap '' TERM\n"
                      "i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_stderr, "started", 5000));
    char want[512];
    snprintf(want, sizeof(want), "RK=%s EV=http://127.0.0.1:%d/v2/enqueue API=http://127.0.0.1:%d TOK=pd-test-token "
             "GL=http://127.0.0.1:%d GT=%s", FAKE_PD_ROUTING_KEY, fake_pagerduty_port(fx.pd),
             fake_pagerduty_port(fx.pd), fake_gitlab_port(fx.gitlab), FAKE_GITLAB_TOKEN);
    ASSERT_CONTAINS(fx.stderr_buf.data, want);
    ASSERT_EQ(strlen(FAKE_PD_ROUTING_KEY), 32);
    ASSERT(str_starts(FAKE_GITLAB_TOKEN, "glpat-") && strlen(FAKE_GITLAB_TOKEN) == 26);

    uint64_t t0 = uv_hrtime();
    ASSERT_EQ(fx_kill(&fx), 128 + 9);       /* ignores SIGTERM, not SIGKILL */
    ASSERT_LE((uv_hrtime() - t0) / 1000000u, 2000);
    ASSERT(!fx.running);
    ASSERT(fx.exited);
    ASSERT_EQ(fx.term_signal, 9);
    ASSERT_EQ(fx_kill(&fx), 128 + 9);       /* again: already dead */

    /* respawn on the same dir */
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_stderr, "started", 5000));
    ASSERT_NOT_CONTAINS(fx_stderr_since_spawn(&fx), "RK=x");
    ASSERT_EQ(fx_kill(&fx), 128 + 9);
    char *runs = xasprintf("%s/runs", fx.dir);
    FILE *fp = fopen(runs, "r");
    ASSERT_NOT_NULL(fp);
    char line[512], first[512] = "";
    int n = 0;
    while (fgets(line, sizeof(line), fp) && n < 10) {
        if (n == 0)
            str_lcpy(first, line, sizeof(first));
        else
            ASSERT_STR_EQ(line, first);      /* same SIRT_DB both times */
        n++;
    }
    fclose(fp);
    free(runs);
    ASSERT_EQ(n, 2);
    fc_end(&fx);
}

TEST(harness_kill_without_child)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    ASSERT_EQ(fx_kill(&fx), -1);
    ASSERT_NULL(fx.pd);
    fc_end(&fx);
}

/* REST GET /incidents by incident_key (issue 9): token, documented shape,
 * acknowledgements only while acknowledged; Events v2 stays as it was. */
