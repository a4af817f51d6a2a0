/* Unit tests: router parsing, de-duplication, dispatch to help; metrics text;
 * socket mode backoff.  The router is driven with hand-built envelopes in
 * Slack's shapes; no network. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/app.h"
#include "../bot/clock.h"
#include "../bot/dedup.h"
#include "../bot/metrics.h"
#include "../bot/router.h"
#include "../bot/socket_mode.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "test.h"

TEST(router_split_verb_and_args)
{
    char verb[32];
    const char *args;
    router_split("  Help  me now ", verb, sizeof(verb), &args);
    ASSERT_STR_EQ(verb, "help");
    ASSERT_STR_EQ(args, "me now ");
    router_split("", verb, sizeof(verb), &args);
    ASSERT_STR_EQ(verb, "");
    ASSERT_STR_EQ(args, "");
    router_split(NULL, verb, sizeof(verb), &args);
    ASSERT_STR_EQ(verb, "");
    router_split("REPORT\tSQL injection in /api", verb, sizeof(verb), &args);
    ASSERT_STR_EQ(verb, "report");
    ASSERT_STR_EQ(args, "SQL injection in /api");
    /* A "verb" longer than any verb can never match one by truncation. */
    router_split("helpxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", verb, 8, &args);
    ASSERT_EQ(strlen(verb), 7);
    ASSERT(handlers_verb(verb) == NULL);
}

TEST(router_strip_mention)
{
    ASSERT_STR_EQ(router_strip_mention("<@U0BOT0001> help", "U0BOT0001"), "help");
    ASSERT_STR_EQ(router_strip_mention("  <@U0BOT0001|sirt>   status SIRT-1", "U0BOT0001"), "status SIRT-1");
    /* Another user's mention is left alone. */
    ASSERT_STR_EQ(router_strip_mention("<@U0OTHER01> help", "U0BOT0001"), "<@U0OTHER01> help");
    /* A prefix of our id is not our id. */
    ASSERT_STR_EQ(router_strip_mention("<@U0BOT00011> help", "U0BOT0001"), "<@U0BOT00011> help");
    ASSERT_STR_EQ(router_strip_mention(NULL, "U0BOT0001"), "");
}

TEST(dedup_bounded_and_evicts_oldest)
{
    struct dedup *d = dedup_create(4);
    ASSERT(!dedup_seen(d, "Ev1"));
    ASSERT(dedup_seen(d, "Ev1"));
    ASSERT(!dedup_seen(d, "Ev2"));
    ASSERT(!dedup_seen(d, "Ev3"));
    ASSERT(!dedup_seen(d, "Ev4"));
    ASSERT(dedup_seen(d, "Ev2"));
    ASSERT(!dedup_seen(d, "Ev5"));   /* evicts Ev1 */
    ASSERT(!dedup_seen(d, "Ev1"));   /* forgotten, re-recorded; evicts Ev2 */
    ASSERT(dedup_seen(d, "Ev3"));
    ASSERT(dedup_seen(d, "Ev5"));
    ASSERT(!dedup_seen(d, "Ev2"));
    dedup_destroy(d);

    /* Many ids through a small set: the hash table stays consistent. */
    d = dedup_create(64);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "Ev%05d", i);
        ASSERT(!dedup_seen(d, id));
        ASSERT(dedup_seen(d, id));
        if (i >= 63) {
            snprintf(id, sizeof(id), "Ev%05d", i - 63);
            ASSERT(dedup_seen(d, id));   /* still within the last 64 */
        }
    }
    dedup_destroy(d);
}

static cJSON *slash_envelope(const char *text)
{
    cJSON *env = cJSON_CreateObject();
    cJSON_AddStringToObject(env, "envelope_id", "e-1");
    cJSON_AddStringToObject(env, "type", "slash_commands");
    cJSON *p = cJSON_AddObjectToObject(env, "payload");
    cJSON_AddStringToObject(p, "user_id", "U0REPORT1");
    cJSON_AddStringToObject(p, "channel_id", "C0PUBLIC1");
    cJSON_AddStringToObject(p, "command", "/sirt");
    cJSON_AddStringToObject(p, "text", text);
    cJSON_AddStringToObject(p, "trigger_id", "1.2.abc");
    cJSON_AddStringToObject(p, "response_url", "http://127.0.0.1:1/commands/1");
    return env;
}

TEST(router_slash_help_in_ack_payload)
{
    struct sirt_app app;
    memset(&app, 0, sizeof(app));
    struct hctx ctx = { .now_ms = clock_now_ms };
    struct router *r = router_create(&app, &handlers_router_table, &ctx);
    const char *texts[] = { "help", "", "  HELP " };
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        cJSON *env = slash_envelope(texts[i]);
        bool work = true;
        cJSON *ack = router_ack(r, "slash_commands", env, &work);
        ASSERT_NOT_NULL(ack);
        ASSERT(!work);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(ack, "response_type");
        ASSERT_STR_EQ(rt->valuestring, "ephemeral");
        const char *t = cJSON_GetObjectItemCaseSensitive(ack, "text")->valuestring;
        for (size_t k = 0; k < handlers_n_verbs; k++) {
            char want[64];
            snprintf(want, sizeof(want), "/sirt %s", handlers_verbs[k].name);
            ASSERT_CONTAINS(t, want);
        }
        cJSON_Delete(ack);
        cJSON_Delete(env);
    }
    router_destroy(r);
}

