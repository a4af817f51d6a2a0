/* test_harness_fx: the harness itself, with /bin/sh standing in for the
 * bot: spawning with the env, wrappers, stop and finish, waiting for hello,
 * fx_init_opts (env, the fakes it starts) and fx_kill with and without a
 * child to respawn. */
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

static bool pred_stderr_has(struct fx *fx, void *s)
{
    return fx_stderr_has(fx, s);
}

TEST(harness_spawn_env_and_exit_status)
{
    struct fx fx;
    fx_init(&fx);
    unsetenv("SIRTBOT_WRAPPER");
    setenv("SIRT_LEAK", "leaked", 1);
    write_script(&fx, "echo \"APP=$SLACK_APP_TOKEN BOT=$SLACK_BOT_TOKEN URL=$SLACK_API_URL\" >&2\n"
                      "echo \"CFG=$SIRT_CONFIG DB=$SIRT_DB LOG=${SIRT_LOG-unset} FOO=${FOO-unset}"
                      " LEAK=${SIRT_LEAK-unset} PATHSET=${PATH:+yes}\" >&2\n"
                      "echo to-stdout\n"
                      "exit 3");
    const char *env[] = { "SIRT_LOG=", "FOO=bar baz", NULL };
    ASSERT_EQ(fx_spawn(&fx, env), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 5000), 3);
    ASSERT_EQ(fx.exit_status, 3);
    ASSERT(fx_stderr_has(&fx, "APP=xapp-1-A0FAKE001-test BOT=xoxb-test-token"));
    char want[600];
    snprintf(want, sizeof(want), "URL=http://127.0.0.1:%d/api", fake_slack_port(fx.slack));
    ASSERT_CONTAINS(fx.stderr_buf.data, want);
    snprintf(want, sizeof(want), "CFG=%s/sirt.json DB=%s/sirt.db", fx.dir, fx.dir);
    ASSERT_CONTAINS(fx.stderr_buf.data, want);
    ASSERT_CONTAINS(fx.stderr_buf.data, "LOG=unset FOO=bar baz LEAK=unset PATHSET=yes");
    ASSERT_NOT_CONTAINS(fx.stderr_buf.data, "to-stdout");   /* stdout is not captured */

    /* restart: the same fx can spawn again */
    write_script(&fx, "echo second-run >&2; kill -9 $$");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 5000), 128 + 9);
    ASSERT_EQ(fx.term_signal, 9);
    ASSERT_STR_EQ(fx_stderr_since_spawn(&fx), "second-run\n");
    ASSERT(fx_stderr_has(&fx, "APP=xapp"));

    /* the config file is the default and valid JSON */
    FILE *fp = fopen(fx.config_path, "r");
    ASSERT_NOT_NULL(fp);
    char cfg[4096];
    size_t n = fread(cfg, 1, sizeof(cfg) - 1, fp);
    fclose(fp);
    cfg[n] = '\0';
    cJSON *j = cJSON_Parse(cfg);
    ASSERT_STR_EQ(fc_jstr(j, "sirt_channel"), "C0SIRT0001");
    ASSERT_STR_EQ(fc_jstr(j, "components.0.name"), "gitaly");
    ASSERT_STR_EQ(fc_jstr(j, "appsec.1.tz"), "Europe/Amsterdam");
    cJSON_Delete(j);

    char dir[256];
    str_lcpy(dir, fx.dir, sizeof(dir));
    fx_finish(&fx);
    struct stat st;
    ASSERT(stat(dir, &st) != 0);   /* temp dir removed */
}

TEST(harness_wrapper_and_missing_binary)
{
    struct fx fx;
    fx_init(&fx);
    write_script(&fx, "echo \"WRAPPED=${WRAPPED-no}\" >&2");
    setenv("SIRTBOT_WRAPPER", "/usr/bin/env  WRAPPED=yes", 1);
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 5000), 0);
    ASSERT(fx_stderr_has(&fx, "WRAPPED=yes"));
    unsetenv("SIRTBOT_WRAPPER");
    setenv("SIRTBOT_BIN", "/nonexistent/sirtbot", 1);
    ASSERT(fx_spawn(&fx, NULL) < 0);
    ASSERT(!fx.running);
    fx_finish(&fx);
}

TEST(harness_stop_sends_sigterm)
{
    struct fx fx;
    fx_init(&fx);
    unsetenv("SIRTBOT_WRAPPER");
    write_script(&fx, "trap 'echo got-term >&2; exit 0' TERM\necho ready >&2\n"
                      "i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 5");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx.running);
    ASSERT(fx_wait(&fx, pred_stderr_has, "ready", 5000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    ASSERT(fx_stderr_has(&fx, "got-term"));
    ASSERT(!fx.running);
    ASSERT_EQ(fx_stop(&fx, 100), 0);   /* stopping again is harmless */
    fx_finish(&fx);
}

TEST(harness_finish_kills_a_forgotten_child)
{
    struct fx fx;
    fx_init(&fx);
    unsetenv("SIRTBOT_WRAPPER");
    write_script(&fx, "trap '' TERM\necho stubborn >&2\nwhile :; do sleep 1; done");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_stderr_has, "stubborn", 5000));
    ASSERT_EQ(fx_stop(&fx, 300), -1);   /* ignores SIGTERM */
    uint64_t t0 = uv_hrtime();
    fx_finish(&fx);                     /* SIGKILL, does not hang */
    ASSERT_LE((uv_hrtime() - t0) / 1000000u, 3000);
}

TEST(harness_fx_start_waits_for_hello)
{
    /* A pretend bot: a helper thread plays the bot's part over loopback. */
    struct fx fx;
    fc_begin(&fx);
    unsetenv("SIRTBOT_WRAPPER");
    write_script(&fx, "sleep 30");
    ASSERT(!fx_pred_online(&fx, NULL));
    struct wsc c;
    fc_ws_online(&fx, &c);
    fx_start(&fx, NULL);                /* already online: returns at once */
    ASSERT(fx.running);
    ASSERT(fx_pred_online(&fx, NULL));
    wsc_close(&c);
    fc_end(&fx);                      /* kills the sleeping child */
}
