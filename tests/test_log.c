/* test_log: stderr is redirected to a temp file, lines are written through
 * the macros, and each line is parsed back with cJSON to check ts, level,
 * msg, src, typed fields, level filtering, masking and escaping. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../bot/clock.h"
#include "../bot/log.h"
#include "../bot/util.h"
#include "test.h"

#define MAX_LINES 64

static struct test_capture cap;

/* Splits text into lines, parsing each as a JSON object. */
static size_t parse_lines(char *text, cJSON **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        if (!j || !cJSON_IsObject(j))
            TEST_FAIL("not a JSON object: %s", line);
        out[n++] = j;
    }
    return n;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(it))
        TEST_FAIL("field \"%s\" is not a string", key);
    return it->valuestring;
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it))
        TEST_FAIL("field \"%s\" is not a number", key);
    return it->valuedouble;
}

/* Ends the capture and parses what was logged into lines (MAX_LINES at
 * most); returns how many. */
static size_t captured_lines(cJSON **lines)
{
    char *text = test_capture_end(&cap);
    size_t n = parse_lines(text, lines, MAX_LINES);
    free(text);
    return n;
}

static void free_lines(cJSON **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
}

TEST(log_line_shape_and_fields)
{
    clock_set_fixed_ms(1795405089123LL);   /* 2026-11-23T03:38:09.123Z */
    log_set_level(LOG_LVL_DEBUG);
    test_capture_start(&cap);
    int line_here = __LINE__ + 1;
    LOG_INFO("socket online", "host:s attempt:d big:l size:u ratio:f up:b down:b none:s",
             "wss-primary.slack.com", 3, -9007199254740993LL, (size_t)123456789, 0.25, 1, 0,
             (const char *)NULL);
    LOG_WARN("no fields", NULL);
    LOG_DEBUG("empty fields", "");
    char *text = test_capture_end(&cap);
    clock_set_real();

    cJSON *lines[MAX_LINES];
    size_t n = parse_lines(text, lines, MAX_LINES);
    ASSERT_EQ(n, 3);
    cJSON *l = lines[0];
    ASSERT_STR_EQ(str_of(l, "ts"), "2026-11-23T03:38:09.123Z");
    ASSERT_STR_EQ(str_of(l, "level"), "info");
    ASSERT_STR_EQ(str_of(l, "msg"), "socket online");
    char src[64];
    snprintf(src, sizeof(src), "test_log.c:%d", line_here);
    ASSERT_STR_EQ(str_of(l, "src"), src);
    ASSERT_STR_EQ(str_of(l, "host"), "wss-primary.slack.com");
    ASSERT_EQ(num_of(l, "attempt"), 3);
    ASSERT(num_of(l, "size") == 123456789.0);
    ASSERT(num_of(l, "ratio") == 0.25);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "up")));
    ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(l, "down")));
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(l, "none")));
    /* long long exactly as text (doubles can't hold it) */
    ASSERT_CONTAINS(text, "\"big\":-9007199254740993");
    /* key order: ts, level, msg, src first */
    ASSERT(str_starts(text, "{\"ts\":\"2026-11-23T03:38:09.123Z\",\"level\":\"info\",\"msg\":"));
    ASSERT_STR_EQ(str_of(lines[1], "level"), "warn");
    ASSERT_STR_EQ(str_of(lines[1], "msg"), "no fields");
    ASSERT_STR_EQ(str_of(lines[2], "level"), "debug");
    free_lines(lines, n);
    free(text);
}

TEST(log_level_filtering)
{
    ASSERT_EQ(log_threshold, LOG_LVL_INFO);     /* default */
    test_capture_start(&cap);
    LOG_DEBUG("hidden", "k:d", 1);
    LOG_INFO("i", "k:d", 2);
    log_set_level(LOG_LVL_WARN);
    LOG_INFO("hidden too", "k:d", 3);
    LOG_WARN("w", "k:d", 4);
    LOG_ERROR("e", "k:d", 5);
    log_set_level(LOG_LVL_ERROR);
    LOG_WARN("hidden three", NULL);
    log_write(LOG_LVL_DEBUG, __FILE__, __LINE__, "direct call filtered", NULL);
    LOG_ERROR("e2", NULL);
    char *text = test_capture_end(&cap);
    cJSON *lines[MAX_LINES];
    size_t n = parse_lines(text, lines, MAX_LINES);
    ASSERT_EQ(n, 4);
    ASSERT_STR_EQ(str_of(lines[0], "msg"), "i");
    ASSERT_STR_EQ(str_of(lines[1], "level"), "warn");
    ASSERT_STR_EQ(str_of(lines[2], "level"), "error");
    ASSERT_STR_EQ(str_of(lines[3], "msg"), "e2");
    ASSERT_NOT_CONTAINS(text, "hidden");
    free_lines(lines, n);
    free(text);
}

TEST(log_level_parse_names)
{
    ASSERT_EQ(log_level_parse("debug"), LOG_LVL_DEBUG);
    ASSERT_EQ(log_level_parse("info"), LOG_LVL_INFO);
    ASSERT_EQ(log_level_parse("warn"), LOG_LVL_WARN);
    ASSERT_EQ(log_level_parse("error"), LOG_LVL_ERROR);
    ASSERT_EQ(log_level_parse("INFO"), LOG_LVL_INFO);
    ASSERT_EQ(log_level_parse("verbose"), -1);
    ASSERT_EQ(log_level_parse(""), -1);
    ASSERT_EQ(log_level_parse(NULL), -1);
}

