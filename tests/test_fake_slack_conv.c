/* test_fake_slack_conv: self-tests of fake_slack's channels
 * (conversations.create/list/info/invite/open), pins, users lookups, the
 * delay knob and interactive envelopes (tests/fakes/fake_slack_conv.c and
 * friends), through its Web API from a helper thread (fake_clients). */
#include <curl/curl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

static cJSON *slack(struct fx *fx, const char *method, const char *json, long *st)
{
    return fc_api(fx, "POST", method, XOXB, JSONT, json, st);
}

static bool ok(const cJSON *j)
{
    return cJSON_IsTrue(fc_jpath(j, "ok"));
}

/* slack() with the answer dropped: whether it was ok. */
static bool slack_ok(struct fx *fx, const char *method, const char *json)
{
    cJSON *j = slack(fx, method, json, NULL);
    bool r = ok(j);
    cJSON_Delete(j);
    return r;
}

/* slack() whose answer has want at path (fc_api_expect). */
static void slack_expect(struct fx *fx, const char *method, const char *json, const char *path, const char *want)
{
    fc_api_expect(fx, "POST", method, JSONT, json, path, want);
}

TEST(fake_slack_channels_create_list_info)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    long st;
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"sirt-1-token-leak\",\"is_private\":true}", &st);
    ASSERT(ok(j));
    char id1[32];
    str_lcpy(id1, fc_jstr(j, "channel.id"), sizeof(id1));
    ASSERT_STR_EQ(fc_jstr(j, "channel.creator"), "U0BOT0001");
    ASSERT(cJSON_IsTrue(fc_jpath(j, "channel.is_private")));
    cJSON_Delete(j);
    slack_expect(&fx, "conversations.create", "{\"name\":\"sirt-1-token-leak\"}", "error", "name_taken");
    slack_expect(&fx, "conversations.create", "{\"name\":\"Has Caps\"}", "error", "invalid_name_specials");
    char long_name[120];
    memset(long_name, 'a', 81);
    long_name[81] = '\0';
    char body[200];
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", long_name);
    slack_expect(&fx, "conversations.create", body, "error", "invalid_name_maxlength");
    slack_expect(&fx, "conversations.create", "{}", "error", "invalid_name_required");
    long_name[80] = '\0';
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", long_name);
    j = slack(&fx, "conversations.create", body, &st);     /* 80 is fine, public */
    ASSERT(ok(j));
    cJSON_Delete(j);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "{\"name\":\"priv_%d\",\"is_private\":true}", i);
        cJSON_Delete(slack(&fx, "conversations.create", body, &st));
    }
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 5);
    const struct fake_channel *c = fake_slack_channel_by_name(fx.slack, "sirt-1-token-leak");
    ASSERT_NOT_NULL(c);
    ASSERT_STR_EQ(c->id, id1);
    ASSERT(c->is_private);
    ASSERT_EQ(c->n_members, 1);
    ASSERT(fake_slack_channel_has_member(c, "U0BOT0001"));
    ASSERT(fake_slack_channel_by_id(fx.slack, id1) == c);
    ASSERT(fake_slack_channel(fx.slack, 0) == c);
    ASSERT_NULL(fake_slack_channel(fx.slack, 5));

    /* list: private only, two per page */
    const char *next = "";
    int seen = 0, pages = 0;
    char cursor[64] = "";
    for (; pages < 10; pages++) {
        snprintf(body, sizeof(body), "{\"types\":\"private_channel\",\"limit\":2%s%s%s}", cursor[0] ? ",\"cursor\":\"" : "",
                 cursor, cursor[0] ? "\"" : "");
        j = slack(&fx, "conversations.list", body, &st);
        ASSERT(ok(j));
        const cJSON *ch;
        cJSON_ArrayForEach(ch, fc_jpath(j, "channels")) {
            ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "is_private")));
            seen++;
        }
        next = fc_jstr(j, "response_metadata.next_cursor");
        ASSERT_NOT_NULL(next);
        str_lcpy(cursor, next, sizeof(cursor));
        cJSON_Delete(j);
        if (!cursor[0])
            break;
    }
    ASSERT_EQ(seen, 4);
    ASSERT_EQ(pages, 1);   /* two pages: 0 and 1 */
    /* form-encoded, both types, default limit */
    j = fc_api(&fx, "POST", "conversations.list", XOXB, FORMT, "types=public_channel%2Cprivate_channel", &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "channels")), 5);
    ASSERT_STR_EQ(fc_jstr(j, "response_metadata.next_cursor"), "");
    cJSON_Delete(j);
    j = slack(&fx, "conversations.list", "{}", &st);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "channels")), 1);   /* public only */
    cJSON_Delete(j);
    slack_expect(&fx, "conversations.list", "{\"cursor\":\"bogus\"}", "error", "invalid_cursor");

    snprintf(body, sizeof(body), "{\"channel\":\"%s\"}", id1);
    j = slack(&fx, "conversations.info", body, &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "channel.name"), "sirt-1-token-leak");
    cJSON_Delete(j);
    slack_expect(&fx, "conversations.info", "{\"channel\":\"C0NOPE\"}", "error", "channel_not_found");
    fc_end(&fx);
}

