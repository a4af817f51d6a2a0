/* test_fake_slack: self-tests of the fake Slack's Socket Mode side and its
 * Web API (tests/fakes/fake_slack*.c); Block Kit refusals are in
 * test_fake_blocks.c, the harness's own tests in test_harness_fx.c.
 * The fake runs on the test thread's loop (through the harness); blocking
 * clients (libcurl easy, a tiny raw websocket client) run on a helper thread
 * per step while the test thread keeps the loop turning (off_loop). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#include "fake_clients.h"

/* ------------------------------------------------------------------ */
/* websocket tests */

TEST(fake_ws_hello_ack_and_single_use_ticket)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c;
    char *path = fc_new_ticket_path(&fx);
    fc_ws_connect(&fx, &c, path);
    ASSERT_CONTAINS(c.status, " 101");
    struct wsc_frame fr = fc_next_frame(&fx, &c);
    ASSERT_CONTAINS(fr.data, "\"type\":\"hello\"");
    free(fr.data);
    ASSERT(fx_wait(&fx, fx_pred_online, NULL, 2000));
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 1);
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 1);

    cJSON *payload = cJSON_Parse("{\"k\":\"v\"}");
    const char *id = fake_slack_send_envelope(fx.slack, "interactive", payload);
    cJSON_Delete(payload);
    ASSERT_NOT_NULL(id);
    ASSERT_EQ(strlen(id), 36);
    fr = fc_next_frame(&fx, &c);
    cJSON *env = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_STR_EQ(fc_jstr(env, "envelope_id"), id);
    ASSERT_STR_EQ(fc_jstr(env, "type"), "interactive");
    ASSERT_STR_EQ(fc_jstr(env, "payload.k"), "v");
    ASSERT(cJSON_IsTrue(fc_jget(env, "accepts_response_payload")));
    ASSERT_NULL(fc_jget(env, "retry_attempt"));
    cJSON_Delete(env);
    ASSERT_NULL(fake_slack_ack(fx.slack, id));

    char ack[128];
    snprintf(ack, sizeof(ack), "{\"envelope_id\":\"%s\",\"payload\":{\"text\":\"done\"}}", id);
    ASSERT_EQ(wsc_text(&c, ack), 0);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)id, 2000));
    const struct fake_ack *a = fake_slack_ack(fx.slack, id);
    ASSERT_STR_EQ(a->envelope_id, id);
    ASSERT_STR_EQ(fc_jstr(a->json, "payload.text"), "done");
    ASSERT(a->sent_us > 0);
    ASSERT_GE(a->acked_us, a->sent_us);
    ASSERT_EQ(fake_slack_ack_count(fx.slack), 1);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);

    /* the same ticket again: refused, no hello, no new socket */
    struct wsc c2;
    fc_ws_connect(&fx, &c2, path);
    ASSERT_NOT_CONTAINS(c2.status, " 101");
    ASSERT_EQ(fake_slack_ws_refused(fx.slack), 1);
    wsc_close(&c2);
    /* a made-up ticket too */
    fc_ws_connect(&fx, &c2, "/link/?ticket=999-00000000&app_id=A0FAKE001");
    ASSERT_NOT_CONTAINS(c2.status, " 101");
    ASSERT_EQ(fake_slack_ws_refused(fx.slack), 2);
    wsc_close(&c2);
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 1);
    free(path);

    /* the peer closing is noticed */
    wsc_close(&c);
    int zero = 0;
    ASSERT(fx_wait(&fx, fc_pred_ws_open_is, &zero, 2000));
    fc_end(&fx);
}