TEST(router_unknown_verb_is_answered)
{
    struct sirt_app app;
    memset(&app, 0, sizeof(app));
    struct hctx ctx = { .now_ms = clock_now_ms };
    struct router *r = router_create(&app, &handlers_router_table, &ctx);
    cJSON *env = slash_envelope("frobnicate <script>now");
    bool work = true;
    cJSON *ack = router_ack(r, "slash_commands", env, &work);
    ASSERT_NOT_NULL(ack);
    const char *t = cJSON_GetObjectItemCaseSensitive(ack, "text")->valuestring;
    ASSERT_CONTAINS(t, "I don't know the command `frobnicate");
    ASSERT_CONTAINS(t, "/sirt help");
    ASSERT_NOT_CONTAINS(t, "<script>");
    cJSON_Delete(ack);
    cJSON_Delete(env);
    router_destroy(r);
}

static cJSON *event_envelope(const char *event_json, const char *event_id)
{
    cJSON *env = cJSON_CreateObject();
    cJSON_AddStringToObject(env, "envelope_id", "e-2");
    cJSON_AddStringToObject(env, "type", "events_api");
    cJSON *p = cJSON_AddObjectToObject(env, "payload");
    cJSON_AddStringToObject(p, "type", "event_callback");
    if (event_id)
        cJSON_AddStringToObject(p, "event_id", event_id);
    cJSON_AddItemToObject(p, "event", cJSON_Parse(event_json));
    return env;
}

TEST(router_events_filtering_and_dedup)
{
    struct sirt_app app;
    memset(&app, 0, sizeof(app));
    strcpy(app.bot_user_id, "U0BOT0001");
    struct hctx ctx = { .now_ms = clock_now_ms, .bot_user_id = "U0BOT0001" };
    struct router *r = router_create(&app, &handlers_router_table, &ctx);
    struct {
        const char *json;
        const char *id;
        bool want;
    } cases[] = {
        { "{\"type\":\"app_mention\",\"user\":\"U1\",\"text\":\"<@U0BOT0001> help\",\"channel\":\"C1\",\"ts\":\"1.1\"}", "Ev1", true },
        { "{\"type\":\"app_mention\",\"user\":\"U1\",\"text\":\"<@U0BOT0001> help\",\"channel\":\"C1\",\"ts\":\"1.1\"}", "Ev1", false }, /* retry */
        { "{\"type\":\"message\",\"channel_type\":\"im\",\"user\":\"U1\",\"text\":\"help\",\"channel\":\"D1\",\"ts\":\"1.2\"}", "Ev2", true },
        { "{\"type\":\"message\",\"channel_type\":\"im\",\"user\":\"U0BOT0001\",\"text\":\"help\",\"channel\":\"D1\",\"ts\":\"1.3\"}", "Ev3", false }, /* our own */
        { "{\"type\":\"message\",\"channel_type\":\"im\",\"bot_id\":\"B9\",\"user\":\"U9\",\"text\":\"hi\",\"channel\":\"D1\",\"ts\":\"1.4\"}", "Ev4", false },
        { "{\"type\":\"message\",\"subtype\":\"message_changed\",\"channel_type\":\"im\",\"channel\":\"D1\",\"ts\":\"1.5\"}", "Ev5", false },
        { "{\"type\":\"message\",\"channel_type\":\"channel\",\"user\":\"U1\",\"text\":\"help\",\"channel\":\"C1\",\"ts\":\"1.6\"}", "Ev6", false },
        { "{\"type\":\"reaction_added\",\"user\":\"U1\"}", "Ev7", false },
        { "{\"type\":\"app_mention\",\"user\":\"U1\",\"text\":\"<@U0BOT0001> help\",\"channel\":\"C1\",\"ts\":\"1.1\"}", NULL, true },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        cJSON *env = event_envelope(cases[i].json, cases[i].id);
        bool work = false;
        cJSON *ack = router_ack(r, "events_api", env, &work);
        ASSERT_NULL(ack);
        if (work != cases[i].want)
            TEST_FAIL("case %zu: want_work %d, expected %d", i, work, cases[i].want);
        cJSON_Delete(env);
    }
    router_destroy(r);
}

