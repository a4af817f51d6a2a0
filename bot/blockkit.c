/* blockkit: see blockkit.h.  The per-block rules below mirror what Slack
 * validates (protocol-facts-2 §6.8); the fake Slack checks the same limits
 * independently (tests/fakes/fake_blocks.c), so a builder that forgets one
 * fails its tests instead of production.  No allocation survives a call
 * except blockkit_cut's result. */
#include "blockkit.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t units_of(unsigned char c)
{
    if ((c & 0xC0) == 0x80)
        return 0;               /* continuation byte */
    return c >= 0xF0 ? 2 : 1;   /* 4-byte sequences are surrogate pairs */
}

size_t blockkit_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        n += units_of(*p);
    return n;
}

/* Byte length of the longest prefix of s holding at most budget units and
 * ending on a character boundary. */
static size_t prefix_bytes(const char *s, size_t budget)
{
    size_t used = 0, i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p[i]) {
        size_t len = 1;
        while (p[i + len] && (p[i + len] & 0xC0) == 0x80)
            len++;
        size_t u = units_of(p[i]);
        if (used + u > budget)
            break;
        used += u;
        i += len;
    }
    return i;
}

/* Moves a mrkdwn cut at n back before a split &entity; or <...>. */
static size_t mrkdwn_safe_cut(const char *s, size_t n)
{
    for (size_t i = n; i > 0 && n - i < 12; i--) {
        char c = s[i - 1];
        if (c == ';' || c == ' ' || c == '\n')
            break;
        if (c == '&') {
            n = i - 1;
            break;
        }
    }
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '>')
            break;
        if (s[i - 1] == '<') {
            n = i - 1;
            break;
        }
    }
    return n;
}

static size_t count_fences(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "```", 3) == 0) {
            k++;
            i += 2;
        }
    return k;
}

char *blockkit_cut(const char *s, size_t max, bool mrkdwn)
{
    s = s ? s : "";
    if (blockkit_len(s) <= max)
        return xstrdup(s);
    const char *marker = max >= BK_MARKER_MIN_LIMIT ? "\n" BK_TRUNCATED_MARKER : "…";
    size_t reserve = blockkit_len(marker) + (mrkdwn ? 3 : 0);   /* room for a closing ``` */
    size_t budget = max > reserve ? max - reserve : 0;
    size_t n = prefix_bytes(s, budget);
    if (mrkdwn)
        n = mrkdwn_safe_cut(s, n);
    while (n > 0 && s[n - 1] == '`' && mrkdwn)
        n--;                    /* never leave half a fence */
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, s, n);
    if (mrkdwn && count_fences(s, n) % 2 == 1)
        buf_puts(&b, "```");
    buf_puts(&b, marker);
    char *out = buf_take(&b);
    if (blockkit_len(out) > max) {   /* limits shorter than the marker */
        free(out);
        out = xstrndup(s, prefix_bytes(s, max));
    }
    return out;
}

/* ---- fitting a tree ---- */

static int fit_string(cJSON *obj, const char *key, size_t max, bool mrkdwn)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v) || blockkit_len(v->valuestring) <= max)
        return 0;
    char *cut = blockkit_cut(v->valuestring, max, mrkdwn);
    cJSON_SetValuestring(v, cut);
    free(cut);
    return 1;
}

/* A text object {"type":"plain_text"|"mrkdwn","text":...}. */
static int fit_text(cJSON *parent, const char *key, size_t max)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!cJSON_IsObject(t))
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
    bool md = cJSON_IsString(type) && strcmp(type->valuestring, "mrkdwn") == 0;
    return fit_string(t, "text", max, md);
}

static int fit_array_len(cJSON *arr, int max)
{
    int n = 0;
    while (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > max) {
        cJSON_DeleteItemFromArray(arr, cJSON_GetArraySize(arr) - 1);
        n = 1;
    }
    return n;
}

static int fit_option(cJSON *o)
{
    /* A cut value no longer matches what the bot offered, but a form that
     * opens beats one Slack refuses; the builders keep values short. */
    return fit_text(o, "text", BK_OPTION_TEXT) + fit_text(o, "description", BK_OPTION_TEXT)
           + fit_string(o, "value", BK_OPTION_VALUE, false);
}

static int fit_confirm(cJSON *c)
{
    if (!cJSON_IsObject(c))
        return 0;
    return fit_text(c, "title", BK_CONFIRM_TITLE) + fit_text(c, "text", BK_CONFIRM_TEXT)
           + fit_text(c, "confirm", BK_CONFIRM_BUTTON) + fit_text(c, "deny", BK_CONFIRM_BUTTON);
}

