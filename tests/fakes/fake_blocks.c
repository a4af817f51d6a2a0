/* fake_blocks: see fake_blocks.h.  A small recursive checker: each
 * function validates one node at a JSON pointer and, on the first problem,
 * writes Slack's message and returns false.  Nothing is allocated beyond
 * the parsed copy of a blocks/view string, freed before returning. */
#include "fake_blocks.h"

#include <stdio.h>
#include <string.h>

struct chk {
    char *err;
    size_t errlen;
};

size_t fake_blocks_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        n += *p >= 0xF0 ? 2 : 1;
    }
    return n;
}

static bool fail(struct chk *c, const char *ptr, const char *fmt, const char *arg, long n)
{
    char msg[256];
    if (arg)
        snprintf(msg, sizeof(msg), fmt, arg);
    else
        snprintf(msg, sizeof(msg), fmt, n);
    snprintf(c->err, c->errlen, "%s [json-pointer:%s]", msg, ptr);
    return false;
}

static void sub(char *out, size_t size, const char *ptr, const char *key)
{
    if (snprintf(out, size, "%s/%s", ptr, key) >= (int)size)
        out[size - 1] = '\0';   /* pointers are short: never in practice */
}

static void subi(char *out, size_t size, const char *ptr, int i)
{
    if (snprintf(out, size, "%s/%d", ptr, i) >= (int)size)
        out[size - 1] = '\0';
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* o's "type" when o is an object that has one; else NULL, the refusal
 * written. */
static const char *typed_object(struct chk *c, const cJSON *o, const char *ptr)
{
    if (!cJSON_IsObject(o)) {
        fail(c, ptr, "must be an object", NULL, 0);
        return NULL;
    }
    const char *t = type_of(o);
    if (!t)
        fail(c, ptr, "missing required field: %s", "type", 0);
    return t;
}

/* An optional (or required) string of at most max characters. */
static bool check_str(struct chk *c, const cJSON *o, const char *key, const char *ptr, size_t max, bool required)
{
    char p[512];
    sub(p, sizeof(p), ptr, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return fail(c, ptr, "missing required field: %s", key, 0);
        return true;
    }
    if (!cJSON_IsString(v))
        return fail(c, p, "must be a string", NULL, 0);
    if (required && !v->valuestring[0])
        return fail(c, p, "must be more than 0 characters", NULL, 0);
    if (fake_blocks_len(v->valuestring) > max)
        return fail(c, p, "must be less than %ld characters", NULL, (long)max + 1);
    return true;
}

/* A text object t at ptr: plain_text only when plain, 1..max characters. */
static bool check_text_obj(struct chk *c, const cJSON *t, const char *p, size_t max, bool plain)
{
    const char *type = typed_object(c, t, p);
    if (!type)
        return false;
    char tp[520];
    sub(tp, sizeof(tp), p, "type");
    if (strcmp(type, "plain_text") != 0 && (plain || strcmp(type, "mrkdwn") != 0))
        return fail(c, tp, "must be a valid enum value", NULL, 0);
    return check_str(c, t, "text", p, max, true);
}

/* A text object at o[key]. */
static bool check_text(struct chk *c, const cJSON *o, const char *key, const char *ptr, size_t max, bool plain,
                       bool required)
{
    char p[512];
    sub(p, sizeof(p), ptr, key);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!t)
        return required ? fail(c, ptr, "missing required field: %s", key, 0) : true;
    return check_text_obj(c, t, p, max, plain);
}

static bool check_array(struct chk *c, const cJSON *o, const char *key, const char *ptr, int min, int max,
                        bool required)
{
    char p[512];
    sub(p, sizeof(p), ptr, key);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!a)
        return required ? fail(c, ptr, "missing required field: %s", key, 0) : true;
    if (!cJSON_IsArray(a))
        return fail(c, p, "must be an array", NULL, 0);
    int n = cJSON_GetArraySize(a);
    if (n < min)
        return fail(c, p, "must provide at least %ld items", NULL, min);
    if (n > max)
        return fail(c, p, "must provide no more than %ld items", NULL, max);
    return true;
}

