/* The command line: --help, --version (and the one place the version is
 * written, CHANGELOG.md agreeing), --check-config against the fakes (all
 * well, then one problem of each kind), the example config's placeholders
 * refused at start, and `sirtbot backup FILE` of a running bot's SQLite
 * database.  The real binary, run with arguments (tests/harness_cli.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bot/check.h"
#include "../bot/config.h"
#include "../bot/store.h"
#include "../bot/version.h"
#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"

TEST_T(cli_version_help_and_usage, 90)
{
    struct fx fx;
    fx_init(&fx);
    char *out = NULL, *err = NULL;
    const char *v[] = { "--version", NULL };
    ASSERT_EQ(fx_cli_run(&fx, v, NULL, &out, &err, 10000), 0);
    ASSERT_STR_EQ(out, "sirtbot " SIRT_VERSION "\n");
    free(out);
    free(err);

    const char *h[] = { "--help", NULL };
    ASSERT_EQ(fx_cli_run(&fx, h, NULL, &out, &err, 10000), 0);
    ASSERT_CONTAINS(out, "--check-config");
    ASSERT_CONTAINS(out, "backup FILE");
    ASSERT_CONTAINS(out, "SLACK_APP_TOKEN");
    free(out);
    free(err);

    const char *bad[] = { "--frobnicate", NULL };
    ASSERT_EQ(fx_cli_run(&fx, bad, NULL, &out, &err, 10000), 2);
    ASSERT_CONTAINS(err, "unknown argument \"--frobnicate\"");
    ASSERT_CONTAINS(err, "usage: sirtbot");
    ASSERT_STR_EQ(out, "");
    free(out);
    free(err);

    const char *b2[] = { "backup", NULL };
    ASSERT_EQ(fx_cli_run(&fx, b2, NULL, &out, &err, 10000), 2);
    ASSERT_CONTAINS(err, "name the file to write");
    free(out);
    free(err);
    fx_finish(&fx);
}

TEST(cli_changelog_carries_the_version)
{
    char *log = test_repo_file("CHANGELOG.md");
    const char *first = strstr(log, "\n## ");
    ASSERT_NOT_NULL(first);
    char want[64];
    snprintf(want, sizeof(want), "\n## %s ", SIRT_VERSION);
    if (strncmp(first, want, strlen(want)) != 0)
        TEST_FAIL("CHANGELOG.md's newest entry is not %s", SIRT_VERSION);
    free(log);
}

/* Every id of sirt.example.json is a placeholder; the harness's ids are not. */
TEST(cli_example_ids_are_placeholders)
{
    char *text = test_repo_file("sirt.example.json");
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    if (cfg_parse_team(&c, "sirt.example.json", text, strlen(text), err, sizeof(err)) != 0)
        TEST_FAIL("%s", err);
    cJSON *j = cJSON_Parse(text);
    ASSERT_NOT_NULL(j);
    /* count the id-shaped strings in the file: all must be flagged */
    size_t ids = 0;
    for (const char *p = text; (p = strstr(p, "EXAMPLE")) != NULL; p++)
        ids++;
    ASSERT(ids >= 10);
    ASSERT_EQ(check_placeholders(&c, NULL, NULL), ids);
    cJSON_Delete(j);
    cfg_finish(&c);
    free(text);

    memset(&c, 0, sizeof(c));
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", fx_default_config, strlen(fx_default_config), err, sizeof(err)), 0);
    ASSERT_EQ(check_placeholders(&c, NULL, NULL), 0);
    cfg_finish(&c);
    ASSERT(check_is_placeholder("U0EXAMPLE01"));
    ASSERT(!check_is_placeholder("U0SIRT001"));
    ASSERT(!check_is_placeholder(NULL));
}