TEST(fake_slack_invite_pins_open_lookup)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    long st;
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"sirt-2-x\",\"is_private\":true}", &st);
    char id[32], body[256];
    str_lcpy(id, fc_jstr(j, "channel.id"), sizeof(id));
    cJSON_Delete(j);

    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0REPORT1,U0SIRT001\"}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "channel.id"), id);
    cJSON_Delete(j);
    const struct fake_channel *c = fake_slack_channel_by_id(fx.slack, id);
    ASSERT_EQ(c->n_members, 3);
    ASSERT(fake_slack_channel_has_member(c, "U0SIRT001"));
    slack_expect(&fx, "conversations.invite", body, "error", "already_in_channel");
    /* some already in, one new: ok */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0SIRT001,U0SIRT002\"}", id);
    ASSERT(slack_ok(&fx, "conversations.invite", body));
    ASSERT_EQ(c->n_members, 4);
    /* the bot itself, without force: nobody is added */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0APPSEC1,U0BOT0001\"}", id);
    slack_expect(&fx, "conversations.invite", body, "error", "cant_invite_self");
    ASSERT(!fake_slack_channel_has_member(c, "U0APPSEC1"));
    /* with force the valid ones are added and the errors listed */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"users\":\"U0APPSEC1,U0BOT0001,bogus\",\"force\":true}", id);
    j = slack(&fx, "conversations.invite", body, &st);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "ok")));
    ASSERT_STR_EQ(fc_jstr(j, "error"), "cant_invite_self");
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "errors")), 2);
    ASSERT_STR_EQ(fc_jstr(j, "errors.0.user"), "U0BOT0001");
    ASSERT(cJSON_IsFalse(fc_jpath(j, "errors.0.ok")));
    ASSERT_STR_EQ(fc_jstr(j, "errors.1.error"), "user_not_found");
    cJSON_Delete(j);
    ASSERT(fake_slack_channel_has_member(c, "U0APPSEC1"));
    ASSERT_EQ(c->n_members, 5);
    /* an unknown C id is accepted and remembered as seen */
    ASSERT(slack_ok(&fx, "conversations.invite", "{\"channel\":\"C0SIRT0001\",\"users\":\"U0APPSEC2\"}"));
    const struct fake_channel *s = fake_slack_channel_by_id(fx.slack, "C0SIRT0001");
    ASSERT_NOT_NULL(s);
    ASSERT(!s->known);
    ASSERT(fake_slack_channel_has_member(s, "U0APPSEC2"));
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    fake_slack_add_channel(fx.slack, "C0SIRT0001", "sirt", false);
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 2);
    ASSERT(fake_slack_channel_by_name(fx.slack, "sirt") == s);
    slack_expect(&fx, "conversations.invite", "{\"channel\":\"X1\",\"users\":\"U0APPSEC2\"}", "error", "channel_not_found");

    /* pins */
    snprintf(body, sizeof(body), "{\"channel\":\"%s\",\"timestamp\":\"1700000000.000100\"}", id);
    ASSERT(slack_ok(&fx, "pins.add", body));
    slack_expect(&fx, "pins.add", body, "error", "already_pinned");
    slack_expect(&fx, "pins.add", "{\"channel\":\"C1\"}", "error", "no_item_specified");
    ASSERT_EQ(fake_slack_pin_count(fx.slack), 1);
    ASSERT(fake_slack_is_pinned(fx.slack, id, "1700000000.000100"));
    ASSERT(!fake_slack_is_pinned(fx.slack, id, "1700000000.000200"));

    j = slack(&fx, "chat.update", "{\"channel\":\"C1\",\"ts\":\"1.2\",\"text\":\"new\"}", &st);
    ASSERT(ok(j));
    ASSERT_STR_EQ(fc_jstr(j, "text"), "new");
    cJSON_Delete(j);
    slack_expect(&fx, "conversations.open", "{\"users\":\"U0SECOPS1\"}", "channel.id", "D0SECOPS1");
    slack_expect(&fx, "users.lookupByEmail", "{\"email\":\"secops@example.com\"}", "user.id", "U0SECOPS1");
    fc_end(&fx);
}

