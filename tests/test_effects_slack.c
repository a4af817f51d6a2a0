/* test_effects_slack: the Slack ops against the fake Slack, and against the
 * scripted peer for answers the fake cannot give (conversations.list pages,
 * invite error arrays): request shapes, captures, the name_taken and
 * maybe_sent reconcile paths, and posting exactly once (the metadata token
 * and the scan that adopts the bot's own message). */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/clock.h"
#include "../bot/effects_internal.h"
#include "../bot/sha256.h"
#include "../bot/util.h"
#include "effects_env.h"
#include "test.h"

/* ================================================================== */
/* Slack */

TEST(eff_create_channel_captures)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct incident inc;
    efx_incident_init(&inc, 1);
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 1,
                                   .payload = "{\"name\":\"sirt-1-token-leak\",\"is_private\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "channel_name"), "sirt-1-token-leak");
    ASSERT(str_starts(efx_res_str(&g, "incident", "channel_id"), "C"));
    ASSERT_STR_EQ(efx_res_str(&g, "timeline", NULL), "private channel created");
    cJSON *a = efx_call_json(&e, "conversations.create", 0);
    ASSERT_STR_EQ(eff_str(a, "name"), "sirt-1-token-leak");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "is_private")));
    ASSERT(str_starts(fake_slack_call(e.fs, "conversations.create", 0)->auth, "Bearer xoxb-"));
    efx_got_free(&g);

    /* the incident already has a channel: nothing is created */
    inc.channel_id = "C0EXIST01";
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 1,
                                   .payload = "{\"name\":\"sirt-1-token-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "incident"));
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.create"), 1);
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_create_channel_name_taken_suffixes)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct incident inc;
    efx_incident_init(&inc, 3);
    fake_slack_fail(e.fs, "conversations.create", 2, 200, "name_taken", 0);
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 3,
                                   .payload = "{\"name\":\"sirt-3-leak\",\"is_private\":true}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 0);
    ASSERT(!g.maybe_sent);
    ASSERT_CONTAINS(g.error, "name_taken");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT(cJSON_IsObject(p));
    ASSERT_STR_EQ(eff_str(p, "name"), "sirt-3-leak-2");
    ASSERT_STR_EQ(eff_str(p, "base_name"), "sirt-3-leak");
    ASSERT_EQ(eff_int(p, "suffix"), 2);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "is_private")));

    /* the stored payload taken again goes to -3 */
    char *next = cJSON_PrintUnformatted(p);
    efx_got_free(&g);
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 3, .payload = next }, &inc, &g);
    cJSON_free(next);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT_STR_EQ(eff_str(p, "name"), "sirt-3-leak-3");
    next = cJSON_PrintUnformatted(p);
    efx_got_free(&g);

    /* and then it works with that name */
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 3, .payload = next }, &inc, &g);
    cJSON_free(next);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "channel_name"), "sirt-3-leak-3");
    ASSERT_STR_EQ(eff_str(efx_call_json(&e, "conversations.create", 2), "name"), "sirt-3-leak-3");
    efx_got_free(&g);

    /* 80-character name: the base is trimmed to fit "-2" */
    char payload[200], name[81];
    memset(name, 'q', 80);
    name[80] = '\0';
    snprintf(payload, sizeof(payload), "{\"name\":\"%s\"}", name);
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "name_taken", 0);
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 3, .payload = payload }, &inc, &g);
    p = cJSON_GetObjectItemCaseSensitive(g.result, "payload");
    ASSERT_EQ(strlen(eff_str(p, "name")), 80);
    ASSERT(str_starts(eff_str(p, "name") + 78, "-2"));
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_create_channel_name_taken_maybe_sent_adopts_ours)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 4);
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    efx_push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0AAA\",\"name\":\"sirt-4-a\",\"creator\":\"U0BOT0001\"}],"
                       "\"response_metadata\":{\"next_cursor\":\"dGVhbTpDMDYx\"}}");
    efx_push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0OURS\",\"name\":\"sirt-4-leak\",\"creator\":\"U0BOT0001\","
                       "\"is_private\":true}],\"response_metadata\":{\"next_cursor\":\"\"}}");
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                   .payload = "{\"name\":\"sirt-4-leak\",\"is_private\":true}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "channel_id"), "C0OURS");
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "channel_name"), "sirt-4-leak");
    ASSERT_EQ(http_peer_count(e.peer), 3);
    ASSERT_STR_EQ(efx_req(&e, 0)->target, "/api/conversations.create");
    ASSERT_STR_EQ(efx_req(&e, 1)->method, "GET");
    ASSERT(str_starts(efx_req(&e, 1)->target, "/api/conversations.list?"));
    ASSERT_CONTAINS(efx_req(&e, 1)->target, "types=private_channel");
    ASSERT_NOT_CONTAINS(efx_req(&e, 1)->target, "cursor=");
    ASSERT_CONTAINS(efx_req(&e, 2)->target, "cursor=dGVhbTpDMDYx");
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_create_channel_name_taken_maybe_sent_not_ours_suffixes)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 4);
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    efx_push_json(&e, 200, "{\"ok\":true,\"channels\":[{\"id\":\"C0THEIRS\",\"name\":\"sirt-4-leak\",\"creator\":\"U0HUMAN\"}]}");
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                   .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT(!g.maybe_sent);
    ASSERT_EQ(g.retry_after_ms, 0);
    ASSERT_STR_EQ(efx_res_str(&g, "payload", "name"), "sirt-4-leak-2");
    efx_got_free(&g);

    /* listing not allowed (missing scope): still a fresh name, not a stuck job */
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"missing_scope\"}");
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                   .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(efx_res_str(&g, "payload", "name"), "sirt-4-leak-2");
    efx_got_free(&g);

    /* listing rate limited: retry the whole job later */
    efx_push_json(&e, 200, "{\"ok\":false,\"error\":\"name_taken\"}");
    http_peer_push_simple(e.peer, 429, EFX_JSON_HDR "Retry-After: 4\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}");
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 4, .maybe_sent = true,
                                   .payload = "{\"name\":\"sirt-4-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 4000);
    ASSERT(g.maybe_sent);        /* the job came in maybe_sent and nothing settled it */
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "payload"));
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_create_channel_errors)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct efx_got g;
    const struct efx_job js = { .op = "slack.create_channel", .incident_id = 5, .payload = "{\"name\":\"sirt-5-x\"}" };
    fake_slack_fail(e.fs, "conversations.create", 1, 429, NULL, 9);
    efx_expect(&e, &js, NULL,
               (struct efx_want){ .outcome = EFFECT_RETRY, .retry_after_ms = 9000, .sent = EFX_NOT_SENT });
    fake_slack_fail(e.fs, "conversations.create", 1, 500, NULL, 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT, .error = "http_500" });
    fake_slack_fail(e.fs, "conversations.create", 1, 400, NULL, 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_FAIL });
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "restricted_action", 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_FAIL, .error = "restricted_action" });
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "ratelimited", 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY });
    fake_slack_fail(e.fs, "conversations.create", 1, 200, "internal_error", 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .payload = "{}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "bad payload");
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_invite)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct incident inc;
    efx_incident_init(&inc, 6);
    struct efx_got g;
    const char *pl = "{\"users\":[\"U0REP0001\",\"U0BOT0001\",\"U0SIRT001\",\"U0REP0001\"]}";
    efx_run(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_STR_EQ(g.error, "waiting for incident channel");
    ASSERT(!g.maybe_sent);
    ASSERT_EQ(fake_slack_call_count(e.fs, NULL), 0);
    efx_got_free(&g);

    inc.channel_id = "C0INC0006";
    efx_run(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *a = efx_call_json(&e, "conversations.invite", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0INC0006");
    ASSERT_STR_EQ(eff_str(a, "users"), "U0REP0001,U0SIRT001");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "force")));
    ASSERT_STR_EQ(efx_res_str(&g, "timeline", NULL), "invited <@U0REP0001>, <@U0SIRT001>");
    efx_got_free(&g);

    fake_slack_fail(e.fs, "conversations.invite", 1, 200, "already_in_channel", 0);
    efx_expect(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc,
               (struct efx_want){ .outcome = EFFECT_DONE });

    fake_slack_fail(e.fs, "conversations.invite", 1, 200, "is_archived", 0);
    efx_expect(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc,
               (struct efx_want){ .outcome = EFFECT_FAIL, .error = "is_archived" });

    /* only the bot itself: nothing to call */
    size_t before = fake_slack_call_count(e.fs, NULL);
    efx_run(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = "{\"users\":[\"U0BOT0001\"]}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(fake_slack_call_count(e.fs, NULL), before);
    efx_got_free(&g);
    efx_finish(&e);
}

