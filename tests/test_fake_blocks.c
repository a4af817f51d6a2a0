/* test_fake_blocks: the fake Slack refuses the blocks and views Slack
 * refuses (tests/fakes/fake_blocks.c), through chat.*, views.* and
 * response URLs, and the harness fails a test in which one was refused. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

#include "fake_clients.h"

#include "fakes/fake_blocks.h"

/* `n` copies of unit (a UTF-8 character) in a malloc'd string. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = xmalloc(n * u + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[n * u] = '\0';
    return s;
}

/* A message body {"channel":"C1","ts":"1.1","text":"x","blocks":blocks}. */
static char *msg_body(cJSON *blocks)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "channel", "C0SIRT0001");
    cJSON_AddStringToObject(o, "user", "U0APPSEC1");
    cJSON_AddStringToObject(o, "ts", "1.000001");
    cJSON_AddStringToObject(o, "text", "fallback");
    cJSON_AddItemToObject(o, "blocks", blocks);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static cJSON *section_of(const char *text)
{
    cJSON *arr = cJSON_CreateArray();
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "section");
    cJSON *t = cJSON_AddObjectToObject(s, "text");
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    cJSON_AddStringToObject(t, "text", text);
    cJSON_AddItemToArray(arr, s);
    return arr;
}

/* Posts blocks with method; returns the first error message ("" if ok). */
static void post_blocks(struct fx *fx, const char *method, cJSON *blocks, char *err, size_t n)
{
    char *body = msg_body(blocks);
    long st;
    cJSON *j = fc_api(fx, "POST", method, XOXB, JSONT, body, &st);
    free(body);
    ASSERT_NOT_NULL(j);
    err[0] = '\0';
    if (!cJSON_IsTrue(fc_jget(j, "ok"))) {
        ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_blocks");
        const char *e = fc_jstr(j, "errors.0");
        ASSERT_NOT_NULL(e);
        str_lcpy(err, e, n);
        char want[600];
        snprintf(want, sizeof(want), "[ERROR] %s", e);
        ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"), want);
    }
    cJSON_Delete(j);
}

TEST(fake_blocks_len_counts_like_slack)
{
    ASSERT_EQ(fake_blocks_len(""), 0);
    ASSERT_EQ(fake_blocks_len("abc"), 3);
    ASSERT_EQ(fake_blocks_len("é"), 1);             /* 2 bytes, 1 character */
    ASSERT_EQ(fake_blocks_len("€"), 1);             /* 3 bytes */
    ASSERT_EQ(fake_blocks_len("😀"), 2);            /* outside the BMP: a surrogate pair */
    ASSERT_EQ(fake_blocks_len("&amp;"), 5);         /* entities count as sent */
}

TEST(fake_blocks_refuses_long_section_text)
{
    struct fx fx;
    fc_begin(&fx);
    fx.allow_block_refusals = true;
    char err[512];
    static const char *const methods[] = { "chat.postMessage", "chat.postEphemeral", "chat.update" };
    for (size_t m = 0; m < ARRAY_LEN(methods); m++) {
        char *s = repeat("a", 3000);
        post_blocks(&fx, methods[m], section_of(s), err, sizeof(err));
        ASSERT_STR_EQ(err, "");                     /* exactly at the limit */
        free(s);
        s = repeat("a", 3001);
        post_blocks(&fx, methods[m], section_of(s), err, sizeof(err));
        ASSERT_STR_EQ(err, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]");
        free(s);
    }
    /* characters, not bytes */
    char *s = repeat("é", 3000);
    post_blocks(&fx, "chat.postMessage", section_of(s), err, sizeof(err));
    ASSERT_STR_EQ(err, "");
    free(s);
    s = repeat("😀", 1501);
    post_blocks(&fx, "chat.postMessage", section_of(s), err, sizeof(err));
    ASSERT_CONTAINS(err, "[json-pointer:/blocks/0/text/text]");
    free(s);
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 4);
    ASSERT_CONTAINS(fake_slack_last_refusal(fx.slack), "must be less than 3001 characters");
    /* a refused message is not posted: the answer has no ts */
    fc_end(&fx);
}

