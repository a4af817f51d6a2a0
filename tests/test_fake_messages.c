/* test_fake_messages: the fake Slack's message store and reads
 * (tests/fakes/fake_messages.c): chat.postMessage's metadata validation,
 * conversations.history / conversations.replies windows, order, paging and
 * metadata gating — over HTTP against the running fake, like the bot sees
 * it, and on the store directly for the paging edge cases. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "fake_clients.h"
#include "fakes/fake_messages.h"
#include "harness.h"
#include "test.h"

static char *post(struct fx *fx, const char *ctype, const char *body, const char *want_error)
{
    long st;
    cJSON *j = fc_api(fx, "POST", "chat.postMessage", XOXB, ctype, body, &st);
    ASSERT_EQ(st, 200);
    ASSERT_NOT_NULL(j);
    char *ts = NULL;
    if (want_error) {
        ASSERT(cJSON_IsFalse(fc_jget(j, "ok")));
        ASSERT_STR_EQ(fc_jstr(j, "error"), want_error);
    } else {
        ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
        ts = xstrdup(fc_jstr(j, "ts"));
    }
    cJSON_Delete(j);
    return ts;
}

static cJSON *get(struct fx *fx, const char *method, const char *query)
{
    long st;
    cJSON *j = fc_api(fx, "GET", method, XOXB, NULL, query, &st);
    ASSERT_EQ(st, 200);
    ASSERT_NOT_NULL(j);
    return j;
}

static int n_msgs(const cJSON *j)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "messages"));
}

TEST(fake_slack_post_metadata_validated_and_stored)
{
    struct fx fx;
    fc_begin(&fx);
    /* JSON body: an object */
    char *t1 = post(&fx, JSONT,
                    "{\"channel\":\"G0INC0001\",\"text\":\"one\",\"metadata\":{\"event_type\":\"sirt_outbox\","
                    "\"event_payload\":{\"job\":\"abc\"}}}", NULL);
    /* form post: a JSON string */
    char *t2 = post(&fx, FORMT,
                    "channel=G0INC0001&text=two&metadata=%7B%22event_type%22%3A%22x%22%2C%22event_payload%22%3A%7B%7D%7D",
                    NULL);
    /* malformed shapes are refused and not posted */
    static const char *const bad[] = {
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":\"not json\"}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":[1]}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":{\"event_payload\":{}}}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":{\"event_type\":\"\",\"event_payload\":{}}}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":{\"event_type\":7,\"event_payload\":{}}}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":{\"event_type\":\"x\"}}",
        "{\"channel\":\"G0INC0001\",\"text\":\"b\",\"metadata\":{\"event_type\":\"x\",\"event_payload\":\"s\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        free(post(&fx, JSONT, bad[i], "invalid_metadata_format"));
    ASSERT_EQ(fake_slack_message_count(fx.slack, "G0INC0001"), 2);
    ASSERT_EQ(fake_slack_message_count(fx.slack, NULL), 2);
    const struct fake_message *m = fake_slack_message(fx.slack, "G0INC0001", 0);
    ASSERT_STR_EQ(m->ts, t1);
    ASSERT_STR_EQ(m->text, "one");
    ASSERT_STR_EQ(m->user, "U0BOT0001");
    ASSERT_STR_EQ(fc_jstr(m->metadata, "event_payload.job"), "abc");
    ASSERT_STR_EQ(fc_jstr(fake_slack_message(fx.slack, NULL, 1)->metadata, "event_type"), "x");
    ASSERT_NULL(fake_slack_message(fx.slack, "G0INC0001", 2));
    /* ts: wall clock, increasing */
    ASSERT(atof(t1) > 1.7e9 && atof(t2) >= atof(t1));
    ASSERT(strcmp(t1, t2) != 0);
    free(t1);
    free(t2);
    fc_end(&fx);
}

TEST(fake_slack_history_order_window_metadata)
{
    struct fx fx;
    fc_begin(&fx);
    char *ts[5];
    for (int i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"channel\":\"G0INC0001\",\"text\":\"m%d\",\"metadata\":{\"event_type\":\"sirt_outbox\","
                 "\"event_payload\":{\"job\":\"j%d\"}}}", i, i);
        ts[i] = post(&fx, JSONT, body, NULL);
    }
    free(post(&fx, JSONT, "{\"channel\":\"G0OTHER01\",\"text\":\"elsewhere\"}", NULL));
    char body[256];
    snprintf(body, sizeof(body), "{\"channel\":\"G0INC0001\",\"text\":\"reply\",\"thread_ts\":\"%s\"}", ts[1]);
    char *reply = post(&fx, JSONT, body, NULL);

    /* newest first, top level only, no metadata unless asked */
    cJSON *j = get(&fx, "conversations.history", "channel=G0INC0001");
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT_EQ(n_msgs(j), 5);
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.text"), "m4");
    ASSERT_STR_EQ(fc_jstr(j, "messages.4.text"), "m0");
    ASSERT_STR_EQ(fc_jstr(j, "messages.3.thread_ts"), ts[1]);
    ASSERT_NULL(fc_jstr(j, "messages.0.metadata.event_type"));
    ASSERT(cJSON_IsFalse(fc_jget(j, "has_more")));
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.next_cursor"), "");
    cJSON_Delete(j);
    j = get(&fx, "conversations.history", "channel=G0INC0001&include_all_metadata=true");
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.metadata.event_type"), "sirt_outbox");
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.metadata.event_payload.job"), "j4");
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.user"), "U0BOT0001");
    cJSON_Delete(j);

    /* oldest / latest exclusive, inclusive on request */
    char q[256];
    snprintf(q, sizeof(q), "channel=G0INC0001&oldest=%s&latest=%s", ts[1], ts[4]);
    j = get(&fx, "conversations.history", q);
    ASSERT_EQ(n_msgs(j), 2);
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.text"), "m3");
    ASSERT_STR_EQ(fc_jstr(j, "messages.1.text"), "m2");
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "channel=G0INC0001&oldest=%s&latest=%s&inclusive=true", ts[1], ts[4]);
    j = get(&fx, "conversations.history", q);
    ASSERT_EQ(n_msgs(j), 4);
    cJSON_Delete(j);

    /* limit + cursor walk every message once */
    int seen = 0;
    char cursor[128] = "";
    for (int page = 0; page < 10; page++) {
        snprintf(q, sizeof(q), "channel=G0INC0001&limit=2%s%s", cursor[0] ? "&cursor=" : "", cursor);
        j = get(&fx, "conversations.history", q);
        ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
        for (int i = 0; i < n_msgs(j); i++) {
            char k[32];
            snprintf(k, sizeof(k), "messages.%d.text", i);
            char want[16];
            snprintf(want, sizeof(want), "m%d", 4 - seen);
            ASSERT_STR_EQ(fc_jstr(j, k), want);
            seen++;
        }
        str_lcpy(cursor, fc_jstr(j, "response_metadata.next_cursor"), sizeof(cursor));
        ASSERT_EQ(cJSON_IsTrue(fc_jget(j, "has_more")), cursor[0] != '\0');
        cJSON_Delete(j);
        if (!cursor[0])
            break;
    }
    ASSERT_EQ(seen, 5);

    /* replies: parent then replies, oldest first; metadata gated the same way */
    snprintf(q, sizeof(q), "channel=G0INC0001&ts=%s&include_all_metadata=true", ts[1]);
    j = get(&fx, "conversations.replies", q);
    ASSERT_EQ(n_msgs(j), 2);
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.text"), "m1");
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.metadata.event_payload.job"), "j1");
    ASSERT_STR_EQ(fc_jstr(j, "messages.1.ts"), reply);
    ASSERT_STR_EQ(fc_jstr(j, "messages.1.thread_ts"), ts[1]);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "channel=G0INC0001&ts=%s&oldest=%s", ts[1], ts[1]);
    j = get(&fx, "conversations.replies", q);
    ASSERT_EQ(n_msgs(j), 1);
    ASSERT_STR_EQ(fc_jstr(j, "messages.0.text"), "reply");
    ASSERT_NULL(fc_jstr(j, "messages.0.metadata.event_type"));
    cJSON_Delete(j);

    /* errors */
    j = get(&fx, "conversations.replies", "channel=G0INC0001&ts=1.000001");
    ASSERT_STR_EQ(fc_jstr(j, "error"), "thread_not_found");
    cJSON_Delete(j);
    j = get(&fx, "conversations.history", "channel=G0INC0001&cursor=bogus");
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_cursor");
    cJSON_Delete(j);
    j = get(&fx, "conversations.history", "channel=C0NOWHERE");
    ASSERT_STR_EQ(fc_jstr(j, "error"), "channel_not_found");
    cJSON_Delete(j);
    j = get(&fx, "conversations.history", "channel=D0NOBODY1");   /* an opened DM with no posts */
    ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
    ASSERT_EQ(n_msgs(j), 0);
    cJSON_Delete(j);
    for (int i = 0; i < 5; i++)
        free(ts[i]);
    free(reply);
    fc_end(&fx);
}

