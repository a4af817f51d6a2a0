/* bk: the Block Kit pieces handlers build messages and modals from, each
 * cut to Slack's limit for its place (bot/blockkit.h), and reading a modal's
 * submitted inputs.  A builder's result belongs to the caller until it is
 * added to a parent. */
#include "bk.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../bot/blockkit.h"
#include "../bot/util.h"

/* A text object, mrkdwn or plain_text, cut at max. */
static cJSON *text_obj(bool mrkdwn, const char *text, size_t max)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "type", mrkdwn ? "mrkdwn" : "plain_text");
    char *c = blockkit_cut(text, max, mrkdwn);
    cJSON_AddStringToObject(t, "text", c);
    free(c);
    return t;
}

cJSON *bk_plain_max(const char *text, size_t max)
{
    return text_obj(false, text, max);
}

cJSON *bk_plain(const char *text)
{
    return bk_plain_max(text, BK_SECTION_TEXT);
}

cJSON *bk_section(const char *mrkdwn)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "section");
    cJSON_AddItemToObject(s, "text", text_obj(true, mrkdwn, BK_SECTION_TEXT));
    return s;
}

cJSON *bk_header(const char *text)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "header");
    cJSON_AddItemToObject(h, "text", bk_plain_max(text, BK_HEADER_TEXT));
    return h;
}

cJSON *bk_context(const char *mrkdwn)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "context");
    cJSON *els = cJSON_AddArrayToObject(c, "elements");
    cJSON_AddItemToArray(els, text_obj(true, mrkdwn, BK_SECTION_TEXT));
    return c;
}

cJSON *bk_button(const char *text, const char *action_id, const char *value, const char *style)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "button");
    cJSON_AddItemToObject(b, "text", bk_plain_max(text, BK_BUTTON_TEXT));
    cJSON_AddStringToObject(b, "action_id", action_id);
    if (value) {
        char *v = blockkit_cut(value, BK_BUTTON_VALUE, false);
        cJSON_AddStringToObject(b, "value", v);
        free(v);
    }
    if (style)
        cJSON_AddStringToObject(b, "style", style);
    return b;
}

cJSON *bk_actions(const char *block_id)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "type", "actions");
    if (block_id)
        cJSON_AddStringToObject(a, "block_id", block_id);
    cJSON_AddArrayToObject(a, "elements");
    return a;
}

cJSON *bk_option(const char *text, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "text", bk_plain_max(text, BK_OPTION_TEXT));
    char *v = blockkit_cut(value, BK_OPTION_VALUE, false);
    cJSON_AddStringToObject(o, "value", v);
    free(v);
    return o;
}

cJSON *bk_modal(const char *title, const char *submit, const char *close)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "type", "modal");
    cJSON_AddItemToObject(v, "title", bk_plain_max(title, BK_VIEW_TITLE));
    if (submit)
        cJSON_AddItemToObject(v, "submit", bk_plain_max(submit, BK_VIEW_TITLE));
    if (close)
        cJSON_AddItemToObject(v, "close", bk_plain_max(close, BK_VIEW_TITLE));
    return v;
}

cJSON *bk_form(const char *title, const char *submit, const char *callback_id, const char *meta,
               const char *intro, cJSON **blocks)
{
    cJSON *v = bk_modal(title, submit, "Cancel");
    cJSON_AddStringToObject(v, "callback_id", callback_id);
    cJSON_AddStringToObject(v, "private_metadata", meta);
    *blocks = cJSON_AddArrayToObject(v, "blocks");
    if (intro)
        cJSON_AddItemToArray(*blocks, bk_section(intro));
    return v;
}

void bk_fit(cJSON *blocks, int max_blocks)
{
    blockkit_fit_blocks(blocks, max_blocks);
}

const char *bk_view_input(const cJSON *view, const char *block)
{
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(view, "state"), "values");
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(values, block), "value");
    if (!el)
        return NULL;
    const char *v = util_jstr(el, "value");
    if (!v)
        v = util_jstr(cJSON_GetObjectItemCaseSensitive(el, "selected_option"), "value");
    return v && *v ? v : NULL;
}

cJSON *bk_view_errors(cJSON *errors)
{
    if (!errors)
        return NULL;
    cJSON *ack = cJSON_CreateObject();
    cJSON_AddStringToObject(ack, "response_action", "errors");
    cJSON_AddItemToObject(ack, "errors", errors);
    return ack;
}

cJSON *bk_view_error(const char *block, const char *msg)
{
    cJSON *errors = cJSON_CreateObject();
    cJSON_AddStringToObject(errors, block, msg);
    return bk_view_errors(errors);
}