static int fit_element(cJSON *e)
{
    if (!cJSON_IsObject(e))
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    int n = fit_confirm(cJSON_GetObjectItemCaseSensitive(e, "confirm"));
    n += fit_text(e, "placeholder", BK_PLACEHOLDER);
    if (strcmp(t, "button") == 0) {
        n += fit_text(e, "text", BK_BUTTON_TEXT);
        n += fit_string(e, "value", BK_BUTTON_VALUE, false);
        n += fit_string(e, "accessibility_label", BK_BUTTON_TEXT, false);
    } else if (strcmp(t, "plain_text_input") == 0) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(e, "max_length");
        size_t max = BK_INPUT_VALUE;
        if (cJSON_IsNumber(ml) && ml->valuedouble >= 1 && ml->valuedouble < BK_INPUT_VALUE)
            max = (size_t)ml->valuedouble;
        n += fit_string(e, "initial_value", max, false);
    } else if (strcmp(t, "image") == 0) {
        n += fit_string(e, "alt_text", 2000, false);
    }
    cJSON *opts = cJSON_GetObjectItemCaseSensitive(e, "options");
    n += fit_array_len(opts, strcmp(t, "overflow") == 0 ? 5
                             : (strcmp(t, "checkboxes") == 0 || strcmp(t, "radio_buttons") == 0) ? 10
                                                                                                  : BK_OPTIONS);
    cJSON *o;
    cJSON_ArrayForEach(o, opts)
        n += fit_option(o);
    cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "initial_option");
    if (cJSON_IsObject(io))
        n += fit_option(io);
    return n;
}

static int fit_block(cJSON *b)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    int n = 0;
    if (strcmp(t, "section") == 0) {
        n += fit_text(b, "text", BK_SECTION_TEXT);
        cJSON *fields = cJSON_GetObjectItemCaseSensitive(b, "fields");
        n += fit_array_len(fields, BK_FIELDS);
        cJSON *f;
        cJSON_ArrayForEach(f, fields) {
            if (!cJSON_IsObject(f))
                continue;
            const cJSON *ft = cJSON_GetObjectItemCaseSensitive(f, "type");
            n += fit_string(f, "text", BK_FIELD_TEXT, cJSON_IsString(ft) && strcmp(ft->valuestring, "mrkdwn") == 0);
        }
        n += fit_element(cJSON_GetObjectItemCaseSensitive(b, "accessory"));
    } else if (strcmp(t, "header") == 0) {
        n += fit_text(b, "text", BK_HEADER_TEXT);
    } else if (strcmp(t, "context") == 0) {
        cJSON *els = cJSON_GetObjectItemCaseSensitive(b, "elements");
        n += fit_array_len(els, BK_CONTEXT_ELEMENTS);
        cJSON *e;
        cJSON_ArrayForEach(e, els) {
            const cJSON *et = cJSON_GetObjectItemCaseSensitive(e, "type");
            bool md = cJSON_IsString(et) && strcmp(et->valuestring, "mrkdwn") == 0;
            n += fit_string(e, "text", BK_SECTION_TEXT, md);
        }
    } else if (strcmp(t, "actions") == 0) {
        cJSON *els = cJSON_GetObjectItemCaseSensitive(b, "elements");
        n += fit_array_len(els, BK_ACTIONS_ELEMENTS);
        cJSON *e;
        cJSON_ArrayForEach(e, els)
            n += fit_element(e);
    } else if (strcmp(t, "input") == 0) {
        n += fit_text(b, "label", BK_LABEL) + fit_text(b, "hint", BK_LABEL);
        n += fit_element(cJSON_GetObjectItemCaseSensitive(b, "element"));
    } else if (strcmp(t, "image") == 0) {
        n += fit_string(b, "alt_text", 2000, false) + fit_text(b, "title", 2000);
    }
    return n;
}

static cJSON *marker_section(void)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "section");
    cJSON *t = cJSON_AddObjectToObject(s, "text");
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    cJSON_AddStringToObject(t, "text", "_" BK_TRUNCATED_MARKER "_");
    return s;
}

int blockkit_fit_blocks(cJSON *blocks, int max_blocks)
{
    if (!cJSON_IsArray(blocks) || max_blocks < 3)
        return 0;
    int n = 0;
    int count = cJSON_GetArraySize(blocks);
    if (count > max_blocks) {
        cJSON *last = cJSON_GetArrayItem(blocks, count - 1);
        const cJSON *lt = cJSON_GetObjectItemCaseSensitive(last, "type");
        bool keep_last = cJSON_IsString(lt) && strcmp(lt->valuestring, "actions") == 0;
        if (keep_last)
            last = cJSON_DetachItemFromArray(blocks, count - 1);
        int keep = max_blocks - 1 - (keep_last ? 1 : 0);
        while (cJSON_GetArraySize(blocks) > keep)
            cJSON_DeleteItemFromArray(blocks, cJSON_GetArraySize(blocks) - 1);
        cJSON_AddItemToArray(blocks, marker_section());
        if (keep_last)
            cJSON_AddItemToArray(blocks, last);
        n++;
    }
    cJSON *b;
    cJSON_ArrayForEach(b, blocks)
        n += fit_block(b);
    return n;
}

int blockkit_fit_view(cJSON *view)
{
    if (!cJSON_IsObject(view))
        return 0;
    int n = fit_text(view, "title", BK_VIEW_TITLE) + fit_text(view, "submit", BK_VIEW_TITLE)
            + fit_text(view, "close", BK_VIEW_TITLE);
    return n + blockkit_fit_blocks(cJSON_GetObjectItemCaseSensitive(view, "blocks"), BK_VIEW_BLOCKS);
}

int blockkit_fit_message(cJSON *args)
{
    return blockkit_fit_blocks(cJSON_GetObjectItemCaseSensitive(args, "blocks"), BK_MSG_BLOCKS);
}
