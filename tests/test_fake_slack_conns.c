/* test_fake_slack_conns: self-tests of the fake Slack's several Socket Mode
 * connections for one app (tests/fakes/fake_slack.c): client tags, the
 * spread modes, the 10-connection limit and the redelivery of unacked
 * events.  Raw websocket clients (tests/fake_clients.h) stand in for bot
 * processes, so every frame is seen as Slack would send it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_clients.h"
#include "test.h"

/* Opens a socket the way a process given the tagged API URL would:
 * apps.connections.open on <fake>/c/<tag>/api, then the ticket URL; reads
 * the first frame and returns it parsed (caller deletes). */
static cJSON *open_tagged(struct fx *fx, struct wsc *c, const char *tag)
{
    char base[128], url[192];
    ASSERT_EQ(fake_slack_client_api_url(fx->slack, tag, base, sizeof(base)), 0);
    snprintf(url, sizeof(url), "%s/apps.connections.open", base);
    struct fc_http h = { .method = "POST", .url = url, .auth = XAPP, .ctype = FORMT, .body = "" };
    fc_http_run(fx, &h);
    ASSERT_EQ(h.status, 200);
    cJSON *j = cJSON_Parse(h.resp.data ? h.resp.data : "");
    fc_http_done(&h);
    const char *ws = fc_jstr(j, "url");
    ASSERT_NOT_NULL(ws);
    const char *path = strstr(ws + 5, "/link/");
    ASSERT_NOT_NULL(path);
    fc_ws_connect(fx, c, path);
    cJSON_Delete(j);
    ASSERT_CONTAINS(c->status, " 101");
    struct wsc_frame fr = fc_next_frame(fx, c);
    cJSON *first = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_NOT_NULL(first);
    return first;
}

static void open_online(struct fx *fx, struct wsc *c, const char *tag)
{
    cJSON *h = open_tagged(fx, c, tag);
    ASSERT_STR_EQ(fc_jstr(h, "type"), "hello");
    cJSON_Delete(h);
}

/* Reads one envelope frame; returns it parsed (caller deletes). */
static cJSON *read_env(struct fx *fx, struct wsc *c)
{
    struct wsc_frame fr = fc_next_frame(fx, c);
    cJSON *e = cJSON_Parse(fr.data);
    free(fr.data);
    ASSERT_NOT_NULL(fc_jstr(e, "envelope_id"));
    return e;
}

static void ack(struct wsc *c, const char *envelope_id)
{
    char a[128];
    snprintf(a, sizeof(a), "{\"envelope_id\":\"%s\"}", envelope_id);
    ASSERT_EQ(wsc_text(c, a), 0);
}

static const char *send_mention(struct fx *fx, const char *text)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", "U0REPORT1");
    cJSON_AddStringToObject(ev, "channel", "C0SIRT0001");
    cJSON_AddStringToObject(ev, "text", text);
    const char *id = fake_slack_send_event(fx->slack, ev, NULL, 0);
    cJSON_Delete(ev);
    return id;
}

static bool pred_acks(struct fx *fx, void *ud)
{
    return fake_slack_ack_count(fx->slack) >= *(size_t *)ud;
}

static bool pred_ws_count(struct fx *fx, void *ud)
{
    return fake_slack_ws_count(fx->slack) == *(int *)ud;
}

