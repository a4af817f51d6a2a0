/* Unit tests for the report handler: channel names, the modal, and the
 * validation of submissions (response_action "errors" naming the field). */
#include <cjson/cJSON.h>
#include <string.h>

#include "../bot/clock.h"
#include "../bot/config.h"
#include "../handlers/handlers.h"
#include "report_payloads.h"
#include "test.h"

TEST(report_channel_names_follow_slack_rules)
{
    char name[81];
    report_channel_name(12, "SQL injection in /api/v4/users!", name, sizeof(name));
    ASSERT_STR_EQ(name, "sirt-12-sql-injection-in-api-v4-users");
    report_channel_name(3, "", name, sizeof(name));
    ASSERT_STR_EQ(name, "sirt-3");
    report_channel_name(4, "ÜBER Ärger — token glpat-abcdefghij0123456789 leaked", name, sizeof(name));
    ASSERT_NOT_CONTAINS(name, "abcdefghij");
    ASSERT(strncmp(name, "sirt-4-", 7) == 0);
    for (const char *p = name; *p; p++)
        ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
    char longt[400];
    memset(longt, 'a', sizeof(longt) - 1);
    longt[sizeof(longt) - 1] = '\0';
    report_channel_name(123456789, longt, name, sizeof(name));
    ASSERT_LE(strlen(name), 80);
    ASSERT(name[strlen(name) - 1] != '-');
}

static struct cfg test_cfg(void)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256];
    const char *json = "{\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\"}]}";
    ASSERT_EQ(cfg_parse_team(&c, "t.json", json, strlen(json), err, sizeof(err)), 0);
    return c;
}

TEST(report_modal_has_every_field)
{
    struct cfg c = test_cfg();
    cJSON *v = report_view(&c, "Leaked token in CI logs", "C0PUBLIC1");
    char *s = cJSON_PrintUnformatted(v);
    ASSERT_CONTAINS(s, "\"callback_id\":\"sirt_report\"");
    const char *blocks[] = { "\"block_id\":\"title\"", "\"block_id\":\"what\"", "\"block_id\":\"severity\"",
                             "\"block_id\":\"priority\"", "\"block_id\":\"component\"", "\"block_id\":\"repro\"",
                             "\"block_id\":\"link\"" };
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        ASSERT_CONTAINS(s, blocks[i]);
    ASSERT_CONTAINS(s, "\"initial_value\":\"Leaked token in CI logs\"");
    ASSERT_CONTAINS(s, "\"value\":\"gitaly\"");
    ASSERT_CONTAINS(s, "S1");
    ASSERT_CONTAINS(s, "P4");
    cJSON_free(s);
    cJSON_Delete(v);
    cfg_finish(&c);
}

static const char *error_for(cJSON *ack, const char *block)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ack, "errors"), block);
    return cJSON_IsString(e) ? e->valuestring : NULL;
}

TEST(report_validation_names_the_field)
{
    struct cfg c = test_cfg();
    struct hctx ctx = { .cfg = &c, .now_ms = clock_now_ms };

    struct report_fields ok = { .title = "Token leak", .what = "A token was pasted in #general",
                                .severity = "1", .priority = "2", .component = "gitaly",
                                .repro = "GET /api/v4/user", .link = "https://gitlab.com/x/y/-/issues/1" };
    cJSON *p = report_submission_payload("V0001", "U0REPORT1", &ok);
    ASSERT_NULL(report_validate(&ctx, p));
    cJSON_Delete(p);

    struct { struct report_fields f; const char *block; } bad[] = {
        { { .title = "   ", .what = "x", .severity = "1", .priority = "1", .component = "gitaly" }, "title" },
        { { .title = "t", .what = "", .severity = "1", .priority = "1", .component = "gitaly" }, "what" },
        { { .title = "t", .what = "x", .severity = "9", .priority = "1", .component = "gitaly" }, "severity" },
        { { .title = "t", .what = "x", .severity = "1", .priority = NULL, .component = "gitaly" }, "priority" },
        { { .title = "t", .what = "x", .severity = "1", .priority = "1", .component = "nginx" }, "component" },
        { { .title = "t", .what = "x", .severity = "1", .priority = "1", .component = "gitaly", .link = "http://x.example/1" }, "link" },
        { { .title = "t", .what = "x", .severity = "1", .priority = "1", .component = "gitaly", .link = "javascript:alert(1)" }, "link" },
        { { .title = "t", .what = "x", .severity = "1", .priority = "1", .component = "gitaly", .link = "https://" }, "link" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = report_submission_payload("V0002", "U0REPORT1", &bad[i].f);
        cJSON *ack = report_validate(&ctx, p);
        ASSERT_NOT_NULL(ack);
        ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(ack, "response_action")->valuestring, "errors");
        if (!error_for(ack, bad[i].block))
            TEST_FAIL("case %zu: no error for block %s", i, bad[i].block);
        cJSON_Delete(ack);
        cJSON_Delete(p);
    }
    /* A payload with no state at all names every required field. */
    p = cJSON_Parse("{\"type\":\"view_submission\",\"view\":{\"id\":\"V9\",\"callback_id\":\"sirt_report\"}}");
    cJSON *ack = report_validate(&ctx, p);
    ASSERT_NOT_NULL(error_for(ack, "title"));
    ASSERT_NOT_NULL(error_for(ack, "severity"));
    ASSERT_NOT_NULL(error_for(ack, "component"));
    cJSON_Delete(ack);
    cJSON_Delete(p);
    cfg_finish(&c);
}