TEST_T(cli_placeholder_config_refused_at_start, 60)
{
    struct fx fx;
    fx_init(&fx);
    char *text = test_repo_file("sirt.example.json");
    fx_write_config(&fx, text);
    free(text);
    ASSERT_EQ(fx_spawn(&fx, NULL), 0);
    ASSERT_EQ(fx_wait_exit(&fx, 30000), 1);
    ASSERT(fx_stderr_has(&fx, "sirt_channel: \\\"C0EXAMPLE01\\\" is a placeholder from sirt.example.json"));
    ASSERT(fx_stderr_has(&fx, CHECK_IDS_DOC));
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 0);
    fx_finish(&fx);
}

/* The fixture's Slack knows the default config's users; the SIRT and
 * component channels exist with the bot in them. */
static void known_channels(struct fx *fx)
{
    fake_slack_add_channel(fx->slack, "C0SIRT0001", "sirt", true);
    fake_slack_add_channel(fx->slack, "C0GITALY1", "gitaly", false);
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (const char *p = s; p && *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

TEST_T(cli_check_config_all_well, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    known_channels(&fx);
    char *out = NULL, *err = NULL;
    const char *a[] = { "--check-config", NULL };
    int rc = fx_cli_run(&fx, a, NULL, &out, &err, 30000);
    if (rc != 0)
        TEST_FAIL("exit %d:\n%s%s", rc, out, err);
    ASSERT_CONTAINS(out, "SLACK_BOT_TOKEN: authenticated as");
    ASSERT_CONTAINS(out, "SLACK_APP_TOKEN: Socket Mode connections can be opened");
    ASSERT_CONTAINS(out, "of 9 configured users found");
    ASSERT_CONTAINS(out, "9 of 9");
    ASSERT_CONTAINS(out, "sirt_channel: #sirt (C0SIRT0001), the bot is a member");
    ASSERT_CONTAINS(out, "sirt_channel is private");
    ASSERT_CONTAINS(out, "components[0].channel: #gitaly (C0GITALY1)");
    ASSERT_CONTAINS(out, "PagerDuty: schedule PSCHED1 (Security on-call) readable");
    ASSERT_CONTAINS(out, "GitLab: namespace 42 (security/incidents) reachable");
    ASSERT_CONTAINS(out, "will be created");
    ASSERT_CONTAINS(out, "all is well");
    ASSERT_EQ(count_lines(out, "problem"), 0);
    /* it read; it changed nothing */
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 0);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 0);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    free(out);
    free(err);
    fx_finish(&fx);
}

TEST_T(cli_check_config_lists_every_problem, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    /* the SIRT channel is public and the bot left it; the component's
     * channel does not exist; a director is unknown; the schedule and the
     * namespace do not exist */
    fake_slack_add_channel(fx.slack, "C0SIRT0001", "sirt", false);
    fake_slack_channel_remove_member(fx.slack, "C0SIRT0001", "U0BOT0001");
    char *cfg = xstrdup(fx_default_config);
    char *p = strstr(cfg, "U0DIRINF1");
    ASSERT_NOT_NULL(p);
    memcpy(p, "U0NOBODY1", 9);
    p = strstr(cfg, "PSCHED1");
    memcpy(p, "PNOSUCH", 7);
    p = strstr(cfg, "\"namespace_id\": 42");
    memcpy(p, "\"namespace_id\": 77", 18);
    fx_write_config(&fx, cfg);
    free(cfg);
    char *out = NULL, *err = NULL;
    const char *a[] = { "--check-config", NULL };
    ASSERT_EQ(fx_cli_run(&fx, a, NULL, &out, &err, 30000), 1);
    ASSERT_CONTAINS(out, "problem  directors: user U0NOBODY1: user_not_found");
    ASSERT_CONTAINS(out, "problem  sirt_channel: the bot is not in #sirt (C0SIRT0001)");
    ASSERT_CONTAINS(out, "note     sirt_channel is public");
    ASSERT_CONTAINS(out, "problem  components[0].channel: channel C0GITALY1 not found");
    ASSERT_CONTAINS(out, "problem  secops_oncall.pagerduty_schedule: schedule PNOSUCH not found");
    ASSERT_CONTAINS(out, "problem  gitlab.namespace_id: namespace 77 not found");
    ASSERT_EQ(count_lines(out, "problem"), 5);
    ASSERT_CONTAINS(out, "\n5 problems\n");
    free(out);
    free(err);

    /* wrong tokens: each said, the checks that need them skipped */
    const char *env[] = { "SLACK_BOT_TOKEN=xoxb-revoked", "PAGERDUTY_API_TOKEN=nope", "GITLAB_TOKEN=nope", NULL };
    fake_slack_only_bot_token(fx.slack, "xoxb-test-token");
    fake_slack_add_channel(fx.slack, "C0GITALY1", "gitaly", false);
    ASSERT_EQ(fx_cli_run(&fx, a, env, &out, &err, 30000), 1);
    ASSERT_CONTAINS(out, "problem  SLACK_BOT_TOKEN: auth.test failed: invalid_auth");
    ASSERT_CONTAINS(out, "problem  PAGERDUTY_API_TOKEN was refused by PagerDuty (401)");
    ASSERT_CONTAINS(out, "problem  GITLAB_TOKEN was refused by GitLab (401)");
    free(out);
    free(err);

    /* a config that does not load: one line, exit 1 */
    fx_write_config(&fx, "{\"timezone\": \"Mars/Olympus\"}");
    ASSERT_EQ(fx_cli_run(&fx, a, NULL, &out, &err, 30000), 1);
    ASSERT_CONTAINS(out, "problem  ");
    ASSERT_CONTAINS(out, "Mars/Olympus");
    ASSERT_CONTAINS(out, "nothing else was checked");
    free(out);
    free(err);
    fx_finish(&fx);
}