TEST(fake_ws_fragments_and_bad_frames)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c;
    fc_ws_online(&fx, &c);
    const char *id = fake_slack_send_envelope(fx.slack, "slash_commands", NULL);
    struct wsc_frame fr = fc_next_frame(&fx, &c);
    free(fr.data);
    /* the ack in three fragments */
    ASSERT_EQ(wsc_send(&c, 1, false, "{\"envelope", 10), 0);
    ASSERT_EQ(wsc_send(&c, 0, false, "_id\":\"", 6), 0);
    char tail[64];
    snprintf(tail, sizeof(tail), "%s\"}", id);
    ASSERT_EQ(wsc_send(&c, 0, true, tail, strlen(tail)), 0);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)id, 2000));

    char dup[96];
    snprintf(dup, sizeof(dup), "{\"envelope_id\":\"%s\"}", id);
    wsc_text(&c, "not json");
    wsc_send(&c, 2, true, "\x01\x02", 2);
    wsc_text(&c, dup);
    wsc_text(&c, "{\"envelope_id\":\"00000000-0000-4000-8000-000000000000\"}");
    wsc_text(&c, "{\"type\":\"pong\"}");
    fx_run_for(&fx, 200);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 5);
    ASSERT_STR_EQ(fake_slack_bad_frame(fx.slack, 0), "not json");
    ASSERT_STR_EQ(fake_slack_bad_frame(fx.slack, 2), dup);
    ASSERT_EQ(fake_slack_ack_count(fx.slack), 1);

    /* outgoing fragmentation knob */
    fake_slack_set_fragment(fx.slack, 16);
    ASSERT_EQ(fake_slack_send_disconnect(fx.slack, "warning"), 0);
    struct buf msg;
    buf_init(&msg, 0);
    int frames = 0;
    for (;;) {
        fr = fc_next_frame(&fx, &c);
        ASSERT_EQ(fr.op, frames ? 0 : 1);
        ASSERT_LE(fr.len, 16);
        buf_append(&msg, fr.data, fr.len);
        free(fr.data);
        frames++;
        if (fr.fin)
            break;
        ASSERT_LE(frames, 100);
    }
    ASSERT_GE(frames, 3);
    cJSON *d = cJSON_Parse(msg.data);
    ASSERT_STR_EQ(fc_jstr(d, "type"), "disconnect");
    ASSERT_STR_EQ(fc_jstr(d, "reason"), "warning");
    ASSERT_STR_EQ(fc_jstr(d, "debug_info.host"), "applink-fake-1");
    cJSON_Delete(d);
    buf_finish(&msg);

    /* raw garbage, text and binary, arrives as sent */
    fake_slack_set_fragment(fx.slack, 0);
    ASSERT_EQ(fake_slack_send_raw(fx.slack, "}{garbage", 9, false), 0);
    ASSERT_EQ(fake_slack_send_raw(fx.slack, "\xff\x00\x01", 3, true), 0);
    fr = fc_next_frame(&fx, &c);
    ASSERT_EQ(fr.op, 1);
    ASSERT_STR_EQ(fr.data, "}{garbage");
    free(fr.data);
    fr = fc_next_frame(&fx, &c);
    ASSERT_EQ(fr.op, 2);
    ASSERT_EQ(fr.len, 3);
    free(fr.data);
    wsc_close(&c);
    fc_end(&fx);
}

static bool pred_pongs(struct fx *fx, void *ud)
{
    return fake_slack_pongs(fx->slack) >= *(uint64_t *)ud;
}

TEST(fake_ws_ping_rtt)
{
    struct fx fx;
    fc_begin(&fx);
    ASSERT_EQ(fake_slack_ping(fx.slack), -1);   /* no socket */
    struct wsc c;
    fc_ws_online(&fx, &c);
    ASSERT_EQ(fake_slack_ping(fx.slack), 0);
    struct wsc_frame fr = fc_next_frame(&fx, &c);
    ASSERT_EQ(fr.op, 9);
    ASSERT_STR_EQ(fr.data, "fake-ping-1");
    /* a pong with the wrong payload does not count */
    wsc_send(&c, 10, true, "other", 5);
    wsc_send(&c, 10, true, fr.data, fr.len);
    free(fr.data);
    uint64_t one = 1;
    ASSERT(fx_wait(&fx, pred_pongs, &one, 2000));
    fx_run_for(&fx, 50);
    ASSERT_EQ(fake_slack_pongs(fx.slack), 1);
    ASSERT(fake_slack_last_rtt_us(fx.slack) > 0);
    ASSERT(fake_slack_last_rtt_us(fx.slack) < 5000000);
    /* the fake answers the client's pings (lws does) */
    wsc_send(&c, 9, true, "cli", 3);
    fr = fc_next_frame(&fx, &c);
    ASSERT_EQ(fr.op, 10);
    ASSERT_STR_EQ(fr.data, "cli");
    free(fr.data);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    wsc_close(&c);
    fc_end(&fx);
}