TEST(fake_conns_tags_and_round_robin)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c[3];
    const char *tags[3] = { "r1", "r2", "r3" };
    for (int i = 0; i < 3; i++)
        open_online(&fx, &c[i], tags[i]);
    int three = 3;
    ASSERT(fx_wait(&fx, pred_ws_count, &three, 2000));
    unsigned ids[8];
    ASSERT_EQ(fake_slack_conns(fx.slack, ids, 8), 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_STR_EQ(fake_slack_conn_tag(fx.slack, ids[i]), tags[i]);
        ASSERT_EQ(fake_slack_ws_count_tag(fx.slack, tags[i]), 1);
    }
    /* the calls are recorded with the client that made them */
    ASSERT_EQ(fake_slack_call_count(fx.slack, "apps.connections.open"), 3);
    ASSERT_STR_EQ(fake_slack_call(fx.slack, "apps.connections.open", 1)->client, "r2");
    ASSERT_NULL(fake_slack_call(fx.slack, "apps.connections.open", 1)->error);

    /* the default stays "newest": one connection gets everything */
    const char *id0 = send_mention(&fx, "newest");
    cJSON *e = read_env(&fx, &c[2]);
    ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), id0);
    ack(&c[2], id0);
    cJSON_Delete(e);

    /* round robin: 9 envelopes, 3 to each, in connection order */
    fake_slack_set_spread(fx.slack, FAKE_SLACK_SPREAD_ROUND_ROBIN, 0);
    const char *sent[9];
    for (int i = 0; i < 9; i++) {
        char t[32];
        snprintf(t, sizeof(t), "rr %d", i);
        sent[i] = send_mention(&fx, t);
        ASSERT_NOT_NULL(sent[i]);
    }
    for (int i = 0; i < 9; i++) {
        e = read_env(&fx, &c[i % 3]);
        ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), sent[i]);
        ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e, "retry_attempt")->valueint, 0);
        cJSON_Delete(e);
        const struct fake_delivery *d = fake_slack_delivery_by_id(fx.slack, sent[i]);
        ASSERT_NOT_NULL(d);
        ASSERT_EQ(d->conn, ids[i % 3]);
        ASSERT_STR_EQ(d->conn_tag, tags[i % 3]);
        ASSERT_STR_EQ(d->type, "events_api");
        ASSERT(strncmp(d->event_id, "Ev0FAKE", 7) == 0);
        ASSERT_EQ(d->acked_by, 0);
    }
    /* each acks its own, except that r1 acks one of r2's envelopes */
    for (int i = 0; i < 9; i++)
        ack(&c[i == 4 ? 0 : i % 3], sent[i]);
    size_t want = 10;
    ASSERT(fx_wait(&fx, pred_acks, &want, 2000));
    for (int i = 0; i < 9; i++) {
        const struct fake_delivery *d = fake_slack_delivery_by_id(fx.slack, sent[i]);
        ASSERT_EQ(d->acked_by, i == 4 ? ids[0] : ids[i % 3]);
        ASSERT_EQ(fake_slack_ack(fx.slack, sent[i])->conn, d->acked_by);
        ASSERT(d->written);
        ASSERT_GE(d->acked_us, d->sent_us);
    }
    size_t acked_there = 0;
    ASSERT_EQ(fake_slack_conn_deliveries(fx.slack, ids[1], &acked_there), 3);
    ASSERT_EQ(acked_there, 2);
    ASSERT_EQ(fake_slack_conn_deliveries(fx.slack, ids[2], &acked_there), 4);   /* + the "newest" one */
    ASSERT_EQ(acked_there, 4);
    ASSERT_EQ(fake_slack_delivery_count(fx.slack), 10);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);

    /* a connection that goes away drops out of the rotation */
    wsc_close(&c[1]);
    int two = 2;
    ASSERT(fx_wait(&fx, pred_ws_count, &two, 2000));
    for (int i = 0; i < 4; i++) {
        const char *id = send_mention(&fx, "after close");
        e = read_env(&fx, &c[i % 2 == 0 ? 0 : 2]);
        ASSERT_STR_EQ(fc_jstr(e, "envelope_id"), id);
        cJSON_Delete(e);
    }
    ASSERT_EQ(fake_slack_conn_tag(fx.slack, ids[1]) == NULL, 1);
    wsc_close(&c[0]);
    wsc_close(&c[2]);
    fc_end(&fx);
}

TEST(fake_conns_random_spread_is_seeded)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c[3];
    for (int i = 0; i < 3; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "r%d", i + 1);
        open_online(&fx, &c[i], tag);
    }
    int three = 3;
    ASSERT(fx_wait(&fx, pred_ws_count, &three, 2000));
    unsigned seq[2][30];
    for (int round = 0; round < 2; round++) {
        fake_slack_set_spread(fx.slack, FAKE_SLACK_SPREAD_RANDOM, 42);
        for (int i = 0; i < 30; i++) {
            const char *id = fake_slack_send_envelope(fx.slack, "interactive", NULL);
            ASSERT_NOT_NULL(id);
            seq[round][i] = fake_slack_delivery_by_id(fx.slack, id)->conn;
        }
    }
    int used[3] = { 0, 0, 0 };
    unsigned ids[3];
    ASSERT_EQ(fake_slack_conns(fx.slack, ids, 3), 3);
    for (int i = 0; i < 30; i++) {
        ASSERT_EQ(seq[0][i], seq[1][i]);
        for (int k = 0; k < 3; k++)
            used[k] += seq[0][i] == ids[k];
    }
    for (int k = 0; k < 3; k++) {
        ASSERT_GE(used[k], 3);   /* 30 picks out of 3: each at least a few */
        ASSERT_LE(used[k], 20);
    }
    /* each socket really got its share: drain them */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 2 * used[k]; i++) {
            cJSON *e = read_env(&fx, &c[k]);
            ASSERT_EQ(fake_slack_delivery_by_id(fx.slack, fc_jstr(e, "envelope_id"))->conn, ids[k]);
            cJSON_Delete(e);
        }
    for (int k = 0; k < 3; k++) {
        ASSERT(fc_quiet_for(&fx, &c[k], 50));
        wsc_close(&c[k]);
    }
    fc_end(&fx);
}