TEST(log_masks_secrets)
{
    test_capture_start(&cap);
    LOG_INFO("got xoxb-1234567890-abcdefghijk from user", "text:s hdr:s",
             "please rotate glpat-ABCDEFGHIJKLMNOPQRST now", "Authorization: Bearer sekrit123");
    char *text = test_capture_end(&cap);
    ASSERT_NOT_CONTAINS(text, "abcdefghijk");
    ASSERT_NOT_CONTAINS(text, "ABCDEFGHIJKLMNOPQRST");
    ASSERT_NOT_CONTAINS(text, "sekrit123");
    cJSON *lines[MAX_LINES];
    size_t n = parse_lines(text, lines, MAX_LINES);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(str_of(lines[0], "msg"), "got xoxb-[MASKED] from user");
    ASSERT_STR_EQ(str_of(lines[0], "text"), "please rotate glpat-[MASKED] now");
    ASSERT_STR_EQ(str_of(lines[0], "hdr"), "Authorization: Bearer [MASKED]");
    free_lines(lines, n);
    free(text);
}

TEST(log_escaping)
{
    test_capture_start(&cap);
    const char weird[] = "quote\" backslash\\ nl\n cr\r tab\t bell\a esc\x1b del\x7f "
                         "utf8 caf\xc3\xa9 bad \xff\xfe end";
    LOG_INFO("multi\nline \"msg\"", "v:s", weird);
    char *text = test_capture_end(&cap);
    /* exactly one physical line */
    ASSERT_EQ(strchr(text, '\n') - text + 1, (long long)strlen(text));
    ASSERT_CONTAINS(text, "\\u001b");
    ASSERT_CONTAINS(text, "\\u0007");
    cJSON *lines[MAX_LINES];
    size_t n = parse_lines(text, lines, MAX_LINES);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(str_of(lines[0], "msg"), "multi\nline \"msg\"");
    ASSERT_STR_EQ(str_of(lines[0], "v"),
                  "quote\" backslash\\ nl\n cr\r tab\t bell\a esc\x1b del\x7f "
                  "utf8 caf\xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd end");
    free_lines(lines, n);
    free(text);
}

TEST(log_errno_variant)
{
    test_capture_start(&cap);
    errno = 42;
    LOG_ERRNO(LOG_LVL_ERROR, ENOENT, "open failed", "path:s", "/etc/sirt.json");
    int after = errno;
    cJSON *lines[MAX_LINES];
    size_t n = captured_lines(lines);
    ASSERT_EQ(after, 42);           /* errno preserved */
    ASSERT_EQ(n, 1);
    ASSERT_EQ(num_of(lines[0], "errno"), ENOENT);
    ASSERT_STR_EQ(str_of(lines[0], "error"), "No such file or directory");
    ASSERT_STR_EQ(str_of(lines[0], "path"), "/etc/sirt.json");
    ASSERT_STR_EQ(str_of(lines[0], "level"), "error");
    free_lines(lines, n);
}

TEST(log_bad_spec_and_special_numbers)
{
    test_capture_start(&cap);
    LOG_INFO("bad", "a:d b:q c:d", 1, 2, 3);
    LOG_INFO("nan", "x:f y:f", NAN, INFINITY);
    LOG_INFO("noname", ":d", 1);
    cJSON *lines[MAX_LINES];
    size_t n = captured_lines(lines);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(num_of(lines[0], "a"), 1);
    ASSERT_STR_EQ(str_of(lines[0], "log_error"), "bad field spec");
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(lines[0], "c"));
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(lines[1], "x")));
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(lines[1], "y")));
    ASSERT_STR_EQ(str_of(lines[2], "log_error"), "bad field spec");
    free_lines(lines, n);
}

TEST(log_long_value_truncated)
{
    size_t n = 100000;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    test_capture_start(&cap);
    LOG_INFO("big", "v:s", big);
    cJSON *lines[MAX_LINES];
    size_t k = captured_lines(lines);
    free(big);
    ASSERT_EQ(k, 1);
    const char *v = str_of(lines[0], "v");
    ASSERT(strlen(v) < 9000);
    ASSERT(strlen(v) > 8000);
    ASSERT(str_starts(v + strlen(v) - 3, "..."));
    free_lines(lines, k);
}

TEST(log_src_strips_directories)
{
    test_capture_start(&cap);
    log_write(LOG_LVL_ERROR, "/home/build/sirtbot/bot/socket_mode.c", 321, "x", NULL);
    log_write(LOG_LVL_ERROR, "main.c", 7, "y", NULL);
    cJSON *lines[MAX_LINES];
    size_t n = captured_lines(lines);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(str_of(lines[0], "src"), "socket_mode.c:321");
    ASSERT_STR_EQ(str_of(lines[1], "src"), "main.c:7");
    free_lines(lines, n);
}

TEST(log_clock_format)
{
    char out[32];
    clock_fmt_iso(0, out);
    ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
    clock_fmt_iso(-1, out);
    ASSERT_STR_EQ(out, "1969-12-31T23:59:59.999Z");
    clock_fmt_iso(951782400007LL, out);     /* leap day 2000 */
    ASSERT_STR_EQ(out, "2000-02-29T00:00:00.007Z");
    clock_set_fixed_ms(1234);
    ASSERT_EQ(clock_now_ms(), 1234);
    clock_set_real();
    ASSERT(clock_now_ms() > 1700000000000LL);
    uint64_t a = clock_mono_us();
    uint64_t b = clock_mono_us();
    ASSERT(b >= a);
    ASSERT(clock_mono_ms() >= a / 1000);
}