TEST(fake_ws_drop_is_abrupt)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c1, c2;
    fc_ws_online(&fx, &c1);
    fc_ws_online(&fx, &c2);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 2);
    fake_slack_send_raw(fx.slack, "queued", 6, false);
    fake_slack_drop(fx.slack);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 0);
    /* both peers read EOF (or a reset) without any close frame */
    struct wsc *cs[2] = { &c1, &c2 };
    for (int i = 0; i < 2; i++) {
        struct fc_ws_step s = { .c = cs[i] };
        fc_off_loop(&fx, fc_read_job, &s);
        if (s.fr.rc == 0)
            TEST_FAIL("socket %d got a frame (op %d \"%s\") after drop", i, s.fr.op, s.fr.data);
    }
    int zero = 0;
    ASSERT(fx_wait(&fx, fc_pred_ws_open_is, &zero, 2000));
    wsc_close(&c1);
    wsc_close(&c2);
    /* a new connection works afterwards */
    fc_ws_online(&fx, &c1);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 1);
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 3);
    wsc_close(&c1);
    fc_end(&fx);
}

TEST(fake_ws_silent)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc a, b;
    fc_ws_online(&fx, &a);
    fake_slack_set_silent(fx.slack, true);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 0);
    ASSERT_EQ(fake_slack_ws_open(fx.slack), 1);
    wsc_send(&a, 9, true, "p1", 2);                       /* no pong comes */
    const char *id = fake_slack_send_envelope(fx.slack, "events_api", NULL);
    ASSERT_NOT_NULL(id);                                  /* queued, not sent */
    ASSERT(fake_slack_ping(fx.slack) == 0);               /* queued too */
    ASSERT(fc_quiet_for(&fx, &a, 300));

    /* a socket accepted while silent: handshake, then nothing */
    char *path = fc_new_ticket_path(&fx);
    fc_ws_connect(&fx, &b, path);
    free(path);
    ASSERT_CONTAINS(b.status, " 101");
    ASSERT(fc_quiet_for(&fx, &b, 300));
    ASSERT_EQ(fake_slack_ws_open(fx.slack), 2);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 0);

    /* silence ends: pong, ping and the envelope arrive; b gets hello */
    fake_slack_set_silent(fx.slack, false);
    bool got_pong = false, got_env = false, got_ping = false;
    for (int i = 0; i < 3; i++) {
        struct wsc_frame fr = fc_next_frame(&fx, &a);
        if (fr.op == 10 && strcmp(fr.data, "p1") == 0)
            got_pong = true;
        else if (fr.op == 9)
            got_ping = true;
        else if (fr.op == 1 && strstr(fr.data, id))
            got_env = true;
        free(fr.data);
    }
    ASSERT(got_pong && got_env && got_ping);
    struct wsc_frame fr = fc_next_frame(&fx, &b);
    ASSERT_CONTAINS(fr.data, "\"hello\"");
    free(fr.data);
    int two = 2;
    ASSERT(fx_wait(&fx, fc_pred_ws_count_is, &two, 2000));

    /* a silent socket whose peer hangs up is closed by the fake */
    fake_slack_set_silent(fx.slack, true);
    wsc_close(&b);
    int one = 1;
    ASSERT(fx_wait(&fx, fc_pred_ws_open_is, &one, 2000));
    fake_slack_set_silent(fx.slack, false);
    ASSERT(fx_wait(&fx, fc_pred_ws_count_is, &one, 2000));
    wsc_close(&a);
    fc_end(&fx);
}