TEST_T(fake_conns_eleventh_is_refused, 60)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc c[11];
    for (int i = 0; i < 10; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "r%d", i + 1);
        cJSON *h = open_tagged(&fx, &c[i], tag);
        ASSERT_STR_EQ(fc_jstr(h, "type"), "hello");
        ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(h, "num_connections")->valueint, i + 1);
        cJSON_Delete(h);
    }
    int ten = 10;
    ASSERT(fx_wait(&fx, pred_ws_count, &ten, 2000));
    /* the 11th gets a ticket, connects, and is told too_many_websockets */
    cJSON *d = open_tagged(&fx, &c[10], "r11");
    ASSERT_STR_EQ(fc_jstr(d, "type"), "disconnect");
    ASSERT_STR_EQ(fc_jstr(d, "reason"), "too_many_websockets");
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(d, "num_connections")->valueint, 10);
    ASSERT_STR_EQ(fc_jstr(d, "connection_info.app_id"), "A0FAKE001");
    cJSON_Delete(d);
    ASSERT_EQ(fake_slack_ws_over_limit(fx.slack), 1);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 10);
    ASSERT_EQ(fake_slack_ws_open(fx.slack), 10);
    ASSERT_EQ(fake_slack_ws_count_tag(fx.slack, "r11"), 0);
    /* it never gets an envelope, whatever the spread */
    fake_slack_set_spread(fx.slack, FAKE_SLACK_SPREAD_ROUND_ROBIN, 0);
    for (int i = 0; i < 20; i++) {
        const char *id = fake_slack_send_envelope(fx.slack, "interactive", NULL);
        char want[16];
        snprintf(want, sizeof(want), "r%d", i % 10 + 1);
        ASSERT_STR_EQ(fake_slack_delivery_by_id(fx.slack, id)->conn_tag, want);
    }
    ASSERT(fc_quiet_for(&fx, &c[10], 100));
    /* the fake closes it after 2 s: the client reads EOF */
    struct fc_ws_step s = { .c = &c[10] };
    fc_off_loop(&fx, fc_read_job, &s);
    ASSERT_EQ(s.fr.rc, -1);
    wsc_close(&c[10]);
    /* with one of the ten gone, a newcomer is accepted again */
    wsc_close(&c[0]);
    int nine = 9;
    ASSERT(fx_wait(&fx, pred_ws_count, &nine, 2000));
    open_online(&fx, &c[0], "r12");
    ASSERT_EQ(fake_slack_ws_over_limit(fx.slack), 1);
    for (int i = 0; i < 10; i++)
        wsc_close(&c[i]);
    fc_end(&fx);
}

