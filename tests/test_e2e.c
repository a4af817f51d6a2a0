/* End-to-end tests: the real bot binary against the fake Slack on
 * 127.0.0.1.  Each test starts its own fake and bot (tests/harness.h) and
 * asserts on what the fake recorded: acks, Web API calls, frames. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "fakes/fake_slack.h"
#include "harness.h"
#include "test.h"
#include "../bot/util.h"

static cJSON *mention(const char *text, const char *thread_ts)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "app_mention");
    cJSON_AddStringToObject(e, "user", "U0REPORT1");
    cJSON_AddStringToObject(e, "text", text);
    cJSON_AddStringToObject(e, "channel", "C0PUBLIC1");
    cJSON_AddStringToObject(e, "ts", "1700000100.000200");
    cJSON_AddStringToObject(e, "event_ts", "1700000100.000200");
    if (thread_ts)
        cJSON_AddStringToObject(e, "thread_ts", thread_ts);
    return e;
}

TEST(e2e_connect_hello_and_auth)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 1);
    const struct fake_call *open = fake_slack_call(fx.slack, "apps.connections.open", 0);
    ASSERT_NOT_NULL(open);
    ASSERT_STR_EQ(open->http_method, "POST");
    ASSERT(str_starts(open->auth, "Bearer xapp-"));
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    ASSERT(str_starts(fake_slack_call(fx.slack, "auth.test", 0)->auth, "Bearer xoxb-"));
    /* Tokens never reach the log. */
    fx_run_for(&fx, 200);
    ASSERT(!fx_stderr_has(&fx, "xoxb-test-token"));
    ASSERT(!fx_stderr_has(&fx, "xapp-1-A0FAKE001-test"));
    ASSERT(fx_stderr_has(&fx, "\"msg\":\"socket mode online\""));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_help_by_slash_command_in_ack)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT_NOT_NULL(eid);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_STR_EQ(util_jstr(fx_ack_payload(&fx, eid), "response_type"), "ephemeral");
    const char *t = fx_ack_text(&fx, eid);
    const char *verbs[] = { "/sirt report", "/sirt page", "/sirt decision", "/sirt handoff", "/sirt status",
                            "/sirt oncall", "/sirt resolve", "/sirt timeline", "/sirt review", "/sirt help" };
    for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
        ASSERT_CONTAINS(t, verbs[i]);
    /* Nothing was posted publicly for a slash help. */
    fx_run_for(&fx, 200);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 0);

    /* Bare "/sirt" is help too; an unknown verb gets a useful answer. */
    eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "/sirt report");
    eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "hepl me");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "I don't know the command `hepl`");
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "/sirt help");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_help_by_mention_threaded_and_dm)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    fx_run_for(&fx, 100);

    /* In a thread: the reply goes to the thread. */
    cJSON *ev = mention("<@U0BOT0001> help", "1700000000.000100");
    const char *eid = fake_slack_send_event(fx.slack, ev, "Ev0MENTION1", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 1, 5000));
    const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", 0);
    ASSERT_STR_EQ(util_jstr(c->json, "channel"), "C0PUBLIC1");
    ASSERT_STR_EQ(util_jstr(c->json, "thread_ts"), "1700000000.000100");
    ASSERT_CONTAINS(util_jstr(c->json, "text"), "@sirt report");
    ASSERT(str_starts(c->auth, "Bearer xoxb-"));
    ASSERT_CONTAINS(c->content_type, "application/json");

    /* Top level: the reply is not threaded. */
    ev = mention("<@U0BOT0001>   HELP", NULL);
    eid = fake_slack_send_event(fx.slack, ev, "Ev0MENTION2", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 2, 5000));
    c = fake_slack_call(fx.slack, "chat.postMessage", 1);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(c->json, "thread_ts"));
    ASSERT_CONTAINS(util_jstr(c->json, "text"), "@sirt status");

    /* A DM. */
    ev = cJSON_Parse("{\"type\":\"message\",\"channel_type\":\"im\",\"user\":\"U0REPORT1\",\"text\":\"help\","
                     "\"channel\":\"D0REPORT1\",\"ts\":\"1700000200.000100\",\"event_ts\":\"1700000200.000100\"}");
    eid = fake_slack_send_event(fx.slack, ev, "Ev0DM00001", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 3, 5000));
    c = fake_slack_call(fx.slack, "chat.postMessage", 2);
    ASSERT_STR_EQ(util_jstr(c->json, "channel"), "D0REPORT1");

    /* Our own DM echo and a bot's message are ignored. */
    ev = cJSON_Parse("{\"type\":\"message\",\"channel_type\":\"im\",\"user\":\"U0BOT0001\",\"bot_id\":\"B0BOT0001\","
                     "\"text\":\"help\",\"channel\":\"D0REPORT1\",\"ts\":\"1700000201.000100\"}");
    eid = fake_slack_send_event(fx.slack, ev, "Ev0DM00002", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 3);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_every_envelope_acked)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *ids[300];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        ids[n++] = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", i % 2 ? "help" : "nonsense");
        cJSON *p = cJSON_Parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"unknown_button\",\"block_id\":\"b\",\"type\":\"button\",\"value\":\"v\"}]}");
        ids[n++] = fake_slack_send_envelope(fx.slack, "interactive", p);
        cJSON_Delete(p);
        p = cJSON_Parse("{\"some\":\"thing\"}");
        ids[n++] = fake_slack_send_envelope(fx.slack, "a_type_slack_adds_later", p);
        cJSON_Delete(p);
    }
    for (size_t i = 0; i < n; i++) {
        ASSERT_NOT_NULL(ids[i]);
        if (!fx_wait_ack(&fx, ids[i], 5000))
            TEST_FAIL("envelope %zu (%s) not acked", i, ids[i]);
    }
    ASSERT_EQ(fake_slack_ack_count(fx.slack), n);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