TEST(fake_ws_envelope_shapes_and_response_url)
{
    struct fx fx;
    fc_begin(&fx);
    ASSERT_NULL(fake_slack_send_slash(fx.slack, "U0APPSEC1", "C0SIRT0001", "status"));  /* no socket */
    struct wsc c;
    fc_ws_online(&fx, &c);

    cJSON *ev = cJSON_Parse("{\"type\":\"app_mention\",\"user\":\"U0APPSEC1\",\"text\":\"<@U0BOT0001> help\","
                            "\"channel\":\"C0SIRT0001\",\"ts\":\"1700000000.000100\",\"event_ts\":\"1700000000.000100\"}");
    const char *id = fake_slack_send_event(fx.slack, ev, "Ev0TEST1", 2);
    struct wsc_frame fr = fc_next_frame(&fx, &c);
    cJSON *e = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), id);
    ASSERT_STR_EQ(fc_jstr(e, "type"), "events_api");
    ASSERT(cJSON_IsFalse(fc_jget(e, "accepts_response_payload")));
    ASSERT_EQ(fc_jget(e, "retry_attempt")->valueint, 2);
    ASSERT_STR_EQ(fc_jstr(e, "retry_reason"), "timeout");
    ASSERT_STR_EQ(fc_jstr(e, "payload.type"), "event_callback");
    ASSERT_STR_EQ(fc_jstr(e, "payload.event_id"), "Ev0TEST1");
    ASSERT_STR_EQ(fc_jstr(e, "payload.team_id"), "T0FAKE001");
    ASSERT_STR_EQ(fc_jstr(e, "payload.api_app_id"), "A0FAKE001");
    ASSERT_STR_EQ(fc_jstr(e, "payload.event.type"), "app_mention");
    ASSERT_STR_EQ(fc_jstr(e, "payload.event.text"), "<@U0BOT0001> help");
    ASSERT_STR_EQ(fc_jstr(e, "payload.authorizations.0.user_id"), "U0BOT0001");
    ASSERT(cJSON_IsNumber(fc_jget(fc_jget(e, "payload"), "event_time")));
    cJSON_Delete(e);

    const char *id0 = fake_slack_send_event(fx.slack, ev, NULL, 0);
    cJSON_Delete(ev);
    fr = fc_next_frame(&fx, &c);
    e = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), id0);
    ASSERT_EQ(fc_jget(e, "retry_attempt")->valueint, 0);
    ASSERT_STR_EQ(fc_jstr(e, "retry_reason"), "");
    ASSERT(str_starts(fc_jstr(e, "payload.event_id"), "Ev"));
    cJSON_Delete(e);

    id = fake_slack_send_slash(fx.slack, "U0APPSEC1", "C0SIRT0001", "report Token leak");
    fr = fc_next_frame(&fx, &c);
    e = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), id);
    ASSERT_STR_EQ(fc_jstr(e, "type"), "slash_commands");
    ASSERT(cJSON_IsTrue(fc_jget(e, "accepts_response_payload")));
    ASSERT_STR_EQ(fc_jstr(e, "payload.command"), "/sirt");
    ASSERT_STR_EQ(fc_jstr(e, "payload.text"), "report Token leak");
    ASSERT_STR_EQ(fc_jstr(e, "payload.user_id"), "U0APPSEC1");
    ASSERT_STR_EQ(fc_jstr(e, "payload.user_name"), "alice");
    ASSERT_STR_EQ(fc_jstr(e, "payload.channel_id"), "C0SIRT0001");
    ASSERT_STR_EQ(fc_jstr(e, "payload.trigger_id"), fake_slack_last_trigger_id(fx.slack));
    const char *rurl = fc_jstr(e, "payload.response_url");
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/commands/", fake_slack_port(fx.slack));
    ASSERT(str_starts(rurl, prefix));

    struct fc_http h = { .method = "POST", .url = rurl, .ctype = JSONT,
                      .body = "{\"text\":\"Incident SIRT-1 opened\",\"response_type\":\"ephemeral\"}" };
    fc_http_run(&fx, &h);
    ASSERT_EQ(h.status, 200);
    ASSERT_STR_EQ(h.resp.data, "ok");
    ASSERT(str_starts(h.resp_type, "text/plain"));
    fc_http_done(&h);
    const struct fake_call *call = fake_slack_last_call(fx.slack, "response_url");
    ASSERT_NOT_NULL(call);
    ASSERT_STR_EQ(fc_jstr(call->json, "text"), "Incident SIRT-1 opened");
    cJSON_Delete(e);
    wsc_close(&c);
    fc_end(&fx);
}