TEST(router_tolerates_missing_fields)
{
    struct sirt_app app;
    memset(&app, 0, sizeof(app));
    struct hctx ctx = { .now_ms = clock_now_ms };
    struct router *r = router_create(&app, &handlers_router_table, &ctx);
    const char *bad[] = {
        "{\"envelope_id\":\"x\",\"type\":\"slash_commands\",\"payload\":{}}",
        "{\"envelope_id\":\"x\",\"type\":\"slash_commands\",\"payload\":{\"text\":5,\"user_id\":[]}}",
        "{\"envelope_id\":\"x\",\"type\":\"events_api\",\"payload\":{\"event\":\"nope\"}}",
        "{\"envelope_id\":\"x\",\"type\":\"interactive\",\"payload\":{\"type\":\"block_actions\",\"actions\":{}}}",
        "{\"envelope_id\":\"x\",\"type\":\"interactive\",\"payload\":{\"type\":\"view_submission\",\"view\":7}}",
        "{\"envelope_id\":\"x\",\"type\":\"interactive\",\"payload\":{\"type\":\"block_actions\",\"actions\":[{\"action_id\":\"nobody_handles_this\"}]}}",
        "{\"envelope_id\":\"x\",\"type\":\"brand_new_type\",\"payload\":{}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        cJSON *env = cJSON_Parse(bad[i]);
        const char *type = cJSON_GetObjectItemCaseSensitive(env, "type")->valuestring;
        bool work = true;
        cJSON *ack = router_ack(r, type, env, &work);
        ASSERT_NULL(ack);
        ASSERT(!work);
        router_work(r, type, env);   /* must not crash either */
        cJSON_Delete(env);
    }
    router_destroy(r);
}

TEST(metrics_prometheus_text)
{
    struct metrics *m = metrics_create();
    metrics_envelope_received(m, "slash_commands");
    metrics_envelope_received(m, "slash_commands");
    metrics_envelope_acked(m, "slash_commands", 80);
    metrics_envelope_acked(m, "slash_commands", 4000000);
    metrics_reconnect(m);
    metrics_set_connected(m, true);
    metrics_api_call(m, "chat.postMessage", "ok");
    metrics_api_call(m, "chat.postMessage", "channel_not_found");
    metrics_outbox(m, "pd.trigger", "retry");
    metrics_outbox(m, "pd.trigger", "done");
    metrics_outbox_in_flight(m, 3);
    for (int i = 0; i < 200; i++) {   /* hostile label values stay bounded */
        char t[32];
        snprintf(t, sizeof(t), "type\"%d", i);
        metrics_envelope_received(m, t);
    }
    struct buf b;
    buf_init(&b, 0);
    metrics_render(m, &b);
    ASSERT_CONTAINS(b.data, "sirt_envelopes_received_total{type=\"slash_commands\"} 2\n");
    ASSERT_CONTAINS(b.data, "sirt_envelopes_acked_total{type=\"slash_commands\"} 2\n");
    ASSERT_CONTAINS(b.data, "sirt_ack_latency_seconds_bucket{le=\"0.0001\"} 1\n");
    ASSERT_CONTAINS(b.data, "sirt_ack_latency_seconds_bucket{le=\"3\"} 1\n");
    ASSERT_CONTAINS(b.data, "sirt_ack_latency_seconds_bucket{le=\"+Inf\"} 2\n");
    ASSERT_CONTAINS(b.data, "sirt_ack_latency_seconds_count 2\n");
    ASSERT_CONTAINS(b.data, "sirt_reconnects_total 1\n");
    ASSERT_CONTAINS(b.data, "sirt_socket_connected 1\n");
    ASSERT_CONTAINS(b.data, "sirt_slack_api_calls_total{method=\"chat.postMessage\",result=\"channel_not_found\"} 1\n");
    ASSERT_CONTAINS(b.data, "sirt_envelopes_received_total{type=\"other\"}");
    ASSERT_CONTAINS(b.data, "sirt_outbox_jobs_total{op=\"pd.trigger\",outcome=\"retry\"} 1\n");
    ASSERT_CONTAINS(b.data, "sirt_outbox_in_flight 3\n");
    ASSERT_NOT_CONTAINS(b.data, "type\"1");
    /* Every line is a comment or "name{labels} value". */
    size_t lines = 0;
    for (char *line = strtok(b.data, "\n"); line; line = strtok(NULL, "\n"), lines++)
        ASSERT(line[0] == '#' || strncmp(line, "sirt_", 5) == 0);
    ASSERT_GE(lines, 20);
    buf_finish(&b);
    metrics_destroy(m);
}

TEST(socket_mode_backoff_jittered_and_capped)
{
    for (unsigned n = 0; n < 20; n++) {
        uint64_t base = 1000;
        for (unsigned i = 0; i < n && base < 60000; i++)
            base *= 2;
        if (base > 60000)
            base = 60000;
        for (uint64_t rnd = 0; rnd < 5000; rnd += 997) {
            uint64_t d = sm_backoff_ms(n, rnd * 7919);
            ASSERT_GE(d, base / 2);
            ASSERT_LE(d, base);
        }
    }
    /* Jitter: different random inputs give different delays. */
    ASSERT_NE(sm_backoff_ms(3, 1), sm_backoff_ms(3, 2000));
}