TEST(fake_slack_delay_knob)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    fake_slack_delay(fx.slack, "conversations.create", 1, 700);
    long st;
    uint64_t t0 = uv_hrtime();
    cJSON *j = slack(&fx, "conversations.create", "{\"name\":\"slow\"}", &st);
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    ASSERT(ok(j));
    ASSERT_GE(ms, 650);
    cJSON_Delete(j);
    t0 = uv_hrtime();
    j = slack(&fx, "conversations.create", "{\"name\":\"fast\"}", &st);
    ASSERT_LE((uv_hrtime() - t0) / 1000000u, 500);
    cJSON_Delete(j);
    /* a GET (answered from LWS_CALLBACK_HTTP) can be delayed too */
    fake_slack_delay(fx.slack, "users.info", 1, 400);
    char url[256];
    snprintf(url, sizeof(url), "%s/users.info?user=U0APPSEC1", fake_slack_api_url(fx.slack));
    struct fc_http r = { .method = "GET", .url = url, .auth = XOXB };
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_GE(r.ms, 350);
    ASSERT_CONTAINS(r.resp.data, "alice");
    fc_http_done(&r);

    /* the effect happens even if the client gives up; destroy with one pending */
    fake_slack_delay(fx.slack, "conversations.create", 2, 1500);
    snprintf(url, sizeof(url), "%s/conversations.create?token=xoxb-t&name=gone", fake_slack_api_url(fx.slack));
    struct fc_http g = { .method = "GET", .url = url, .timeout_ms = 200 };
    ASSERT_EQ(fc_http_status(&fx, &g), -1);
    ASSERT_NOT_NULL(fake_slack_channel_by_name(fx.slack, "gone"));
    snprintf(url, sizeof(url), "%s/conversations.create?token=xoxb-t&name=pending", fake_slack_api_url(fx.slack));
    struct fc_http g2 = { .method = "GET", .url = url, .timeout_ms = 200 };
    fc_http_raw(&fx, &g2);
    fc_http_done(&g2);
    fc_end(&fx);
}

TEST(fake_slack_send_interactive)
{
    struct fx fx;
    fc_begin_opts(&fx, 0);
    ASSERT_NULL(fake_slack_send_interactive(fx.slack, NULL));   /* no socket yet */
    fc_end(&fx);
}