static bool pred_pinned(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_pin_count(fx->slack) >= 1;
}

TEST_T(cli_backup_of_a_running_bot, 150)
{
    struct fx fx;
    fx_init(&fx);
    known_channels(&fx);
    fx_start(&fx, NULL);
    static const struct report_fields f = {
        .title = "Backup drill", .what = "Something happened.", .severity = "3", .priority = "3",
        .component = "gitaly", .repro = "GET /x", .link = "",
    };
    cJSON *p = report_submission_payload("V0BACKUP01", "U0REPORT1", &f);
    fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    ASSERT(fx_wait(&fx, pred_pinned, NULL, 60000));

    char file[400];
    snprintf(file, sizeof(file), "%s/backup-1.db", fx.dir);
    char *out = NULL, *err = NULL;
    const char *a[] = { "backup", file, NULL };
    int rc = fx_cli_run(&fx, a, NULL, &out, &err, 30000);
    if (rc != 0)
        TEST_FAIL("backup exit %d: %s", rc, err);
    ASSERT_CONTAINS(err, "checked");
    free(out);
    free(err);
    struct stat st;
    ASSERT_EQ(stat(file, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);

    /* an existing file is never overwritten */
    ASSERT_EQ(fx_cli_run(&fx, a, NULL, &out, &err, 30000), 1);
    ASSERT_CONTAINS(err, "already exists");
    free(out);
    free(err);
    /* PostgreSQL: pg_dump */
    const char *pg[] = { "SIRT_DB=postgres://localhost/sirt", NULL };
    char file2[400];
    snprintf(file2, sizeof(file2), "%s/backup-2.db", fx.dir);
    const char *a2[] = { "backup", file2, NULL };
    ASSERT_EQ(fx_cli_run(&fx, a2, pg, &out, &err, 30000), 1);
    ASSERT_CONTAINS(err, "pg_dump");
    ASSERT(access(file2, F_OK) != 0);
    free(out);
    free(err);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);

    /* the copy is a working database with the incident in it */
    char e2[200];
    struct store *s = NULL;
    ASSERT_EQ(store_open(&s, file, e2, sizeof(e2)), 0);
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    ASSERT_EQ(store_incident_get(s, 1, &inc), 0);
    ASSERT_STR_EQ(inc.title, "Backup drill");
    incident_finish(&inc);
    store_close(s);
    fx_finish(&fx);
}