static bool check_option(struct chk *c, const cJSON *o, const char *ptr)
{
    if (!cJSON_IsObject(o))
        return fail(c, ptr, "must be an object", NULL, 0);
    return check_text(c, o, "text", ptr, 75, false, true) && check_text(c, o, "description", ptr, 75, false, false)
           && check_str(c, o, "value", ptr, 75, true);
}

static const char *option_text(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "text"), "text");
    return cJSON_IsString(t) ? t->valuestring : "";
}

/* Is o (value and text) one of opts? */
static bool option_listed(const cJSON *opts, const cJSON *o)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *x;
    cJSON_ArrayForEach(x, opts) {
        const cJSON *xv = cJSON_GetObjectItemCaseSensitive(x, "value");
        if (cJSON_IsString(v) && cJSON_IsString(xv) && strcmp(v->valuestring, xv->valuestring) == 0 &&
            strcmp(option_text(o), option_text(x)) == 0)
            return true;
    }
    return false;
}

static bool check_options(struct chk *c, const cJSON *e, const char *ptr, int min, int max, bool required)
{
    if (!check_array(c, e, "options", ptr, min, max, required))
        return false;
    char p[512], q[520];
    sub(p, sizeof(p), ptr, "options");
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(e, "options")) {
        subi(q, sizeof(q), p, i++);
        if (!check_option(c, o, q))
            return false;
    }
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(e, "initial_option");
    if (io) {
        sub(q, sizeof(q), ptr, "initial_option");
        if (!check_option(c, io, q))
            return false;
        /* Slack: it must exactly match one of the options. */
        const cJSON *opts = cJSON_GetObjectItemCaseSensitive(e, "options");
        if (opts && !option_listed(opts, io))
            return fail(c, q, "must match one of the provided options", NULL, 0);
    }
    return true;
}

static bool check_confirm(struct chk *c, const cJSON *e, const char *ptr)
{
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(e, "confirm");
    if (!cf)
        return true;
    char p[512];
    sub(p, sizeof(p), ptr, "confirm");
    return check_text(c, cf, "title", p, 100, true, true) && check_text(c, cf, "text", p, 300, false, true)
           && check_text(c, cf, "confirm", p, 30, true, true) && check_text(c, cf, "deny", p, 30, true, true);
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* An interactive element (actions elements, section accessory, input element). */
static bool check_element(struct chk *c, const cJSON *e, const char *ptr, bool in_input)
{
    const char *t = typed_object(c, e, ptr);
    if (!t)
        return false;
    static const char *const selects[] = { "static_select", "multi_static_select", "external_select",
                                           "multi_external_select", "users_select", "multi_users_select",
                                           "conversations_select", "multi_conversations_select",
                                           "channels_select", "multi_channels_select", NULL };
    static const char *const inputs[] = { "plain_text_input", "email_text_input", "url_text_input", "number_input",
                                          "rich_text_input", "file_input", NULL };
    static const char *const others[] = { "datepicker", "timepicker", "datetimepicker", "checkboxes",
                                          "radio_buttons", "overflow", "image", "workflow_button", NULL };
    char tp[512];
    sub(tp, sizeof(tp), ptr, "type");
    bool button = strcmp(t, "button") == 0;
    if (!button && !in_list(t, selects) && !in_list(t, inputs) && !in_list(t, others))
        return fail(c, tp, "unsupported type: %s", t, 0);
    if (in_list(t, inputs) && !in_input)
        return fail(c, tp, "unsupported type: %s", t, 0);
    if (!check_str(c, e, "action_id", ptr, 255, false) || !check_confirm(c, e, ptr)
        || !check_text(c, e, "placeholder", ptr, 150, true, false))
        return false;
    if (button) {
        if (!check_text(c, e, "text", ptr, 75, true, true) || !check_str(c, e, "value", ptr, 2000, false)
            || !check_str(c, e, "url", ptr, 3000, false) || !check_str(c, e, "accessibility_label", ptr, 75, false))
            return false;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "style");
        if (st && !(cJSON_IsString(st) && (strcmp(st->valuestring, "primary") == 0
                                           || strcmp(st->valuestring, "danger") == 0))) {
            char p[520];
            sub(p, sizeof(p), ptr, "style");
            return fail(c, p, "must be a valid enum value", NULL, 0);
        }
        return true;
    }
    if (strcmp(t, "static_select") == 0 || strcmp(t, "multi_static_select") == 0) {
        if (!cJSON_GetObjectItemCaseSensitive(e, "options") && !cJSON_GetObjectItemCaseSensitive(e, "option_groups"))
            return fail(c, ptr, "missing required field: %s", "options", 0);
        return check_options(c, e, ptr, 1, 100, false) && check_array(c, e, "option_groups", ptr, 1, 100, false);
    }
    if (strcmp(t, "checkboxes") == 0 || strcmp(t, "radio_buttons") == 0)
        return check_options(c, e, ptr, 1, 10, true);
    if (strcmp(t, "overflow") == 0)
        return check_options(c, e, ptr, 1, 5, true);
    if (strcmp(t, "plain_text_input") == 0) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(e, "max_length");
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(e, "min_length");
        char p[520];
        if (ml && (!cJSON_IsNumber(ml) || ml->valuedouble < 1 || ml->valuedouble > 3000)) {
            sub(p, sizeof(p), ptr, "max_length");
            return fail(c, p, "must be between 1 and %ld", NULL, 3000);
        }
        if (mn && (!cJSON_IsNumber(mn) || mn->valuedouble < 0 || mn->valuedouble > 3000)) {
            sub(p, sizeof(p), ptr, "min_length");
            return fail(c, p, "must be between 0 and %ld", NULL, 3000);
        }
        size_t max = ml ? (size_t)ml->valuedouble : 3000;
        return check_str(c, e, "initial_value", ptr, max, false);
    }
    if (strcmp(t, "image") == 0)
        return check_str(c, e, "alt_text", ptr, 2000, true);
    return true;
}