TEST(fake_blocks_refuses_shapes_and_counts)
{
    struct fx fx;
    fc_begin(&fx);
    fx.allow_block_refusals = true;
    char err[512];

    /* header over 150 */
    char *h = repeat("h", 151);
    char json[1024];
    snprintf(json, sizeof(json), "[{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\"%s\"}}]", h);
    free(h);
    post_blocks(&fx, "chat.postMessage", cJSON_Parse(json), err, sizeof(err));
    ASSERT_STR_EQ(err, "must be less than 151 characters [json-pointer:/blocks/0/text/text]");
    /* a header must be plain_text */
    post_blocks(&fx, "chat.postMessage",
                cJSON_Parse("[{\"type\":\"header\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"x\"}}]"), err, sizeof(err));
    ASSERT_STR_EQ(err, "must be a valid enum value [json-pointer:/blocks/0/text/type]");
    /* unknown block type */
    post_blocks(&fx, "chat.postMessage", cJSON_Parse("[{\"type\":\"divider\"},{\"type\":\"bogus\"}]"), err,
                sizeof(err));
    ASSERT_STR_EQ(err, "unsupported type: bogus [json-pointer:/blocks/1/type]");
    /* section with neither text nor fields */
    post_blocks(&fx, "chat.postMessage", cJSON_Parse("[{\"type\":\"section\"}]"), err, sizeof(err));
    ASSERT_STR_EQ(err, "missing required field: text [json-pointer:/blocks/0]");
    /* empty text */
    post_blocks(&fx, "chat.postMessage", section_of(""), err, sizeof(err));
    ASSERT_STR_EQ(err, "must be more than 0 characters [json-pointer:/blocks/0/text/text]");
    /* 51 blocks, then 50 */
    cJSON *many = cJSON_CreateArray();
    for (int i = 0; i < 51; i++)
        cJSON_AddItemToArray(many, cJSON_Parse("{\"type\":\"divider\"}"));
    post_blocks(&fx, "chat.postMessage", many, err, sizeof(err));
    ASSERT_STR_EQ(err, "must provide no more than 50 items [json-pointer:/blocks]");
    many = cJSON_CreateArray();
    for (int i = 0; i < 50; i++)
        cJSON_AddItemToArray(many, cJSON_Parse("{\"type\":\"divider\"}"));
    post_blocks(&fx, "chat.postMessage", many, err, sizeof(err));
    ASSERT_STR_EQ(err, "");
    /* button text over 75, a bad style, 26 actions elements */
    char *b = repeat("b", 76);
    snprintf(json, sizeof(json), "[{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"action_id\":\"a\","
                                 "\"text\":{\"type\":\"plain_text\",\"text\":\"%s\"}}]}]", b);
    free(b);
    post_blocks(&fx, "chat.postMessage", cJSON_Parse(json), err, sizeof(err));
    ASSERT_STR_EQ(err, "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]");
    post_blocks(&fx, "chat.postMessage",
                cJSON_Parse("[{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"action_id\":\"a\","
                            "\"style\":\"green\",\"text\":{\"type\":\"plain_text\",\"text\":\"Go\"}}]}]"),
                err, sizeof(err));
    ASSERT_STR_EQ(err, "must be a valid enum value [json-pointer:/blocks/0/elements/0/style]");
    cJSON *acts = cJSON_Parse("[{\"type\":\"actions\",\"elements\":[]}]");
    cJSON *els = cJSON_GetObjectItem(cJSON_GetArrayItem(acts, 0), "elements");
    for (int i = 0; i < 26; i++)
        cJSON_AddItemToArray(els, cJSON_Parse("{\"type\":\"button\",\"text\":{\"type\":\"plain_text\",\"text\":\"x\"}}"));
    post_blocks(&fx, "chat.postMessage", acts, err, sizeof(err));
    ASSERT_STR_EQ(err, "must provide no more than 25 items [json-pointer:/blocks/0/elements]");
    /* button without text */
    post_blocks(&fx, "chat.postMessage",
                cJSON_Parse("[{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"action_id\":\"a\"}]}]"),
                err, sizeof(err));
    ASSERT_STR_EQ(err, "missing required field: text [json-pointer:/blocks/0/elements/0]");
    /* context: 11 elements */
    cJSON *ctx = cJSON_Parse("[{\"type\":\"context\",\"elements\":[]}]");
    els = cJSON_GetObjectItem(cJSON_GetArrayItem(ctx, 0), "elements");
    for (int i = 0; i < 11; i++)
        cJSON_AddItemToArray(els, cJSON_Parse("{\"type\":\"mrkdwn\",\"text\":\"x\"}"));
    post_blocks(&fx, "chat.postMessage", ctx, err, sizeof(err));
    ASSERT_STR_EQ(err, "must provide no more than 10 items [json-pointer:/blocks/0/elements]");
    /* fields: a 2001-character one */
    char *f = repeat("f", 2001);
    char big[2200];
    snprintf(big, sizeof(big), "[{\"type\":\"section\",\"fields\":[{\"type\":\"mrkdwn\",\"text\":\"a\"},"
                               "{\"type\":\"mrkdwn\",\"text\":\"%s\"}]}]", f);
    free(f);
    post_blocks(&fx, "chat.postMessage", cJSON_Parse(big), err, sizeof(err));
    ASSERT_STR_EQ(err, "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]");
    /* a blocks argument given as a JSON string (form posts) is checked too */
    long st;
    cJSON *j = fc_api(&fx, "POST", "chat.postMessage", XOXB, FORMT,
                   "channel=C1&blocks=%5B%7B%22type%22%3A%22bogus%22%7D%5D", &st);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_blocks");
    ASSERT_STR_EQ(fc_jstr(j, "errors.0"), "unsupported type: bogus [json-pointer:/blocks/0/type]");
    cJSON_Delete(j);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 14);
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 13);
    fc_end(&fx);
}