/* conversations.invite answers with per-user errors: what each one means. */
static const struct {
    const char *answer;
    enum effect_outcome outcome;
    const char *error;           /* NULL: not checked */
    const char *timeline;        /* NULL: not checked */
    int invited;                 /* -1: not checked */
    bool errors_listed;
} invite_cases[] = {
    { "{\"ok\":false,\"error\":\"already_in_channel\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
      "\"error\":\"already_in_channel\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"already_in_channel\"}]}",
      EFFECT_DONE, NULL, NULL, -1, false },
    { "{\"ok\":false,\"error\":\"already_in_channel\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
      "\"error\":\"already_in_channel\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"user_disabled\"}]}",
      EFFECT_FAIL, "user_disabled", NULL, -1, false },
    /* force=true: U1 was invited, U2 could not be: done, with the error listed */
    { "{\"ok\":false,\"error\":\"user_not_found\",\"errors\":[{\"user\":\"U2\",\"ok\":false,"
      "\"error\":\"user_not_found\"}]}",
      EFFECT_DONE, NULL, "invited <@U1>", 1, true },
    /* nobody could be invited: fail with the per-user code */
    { "{\"ok\":false,\"error\":\"user_not_found\",\"errors\":[{\"user\":\"U1\",\"ok\":false,"
      "\"error\":\"user_not_found\"},{\"user\":\"U2\",\"ok\":false,\"error\":\"user_not_found\"}]}",
      EFFECT_FAIL, "user_not_found", NULL, -1, false },
    { "{\"ok\":true,\"channel\":{\"id\":\"C0INC0006\"},\"errors\":[{\"user\":\"U2\",\"ok\":false,"
      "\"error\":\"user_not_found\"}]}",
      EFFECT_DONE, NULL, NULL, -1, true },
};