static bool pred_ws_total(struct fx *fx, void *ud)
{
    return fake_slack_ws_total(fx->slack) >= (int)(intptr_t)ud && fake_slack_ws_count(fx->slack) >= 1;
}

TEST(e2e_reconnect_after_disconnect_message)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT_EQ(fake_slack_send_disconnect(fx.slack, "refresh_requested"), 0);
    ASSERT(fx_wait(&fx, pred_ws_total, (void *)(intptr_t)2, 8000));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 2);
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 1);   /* the old socket was closed */
    ASSERT_EQ(fake_slack_close_frames(fx.slack), 1);   /* cleanly, with a close frame */
    ASSERT_EQ(fake_slack_last_close_code(fx.slack), 1000);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "/sirt report");

    /* "warning" too, any reason: reconnect with a fresh URL each time. */
    ASSERT_EQ(fake_slack_send_disconnect(fx.slack, "warning"), 0);
    ASSERT(fx_wait(&fx, pred_ws_total, (void *)(intptr_t)3, 8000));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 3);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_reconnect_after_dropped_socket)
{
    struct fx fx;
    fx_init(&fx);
    /* The reconnect and Web API backoffs at 1/20: the same steps, no waiting. */
    const char *env[] = { "SIRT_TEST_BACKOFF_SCALE=0.05", NULL };
    fx_start(&fx, env);
    fake_slack_drop(fx.slack);
    ASSERT(fx_wait(&fx, pred_ws_total, (void *)(intptr_t)2, 10000));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 2);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));

    /* apps.connections.open failing for a while: the bot backs off and retries. */
    fake_slack_fail(fx.slack, "apps.connections.open", 2, 500, NULL, 0);
    fake_slack_drop(fx.slack);
    ASSERT(fx_wait(&fx, pred_ws_total, (void *)(intptr_t)3, 20000));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 5);
    ASSERT(fx_stderr_has(&fx, "reconnect scheduled"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_garbage_frames_do_not_kill_the_bot)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *garbage[] = {
        "not json at all",
        "{",
        "[1,2,3]",
        "\"just a string\"",
        "{\"type\":\"events_api\"}",                               /* no envelope_id */
        "{\"type\":42,\"envelope_id\":\"e-garbage-1\"}",             /* acked, unusable */
        "{\"envelope_id\":\"e-garbage-2\",\"type\":\"events_api\",\"payload\":\"nope\"}",
        "{\"envelope_id\":\"e-garbage-3\",\"type\":\"slash_commands\",\"payload\":{\"text\":null}}",
        "{\"envelope_id\":\"e-garbage-4\",\"type\":\"events_api\",\"payload\":{\"event\":{\"type\":\"app_mention\"}}}",
        "{\"type\":\"hello_from_the_future\"}",
        "{\"envelope_id\":\"\",\"type\":\"slash_commands\"}",
    };
    for (size_t i = 0; i < ARRAY_LEN(garbage); i++)
        ASSERT_EQ(fake_slack_send_raw(fx.slack, garbage[i], strlen(garbage[i]), false), 0);
    ASSERT_EQ(fake_slack_send_raw(fx.slack, "\x00\x01\x02\xff", 4, true), 0);
    /* Deep nesting and a huge frame. */
    struct buf deep;
    buf_init(&deep, 0);
    buf_puts(&deep, "{\"envelope_id\":\"e-deep\",\"type\":\"events_api\",\"payload\":");
    for (int i = 0; i < 20000; i++)
        buf_puts(&deep, "[");
    ASSERT_EQ(fake_slack_send_raw(fx.slack, deep.data, deep.len, false), 0);
    buf_finish(&deep);
    struct buf huge;
    buf_init(&huge, 0);
    buf_puts(&huge, "{\"envelope_id\":\"e-huge\",\"type\":\"events_api\",\"payload\":{\"x\":\"");
    for (int i = 0; i < 3 * 1024 * 1024 / 64; i++)
        buf_puts(&huge, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    buf_puts(&huge, "\"}}");
    ASSERT_EQ(fake_slack_send_raw(fx.slack, huge.data, huge.len, false), 0);
    buf_finish(&huge);

    /* Still alive, still on the same socket, still answering. */
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "/sirt report");
    ASSERT(fx.running && !fx.exited);
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 1);
    /* The four raw frames with a non-empty envelope_id were acked (the fake
     * did not send them as envelopes, so it counts those acks as stray);
     * nothing else came back. */
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 4);
    ASSERT(fx_stderr_has(&fx, "not a JSON object"));
    ASSERT(fx_stderr_has(&fx, "nested too deeply"));
    ASSERT(fx_stderr_has(&fx, "larger than the limit"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_rate_limited_web_api_call_is_retried)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    fake_slack_fail(fx.slack, "chat.postMessage", 1, 429, NULL, 1);
    cJSON *ev = mention("<@U0BOT0001> help", NULL);
    fake_slack_send_event(fx.slack, ev, "Ev0RATE001", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 2, 8000));
    const struct fake_call *first = fake_slack_call(fx.slack, "chat.postMessage", 0);
    const struct fake_call *second = fake_slack_call(fx.slack, "chat.postMessage", 1);
    ASSERT_EQ(first->status, 429);
    ASSERT_EQ(second->status, 200);
    ASSERT_GE(second->t_us - first->t_us, 900000);   /* waited Retry-After: 1 */
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 2);

    /* ok:false is an error value, logged, not retried. */
    fake_slack_fail(fx.slack, "chat.postMessage", 1, 200, "channel_not_found", 0);
    ev = mention("<@U0BOT0001> help", NULL);
    fake_slack_send_event(fx.slack, ev, "Ev0RATE002", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 3, 5000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 3);
    ASSERT(fx_stderr_has(&fx, "channel_not_found"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_duplicate_event_id_handled_once, 60)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    cJSON *ev = mention("<@U0BOT0001> help", NULL);
    const char *e1 = fake_slack_send_event(fx.slack, ev, "Ev0DUP0001", 0);
    const char *e2 = fake_slack_send_event(fx.slack, ev, "Ev0DUP0001", 1);
    const char *e3 = fake_slack_send_event(fx.slack, ev, "Ev0DUP0001", 2);
    cJSON_Delete(ev);
    ASSERT(fx_wait_ack(&fx, e1, 5000));
    ASSERT(fx_wait_ack(&fx, e2, 5000));   /* retries are acked too */
    ASSERT(fx_wait_ack(&fx, e3, 5000));
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 1, 5000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 1);
    ASSERT(fx_stderr_has(&fx, "duplicate event ignored"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

static void expect_start_error(const char *const *env, const char *config, const char *needle)
{
    struct fx fx;
    fx_init(&fx);
    if (config)
        fx_write_config(&fx, config);
    ASSERT_EQ(fx_spawn(&fx, env), 0);
    int code = fx_wait_exit(&fx, 30000);
    if (code == 0 || code == -1)
        TEST_FAIL("bot should exit non-zero for %s, got %d", needle, code);
    ASSERT(fx_stderr_has(&fx, needle));
    ASSERT(!fx_stderr_has(&fx, "Secr3tPgPass"));   /* the password of the PostgreSQL case */
    /* It never connected. */
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 0);
    fx_finish(&fx);
}

TEST_T(e2e_start_up_errors, 60)
{
    const char *no_app[] = { "SLACK_APP_TOKEN=", NULL };
    expect_start_error(no_app, NULL, "SLACK_APP_TOKEN");
    const char *no_bot[] = { "SLACK_BOT_TOKEN=", NULL };
    expect_start_error(no_bot, NULL, "SLACK_BOT_TOKEN");
    expect_start_error(NULL, "{\"timezone\": \"UTC\",", "sirt.json");
    expect_start_error(NULL, "{\"timezone\": 5}", "timezone");
    expect_start_error(NULL, "{\"sirt_chanel\": \"C0SIRT0001\"}", "sirt_chanel");
    expect_start_error(NULL, "{\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"Mars/Olympus_Mons\"}]}", "Mars/Olympus_Mons");
    expect_start_error(NULL, "{\"timezone\":\"Europe/Atlantis\"}", "Europe/Atlantis");
    const char *missing_file[] = { "SIRT_CONFIG=/nonexistent/sirt.json", NULL };
    expect_start_error(missing_file, NULL, "/nonexistent/sirt.json");
    const char *bad_http[] = { "SIRT_HTTP=127.0.0.1:99999", NULL };
    expect_start_error(bad_http, NULL, "SIRT_HTTP");
    const char *other[] = { "SIRT_DB=mysql://sirt@db.example/sirt", NULL };
    expect_start_error(other, NULL, "SIRT_DB: expected a SQLite file path or a postgres://");
    /* PostgreSQL is accepted; a server that is not there stops the start
     * with libpq's reason, and the password never shows. */
    const char *pg[] = { "SIRT_DB=postgres://sirt:Secr3tPgPass@127.0.0.1:1/sirt?connect_timeout=2", NULL };
    expect_start_error(pg, NULL, "SIRT_DB: postgres://sirt:***@127.0.0.1:1/sirt");
}

/* SQLite serves one process: a second bot on the same file stops at start
 * with a clear message and a non-zero exit, and never reaches Slack; the
 * first goes on working. */
TEST_T(e2e_sqlite_second_process_refused, 60)
{
    struct fx a, b;
    fx_init(&a);
    fx_start(&a, NULL);
    fx_init(&b);
    char db[320];
    snprintf(db, sizeof(db), "SIRT_DB=%s/sirt.db", a.dir);
    const char *env[] = { db, NULL };
    ASSERT_EQ(fx_spawn(&b, env), 0);
    int code = fx_wait_exit(&b, 10000);
    if (code == 0 || code == -1)
        TEST_FAIL("the second bot should exit non-zero, got %d", code);
    ASSERT(fx_stderr_has(&b, "another sirtbot process is using this database"));
    ASSERT(fx_stderr_has(&b, "SIRT_DB=postgres://"));
    ASSERT_EQ(fake_slack_ws_total(b.slack), 0);
    fx_finish(&b);
    /* The first still answers. */
    const char *eid = fake_slack_send_slash(a.slack, "U0REPORT1", "C0GENERAL1", "help");
    ASSERT(fx_wait(&a, fx_pred_acked, (void *)eid, 5000));
    ASSERT_EQ(fx_stop(&a, 5000), 0);
    /* Once it is gone, the file opens again. */
    fx_start(&a, NULL);
    ASSERT_EQ(fx_stop(&a, 5000), 0);
    fx_finish(&a);
}

TEST_T(e2e_rejected_app_token_exits, 60)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_fail(fx.slack, "apps.connections.open", 1, 200, "invalid_auth", 0);
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 30000), 1);
    ASSERT(fx_stderr_has(&fx, "SLACK_APP_TOKEN was rejected by Slack (invalid_auth)"));
    fx_finish(&fx);
}