TEST(fake_conns_unacked_event_is_redelivered_elsewhere)
{
    struct fx fx;
    fc_begin(&fx);
    struct wsc a, b;
    open_online(&fx, &a, "r1");
    open_online(&fx, &b, "r2");
    int two = 2;
    ASSERT(fx_wait(&fx, pred_ws_count, &two, 2000));
    fake_slack_set_spread(fx.slack, FAKE_SLACK_SPREAD_ROUND_ROBIN, 0);
    fake_slack_set_redelivery(fx.slack, 200, 3);

    /* r1 gets it and does not ack: 200 ms later r2 gets a retry */
    const char *id1 = send_mention(&fx, "first");
    cJSON *e1 = read_env(&fx, &a);
    ASSERT_STR_EQ(fc_jstr(e1, "envelope_id"), id1);
    const char *event_id = fc_jstr(e1, "payload.event_id");
    ASSERT_NOT_NULL(event_id);
    cJSON *e2 = read_env(&fx, &b);
    ASSERT(strcmp(fc_jstr(e2, "envelope_id"), id1) != 0);
    ASSERT_STR_EQ(fc_jstr(e2, "payload.event_id"), event_id);
    ASSERT_STR_EQ(fc_jstr(e2, "payload.event.text"), "first");
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e2, "retry_attempt")->valueint, 1);
    ASSERT_STR_EQ(fc_jstr(e2, "retry_reason"), "timeout");
    ASSERT(fake_slack_delivery_by_id(fx.slack, id1)->redelivered);
    const struct fake_delivery *d2 = fake_slack_delivery_by_id(fx.slack, fc_jstr(e2, "envelope_id"));
    ASSERT_STR_EQ(d2->conn_tag, "r2");
    ASSERT_EQ(d2->retry_attempt, 1);
    ASSERT_GE(d2->sent_us - fake_slack_delivery_by_id(fx.slack, id1)->sent_us, 150000);
    ack(&b, fc_jstr(e2, "envelope_id"));
    cJSON_Delete(e2);
    cJSON_Delete(e1);
    ASSERT(fc_quiet_for(&fx, &a, 500));
    ASSERT(fc_quiet_for(&fx, &b, 10));
    ASSERT_EQ(fake_slack_redeliveries(fx.slack), 1);

    /* an acked event is never sent again (round robin: now r1's turn) */
    const char *id3 = send_mention(&fx, "acked");
    cJSON *e3 = read_env(&fx, &a);
    ASSERT_STR_EQ(fc_jstr(e3, "envelope_id"), id3);
    ack(&a, id3);
    cJSON_Delete(e3);
    ASSERT(fc_quiet_for(&fx, &a, 500));
    ASSERT(fc_quiet_for(&fx, &b, 10));
    ASSERT_EQ(fake_slack_redeliveries(fx.slack), 1);

    /* the socket it was on (r2) dies: the retry goes to the one left */
    const char *id4 = send_mention(&fx, "orphan");
    cJSON *e4 = read_env(&fx, &b);
    ASSERT_STR_EQ(fc_jstr(e4, "envelope_id"), id4);
    cJSON_Delete(e4);
    wsc_close(&b);
    cJSON *e5 = read_env(&fx, &a);
    ASSERT_STR_EQ(fc_jstr(e5, "payload.event.text"), "orphan");
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e5, "retry_attempt")->valueint, 1);
    ASSERT_STR_EQ(fake_slack_delivery_by_id(fx.slack, fc_jstr(e5, "envelope_id"))->conn_tag, "r1");
    cJSON_Delete(e5);

    /* never acked: retried exactly max (3) times, then dropped */
    for (int n = 2; n <= 3; n++) {
        cJSON *e = read_env(&fx, &a);
        ASSERT_STR_EQ(fc_jstr(e, "payload.event.text"), "orphan");
        ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e, "retry_attempt")->valueint, n);
        cJSON_Delete(e);
    }
    ASSERT(fc_quiet_for(&fx, &a, 700));
    ASSERT_EQ(fake_slack_redeliveries(fx.slack), 4);

    /* slash commands and interactions are not redelivered (Slack does not) */
    fake_slack_send_envelope(fx.slack, "interactive", NULL);
    cJSON *e6 = read_env(&fx, &a);
    cJSON_Delete(e6);
    ASSERT(fc_quiet_for(&fx, &a, 500));
    wsc_close(&a);
    fc_end(&fx);
}

TEST(fake_conns_records_client_and_error_of_calls)
{
    struct fx fx;
    fc_begin(&fx);
    char base[128], url[192];
    ASSERT_EQ(fake_slack_client_api_url(fx.slack, "r7", base, sizeof(base)), 0);
    ASSERT_EQ(fake_slack_client_api_url(fx.slack, "a/b", base + 64, 64), -1);
    ASSERT_EQ(fake_slack_client_api_url(fx.slack, "", base + 64, 64), -1);
    snprintf(url, sizeof(url), "%s/conversations.create", base);
    for (int i = 0; i < 2; i++) {
        struct fc_http h = { .method = "POST", .url = url, .auth = XOXB, .ctype = JSONT,
                             .body = "{\"name\":\"sirt-1-x\",\"is_private\":true}" };
        fc_http_run(&fx, &h);
        ASSERT_EQ(h.status, 200);
        fc_http_done(&h);
    }
    long st;
    cJSON *j = fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, "{\"channel\":\"C1\",\"text\":\"hi\"}", &st);
    cJSON_Delete(j);
    fake_slack_fail(fx.slack, "chat.postMessage", 1, 503, NULL, 0);
    j = fc_api(&fx, "POST", "chat.postMessage", XOXB, JSONT, "{\"channel\":\"C1\",\"text\":\"hi\"}", &st);
    cJSON_Delete(j);
    ASSERT_EQ(st, 503);
    const struct fake_call *c0 = fake_slack_call(fx.slack, "conversations.create", 0);
    const struct fake_call *c1 = fake_slack_call(fx.slack, "conversations.create", 1);
    ASSERT_STR_EQ(c0->client, "r7");
    ASSERT_NULL(c0->error);
    ASSERT_STR_EQ(c1->client, "r7");
    ASSERT_STR_EQ(c1->error, "name_taken");
    ASSERT_STR_EQ(fake_slack_call(fx.slack, "chat.postMessage", 0)->client, "");
    ASSERT_NULL(fake_slack_call(fx.slack, "chat.postMessage", 0)->error);
    ASSERT_STR_EQ(fake_slack_call(fx.slack, "chat.postMessage", 1)->error, "http_503");
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    fc_end(&fx);
}