TEST(eff_invite_per_user_errors)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 6);
    inc.channel_id = "C0INC0006";
    struct efx_got g;
    const char *pl = "{\"users\":[\"U1\",\"U2\"]}";
    for (size_t i = 0; i < ARRAY_LEN(invite_cases); i++) {
        fprintf(stderr, "case %zu\n", i);
        efx_push_json(&e, 200, invite_cases[i].answer);
        efx_run(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 6, .payload = pl }, &inc, &g);
        ASSERT_EQ(g.outcome, invite_cases[i].outcome);
        if (invite_cases[i].error)
            ASSERT_STR_EQ(g.error, invite_cases[i].error);
        if (invite_cases[i].timeline)
            ASSERT_STR_EQ(efx_res_str(&g, "timeline", NULL), invite_cases[i].timeline);
        if (invite_cases[i].invited >= 0)
            ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "invited")),
                      invite_cases[i].invited);
        if (invite_cases[i].errors_listed)
            ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(g.result, "errors")));
        efx_got_free(&g);
    }
    efx_finish(&e);
}

TEST(eff_post_pin_and_default_channel)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct incident inc;
    efx_incident_init(&inc, 7);
    struct efx_got g;
    const char *pl = "{\"text\":\"summary\",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
                     "\"text\":\"s\"}}],\"pin\":true}";
    efx_expect(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY, .error = "waiting for incident channel" });

    inc.channel_id = "C0INC0007";
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "channel", NULL), "C0INC0007");
    const char *ts = efx_res_str(&g, "ts", NULL);
    ASSERT_NOT_NULL(ts);
    cJSON *a = efx_call_json(&e, "chat.postMessage", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0INC0007");
    ASSERT_STR_EQ(eff_str(a, "text"), "summary");
    ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(a, "blocks")));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(a, "pin"));
    cJSON *pin = efx_call_json(&e, "pins.add", 0);
    ASSERT_STR_EQ(eff_str(pin, "channel"), "C0INC0007");
    ASSERT_STR_EQ(eff_str(pin, "timestamp"), ts);
    efx_got_free(&g);

    /* explicit channel and thread, already pinned is fine */
    fake_slack_fail(e.fs, "pins.add", 1, 200, "already_pinned", 0);
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 7,
                                   .payload = "{\"channel\":\"C0OTHER\",\"text\":\"t\",\"thread_ts\":\"1.2\",\"pin\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    a = efx_call_json(&e, "chat.postMessage", 1);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0OTHER");
    ASSERT_STR_EQ(eff_str(a, "thread_ts"), "1.2");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    efx_got_free(&g);

    /* a failed pin after a posted message is still done (no double post) */
    fake_slack_fail(e.fs, "pins.add", 1, 200, "not_pinnable", 0);
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 7, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "pin_error", NULL), "not_pinnable");
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_post_outcomes)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    const struct efx_job js = { .op = "slack.post", .payload = "{\"channel\":\"C0X\",\"text\":\"hi\"}" };
    fake_slack_fail(e.fs, "chat.postMessage", 1, 429, NULL, 3);
    efx_expect(&e, &js, NULL,
               (struct efx_want){ .outcome = EFFECT_RETRY, .retry_after_ms = 3000, .sent = EFX_NOT_SENT });
    fake_slack_fail(e.fs, "chat.postMessage", 1, 502, NULL, 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });
    fake_slack_fail(e.fs, "chat.postMessage", 1, 200, "channel_not_found", 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_FAIL, .error = "channel_not_found" });
    fake_slack_fail(e.fs, "chat.postMessage", 1, 200, "service_unavailable", 0);
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY });
    /* a job that came in maybe_sent stays maybe_sent when a retry does not settle it */
    fake_slack_fail(e.fs, "chat.postMessage", 1, 429, NULL, 1);
    efx_expect(&e, &(struct efx_job){ .op = "slack.post", .maybe_sent = true, .payload = js.payload }, NULL,
               (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });
    efx_expect(&e, &(struct efx_job){ .op = "slack.post", .payload = "{\"channel\":\"C0X\"}" }, NULL,
               (struct efx_want){ .outcome = EFFECT_FAIL });
    efx_finish(&e);
}

