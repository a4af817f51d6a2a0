/* Regression tests for what the fuzz targets (fuzz/) found, one per
 * finding, in the normal unit-test build.  The inputs are also kept in the
 * targets' corpora as fuzz/corpus/<target>/regress-*. */
#include <cjson/cJSON.h>
#include <string.h>

#include "../bot/effects_internal.h"
#include "../bot/http.h"
#include "../bot/slack_api.h"
#include "../bot/util.h"
#include "../fuzz/utf8.h"
#include "test.h"

TEST(str_utf8_prefix_cuts_whole_characters)
{
    ASSERT_EQ(str_utf8_prefix("abc", 10), 3);
    ASSERT_EQ(str_utf8_prefix("abc", 2), 2);
    ASSERT_EQ(str_utf8_prefix("", 0), 0);
    /* "xé": x, then 0xc3 0xa9; a cut after 2 bytes would split é. */
    ASSERT_EQ(str_utf8_prefix("x\xc3\xa9", 2), 1);
    ASSERT_EQ(str_utf8_prefix("x\xc3\xa9", 3), 3);
    /* A 4-byte character (U+1F512) cut anywhere inside goes whole. */
    const char *lock = "ab\xf0\x9f\x94\x92";
    for (size_t m = 3; m < 6; m++)
        ASSERT_EQ(str_utf8_prefix(lock, m), 2);
    ASSERT_EQ(str_utf8_prefix(lock, 6), 6);
}

/* fuzz_gitlab_response, regress-utf8-cut: a GitLab error message of more
 * than 160 bytes was cut inside a character, and the invalid text went on
 * into the job's last error and the channel notice. */
TEST(fuzz_regress_gitlab_error_summary_is_valid_utf8)
{
    char body[400];
    strcpy(body, "{\"message\":\"x");
    for (int i = 0; i < 100; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\"}");
    struct http_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.err = HTTP_OK;
    resp.errmsg = "";
    resp.status = 403;
    resp.body = body;
    resp.body_len = strlen(body);
    resp.retry_after_s = -1;
    size_t sizes[] = { 256, 96, 40 };
    for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
        char err[256];
        struct effect_result out;
        memset(&out, 0, sizeof(out));
        eff_outcome_http(&resp, true, "gitlab", &out, err, sizes[k]);
        ASSERT_EQ(out.outcome, EFFECT_FAIL);
        ASSERT(str_starts(err, "gitlab http_403: x\xc3\xa9"));
        if (!utf8_valid((const unsigned char *)err, strlen(err)))
            TEST_FAIL("errlen %zu: invalid UTF-8 in \"%s\"", sizes[k], err);
    }
}

/* fuzz_slack_response, regress-utf8-cut: an ok:false error code longer
 * than the caller's buffer was cut inside a character. */
TEST(fuzz_regress_slack_error_code_is_valid_utf8)
{
    char body[600];
    strcpy(body, "{\"ok\":false,\"error\":\"");
    for (int i = 0; i < 150; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\"}");
    struct api_result r;
    memset(&r, 0, sizeof(r));
    char code[32];
    cJSON *j = api_parse_response(200, body, strlen(body), false, &r, code);
    ASSERT_EQ(r.err, API_ESLACK);
    char err[128];
    struct effect_result out;
    memset(&out, 0, sizeof(out));
    eff_outcome_api(&r, false, &out, err, sizeof(err));   /* 127 bytes of 2-byte characters: the cut lands mid-character */
    ASSERT_EQ(out.outcome, EFFECT_FAIL);
    ASSERT(strlen(err) >= 120);
    if (!utf8_valid((const unsigned char *)err, strlen(err)))
        TEST_FAIL("invalid UTF-8 in the error: %s", err);
    cJSON_Delete(j);
}