static cJSON *view_call(struct fx *fx, const char *method, const char *view_json)
{
    char body[8192];
    snprintf(body, sizeof(body), "{\"trigger_id\":\"1.2.v\",\"view_id\":\"V1\",\"view\":%s}", view_json);
    long st;
    return fc_api(fx, "POST", method, XOXB, JSONT, body, &st);
}

TEST(fake_blocks_refuses_views)
{
    struct fx fx;
    fc_begin(&fx);
    fx.allow_block_refusals = true;
    static const char *const methods[] = { "views.open", "views.push", "views.update" };
    for (size_t m = 0; m < ARRAY_LEN(methods); m++) {
        /* title of 25 characters */
        cJSON *j = view_call(&fx, methods[m], "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\","
                                              "\"text\":\"abcdefghijklmnopqrstuvwxy\"},\"blocks\":[]}");
        ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_arguments");
        ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"),
                      "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]");
        cJSON_Delete(j);
        /* exactly 24 is fine */
        j = view_call(&fx, methods[m], "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\","
                                       "\"text\":\"abcdefghijklmnopqrstuvwx\"},\"blocks\":[]}");
        ASSERT(cJSON_IsTrue(fc_jget(j, "ok")));
        cJSON_Delete(j);
    }
    /* an input without submit; a label over 2000; initial_value over max_length */
    cJSON *j = view_call(&fx, "views.open", "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\",\"text\":\"T\"},"
                                            "\"blocks\":[{\"type\":\"input\",\"label\":{\"type\":\"plain_text\","
                                            "\"text\":\"L\"},\"element\":{\"type\":\"plain_text_input\"}}]}");
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"), "[ERROR] missing required field: submit [json-pointer:/view]");
    cJSON_Delete(j);
    j = view_call(&fx, "views.open", "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\",\"text\":\"T\"},"
                                     "\"submit\":{\"type\":\"plain_text\",\"text\":\"S\"},\"blocks\":[{\"type\":"
                                     "\"input\",\"label\":{\"type\":\"plain_text\",\"text\":\"L\"},\"element\":"
                                     "{\"type\":\"plain_text_input\",\"max_length\":3,\"initial_value\":\"abcd\"}}]}");
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"),
                  "[ERROR] must be less than 4 characters [json-pointer:/view/blocks/0/element/initial_value]");
    cJSON_Delete(j);
    /* option text over 75 in a static select */
    char *o = repeat("o", 76);
    char view[1024];
    snprintf(view, sizeof(view), "{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\",\"text\":\"T\"},"
                                 "\"submit\":{\"type\":\"plain_text\",\"text\":\"S\"},\"blocks\":[{\"type\":\"input\","
                                 "\"label\":{\"type\":\"plain_text\",\"text\":\"L\"},\"element\":{\"type\":"
                                 "\"static_select\",\"options\":[{\"text\":{\"type\":\"plain_text\",\"text\":\"%s\"},"
                                 "\"value\":\"1\"}]}}]}", o);
    free(o);
    j = view_call(&fx, "views.open", view);
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"),
                  "[ERROR] must be less than 76 characters [json-pointer:/view/blocks/0/element/options/0/text/text]");
    cJSON_Delete(j);
    /* private_metadata over 3000 and 101 blocks */
    char *pm = repeat("m", 3001);
    cJSON *v = cJSON_Parse("{\"type\":\"modal\",\"title\":{\"type\":\"plain_text\",\"text\":\"T\"},\"blocks\":[]}");
    cJSON_AddStringToObject(v, "private_metadata", pm);
    free(pm);
    char *vs = cJSON_PrintUnformatted(v);
    j = view_call(&fx, "views.open", vs);
    free(vs);
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"),
                  "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]");
    cJSON_Delete(j);
    cJSON_DeleteItemFromObject(v, "private_metadata");
    cJSON *bl = cJSON_GetObjectItem(v, "blocks");
    for (int i = 0; i < 101; i++)
        cJSON_AddItemToArray(bl, cJSON_Parse("{\"type\":\"divider\"}"));
    vs = cJSON_PrintUnformatted(v);
    j = view_call(&fx, "views.open", vs);
    free(vs);
    cJSON_Delete(v);
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.messages.0"),
                  "[ERROR] must provide no more than 100 items [json-pointer:/view/blocks]");
    cJSON_Delete(j);
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 8);
    fc_end(&fx);
}