static atomic_size_t g_acked;

static void count_ack(void *ud, const struct fake_ack *a)
{
    uint64_t *sum = ud;
    *sum += a->acked_us - a->sent_us;
    atomic_fetch_add(&g_acked, 1);
}

struct acker {
    struct wsc *c;
    int n;
    int done;
};

/* Reads n envelopes and acks each at once. */
static void acker_job(void *arg)
{
    struct acker *k = arg;
    for (int i = 0; i < k->n; i++) {
        struct wsc_frame fr;
        wsc_read(k->c, &fr);
        if (fr.rc != 0)
            return;
        const char *p = strstr(fr.data, "\"envelope_id\":\"");
        char ack[80];
        if (p && snprintf(ack, sizeof(ack), "{\"envelope_id\":\"%.36s\"}", p + 15) > 0)
            wsc_text(k->c, ack);
        free(fr.data);
        k->done++;
    }
}

static bool pred_ack_count(struct fx *fx, void *ud)
{
    return fake_slack_ack_count(fx->slack) >= *(size_t *)ud;
}

TEST_T(fake_ws_ack_throughput, 90)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c;
    fc_ws_online(&fx, &c);
    const char *ns = getenv("FAKE_BENCH_N");
    int n = ns && atoi(ns) > 0 ? atoi(ns) : 20000;
    uint64_t sum = 0;
    fake_slack_set_record_acks(fx.slack, false);
    fake_slack_on_ack(fx.slack, count_ack, &sum);
    cJSON *ev = cJSON_Parse("{\"type\":\"message\",\"channel_type\":\"im\",\"user\":\"U0APPSEC1\",\"text\":\"hi\"}");
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < n; i++)
        ASSERT_NOT_NULL(fake_slack_send_event(fx.slack, ev, NULL, 0));
    cJSON_Delete(ev);
    struct acker k = { &c, n, 0 };
    struct fc_job j = { acker_job, &k, 0 };
    pthread_t t;
    fc_wake_init(&fx);
    pthread_create(&t, NULL, fc_job_main, &j);
    size_t want = (size_t)n;
    bool ok = fx_wait(&fx, pred_ack_count, &want, 60000);
    fx_wait(&fx, fc_pred_job, &j, 5000);
    pthread_join(t, NULL);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    fprintf(stderr, "acked %zu of %d in %.3f s (%.0f/s), mean send->ack %.1f us\n",
            fake_slack_ack_count(fx.slack), n, secs, n / secs, (double)sum / (double)(n ? n : 1));
    ASSERT(ok);
    ASSERT_EQ(k.done, n);
    ASSERT_EQ(atomic_load(&g_acked), (size_t)n);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    wsc_close(&c);
    fc_end(&fx);
}

/* ------------------------------------------------------------------ */
/* Web API tests */

TEST(fake_api_auth)
{
    struct fx fx;
    fc_begin(&fx);
    long st;
    cJSON *j = fc_api(&fx, "POST", "apps.connections.open", NULL, FORMT, "", &st);
    ASSERT_EQ(st, 200);
    ASSERT(cJSON_IsFalse(fc_jget(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "error"), "not_authed");
    cJSON_Delete(j);
    fc_api_expect(&fx, "POST", "apps.connections.open", FORMT, "", "error", "invalid_auth");
    j = fc_api(&fx, "POST", "auth.test", XAPP, FORMT, "", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_auth");
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "chat.postMessage", "Basic Zm9vOmJhcg==", JSONT, "{\"channel\":\"C1\",\"text\":\"x\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_auth");
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "auth.test", XOXB, FORMT, "", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "user_id"), "U0BOT0001");
    ASSERT_STR_EQ(fc_jstr(j, "bot_id"), "B0BOT0001");
    ASSERT_STR_EQ(fc_jstr(j, "team_id"), "T0FAKE001");
    cJSON_Delete(j);
    /* token as a form argument, like Slack accepts */
    j = fc_api(&fx, "POST", "auth.test", NULL, FORMT, "token=xoxb-in-form", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    cJSON_Delete(j);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 2);
    ASSERT_EQ(fake_slack_call_count(fx.slack, NULL), 6);
    const struct fake_call *c = fake_slack_call(fx.slack, "auth.test", 1);
    ASSERT_STR_EQ(c->auth, XOXB);
    ASSERT_STR_EQ(c->http_method, "POST");
    ASSERT_EQ(c->status, 200);
    ASSERT_STR_EQ(fake_slack_call(fx.slack, NULL, 0)->auth, "");
    ASSERT_NULL(fake_slack_call(fx.slack, "auth.test", 3));
    fc_end(&fx);
}

