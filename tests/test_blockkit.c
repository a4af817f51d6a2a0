/* test_blockkit: the Block Kit limits and the cutting (bot/blockkit.c) and
 * the handlers' builders that use them, checked against the fake Slack's
 * independent validator (tests/fakes/fake_blocks.c). */
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "../bot/util.h"
#include "../handlers/bk.h"
#include "../handlers/txt.h"
#include "fakes/fake_blocks.h"
#include "test.h"

static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = xmalloc(n * u + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[n * u] = '\0';
    return s;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Every '&' starts a whole entity. */
static bool entities_whole(const char *s)
{
    for (const char *p = strchr(s, '&'); p; p = strchr(p + 1, '&'))
        if (strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 && strncmp(p, "&gt;", 4) != 0)
            return false;
    return true;
}

TEST(blockkit_len_counts_utf16_units)
{
    ASSERT_EQ(blockkit_len(NULL), 0);
    ASSERT_EQ(blockkit_len("abc"), 3);
    ASSERT_EQ(blockkit_len("é€"), 2);
    ASSERT_EQ(blockkit_len("😀"), 2);
    /* the bot and the fake count the same way */
    const char *samples[] = { "", "plain", "héllo wörld", "日本語テキスト", "😀😀 mixed é", "&amp;&lt;" };
    for (size_t i = 0; i < ARRAY_LEN(samples); i++)
        ASSERT_EQ(blockkit_len(samples[i]), fake_blocks_len(samples[i]));
}

TEST(blockkit_cut_exactly_at_limit)
{
    char *s = repeat("a", 3000);
    char *c = blockkit_cut(s, 3000, true);
    ASSERT_STR_EQ(c, s);                            /* fits: untouched, no marker */
    free(c);
    free(s);
    s = repeat("a", 3001);
    c = blockkit_cut(s, 3000, true);
    ASSERT_LE(blockkit_len(c), 3000);
    ASSERT_GE(blockkit_len(c), 2900);               /* not cut more than needed */
    ASSERT(ends_with(c, "\n" BK_TRUNCATED_MARKER));
    free(c);
    free(s);
    /* short limits end with an ellipsis, still within the limit */
    s = repeat("b", 76);
    c = blockkit_cut(s, BK_BUTTON_TEXT, false);
    ASSERT_EQ(blockkit_len(c), BK_BUTTON_TEXT);
    ASSERT(ends_with(c, "…"));
    free(c);
    c = blockkit_cut(s, 75 + 1, false);
    ASSERT_STR_EQ(c, s);
    free(c);
    free(s);
    c = blockkit_cut(NULL, 10, false);
    ASSERT_STR_EQ(c, "");
    free(c);
}

TEST(blockkit_cut_multibyte)
{
    /* 2-byte characters: counted as characters, cut on a boundary */
    char *s = repeat("é", 3000);
    char *c = blockkit_cut(s, 3000, true);
    ASSERT_STR_EQ(c, s);
    free(c);
    free(s);
    for (size_t extra = 1; extra <= 4; extra++) {
        static const char *const units[] = { "é", "€", "日", "😀" };
        for (size_t u = 0; u < ARRAY_LEN(units); u++) {
            s = repeat(units[u], 3000 + extra);
            c = blockkit_cut(s, 3000, true);
            ASSERT(valid_utf8(c));
            ASSERT_LE(blockkit_len(c), 3000);
            ASSERT_LE(fake_blocks_len(c), 3000);
            ASSERT(ends_with(c, BK_TRUNCATED_MARKER));
            free(c);
            c = blockkit_cut(s, 75, false);
            ASSERT(valid_utf8(c));
            ASSERT_LE(blockkit_len(c), 75);
            free(c);
            free(s);
        }
    }
    /* odd limit against surrogate pairs: never over */
    s = repeat("😀", 100);
    c = blockkit_cut(s, 151, false);
    ASSERT_LE(blockkit_len(c), 151);
    ASSERT(valid_utf8(c));
    free(c);
    free(s);
}

TEST(blockkit_cut_after_escaping)
{
    /* user text full of & < > grows when escaped; the cut is made on the
     * escaped text and never splits an entity */
    for (size_t pad = 0; pad < 6; pad++) {
        char *raw = repeat("a&<>", 1250);            /* 5,000 characters */
        char *padded = xasprintf("%.*s%s", (int)pad, "xxxxx", raw);
        char *esc = txt_mrkdwn(padded);
        ASSERT_GE(blockkit_len(esc), 14000);
        char *c = blockkit_cut(esc, BK_SECTION_TEXT, true);
        ASSERT_LE(blockkit_len(c), BK_SECTION_TEXT);
        ASSERT(entities_whole(c));
        ASSERT(ends_with(c, BK_TRUNCATED_MARKER));
        free(c);
        free(esc);
        free(padded);
        free(raw);
    }
    /* a mention or link is not cut in half */
    char *pre = repeat("w", 2950);
    char *s = xasprintf("%s <@U0APPSEC1> <https://gitlab.example.com/very/long/path/to/an/issue/12345|issue> tail", pre);
    char *c = blockkit_cut(s, 3000, true);
    ASSERT_LE(blockkit_len(c), 3000);
    const char *lt = strrchr(c, '<');
    ASSERT(!lt || strchr(lt, '>'));
    free(c);
    free(s);
    free(pre);
    /* an open code block is closed before the marker */
    pre = repeat("r", 4000);
    s = xasprintf("*Reproduction steps*\n```%s```", pre);
    c = blockkit_cut(s, 3000, true);
    ASSERT_LE(blockkit_len(c), 3000);
    ASSERT(strstr(c, "```\n" BK_TRUNCATED_MARKER));
    free(c);
    free(s);
    free(pre);
}

TEST(blockkit_fit_blocks_keeps_buttons)
{
    cJSON *blocks = cJSON_CreateArray();
    char *big = repeat("&amp;", 1000);
    for (int i = 0; i < 60; i++)
        cJSON_AddItemToArray(blocks, bk_section(i == 0 ? big : "line"));
    free(big);
    cJSON *acts = bk_actions("sirt_next_steps");
    cJSON_AddItemToArray(cJSON_GetObjectItem(acts, "elements"), bk_button("Resolve", "sirt_resolve", "SIRT-1", NULL));
    cJSON_AddItemToArray(blocks, acts);
    /* a section built by hand, over the limit, is cut by the fitter */
    cJSON *raw = cJSON_GetArrayItem(blocks, 1);
    char *huge = repeat("z", 5000);
    cJSON_SetValuestring(cJSON_GetObjectItem(cJSON_GetObjectItem(raw, "text"), "text"), huge);
    free(huge);
    ASSERT_GE(blockkit_fit_blocks(blocks, BK_MSG_BLOCKS), 2);
    ASSERT_EQ(cJSON_GetArraySize(blocks), BK_MSG_BLOCKS);
    cJSON *last = cJSON_GetArrayItem(blocks, BK_MSG_BLOCKS - 1);
    ASSERT_STR_EQ(cJSON_GetObjectItem(last, "type")->valuestring, "actions");
    cJSON *mark = cJSON_GetArrayItem(blocks, BK_MSG_BLOCKS - 2);
    ASSERT_CONTAINS(cJSON_GetObjectItem(cJSON_GetObjectItem(mark, "text"), "text")->valuestring, BK_TRUNCATED_MARKER);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "blocks", blocks);
    char err[512];
    ASSERT(fake_blocks_check_message(args, err, sizeof(err)));
    ASSERT_EQ(blockkit_fit_message(args), 0);        /* fitted stays fitted */
    cJSON_Delete(args);
}