/* The store alone: paging edges (a page that ends exactly at the last
 * message, limit defaults), with hand-made ts. */
TEST(fake_messages_paging_edges)
{
    struct fake_messages *m = fake_messages_create();
    char ts[32];
    for (int i = 1; i <= 4; i++) {
        snprintf(ts, sizeof(ts), "100.00000%d", i);
        fake_messages_add(m, "G1", ts, NULL, "U0BOT0001", NULL, "t", NULL);
    }
    cJSON *args = cJSON_Parse("{\"channel\":\"G1\",\"limit\":\"4\"}");
    cJSON *out = cJSON_CreateObject();
    ASSERT_NULL(fake_messages_history(m, args, out));
    ASSERT_EQ(n_msgs(out), 4);
    ASSERT(cJSON_IsFalse(fc_jget(out, "has_more")));
    cJSON_Delete(out);
    cJSON_Delete(args);
    args = cJSON_Parse("{\"channel\":\"G1\",\"limit\":2,\"oldest\":\"100.000001\"}");
    out = cJSON_CreateObject();
    ASSERT_NULL(fake_messages_history(m, args, out));
    ASSERT_EQ(n_msgs(out), 2);
    ASSERT_STR_EQ(fc_jstr(out, "messages.0.ts"), "100.000004");
    ASSERT_STR_EQ(fc_jstr(out, "response_metadata.next_cursor"), "next_ts:100.000002");
    cJSON_Delete(out);
    cJSON_AddStringToObject(args, "cursor", "next_ts:100.000002");
    out = cJSON_CreateObject();
    ASSERT_NULL(fake_messages_history(m, args, out));
    ASSERT_EQ(n_msgs(out), 1);     /* 100.000001 is the exclusive oldest */
    ASSERT(cJSON_IsFalse(fc_jget(out, "has_more")));
    cJSON_Delete(out);
    cJSON_Delete(args);
    args = cJSON_Parse("{\"channel\":\"G1\",\"oldest\":\"yesterday\"}");
    out = cJSON_CreateObject();
    ASSERT_STR_EQ(fake_messages_history(m, args, out), "invalid_ts_oldest");
    cJSON_Delete(out);
    cJSON_Delete(args);
    fake_messages_destroy(m);
    fake_messages_destroy(NULL);
}