TEST(fake_api_methods)
{
    struct fx fx;
    fc_begin(&fx);
    long st;
    cJSON *j = fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, "{\"channel\":\"C0SIRT0001\",\"text\":\"hello\"}", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "channel"), "C0SIRT0001");
    char ts1[32];
    str_lcpy(ts1, fc_jstr(j, "ts"), sizeof(ts1));
    ASSERT_STR_EQ(fc_jstr(j, "message.text"), "hello");
    ASSERT_STR_EQ(fc_jstr(j, "message.ts"), ts1);
    ASSERT_STR_EQ(fc_jstr(j, "message.bot_id"), "B0BOT0001");
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, "{\"channel\":\"C1\",\"blocks\":[{\"type\":\"divider\"}]}", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT(strcmp(fc_jstr(j, "ts"), ts1) != 0);
    cJSON_Delete(j);
    fc_api_expect(&fx, "POST", "chat.postMessage", JSONT, "{\"channel\":\"C1\"}", "error", "no_text");
    fc_api_expect(&fx, "POST", "chat.postMessage", JSONT, "{\"text\":\"x\"}", "error", "channel_not_found");
    fc_api_expect(&fx, "POST", "chat.postMessage", JSONT, "{\"text\":", "error", "invalid_json");
    const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", 0);
    ASSERT_STR_EQ(c->content_type, JSONT);
    ASSERT_STR_EQ(fc_jstr(c->json, "text"), "hello");
    ASSERT_STR_EQ(c->body, "{\"channel\":\"C0SIRT0001\",\"text\":\"hello\"}");
    ASSERT(c->t_us > 0);
    ASSERT_NULL(fake_slack_last_call(fx.slack, "chat.postMessage")->json);

    j = fc_api(&fx, "POST", "chat.postEphemeral", XOXB, JSONT, "{\"channel\":\"C1\",\"user\":\"U1\",\"text\":\"x\"}", &st);
    ASSERT_NOT_NULL(fc_jstr(j, "message_ts"));
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "chat.update", XOXB, JSONT, "{\"channel\":\"C1\",\"ts\":\"1.2\",\"text\":\"y\"}", &st);
    ASSERT_STR_EQ(fc_jstr(j, "ts"), "1.2");
    ASSERT_STR_EQ(fc_jstr(j, "text"), "y");
    cJSON_Delete(j);

    /* form-encoded, as the python SDK sends conversations.* */
    j = fc_api(&fx, "POST", "conversations.create", XOXB, FORMT, "name=sirt-1-token%5Fleak&is_private=true", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT(str_starts(fc_jstr(j, "channel.id"), "C"));
    ASSERT_STR_EQ(fc_jstr(j, "channel.name"), "sirt-1-token_leak");
    ASSERT(cJSON_IsTrue(fc_jget(fc_jget(j, "channel"), "is_private")));
    cJSON_Delete(j);
    fc_api_expect(&fx, "POST", "conversations.create", JSONT, "{\"name\":\"sirt-1-token_leak\",\"is_private\":true}", "error", "name_taken");
    fc_api_expect(&fx, "POST", "conversations.invite", JSONT, "{\"channel\":\"C0FAKE00001\",\"users\":\"U0APPSEC1\"}", "channel.id", "C0FAKE00001");
    fc_api_expect(&fx, "POST", "conversations.open", FORMT, "users=U0APPSEC1", "channel.id", "D0APPSEC1");

    j = fc_api(&fx, "GET", "users.info", XOXB, NULL, "user=U0APPSEC1", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "user.id"), "U0APPSEC1");
    ASSERT_STR_EQ(fc_jstr(j, "user.name"), "alice");
    ASSERT_STR_EQ(fc_jstr(j, "user.tz"), "America/Los_Angeles");
    ASSERT_EQ(fc_jget(fc_jget(j, "user"), "tz_offset")->valueint, -28800);
    ASSERT_STR_EQ(fc_jstr(j, "user.profile.email"), "alice@example.com");
    ASSERT(cJSON_IsFalse(fc_jget(fc_jget(j, "user"), "is_bot")));
    cJSON_Delete(j);
    c = fake_slack_last_call(fx.slack, "users.info");
    ASSERT_STR_EQ(c->http_method, "GET");
    ASSERT_STR_EQ(c->body, "user=U0APPSEC1");
    fc_api_expect(&fx, "GET", "users.info", NULL, "user=U0NOBODY", "error", "user_not_found");
    j = fc_api(&fx, "GET", "users.lookupByEmail", XOXB, NULL, "email=bob%40example.com", &st);
    ASSERT_STR_EQ(fc_jstr(j, "user.id"), "U0APPSEC2");
    ASSERT_STR_EQ(fc_jstr(j, "user.tz"), "Europe/Amsterdam");
    cJSON_Delete(j);
    fc_api_expect(&fx, "GET", "users.lookupByEmail", NULL, "email=nobody%40example.com", "error", "users_not_found");

    fc_api_expect(&fx, "POST", "views.open", JSONT, "{\"view\":{\"type\":\"modal\"}}", "error", "invalid_arguments");
    j = fc_api(&fx, "POST", "views.open", XOXB, JSONT,
            "{\"trigger_id\":\"1.2.x\",\"view\":{\"type\":\"modal\",\"callback_id\":\"report\","
            "\"title\":{\"type\":\"plain_text\",\"text\":\"Report\"},\"blocks\":[]}}", &st);
    ASSERT(str_starts(fc_jstr(j, "view.id"), "V"));
    ASSERT_NOT_NULL(fc_jstr(j, "view.hash"));
    ASSERT_STR_EQ(fc_jstr(j, "view.callback_id"), "report");
    cJSON_Delete(j);
    /* form-encoded view is a JSON string */
    j = fc_api(&fx, "POST", "views.open", XOXB, FORMT, "trigger_id=1.2.y&view=%7B%22type%22%3A%22modal%22%2C%22title%22%3A%7B%22type%22%3A%22plain_text%22%2C"
            "%22text%22%3A%22T%22%7D%2C%22blocks%22%3A%5B%5D%7D", &st);
    ASSERT_STR_EQ(fc_jstr(j, "view.type"), "modal");
    cJSON_Delete(j);

    j = fc_api(&fx, "POST", "reactions.add", XOXB, JSONT, "{\"channel\":\"C1\",\"name\":\"eyes\",\"timestamp\":\"1.2\"}", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "some.newMethod", XOXB, JSONT, "{}", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    cJSON_Delete(j);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "some.newMethod"), 1);

    struct fc_http h = { .method = "GET", .url = "" };
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing", fake_slack_port(fx.slack));
    h.url = url;
    fc_http_run(&fx, &h);
    ASSERT_EQ(h.status, 404);
    fc_http_done(&h);
    fc_end(&fx);
}