TEST(fake_blocks_refuses_response_url_bodies)
{
    struct fx fx;
    fc_begin(&fx);
    fx.allow_block_refusals = true;
    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/commands/T/1/y", fake_slack_port(fx.slack));
    char *s = repeat("z", 3001);
    char *body = msg_body(section_of(s));
    free(s);
    struct fc_http h = { .method = "POST", .url = url, .ctype = JSONT, .body = body };
    fc_http_run(&fx, &h);
    ASSERT_EQ(h.status, 400);
    cJSON *j = cJSON_Parse(h.resp.data);
    ASSERT_STR_EQ(fc_jstr(j, "error"), "invalid_blocks");
    ASSERT_STR_EQ(fc_jstr(j, "errors.0"), "must be less than 3001 characters [json-pointer:/blocks/0/text/text]");
    cJSON_Delete(j);
    fc_http_done(&h);
    free(body);
    body = msg_body(section_of("fine"));
    struct fc_http h2 = { .method = "POST", .url = url, .ctype = JSONT, .body = body };
    fc_http_run(&fx, &h2);
    ASSERT_EQ(h2.status, 200);
    fc_http_done(&h2);
    free(body);
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 1);
    fc_end(&fx);
}

/* Without allow_block_refusals the harness fails a test whose bot sent
 * something Slack would refuse: checked in a child so this test survives. */
TEST(fake_blocks_refusal_fails_the_test)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct fx fx;
        fc_begin(&fx);
        char err[512];
        char *s = repeat("a", 3001);
        post_blocks(&fx, "chat.postMessage", section_of(s), err, sizeof(err));
        free(s);
        fc_end(&fx);   /* must exit(1) */
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 1);
}