/* Each item of the array o[key] (if any), by fn, at ptr/key/<i>. */
static bool check_items(struct chk *c, const cJSON *o, const char *key, const char *ptr,
                        bool (*fn)(struct chk *c, const cJSON *item, const char *ptr))
{
    char p[512], q[520];
    sub(p, sizeof(p), ptr, key);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, key)) {
        subi(q, sizeof(q), p, i++);
        if (!fn(c, e, q))
            return false;
    }
    return true;
}

static bool check_field(struct chk *c, const cJSON *f, const char *ptr)
{
    return check_text_obj(c, f, ptr, 2000, false);
}

static bool check_action_element(struct chk *c, const cJSON *e, const char *ptr)
{
    return check_element(c, e, ptr, false);
}

/* A context block's element: an image or a text object. */
static bool check_context_element(struct chk *c, const cJSON *e, const char *ptr)
{
    const char *et = type_of(e);
    if (et && strcmp(et, "image") == 0)
        return check_str(c, e, "alt_text", ptr, 2000, true);
    if (!et || (strcmp(et, "plain_text") != 0 && strcmp(et, "mrkdwn") != 0)) {
        char tp[530];
        sub(tp, sizeof(tp), ptr, "type");
        return fail(c, tp, "must be a valid enum value", NULL, 0);
    }
    return check_str(c, e, "text", ptr, 3000, true);
}

static bool check_block(struct chk *c, const cJSON *b, const char *ptr, bool in_view)
{
    const char *t = typed_object(c, b, ptr);
    if (!t)
        return false;
    if (!check_str(c, b, "block_id", ptr, 255, false))
        return false;
    char p[512];
    if (strcmp(t, "section") == 0) {
        bool has_text = cJSON_GetObjectItemCaseSensitive(b, "text") != NULL;
        bool has_fields = cJSON_GetObjectItemCaseSensitive(b, "fields") != NULL;
        if (!has_text && !has_fields)
            return fail(c, ptr, "missing required field: %s", "text", 0);
        if (!check_text(c, b, "text", ptr, 3000, false, false) || !check_array(c, b, "fields", ptr, 1, 10, false))
            return false;
        if (!check_items(c, b, "fields", ptr, check_field))
            return false;
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(b, "accessory");
        if (acc) {
            sub(p, sizeof(p), ptr, "accessory");
            return check_element(c, acc, p, false);
        }
        return true;
    }
    if (strcmp(t, "header") == 0)
        return check_text(c, b, "text", ptr, 150, true, true);
    if (strcmp(t, "divider") == 0)
        return true;
    if (strcmp(t, "context") == 0) {
        return check_array(c, b, "elements", ptr, 1, 10, true)
               && check_items(c, b, "elements", ptr, check_context_element);
    }
    if (strcmp(t, "actions") == 0) {
        return check_array(c, b, "elements", ptr, 1, 25, true)
               && check_items(c, b, "elements", ptr, check_action_element);
    }
    if (strcmp(t, "input") == 0) {
        if (!check_text(c, b, "label", ptr, 2000, true, true) || !check_text(c, b, "hint", ptr, 2000, true, false))
            return false;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "element");
        if (!e)
            return fail(c, ptr, "missing required field: %s", "element", 0);
        sub(p, sizeof(p), ptr, "element");
        return check_element(c, e, p, true);
    }
    if (strcmp(t, "image") == 0)
        return check_str(c, b, "alt_text", ptr, 2000, true) && check_text(c, b, "title", ptr, 2000, true, false);
    if (strcmp(t, "markdown") == 0 && !in_view)
        return check_str(c, b, "text", ptr, 12000, true);
    if (strcmp(t, "rich_text") == 0)
        return check_array(c, b, "elements", ptr, 0, 100, true);
    char tp[520];
    sub(tp, sizeof(tp), ptr, "type");
    return fail(c, tp, "unsupported type: %s", t, 0);
}