TEST(eff_dm_ephemeral_views_response_url)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = "{\"user\":\"U0APPSEC1\",\"text\":\"hand off?\"}" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(eff_str(efx_call_json(&e, "conversations.open", 0), "users"), "U0APPSEC1");
    ASSERT_STR_EQ(eff_str(efx_call_json(&e, "chat.postMessage", 0), "channel"), "D0APPSEC1");
    ASSERT_STR_EQ(efx_res_str(&g, "channel", NULL), "D0APPSEC1");
    ASSERT_NOT_NULL(efx_res_str(&g, "ts", NULL));
    efx_got_free(&g);

    fake_slack_fail(e.fs, "conversations.open", 1, 200, "user_not_found", 0);
    efx_expect(&e, &(struct efx_job){ .op = "slack.dm", .payload = "{\"user\":\"U0GONE\",\"text\":\"x\"}" }, NULL,
               (struct efx_want){ .outcome = EFFECT_FAIL, .error = "user_not_found" });

    /* an optional payload "timeline" names the entry */
    efx_run(&e, &(struct efx_job){ .op = "slack.dm",
                                   .payload = "{\"user\":\"U0APPSEC2\",\"text\":\"x\",\"timeline\":\"hand-off DM sent\"}" },
        NULL, &g);
    ASSERT_STR_EQ(efx_res_str(&g, "timeline", NULL), "hand-off DM sent");
    efx_got_free(&g);

    efx_run(&e, &(struct efx_job){ .op = "slack.ephemeral", .payload = "{\"channel\":\"C0PUB\",\"user\":\"U0X\",\"text\":\"e\"}" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    cJSON *a = efx_call_json(&e, "chat.postEphemeral", 0);
    ASSERT_STR_EQ(eff_str(a, "channel"), "C0PUB");
    ASSERT_STR_EQ(eff_str(a, "user"), "U0X");
    ASSERT_NOT_NULL(efx_res_str(&g, "message_ts", NULL));
    efx_got_free(&g);

    efx_run(&e, &(struct efx_job){ .op = "slack.views_open",
                                   .payload = "{\"trigger_id\":\"123.456.abc\",\"view\":{\"type\":\"modal\",\"callback_id\":\"report\","
                                           "\"title\":{\"type\":\"plain_text\",\"text\":\"R\"},\"blocks\":[]}}" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(str_starts(efx_res_str(&g, "view_id", NULL), "V"));
    a = efx_call_json(&e, "views.open", 0);
    ASSERT_STR_EQ(eff_str(a, "trigger_id"), "123.456.abc");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(a, "view"), "callback_id"), "report");
    efx_got_free(&g);

    /* views.open: retryable error inside 2.5 s is RETRY, after it FAIL */
    fake_slack_fail(e.fs, "views.open", 2, 200, "internal_error", 0);
    const char *vp = "{\"trigger_id\":\"1.2.3\",\"view\":{\"type\":\"modal\"}}";
    efx_expect(&e, &(struct efx_job){ .op = "slack.views_open", .payload = vp }, NULL,
               (struct efx_want){ .outcome = EFFECT_RETRY });
    efx_run(&e, &(struct efx_job){ .op = "slack.views_open", .payload = vp, .created_ms = clock_now_ms() - 2600 },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "trigger_id expired");
    efx_got_free(&g);
    size_t n = fake_slack_call_count(e.fs, "views.open");
    efx_run(&e, &(struct efx_job){ .op = "slack.views_open", .payload = vp, .created_ms = clock_now_ms() - 60000 },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_EQ(fake_slack_call_count(e.fs, "views.open"), n);
    efx_got_free(&g);

    /* response_url: a plain POST of the body, no token */
    char *url = xasprintf("http://127.0.0.1:%d/commands/T0/1/abc", fake_slack_port(e.fs));
    char *pl = xasprintf("{\"url\":\"%s\",\"body\":{\"text\":\"SIRT-1 exists\",\"response_type\":\"ephemeral\"}}", url);
    efx_run(&e, &(struct efx_job){ .op = "slack.response_url", .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    const struct fake_call *c = fake_slack_call(e.fs, "response_url", 0);
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->auth, "");
    ASSERT_STR_EQ(eff_str(c->json, "text"), "SIRT-1 exists");
    efx_got_free(&g);
    fake_slack_fail(e.fs, "response_url", 1, 404, NULL, 0);
    efx_run(&e, &(struct efx_job){ .op = "slack.response_url", .payload = pl }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "http_404");
    efx_got_free(&g);
    free(pl);
    free(url);
    efx_finish(&e);
}

/* ================================================================== */
/* against the fake's channel model (conversations.list, invite, pins) */

TEST(eff_fake_slack_adopt_invite_pin_round_trip)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct incident inc;
    efx_incident_init(&inc, 21);
    struct efx_got g;
    const char *pl = "{\"name\":\"sirt-21-leak\",\"is_private\":true}";
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 21, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *id = xstrdup(efx_res_str(&g, "incident", "channel_id"));
    efx_got_free(&g);

    /* the bot died before recording it: the retry finds and adopts it */
    efx_run(&e, &(struct efx_job){ .op = "slack.create_channel", .incident_id = 21, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "channel_id"), id);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.list"), 1);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.create"), 2);
    efx_got_free(&g);

    inc.channel_id = id;
    efx_run(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 21,
                                   .payload = "{\"users\":[\"U0REP0001\",\"X0BOGUS\",\"U0SIRT001\"]}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.result, "invited")), 2);
    efx_got_free(&g);
    efx_expect(&e, &(struct efx_job){ .op = "slack.invite", .incident_id = 21,
                                   .payload = "{\"users\":[\"U0REP0001\",\"U0SIRT001\"]}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_DONE });

    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 21, .payload = "{\"text\":\"s\",\"pin\":true}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    ASSERT_EQ(fake_slack_call_count(e.fs, "pins.add"), 1);
    efx_got_free(&g);
    free(id);
    efx_finish(&e);
}

/* ================================================================== */
/* posting exactly once: metadata token, and the maybe_sent scan */

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(eff_sha256_hmac_vectors_and_token)
{
    unsigned char d[SHA256_LEN];
    char h[2 * SHA256_LEN + 1];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_final(&c, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* FIPS 180-4 two-block message, fed in odd pieces */
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&c);
    sha256_update(&c, two, 5);
    sha256_update(&c, two + 5, strlen(two) - 5);
    sha256_final(&c, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* RFC 4231 test cases 2 and 6 (a key longer than the block) */
    sha256_hmac("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char key[131];
    memset(key, 0xaa, sizeof(key));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    sha256_hmac(key, sizeof(key), msg, strlen(msg), d);
    hex(d, sizeof(d), h);
    ASSERT_STR_EQ(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* the token: stable, per key and per secret, opaque */
    char t1[EFF_TOKEN_HEX + 1], t2[EFF_TOKEN_HEX + 1], t3[EFF_TOKEN_HEX + 1];
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/summary", t1));
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/summary", t2));
    ASSERT_STR_EQ(t1, t2);
    ASSERT_EQ(strlen(t1), EFF_TOKEN_HEX);
    ASSERT_EQ(strspn(t1, "0123456789abcdef"), EFF_TOKEN_HEX);
    ASSERT(eff_outbox_token("xoxb-1", "Ev1/SIRT-3/notice", t3));
    ASSERT(strcmp(t1, t3) != 0);
    ASSERT(eff_outbox_token("xoxb-2", "Ev1/SIRT-3/summary", t3));
    ASSERT(strcmp(t1, t3) != 0);
    ASSERT(!eff_outbox_token(NULL, "k", t3));
    ASSERT_STR_EQ(t3, "");
    ASSERT(!eff_outbox_token("xoxb-1", "", t3));

    /* only our own message with our token */
    char msgs[1024];
    snprintf(msgs, sizeof(msgs),
             "[{\"user\":\"U0HUMAN01\",\"ts\":\"5.1\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"%s\"}}},"
             "{\"user\":\"U0BOT0001\",\"ts\":\"5.2\",\"metadata\":{\"event_type\":\"other\",\"event_payload\":{\"job\":\"%s\"}}},"
             "{\"user\":\"U0BOT0001\",\"ts\":\"5.3\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"x\"}}},"
             "{\"bot_id\":\"B0BOT0001\",\"ts\":\"5.4\",\"metadata\":{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"%s\"}}}]",
             t1, t1, t1);
    cJSON *arr = cJSON_Parse(msgs);
    ASSERT_NOT_NULL(arr);
    const cJSON *m = eff_find_own_message(arr, t1, "U0BOT0001", "B0BOT0001");
    ASSERT_STR_EQ(eff_str(m, "ts"), "5.4");
    ASSERT_NULL(eff_find_own_message(arr, t1, "U0BOT0001", ""));
    ASSERT_NULL(eff_find_own_message(arr, "", "U0BOT0001", "B0BOT0001"));
    ASSERT_STR_EQ(eff_str(eff_find_own_message(arr, t1, "", ""), "ts"), "5.1");   /* identity unknown: token decides */
    cJSON_Delete(arr);
}

static const char *hist_arg(const struct efx *e, const char *method, size_t idx, const char *k)
{
    const struct fake_call *c = fake_slack_call(e->fs, method, idx);
    ASSERT_NOT_NULL(c);
    return eff_str(c->json, k);
}

TEST(eff_post_maybe_sent_adopts_its_own_message)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    str_lcpy(e.app.bot_id, "B0BOT0001", sizeof(e.app.bot_id));
    struct incident inc;
    efx_incident_init(&inc, 8);
    inc.channel_id = "G0INC0008";
    const char *pl = "{\"text\":\"summary\",\"pin\":true}";
    struct efx_got g;
    /* first attempt: posted with the opaque token, no scan */
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 8, .payload = pl, .idem_key = "Ev8/SIRT-8/summary" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *ts = xstrdup(efx_res_str(&g, "ts", NULL));
    efx_got_free(&g);
    char token[EFF_TOKEN_HEX + 1];
    ASSERT(eff_outbox_token("xoxb-test-token", "Ev8/SIRT-8/summary", token));
    cJSON *a = efx_call_json(&e, "chat.postMessage", 0);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(a, "metadata");
    ASSERT_STR_EQ(eff_str(md, "event_type"), "sirt_outbox");
    ASSERT_STR_EQ(eff_str(cJSON_GetObjectItemCaseSensitive(md, "event_payload"), "job"), token);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), 0);
    ASSERT_NOT_CONTAINS(fake_slack_call(e.fs, "chat.postMessage", 0)->body, "SIRT-8");

    /* the crash lost the answer: the retry finds it, pins it, posts nothing */
    int64_t t0 = clock_now_ms();
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 8, .payload = pl, .maybe_sent = true,
                                   .idem_key = "Ev8/SIRT-8/summary" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "ts", NULL), ts);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "adopted")));
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g.result, "pinned")));
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 1);
    ASSERT_EQ(fake_slack_call_count(e.fs, "pins.add"), 2);   /* second: already_pinned */
    ASSERT_EQ(fake_slack_pin_count(e.fs), 1);
    ASSERT_STR_EQ(fake_slack_call(e.fs, "conversations.history", 0)->http_method, "GET");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "channel"), "G0INC0008");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "include_all_metadata"), "true");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "limit"), "15");
    double oldest = atof(hist_arg(&e, "conversations.history", 0, "oldest"));
    ASSERT(oldest <= (double)t0 / 1000 - 299 && oldest >= (double)t0 / 1000 - 310);
    efx_got_free(&g);

    /* another job's retry does not take it: it scans, then posts */
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 8, .payload = pl, .maybe_sent = true,
                                   .idem_key = "Ev8/SIRT-8/notice" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT(strcmp(efx_res_str(&g, "ts", NULL), ts) != 0);
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(g.result, "adopted"));
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 2);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), 2);
    efx_got_free(&g);

    /* a thread reply is looked for in its thread */
    const char *tp = "{\"text\":\"in thread\",\"thread_ts\":\"%s\"}";
    char *tpl = xasprintf(tp, ts);
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 8, .payload = tpl, .idem_key = "Ev8/reply" }, &inc, &g);
    char *rts = xstrdup(efx_res_str(&g, "ts", NULL));
    efx_got_free(&g);
    efx_run(&e, &(struct efx_job){ .op = "slack.post", .incident_id = 8, .payload = tpl, .maybe_sent = true,
                                   .idem_key = "Ev8/reply" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "ts", NULL), rts);
    ASSERT_STR_EQ(hist_arg(&e, "conversations.replies", 0, "ts"), ts);
    ASSERT_EQ(fake_slack_call_count(e.fs, "chat.postMessage"), 3);
    efx_got_free(&g);
    free(tpl);
    free(rts);
    free(ts);
    efx_finish(&e);
}

