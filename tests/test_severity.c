/* Unit tests of severity changes: the command's level parser
 * (severity_parse) and the body of the GitLab relabel request
 * (eff_gitlab_issue_body, shared with gitlab.issue_state). */
#include <cjson/cJSON.h>
#include <string.h>

#include "../bot/effects_internal.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "fakes/fake_blocks.h"
#include "test.h"

static int parse(const char *s, int *sev, int *pri)
{
    *sev = *pri = -7;
    return severity_parse(s, sev, pri);
}

TEST(severity_parse_levels)
{
    static const struct {
        const char *text;
        int sev, pri;
    } ok[] = {
        { "S1 P2", 1, 2 },
        { "  s4  ", 4, 0 },
        { "P1", 0, 1 },
        { "p3 S2", 2, 3 },      /* any order */
        { "S1/P1", 1, 1 },
        { "S3, P4", 3, 4 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int s, p;
        if (parse(ok[i].text, &s, &p) != 0)
            TEST_FAIL("\"%s\" refused", ok[i].text);
        ASSERT_EQ(s, ok[i].sev);
        ASSERT_EQ(p, ok[i].pri);
    }
}

TEST(severity_parse_refuses)
{
    int s, p;
    static const char *const bad[] = {
        "", "   ", "S5", "P0", "S0", "P5", "S", "P", "S12", "S1 S2", "P1 p2", "S1 P2 X", "high", "1",
        "SIRT-1 S1", "S1P2", "S-1", "Q1", "S1 P2 P3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &s, &p) != -1)
            TEST_FAIL("\"%s\" was accepted (S%d P%d)", bad[i], s, p);
    }
    ASSERT_EQ(severity_parse(NULL, &s, &p), -1);
}

TEST(severity_relabel_body)
{
    cJSON *payload = cJSON_Parse("{\"add_labels\":\"severity::1,priority::2\",\"remove_labels\":"
                                 "[\"severity::3\",\"priority::3\",\"\"],\"severity\":1,\"priority\":2}");
    cJSON *b = eff_gitlab_issue_body(payload, NULL);
    ASSERT_NOT_NULL(b);
    ASSERT_STR_EQ(util_jstr(b, "add_labels"), "severity::1,priority::2");
    ASSERT_STR_EQ(util_jstr(b, "remove_labels"), "severity::3,priority::3");
    /* Only the documented PUT parameters: no severity/priority bookkeeping. */
    ASSERT_EQ(cJSON_GetArraySize(b), 2);
    cJSON_Delete(b);
    cJSON_Delete(payload);
    payload = cJSON_Parse("{\"add_labels\":\"\",\"remove_labels\":[]}");
    ASSERT_NULL(eff_gitlab_issue_body(payload, NULL));
    cJSON_Delete(payload);
}

/* gitlab.issue_state's PUT comes from the same builder: the state_event
 * first, the labels beside it, and a body even without labels. */
TEST(severity_issue_state_body)
{
    cJSON *payload = cJSON_Parse("{\"state_event\":\"close\",\"add_labels\":\"incident::resolved\","
                                 "\"if_state\":\"resolved\"}");
    cJSON *b = eff_gitlab_issue_body(payload, "close");
    ASSERT_NOT_NULL(b);
    ASSERT_STR_EQ(util_jstr(b, "state_event"), "close");
    ASSERT_STR_EQ(util_jstr(b, "add_labels"), "incident::resolved");
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(b, "remove_labels"));
    ASSERT_EQ(cJSON_GetArraySize(b), 2);
    cJSON_Delete(b);
    cJSON_Delete(payload);
    payload = cJSON_Parse("{\"state_event\":\"reopen\"}");
    b = eff_gitlab_issue_body(payload, "reopen");
    ASSERT_NOT_NULL(b);
    ASSERT_STR_EQ(util_jstr(b, "state_event"), "reopen");
    ASSERT_EQ(cJSON_GetArraySize(b), 1);
    cJSON_Delete(b);
    cJSON_Delete(payload);
}

/* The fake Slack refuses a select whose initial_option is not one of its
 * options, as Slack does: the change-severity modal must pre-fill exactly. */
TEST(severity_fake_refuses_unlisted_initial_option)
{
    static const char base[] =
        "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\",\"text\":\"Change severity\"},"
        "\"submit\":{\"type\":\"plain_text\",\"text\":\"Change\"},"
        "\"blocks\":[{\"type\":\"input\",\"block_id\":\"severity\",\"label\":{\"type\":\"plain_text\",\"text\":\"S\"},"
        "\"element\":{\"type\":\"static_select\",\"action_id\":\"value\",\"options\":["
        "{\"text\":{\"type\":\"plain_text\",\"text\":\"S1 - critical\"},\"value\":\"1\"},"
        "{\"text\":{\"type\":\"plain_text\",\"text\":\"S3 - medium\"},\"value\":\"3\"}],"
        "\"initial_option\":{\"text\":{\"type\":\"plain_text\",\"text\":\"%s\"},\"value\":\"%s\"}}}]}";
    char json[1024], err[256];
    snprintf(json, sizeof(json), base, "S3 - medium", "3");
    cJSON *v = cJSON_Parse(json);
    if (!fake_blocks_check_view(v, err, sizeof(err)))
        TEST_FAIL("refused: %s", err);
    cJSON_Delete(v);
    snprintf(json, sizeof(json), base, "S3", "3");
    v = cJSON_Parse(json);
    ASSERT(!fake_blocks_check_view(v, err, sizeof(err)));
    ASSERT_CONTAINS(err, "must match one of the provided options");
    cJSON_Delete(v);
    snprintf(json, sizeof(json), base, "S3 - medium", "4");
    v = cJSON_Parse(json);
    ASSERT(!fake_blocks_check_view(v, err, sizeof(err)));
    cJSON_Delete(v);
}