static bool check_blocks(struct chk *c, const cJSON *blocks, const char *ptr, int max, bool in_view)
{
    if (!cJSON_IsArray(blocks))
        return fail(c, ptr, "must be an array", NULL, 0);
    if (cJSON_GetArraySize(blocks) > max)
        return fail(c, ptr, "must provide no more than %ld items", NULL, max);
    char p[512];
    int i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks) {
        subi(p, sizeof(p), ptr, i++);
        if (!check_block(c, b, p, in_view))
            return false;
    }
    return true;
}

bool fake_blocks_check_message(const cJSON *args, char *err, size_t errlen)
{
    struct chk c = { err, errlen };
    err[0] = '\0';
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "blocks");
    if (!b || cJSON_IsNull(b))
        return true;
    if (cJSON_IsString(b)) {
        cJSON *parsed = cJSON_Parse(b->valuestring);
        bool ok = parsed ? check_blocks(&c, parsed, "/blocks", 50, false)
                         : fail(&c, "/blocks", "must be a valid JSON array", NULL, 0);
        cJSON_Delete(parsed);
        return ok;
    }
    return check_blocks(&c, b, "/blocks", 50, false);
}

static bool check_view(struct chk *c, const cJSON *v)
{
    const char *ptr = "/view";
    const char *t = typed_object(c, v, ptr);
    if (!t)
        return false;
    bool modal = strcmp(t, "modal") == 0;
    if (!modal && strcmp(t, "home") != 0)
        return fail(c, "/view/type", "must be a valid enum value", NULL, 0);
    if (!check_text(c, v, "title", ptr, 24, true, modal) || !check_text(c, v, "submit", ptr, 24, true, false)
        || !check_text(c, v, "close", ptr, 24, true, false)
        || !check_str(c, v, "private_metadata", ptr, 3000, false) || !check_str(c, v, "callback_id", ptr, 255, false)
        || !check_str(c, v, "external_id", ptr, 255, false))
        return false;
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(v, "blocks");
    if (!blocks)
        return fail(c, ptr, "missing required field: %s", "blocks", 0);
    if (!check_blocks(c, blocks, "/view/blocks", 100, true))
        return false;
    /* A modal with input blocks needs a submit button. */
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks) {
        const char *bt = type_of(b);
        if (modal && bt && strcmp(bt, "input") == 0 && !cJSON_GetObjectItemCaseSensitive(v, "submit"))
            return fail(c, ptr, "missing required field: %s", "submit", 0);
    }
    return true;
}

bool fake_blocks_check_view(const cJSON *view, char *err, size_t errlen)
{
    struct chk c = { err, errlen };
    err[0] = '\0';
    if (cJSON_IsString(view)) {
        cJSON *parsed = cJSON_Parse(view->valuestring);
        bool ok = parsed ? check_view(&c, parsed) : fail(&c, "/view", "must be a valid JSON object", NULL, 0);
        cJSON_Delete(parsed);
        return ok;
    }
    return check_view(&c, view);
}