TEST(blockkit_builders_within_limits)
{
    char *long_title = repeat("T", 300);
    cJSON *v = bk_modal(long_title, "A very long submit label indeed", "Close this dialog now please");
    cJSON *blocks = cJSON_AddArrayToObject(v, "blocks");
    cJSON_AddItemToArray(blocks, bk_header(long_title));
    char *ctx = repeat("<", 4000);
    char *ectx = txt_mrkdwn(ctx);
    cJSON_AddItemToArray(blocks, bk_context(ectx));
    cJSON *acts = bk_actions("a");
    cJSON_AddItemToArray(cJSON_GetObjectItem(acts, "elements"), bk_button(long_title, "go", long_title, "primary"));
    cJSON_AddItemToArray(blocks, acts);
    char err[512];
    bool ok = fake_blocks_check_view(v, err, sizeof(err));
    if (!ok)
        TEST_FAIL("%s", err);
    ASSERT_EQ(blockkit_fit_view(v), 0);
    ASSERT_EQ(blockkit_len(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "title"), "text")->valuestring), 24);
    cJSON *opt = bk_option(long_title, long_title);
    ASSERT_LE(blockkit_len(cJSON_GetObjectItem(opt, "value")->valuestring), BK_OPTION_VALUE);
    cJSON_Delete(opt);
    cJSON_Delete(v);
    free(ctx);
    free(ectx);
    free(long_title);
}