TEST(eff_dm_maybe_sent_adopts_and_scan_errors)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_FAKE);
    struct efx_got g;
    const char *pl = "{\"user\":\"U0APPSEC1\",\"text\":\"you are on call\"}";
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = pl, .idem_key = "handoff/SIRT-2/dm" }, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    char *ts = xstrdup(efx_res_str(&g, "ts", NULL));
    efx_got_free(&g);
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/dm" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_STR_EQ(efx_res_str(&g, "ts", NULL), ts);
    ASSERT_STR_EQ(efx_res_str(&g, "channel", NULL), "D0APPSEC1");
    ASSERT_STR_EQ(hist_arg(&e, "conversations.history", 0, "channel"), "D0APPSEC1");
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 1);
    efx_got_free(&g);

    /* rate limited: retry after Retry-After, still maybe_sent, nothing posted */
    fake_slack_fail(e.fs, "conversations.history", 1, 429, NULL, 60);
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/x" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_RETRY);
    ASSERT_EQ(g.retry_after_ms, 60000);
    ASSERT(g.maybe_sent);
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 1);
    efx_got_free(&g);
    /* a lasting error (no history scope): posted anyway */
    fake_slack_fail(e.fs, "conversations.history", 1, 200, "missing_scope", 0);
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = pl, .maybe_sent = true, .idem_key = "handoff/SIRT-2/x" },
        NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(fake_slack_message_count(e.fs, "D0APPSEC1"), 2);
    efx_got_free(&g);
    /* a plain retry (not maybe_sent) never reads history */
    size_t before = fake_slack_call_count(e.fs, "conversations.history");
    efx_run(&e, &(struct efx_job){ .op = "slack.dm", .payload = pl, .idem_key = "handoff/SIRT-2/y" }, NULL, &g);
    ASSERT_EQ(fake_slack_call_count(e.fs, "conversations.history"), before);
    efx_got_free(&g);
    free(ts);
    efx_finish(&e);
}