TEST(fake_api_fail_injection)
{
    struct fx fx;
    fc_begin(&fx);
    fake_slack_fail(fx.slack, "chat.postMessage", 2, 429, NULL, 7);
    const char *body = "{\"channel\":\"C1\",\"text\":\"x\"}";
    char url[160];
    snprintf(url, sizeof(url), "%s/chat.postMessage", fake_slack_api_url(fx.slack));
    for (int i = 0; i < 3; i++) {
        struct fc_http h = { .method = "POST", .url = url, .auth = XOXB, .ctype = JSONT, .body = body };
        fc_http_run(&fx, &h);
        cJSON *j = cJSON_Parse(h.resp.data);
        if (i < 2) {
            ASSERT_EQ(h.status, 429);
            ASSERT_STR_EQ(h.retry_after, "7");
            ASSERT_STR_EQ(fc_jstr(j, "error"), "ratelimited");
            ASSERT_STR_EQ(h.resp_type, JSONT);
        } else {
            ASSERT_EQ(h.status, 200);
            ASSERT_STR_EQ(h.retry_after, "");
            ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
        }
        cJSON_Delete(j);
        fc_http_done(&h);
    }
    ASSERT_EQ(fake_slack_call(fx.slack, "chat.postMessage", 0)->status, 429);
    ASSERT_EQ(fake_slack_call(fx.slack, "chat.postMessage", 2)->status, 200);

    long st;
    fake_slack_fail(fx.slack, "conversations.create", 1, 200, "restricted_action", 0);
    cJSON *j = fc_api(&fx, "POST", "conversations.create", XOXB, JSONT, "{\"name\":\"a\"}", &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "restricted_action");
    cJSON_Delete(j);
    j = fc_api(&fx, "POST", "conversations.create", XOXB, JSONT, "{\"name\":\"a\"}", &st);
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    cJSON_Delete(j);

    fake_slack_fail(fx.slack, "users.info", 1, 503, NULL, 0);
    snprintf(url, sizeof(url), "%s/users.info?user=U0APPSEC1", fake_slack_api_url(fx.slack));
    struct fc_http h = { .method = "GET", .url = url, .auth = XOXB };
    fc_http_run(&fx, &h);
    ASSERT_EQ(h.status, 503);
    ASSERT(str_starts(h.resp_type, "text/html"));
    cJSON *bad = cJSON_Parse(h.resp.data);
    ASSERT_NULL(bad);
    fc_http_done(&h);

    fake_slack_fail(fx.slack, "response_url", 1, 500, NULL, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/commands/T/1/x", fake_slack_port(fx.slack));
    struct fc_http h2 = { .method = "POST", .url = url, .ctype = JSONT, .body = "{\"text\":\"a\"}" };
    fc_http_run(&fx, &h2);
    ASSERT_EQ(h2.status, 500);
    fc_http_done(&h2);
    struct fc_http h3 = { .method = "POST", .url = url, .ctype = JSONT, .body = "{\"text\":\"a\"}" };
    fc_http_run(&fx, &h3);
    ASSERT_EQ(h3.status, 200);
    fc_http_done(&h3);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "response_url"), 2);
    fc_end(&fx);
}

