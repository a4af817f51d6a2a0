/* End-to-end tests for signals and start-up errors: SIGHUP reloads the team
 * config (a valid change takes effect, a broken file is refused with the
 * reason in the log and the running config kept, the bot never dies of
 * it), and a start-up error is both the plain "sirtbot: ..." line and a
 * JSON log line.  The real bot against the fake Slack (tests/harness.h). */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fakes/fake_slack.h"
#include "harness.h"
#include "test.h"

static const char *ack_text(struct fx *fx, const char *eid)
{
    if (!fx_wait_ack(fx, eid, 5000))
        TEST_FAIL("envelope %s not acked", eid);
    return fx_ack_text(fx, eid);
}

static const char *review_by(struct fx *fx, const char *user)
{
    const char *eid = fake_slack_send_slash(fx->slack, user, "C0PUBLIC1", "review");
    ASSERT_NOT_NULL(eid);
    return ack_text(fx, eid);
}

struct count_ud {
    const char *needle;
    size_t want;
};

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool pred_count(struct fx *fx, void *ud)
{
    struct count_ud *c = ud;
    return count_in(fx_stderr_since_spawn(fx), c->needle) >= c->want;
}

/* Sends SIGHUP and waits for the n-th line containing needle. */
static void hup_and_wait(struct fx *fx, const char *needle, size_t n)
{
    ASSERT_EQ(uv_process_kill(&fx->proc, SIGHUP), 0);
    struct count_ud c = { needle, n };
    if (!fx_wait(fx, pred_count, &c, 5000))
        TEST_FAIL("no %zu x \"%s\" after SIGHUP", n, needle);
}

static const char new_config[] =
    "{\"timezone\": \"UTC\", \"sirt_channel\": \"C0SIRT0009\",\n"
    " \"sirt_team\": [\"U0SIRT001\", \"U0NEWSIRT1\"],\n"
    " \"appsec\": [{\"user\": \"U0APPSEC2\", \"tz\": \"Europe/Amsterdam\"},\n"
    "            {\"user\": \"U0APPSEC1\"},\n"
    "            {\"user\": \"U0SIRT002\", \"tz\": \"Asia/Tokyo\", \"hours\": \"22:00-06:00\"}],\n"
    " \"components\": [{\"name\": \"gitaly\", \"em\": \"U0EM00001\"}, {\"name\": \"pages\"}]}\n";

TEST_T(e2e_sighup_reloads_valid_config, 120)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_add_user(fx.slack, "U0NEWSIRT1", "newsirt", "newsirt@example.com", "UTC");
    fx_start(&fx, NULL);
    ASSERT_CONTAINS(review_by(&fx, "U0NEWSIRT1"), "Only the SIRT team");
    ASSERT_CONTAINS(review_by(&fx, "U0SIRT001"), "<#C0SIRT0001>");
    size_t lookups = fake_slack_call_count(fx.slack, "users.info");

    fx_write_config(&fx, new_config);
    hup_and_wait(&fx, "\"msg\":\"config reloaded\"", 1);
    /* The new member may act, the new channel is used, the socket stayed. */
    ASSERT_CONTAINS(review_by(&fx, "U0NEWSIRT1"), "Posting the weekly review in <#C0SIRT0009>");
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 1);
    /* The appsec list grew and one engineer lost its tz: her zone is asked
     * from Slack again and lands in the new, larger table. */
    ASSERT(fx_wait_calls(&fx, "users.info", lookups + 1, 5000));
    struct count_ud z = { "appsec zone from Slack profile", 1 };
    ASSERT(fx_wait(&fx, pred_count, &z, 5000));
    ASSERT(fx_stderr_has(&fx, "America/Los_Angeles"));

    /* Reloading the same file again is harmless. */
    hup_and_wait(&fx, "\"msg\":\"config reloaded\"", 2);
    ASSERT_CONTAINS(review_by(&fx, "U0NEWSIRT1"), "<#C0SIRT0009>");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_sighup_refuses_broken_config, 120)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT_CONTAINS(review_by(&fx, "U0SIRT001"), "<#C0SIRT0001>");
    const char *refused = "config reload refused: keeping the running config";

    /* An unknown zone: refused, the message names the key and the zone. */
    fx_write_config(&fx, "{\"sirt_team\": [\"U0OTHER01\"], \"timezone\": \"Mars/Olympus_Mons\"}");
    hup_and_wait(&fx, refused, 1);
    ASSERT(fx_stderr_has(&fx, "key \\\"timezone\\\": unknown time zone \\\"Mars/Olympus_Mons\\\""));
    /* Not JSON, then a typo in a key, then no file at all. */
    fx_write_config(&fx, "{\"sirt_team\": [\"U0OTHER01\"],");
    hup_and_wait(&fx, refused, 2);
    ASSERT(fx_stderr_has(&fx, "not valid JSON near line 1"));
    fx_write_config(&fx, "{\"sirt_teem\": [\"U0OTHER01\"]}");
    hup_and_wait(&fx, refused, 3);
    ASSERT(fx_stderr_has(&fx, "did you mean \\\"sirt_team\\\""));
    ASSERT_EQ(unlink(fx.config_path), 0);
    hup_and_wait(&fx, refused, 4);
    ASSERT(fx_stderr_has(&fx, "cannot read team config"));

    /* Still the old config, still online on the same socket, still working. */
    ASSERT_CONTAINS(review_by(&fx, "U0SIRT001"), "Posting the weekly review in <#C0SIRT0001>");
    ASSERT_CONTAINS(review_by(&fx, "U0OTHER01"), "Only the SIRT team");
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 1);
    ASSERT(!fx_stderr_has(&fx, "\"msg\":\"config reloaded\""));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_start_up_error_is_a_line_and_a_json_log_line, 60)
{
    struct fx fx;
    fx_init(&fx);
    fx_write_config(&fx, "{\"appsec\": [{\"user\": \"U0APPSEC1\", \"tz\": \"Mars/Olympus_Mons\"}]}");
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 30000), 1);
    const char *err = fx_stderr_since_spawn(&fx);
    /* The plain line, at the start of a line, as before. */
    char want[600];
    snprintf(want, sizeof(want), "sirtbot: %s: key \"appsec[0].tz\": unknown time zone \"Mars/Olympus_Mons\"\n",
             fx.config_path);
    ASSERT_CONTAINS(err, want);
    /* And one JSON line saying the same. */
    size_t found = 0;
    for (const char *line = err; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        cJSON *j = cJSON_ParseWithLength(line, n);
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "msg");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *lvl = cJSON_GetObjectItemCaseSensitive(j, "level");
        if (cJSON_IsString(msg) && strcmp(msg->valuestring, "start-up failed") == 0) {
            ASSERT_STR_EQ(lvl->valuestring, "error");
            ASSERT(cJSON_IsString(e));
            ASSERT_CONTAINS(e->valuestring, "key \"appsec[0].tz\": unknown time zone \"Mars/Olympus_Mons\"");
            found++;
        }
        cJSON_Delete(j);
        line = nl ? nl + 1 : NULL;
    }
    ASSERT_EQ(found, 1);
    ASSERT_EQ(fake_slack_ws_total(fx.slack), 0);
    fx_finish(&fx);
}
