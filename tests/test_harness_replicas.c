/* test_harness_replicas: self-tests of the replica harness
 * (tests/harness_replicas.c) that run today: one real bot process on
 * SQLite started, SIGKILLed and restarted as "replica 1" (its own log file,
 * SIRT_HTTP port and client tag at the fake Slack), and the "exactly once"
 * checks fed with calls made on purpose twice.  The multi-process scenario
 * is tests/test_e2e_replicas.c (PostgreSQL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_clients.h"
#include "test.h"

static const char *send_mention(struct fx *fx, const char *text, const char *event_id)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", "U0REPORT1");
    cJSON_AddStringToObject(ev, "text", text);
    cJSON_AddStringToObject(ev, "channel", "C0PUBLIC1");
    cJSON_AddStringToObject(ev, "ts", "1700000100.000200");
    const char *id = fake_slack_send_event(fx->slack, ev, event_id, 0);
    cJSON_Delete(ev);
    return id;
}

static bool pred_posts(struct fx *fx, void *ud)
{
    return fake_slack_call_count(fx->slack, "chat.postMessage") >= *(size_t *)ud;
}

static long get_status(struct fx *fx, int port, const char *path)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct fc_http h = { .method = "GET", .url = url };
    fc_http_run(fx, &h);
    fc_http_done(&h);
    return h.status;
}

TEST_T(harness_replica_sqlite_kill_and_restart, 60)
{
    struct fx fx;
    fc_begin(&fx);
    fx_replicas_init(&fx, 1, NULL);
    fx_replicas_start(&fx, NULL);
    ASSERT(fx_replica_running(&fx, 1));
    ASSERT_EQ(fake_slack_ws_count_tag(fx.slack, "r1"), 1);
    ASSERT_STR_EQ(fake_slack_call(fx.slack, "apps.connections.open", 0)->client, "r1");
    ASSERT(fx.reps[0].http_port > 0);
    ASSERT_EQ(get_status(&fx, fx.reps[0].http_port, "/livez"), 200);

    /* a mention is answered by replica 1, through its own API URL */
    const char *e1 = send_mention(&fx, "<@U0BOT0001> help", "Ev0HARN0001");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)e1, 5000));
    size_t one = 1;
    ASSERT(fx_wait(&fx, pred_posts, &one, 5000));
    ASSERT_STR_EQ(fake_slack_last_call(fx.slack, "chat.postMessage")->client, "r1");
    ASSERT_STR_EQ(fake_slack_delivery_by_id(fx.slack, e1)->conn_tag, "r1");
    ASSERT_EQ(fx_slack_calls_where(&fx, "chat.postMessage", "channel", "C0PUBLIC1"), 1);

    /* SIGKILL (once the reply's completion is stored: a reply whose answer
     * the bot never read is sent again after a restart), then a restart on
     * the same SQLite file */
    fx_run_for(&fx, 300);
    ASSERT_EQ(fx_replica_kill(&fx, 1), 128 + 9);
    ASSERT(!fx_replica_running(&fx, 1));
    int zero = 0;
    ASSERT(fx_wait(&fx, fc_pred_ws_count_is, &zero, 5000));
    fx_replica_restart(&fx, 1, NULL);
    ASSERT_EQ(fx.reps[0].spawns, 2);
    ASSERT_EQ(get_status(&fx, fx.reps[0].http_port, "/livez"), 200);
    /* the same event again (a Slack retry) is not answered twice; a new one is */
    const char *e2 = send_mention(&fx, "<@U0BOT0001> help", "Ev0HARN0001");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)e2, 5000));
    const char *e3 = send_mention(&fx, "<@U0BOT0001> help", "Ev0HARN0002");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)e3, 5000));
    size_t two = 2;
    ASSERT(fx_wait(&fx, pred_posts, &two, 5000));
    fx_run_for(&fx, 300);
    ASSERT_EQ(fx_slack_calls_where(&fx, "chat.postMessage", "channel", "C0PUBLIC1"), 2);

    ASSERT_EQ(fx_replicas_stop(&fx, 5000), 0);
    char *log = fx_replica_log(&fx, 1);
    ASSERT_CONTAINS(log, "==== fx: replica 1, start 1");
    ASSERT_CONTAINS(log, "==== fx: replica 1, start 2");
    ASSERT_CONTAINS(log, "sirtbot started");
    free(log);
    ASSERT(!fx_stderr_has(&fx, "sirtbot started"));   /* replicas log to their files only */
    fc_end(&fx);
}

TEST_T(harness_replica_start_failure_is_reported, 30)
{
    /* A replica that exits at once makes fx_replicas_start fail the test:
     * run that in a child and check it failed with the log's tail. */
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct fx fx;
        fc_begin(&fx);
        fx_replicas_init(&fx, 2, NULL);
        const char *env[] = { "SIRT_CONFIG=/nonexistent/sirt.json", NULL };
        fx_replicas_start(&fx, env);   /* each exits at once: no config */
        _exit(0);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 1);
}

TEST(harness_once_checks_catch_duplicates)
{
    struct fx fx;
    fc_begin(&fx);
    char why[512];
    long status;
    const char *posts[] = {
        "{\"channel\":\"D0REPORT1\",\"text\":\"You own SIRT-1\"}",
        "{\"channel\":\"D0REPORT1\",\"text\":\"You own SIRT-2\"}",
        "{\"channel\":\"C0SIRT0001\",\"text\":\"SIRT-1 opened\"}",
    };
    for (size_t i = 0; i < 3; i++)
        cJSON_Delete(fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, posts[i], &status));
    ASSERT_EQ(fx_dms_once(&fx, why, sizeof(why)), 0);
    ASSERT_EQ(fx_posts_once(&fx, why, sizeof(why)), 0);
    ASSERT_EQ(fx_dm_count(&fx, "U0REPORT1", "You own"), 2);
    ASSERT_EQ(fx_dm_count(&fx, "U0REPORT1", "SIRT-2"), 1);
    /* the same DM again, and the channel post again: both caught */
    cJSON_Delete(fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, posts[0], &status));
    cJSON_Delete(fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, posts[2], &status));
    ASSERT_EQ(fx_dms_once(&fx, why, sizeof(why)), 1);
    ASSERT_CONTAINS(why, "to D0REPORT1 twice");
    ASSERT_EQ(fx_posts_once(&fx, why, sizeof(why)), 2);
    /* a failed call is not a duplicate */
    fake_slack_fail(fx.slack, "chat.postMessage", 1, 500, NULL, 0);
    cJSON_Delete(fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, posts[1], &status));
    ASSERT_EQ(status, 500);
    ASSERT_EQ(fx_dms_once(&fx, why, sizeof(why)), 1);

    /* channels: a second create of a name is refused by the fake and counted */
    const char *mk = "{\"name\":\"sirt-1-x\",\"is_private\":true}";
    cJSON_Delete(fc_api(&fx, "POST", "conversations.create", XOXB, JSONT, mk, &status));
    ASSERT_EQ(fx_channels_once(&fx, why, sizeof(why)), 0);
    cJSON_Delete(fc_api(&fx, "POST", "conversations.create", XOXB, JSONT, mk, &status));
    ASSERT_EQ(fx_channels_once(&fx, why, sizeof(why)), 1);
    ASSERT_CONTAINS(why, "sirt-1-x created again");
    ASSERT_EQ(fx_slack_errors(&fx, "conversations.create", "name_taken"), 1);
    ASSERT_EQ(fx_once_by(&fx, "conversations.create", "name", why, sizeof(why)), 0);
    fc_end(&fx);
}