TEST(e2e_healthz_and_metrics)
{
    struct fx fx;
    fx_init(&fx);
    int port = fx_start_http(&fx, NULL);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));

    struct buf body;
    buf_init(&body, 1 << 20);
    ASSERT_EQ(fx_http_get(port, "/healthz", &body), 200);
    ASSERT_EQ(fx_http_get(port, "/metrics", &body), 200);
    ASSERT_CONTAINS(body.data, "sirt_envelopes_received_total{type=\"slash_commands\"} 1");
    ASSERT_CONTAINS(body.data, "sirt_envelopes_acked_total{type=\"slash_commands\"} 1");
    ASSERT_CONTAINS(body.data, "sirt_ack_latency_seconds_count 1");
    ASSERT_CONTAINS(body.data, "sirt_slack_api_calls_total{method=\"apps.connections.open\",result=\"ok\"} 1");
    ASSERT_CONTAINS(body.data, "sirt_socket_connected 1");
    ASSERT_EQ(fx_http_get(port, "/nope", &body), 404);
    /* /healthz through a Slack outage: test_e2e_health.c. */
    buf_finish(&body);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST(e2e_sigterm_closes_socket_and_exits_zero)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    ASSERT(fx_wait(&fx, fx_pred_offline, NULL, 3000));
    ASSERT(fx_stderr_has(&fx, "\"why\":\"SIGTERM\""));
    /* Closed with a close frame, status 1000, not just dropped. */
    ASSERT_EQ(fake_slack_close_frames(fx.slack), 1);
    ASSERT_EQ(fake_slack_last_close_code(fx.slack), 1000);
    fx_finish(&fx);
}