TEST(fake_destroy_with_live_sockets)
{
    /* fx_finish with a silent socket, an online one with queued frames and
     * a half-sent HTTP request must end cleanly (valgrind: no leaks). */
    struct fx fx;
    fc_begin(&fx);
    struct wsc a, b;
    fc_ws_online(&fx, &a);
    fake_slack_set_silent(fx.slack, true);
    fake_slack_send_raw(fx.slack, "stuck", 5, false);
    fake_slack_set_silent(fx.slack, false);
    fx_run_for(&fx, 20);
    fc_ws_online(&fx, &b);
    for (int i = 0; i < 100; i++)
        fake_slack_send_envelope(fx.slack, "events_api", NULL);
    fake_slack_set_silent(fx.slack, true);
    int h = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fake_slack_port(fx.slack)) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(h, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char *req = "POST /api/chat.postMessage HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"chan";
    ASSERT_EQ(send(h, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    fx_run_for(&fx, 50);
    fc_end(&fx);
    /* every peer sees the end */
    char tmp[4096];
    struct timeval tv = { 2, 0 };
    setsockopt(h, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ASSERT(recv(h, tmp, sizeof(tmp), 0) <= 0);
    close(h);
    struct wsc_frame fr;
    for (int i = 0; i < 200; i++) {
        wsc_read(&b, &fr);
        if (fr.rc != 0)
            break;
        free(fr.data);
    }
    ASSERT(fr.rc != 0);
    wsc_close(&a);
    wsc_close(&b);
}