static bool pred_total_3(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_ws_total(fx->slack) >= 2;
}

TEST(e2e_silent_socket_is_replaced)
{
    struct fx fx;
    fx_init(&fx);
    const char *env[] = { "SIRT_PING_SECS=1", NULL };
    fx_start(&fx, env);
    /* Slack stops answering (no frames, no pongs): after 3 s without a pong
     * the bot drops the socket and opens a new one. */
    fake_slack_set_silent(fx.slack, true);
    ASSERT(fx_wait(&fx, pred_total_3, NULL, 10000));
    fake_slack_set_silent(fx.slack, false);
    ASSERT(fx_wait(&fx, fx_pred_online, NULL, 10000));
    ASSERT_GE(fake_slack_call_count(fx.slack, "apps.connections.open"), 2);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

static bool pred_socket_open(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_ws_open(fx->slack) >= 1;
}

TEST_T(e2e_sigterm_before_hello_still_closes_cleanly, 60)
{
    /* SIGTERM while the socket waits for hello; hello then arrives during
     * the shutdown.  The bot must not go back online: it closes with 1000. */
    struct fx fx;
    fx_init(&fx);
    fake_slack_set_silent(fx.slack, true);
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT(fx_wait(&fx, pred_socket_open, NULL, 10000));
    fx_run_for(&fx, 200);
    uv_process_kill(&fx.proc, SIGTERM);
    fx_run_for(&fx, 200);
    fake_slack_set_silent(fx.slack, false);
    ASSERT_EQ(fx_wait_exit(&fx, 30000), 0);
    ASSERT_EQ(fake_slack_close_frames(fx.slack), 1);
    ASSERT_EQ(fake_slack_last_close_code(fx.slack), 1000);
    ASSERT(!fx_stderr_has(&fx, "\"msg\":\"socket mode online\""));
    fx_finish(&fx);
}
