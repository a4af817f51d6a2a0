/* test_config_team: the team config's parser (sirt.json): a full file
 * read back field by field, defaults, the example file, GitLab user names,
 * every class of error (syntax, unknown keys, wrong types, bad values,
 * missing keys, zones), time zones and work hours, and that a failed parse
 * frees what it had built.  Every error is one line naming the key. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bot/config.h"
#include "../bot/util.h"
#include "test.h"

/* Parses json into c (zeroed first), failing the test with the error. */
static void parse_ok(struct cfg *c, const char *json)
{
    memset(c, 0, sizeof(*c));
    char err[512] = "";
    if (cfg_parse_team(c, "sirt.json", json, strlen(json), err, sizeof(err)) != 0)
        TEST_FAIL("%s: %s", json, err);
}

/* Parses text and expects an error containing `want`; returns nothing. */
static void expect_team_error(const char *json, const char *want)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[512] = "";
    int rc = cfg_parse_team(&c, "sirt.json", json, strlen(json), err, sizeof(err));
    if (rc != -1)
        TEST_FAIL("expected an error containing \"%s\" for %s", want, json);
    ASSERT_CONTAINS(err, want);
    ASSERT_ONE_LINE(err);
    ASSERT(str_starts(err, "sirt.json: "));
    /* finished on error: nothing left to free */
    ASSERT_NULL(c.timezone);
    ASSERT_NULL(c.appsec);
    ASSERT_NULL(c.components);
    ASSERT_NULL(c.sirt_team.v);
}

static const char full_json[] =
    "{\n"
    "  \"timezone\": \"Europe/Amsterdam\",\n"
    "  \"sirt_channel\": \"C0SIRT0001\",\n"
    "  \"sirt_team\": [\"U0SIRT001\", \"U0SIRT002\"],\n"
    "  \"severity1_responders\": [\"U0SIRT001\"],\n"
    "  \"directors\": [\"U0DIRSEC1\", \"W0DIRINF1\"],\n"
    "  \"appsec\": [\n"
    "    {\"user\": \"U0APPSEC1\", \"tz\": \"America/Los_Angeles\", \"hours\": \"08:30-16:45\", \"gitlab\": \"alice\"},\n"
    "    {\"user\": \"U0APPSEC2\", \"tz\": \"Asia/Tokyo\", \"hours\": \"22:00-06:00\"},\n"
    "    {\"user\": \"U0APPSEC3\"}\n"
    "  ],\n"
    "  \"secops_oncall\": {\"pagerduty_schedule\": \"PSCHED1\", \"fallback_user\": \"U0SECOPS1\"},\n"
    "  \"components\": [\n"
    "    {\"name\": \"gitaly\", \"em\": \"U0EM00001\", \"pm\": \"U0PM00001\", \"channel\": \"C0GITALY1\",\n"
    "     \"gitlab_em\": \"em-gitaly\", \"gitlab_pm\": \"pm.gitaly\"},\n"
    "    {\"name\": \"ci_runner-2\"}\n"
    "  ],\n"
    "  \"handoff\": {\"lead_minutes\": 45, \"accept_minutes\": 12},\n"
    "  \"gitlab\": {\"namespace_id\": 9876543210},\n"
    "  \"retention\": {\"days\": 730}\n"
    "}\n";

/* ---- team config: round trip ---- */

TEST(cfg_team_full_roundtrip)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256];
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", full_json, strlen(full_json), err, sizeof(err)), 0);
    ASSERT_STR_EQ(c.timezone, "Europe/Amsterdam");
    ASSERT_STR_EQ(c.sirt_channel, "C0SIRT0001");
    ASSERT_EQ(c.sirt_team.n, 2);
    ASSERT_STR_EQ(c.sirt_team.v[0], "U0SIRT001");
    ASSERT_STR_EQ(c.sirt_team.v[1], "U0SIRT002");
    ASSERT_EQ(c.severity1_responders.n, 1);
    ASSERT_STR_EQ(c.severity1_responders.v[0], "U0SIRT001");
    ASSERT_EQ(c.directors.n, 2);
    ASSERT_STR_EQ(c.directors.v[1], "W0DIRINF1");

    ASSERT_EQ(c.n_appsec, 3);
    ASSERT_STR_EQ(c.appsec[0].user, "U0APPSEC1");
    ASSERT_STR_EQ(c.appsec[0].tz, "America/Los_Angeles");
    ASSERT_STR_EQ(c.appsec[0].gitlab, "alice");
    ASSERT_EQ(c.appsec[0].start_min, 8 * 60 + 30);
    ASSERT_EQ(c.appsec[0].end_min, 16 * 60 + 45);
    ASSERT_STR_EQ(c.appsec[1].tz, "Asia/Tokyo");
    ASSERT_EQ(c.appsec[1].start_min, 22 * 60);
    ASSERT_EQ(c.appsec[1].end_min, 6 * 60);
    ASSERT_NULL(c.appsec[1].gitlab);
    ASSERT_STR_EQ(c.appsec[2].user, "U0APPSEC3");
    ASSERT_NULL(c.appsec[2].tz);
    ASSERT_EQ(c.appsec[2].start_min, 9 * 60);     /* default hours */
    ASSERT_EQ(c.appsec[2].end_min, 17 * 60);

    ASSERT_STR_EQ(c.secops_schedule, "PSCHED1");
    ASSERT_STR_EQ(c.secops_fallback_user, "U0SECOPS1");

    ASSERT_EQ(c.n_components, 2);
    ASSERT_STR_EQ(c.components[0].name, "gitaly");
    ASSERT_STR_EQ(c.components[0].em, "U0EM00001");
    ASSERT_STR_EQ(c.components[0].pm, "U0PM00001");
    ASSERT_STR_EQ(c.components[0].channel, "C0GITALY1");
    ASSERT_STR_EQ(c.components[0].gitlab_em, "em-gitaly");
    ASSERT_STR_EQ(c.components[0].gitlab_pm, "pm.gitaly");
    ASSERT_STR_EQ(c.components[1].name, "ci_runner-2");
    ASSERT_NULL(c.components[1].em);
    ASSERT_NULL(c.components[1].channel);

    ASSERT_EQ(c.handoff_lead_minutes, 45);
    ASSERT_EQ(c.handoff_accept_minutes, 12);
    ASSERT_EQ(c.gitlab_namespace_id, 9876543210LL);
    ASSERT_EQ(c.retention_days, 730);

    /* helpers */
    ASSERT(cfg_component(&c, "gitaly") == &c.components[0]);
    ASSERT_NULL(cfg_component(&c, "Gitaly"));
    ASSERT_NULL(cfg_component(&c, NULL));
    ASSERT(cfg_appsec_user(&c, "U0APPSEC2") == &c.appsec[1]);
    ASSERT_NULL(cfg_appsec_user(&c, "U0NOBODY1"));
    ASSERT(cfg_strv_has(&c.sirt_team, "U0SIRT002"));
    ASSERT(!cfg_strv_has(&c.sirt_team, "U0SIRT00"));
    ASSERT(!cfg_strv_has(&c.directors, NULL));
    cfg_finish(&c);
}

TEST(cfg_team_defaults_and_empty)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256];
    const char *j = "{}";
    parse_ok(&c, j);
    ASSERT_STR_EQ(c.timezone, "UTC");
    ASSERT_EQ(c.handoff_lead_minutes, 30);
    ASSERT_EQ(c.gitlab_namespace_id, 0);
    ASSERT_EQ(c.retention_days, 0);          /* absent: keep forever */
    cfg_finish(&c);
    j = "{\"retention\": {}}";
    parse_ok(&c, j);
    ASSERT_EQ(c.retention_days, 0);
    cfg_finish(&c);
    j = "{\"retention\": {\"days\": 36500}}";
    parse_ok(&c, j);
    ASSERT_EQ(c.retention_days, 36500);
    cfg_finish(&c);
    j = "{\"sirt_team\": [], \"appsec\": [], \"components\": [], \"handoff\": {},"
        " \"secops_oncall\": {}, \"gitlab\": {}, \"sirt_channel\": null, \"handoff\": {}}";
    /* duplicate "handoff" is an error */
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", j, strlen(j), err, sizeof(err)), -1);
    ASSERT_STR_EQ(err, "sirt.json: duplicate key \"handoff\"");
    j = "{\"sirt_team\": [], \"appsec\": [], \"components\": [], \"handoff\": {},"
        " \"secops_oncall\": {}, \"gitlab\": {}, \"sirt_channel\": null}";
    parse_ok(&c, j);
    ASSERT_EQ(c.handoff_lead_minutes, 30);
    ASSERT_EQ(c.sirt_team.n, 0);
    ASSERT_NULL(c.sirt_channel);
    ASSERT_EQ(c.n_appsec, 0);
    cfg_finish(&c);
    j = "{\"handoff\": {\"lead_minutes\": 0}}";
    parse_ok(&c, j);
    ASSERT_EQ(c.handoff_lead_minutes, 0);
    cfg_finish(&c);
}

TEST(cfg_team_example_file_parses)
{
    /* sirt.example.json at the repo root, found from this file's path. */
    char *text = test_repo_file("sirt.example.json");
    size_t n = strlen(text);
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    if (cfg_parse_team(&c, "sirt.example.json", text, n, err, sizeof(err)) != 0)
        TEST_FAIL("%s", err);
    ASSERT_EQ(c.n_appsec, 2);
    ASSERT_STR_EQ(c.appsec[1].tz, "Europe/Amsterdam");
    ASSERT_NOT_NULL(cfg_component(&c, "gitaly"));
    ASSERT_EQ(c.gitlab_namespace_id, 42);
    ASSERT_EQ(c.handoff_lead_minutes, 30);
    ASSERT_STR_EQ(cfg_gitlab_user(&c, "U0EXAMPLE07"), "sid");
    cfg_finish(&c);
    free(text);
}

TEST(cfg_team_gitlab_users)
{
    const char *json = "{\"appsec\": [{\"user\": \"U0APPSEC1\", \"gitlab\": \"alice\"}, {\"user\": \"U0APPSEC2\"}],"
                       " \"gitlab_users\": {\"U0SECOPS1\": \"sid\", \"U0APPSEC1\": \"alice-other\","
                       " \"U0APPSEC2\": \"bob.b\"}}";
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    if (cfg_parse_team(&c, "sirt.json", json, strlen(json), err, sizeof(err)) != 0)
        TEST_FAIL("%s", err);
    ASSERT_EQ(c.n_gitlab_users, 3);
    ASSERT_STR_EQ(cfg_gitlab_user(&c, "U0SECOPS1"), "sid");
    ASSERT_STR_EQ(cfg_gitlab_user(&c, "U0APPSEC1"), "alice");   /* appsec[].gitlab first */
    ASSERT_STR_EQ(cfg_gitlab_user(&c, "U0APPSEC2"), "bob.b");   /* appsec without gitlab: the map */
    ASSERT_NULL(cfg_gitlab_user(&c, "U0NOBODY1"));
    ASSERT_NULL(cfg_gitlab_user(&c, NULL));
    cfg_finish(&c);

    /* Absent or empty: nobody. */
    memset(&c, 0, sizeof(c));
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", "{\"gitlab_users\": {}}", 20, err, sizeof(err)), 0);
    ASSERT_EQ(c.n_gitlab_users, 0);
    ASSERT_NULL(cfg_gitlab_user(&c, "U0SECOPS1"));
    cfg_finish(&c);

    expect_team_error("{\"gitlab_users\": [\"sid\"]}",
                      "key \"gitlab_users\": expected an object of Slack user ids to GitLab usernames");
    expect_team_error("{\"gitlab_users\": {\"sid\": \"sid\"}}",
                      "key \"gitlab_users.sid\": not a Slack user id: expected a Slack user id");
    expect_team_error("{\"gitlab_users\": {\"U0SECOPS1\": \"@sid x\"}}",
                      "key \"gitlab_users.U0SECOPS1\": invalid value \"@sid x\": expected a GitLab username");
    expect_team_error("{\"gitlab_users\": {\"U0SECOPS1\": 7}}",
                      "key \"gitlab_users.U0SECOPS1\": expected a GitLab username");
    expect_team_error("{\"gitlab_users\": {\"U0SECOPS1\": \"sid\", \"U0SECOPS1\": \"sid2\"}}",
                      "duplicate key \"gitlab_users.U0SECOPS1\"");
    expect_team_error("{\"gitlab_user\": {}}", "unknown key \"gitlab_user\" (did you mean \"gitlab_users\"?)");
}

TEST(cfg_team_not_nul_terminated)
{
    /* The length bounds parsing: the tail after it is never read. */
    const char text[] = "{\"timezone\": \"UTC\"}GARBAGE";
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256];
    char *copy = xmalloc(19);
    memcpy(copy, text, 19);     /* exactly the object, no NUL */
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", copy, 19, err, sizeof(err)), 0);
    free(copy);
    cfg_finish(&c);
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", text, strlen(text), err, sizeof(err)), -1);
    ASSERT_STR_EQ(err, "sirt.json: not valid JSON near line 1 col 20");
}

/* ---- team config: every error class ---- */

TEST(cfg_team_syntax_errors)
{
    expect_team_error("", "sirt.json: not valid JSON near line 1 col 1");
    expect_team_error("{", "not valid JSON near line 1 col");
    expect_team_error("{\n  \"timezone\": \"UTC\",\n  \"directors\": [\"U0A\",]\n}",
                      "not valid JSON near line 3 col");
    expect_team_error("{\"a\": 1}\n{}", "not valid JSON near line 2 col 1");
    expect_team_error("[]", "sirt.json: the top level must be a JSON object");
    expect_team_error("\"UTC\"", "the top level must be a JSON object");
}

TEST(cfg_team_unknown_keys)
{
    expect_team_error("{\"sirt_chanel\": \"C0SIRT0001\"}", "sirt.json: unknown key \"sirt_chanel\"");
    expect_team_error("{\"sirt_chanel\": \"C0SIRT0001\"}", "(did you mean \"sirt_channel\"?)");
    expect_team_error("{\"Timezone\": \"UTC\"}", "unknown key \"Timezone\"");  /* case-sensitive */
    expect_team_error("{\"frobnicate\": 1}", "sirt.json: unknown key \"frobnicate\"");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\", \"huors\": \"09:00-17:00\"}]}",
                      "unknown key \"appsec[0].huors\"");
    expect_team_error("{\"secops_oncall\": {\"schedule\": \"P1\"}}",
                      "unknown key \"secops_oncall.schedule\"");
    expect_team_error("{\"components\": [{\"name\": \"a\"}, {\"name\": \"b\", \"owner\": \"x\"}]}",
                      "unknown key \"components[1].owner\"");
    expect_team_error("{\"handoff\": {\"lead\": 3}}", "unknown key \"handoff.lead\"");
    expect_team_error("{\"gitlab\": {\"group\": 3}}", "unknown key \"gitlab.group\"");
    expect_team_error("{\"a\\\"b\\nc\": 1}", "unknown key \"a\\\"b?c\"");   /* shown safely */
}

TEST(cfg_team_wrong_types)
{
    expect_team_error("{\"timezone\": 1}",
                      "sirt.json: key \"timezone\": expected a time zone name like \"Europe/Amsterdam\"");
    expect_team_error("{\"sirt_channel\": [\"C0SIRT0001\"]}",
                      "key \"sirt_channel\": expected a Slack channel id");
    expect_team_error("{\"sirt_team\": \"U0SIRT001\"}",
                      "key \"sirt_team\": expected an array of Slack user ids");
    expect_team_error("{\"directors\": [\"U0DIRSEC1\", 7]}",
                      "key \"directors[1]\": expected a Slack user id like \"U0123ABCD\"");
    expect_team_error("{\"appsec\": {\"user\": \"U0APPSEC1\"}}",
                      "key \"appsec\": expected an array of objects");
    expect_team_error("{\"appsec\": [\"U0APPSEC1\"]}", "key \"appsec[0]\": expected an object");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\"}, {\"user\": \"U0APPSEC2\", \"hours\": 9}]}",
                      "sirt.json: key \"appsec[1].hours\": expected a string like \"09:00-17:00\"");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\", \"gitlab\": true}]}",
                      "key \"appsec[0].gitlab\": expected a GitLab username");
    expect_team_error("{\"secops_oncall\": \"PSCHED1\"}", "key \"secops_oncall\": expected an object");
    expect_team_error("{\"secops_oncall\": {\"pagerduty_schedule\": 5}}",
                      "key \"secops_oncall.pagerduty_schedule\": expected a PagerDuty schedule id");
    expect_team_error("{\"handoff\": {\"lead_minutes\": \"30\"}}",
                      "key \"handoff.lead_minutes\": expected an integer from 0 to 720");
    expect_team_error("{\"handoff\": {\"lead_minutes\": 30.5}}",
                      "key \"handoff.lead_minutes\": invalid value 30.5");
    expect_team_error("{\"handoff\": {\"lead_minutes\": 721}}", "expected an integer from 0 to 720");
    expect_team_error("{\"handoff\": {\"lead_minutes\": -1}}", "expected an integer from 0 to 720");
    expect_team_error("{\"handoff\": {\"lead_minutes\": 1e400}}", "key \"handoff.lead_minutes\"");
    expect_team_error("{\"handoff\": {\"accept_minutes\": 0}}",
                      "key \"handoff.accept_minutes\": invalid value 0: expected an integer from 1 to 720");
    expect_team_error("{\"handoff\": {\"accept_minutes\": 721}}", "expected an integer from 1 to 720");
    expect_team_error("{\"handoff\": {\"accept_minutes\": \"30\"}}",
                      "key \"handoff.accept_minutes\": expected an integer from 1 to 720");
    expect_team_error("{\"handoff\": {\"accept_minutes\": 2.5}}", "key \"handoff.accept_minutes\"");
    expect_team_error("{\"retention\": {\"days\": 0}}",
                      "key \"retention.days\": invalid value 0: expected an integer from 1 to 36500 (days)");
    expect_team_error("{\"retention\": {\"days\": 36501}}", "expected an integer from 1 to 36500");
    expect_team_error("{\"retention\": {\"days\": -3}}", "key \"retention.days\": invalid value -3");
    expect_team_error("{\"retention\": {\"days\": 1.5}}", "key \"retention.days\"");
    expect_team_error("{\"retention\": {\"days\": \"730\"}}",
                      "key \"retention.days\": expected an integer from 1 to 36500 (days)");
    expect_team_error("{\"retention\": 730}", "key \"retention\": expected an object");
    expect_team_error("{\"retention\": {\"day\": 730}}", "retention.day");
    expect_team_error("{\"gitlab\": {\"namespace_id\": 0}}",
                      "key \"gitlab.namespace_id\": invalid value 0: expected a positive integer");
    expect_team_error("{\"gitlab\": {\"namespace_id\": 4.2}}", "key \"gitlab.namespace_id\"");
    expect_team_error("{\"gitlab\": {\"namespace_id\": \"42\"}}",
                      "key \"gitlab.namespace_id\": expected a positive integer");
    expect_team_error("{\"components\": [{\"name\": 3}]}",
                      "key \"components[0].name\": expected a component name");
}

TEST(cfg_team_bad_values)
{
    expect_team_error("{\"sirt_channel\": \"general\"}",
                      "sirt.json: key \"sirt_channel\": invalid value \"general\": expected a Slack channel id");
    expect_team_error("{\"sirt_channel\": \"U0SIRT001\"}", "key \"sirt_channel\": invalid value");
    expect_team_error("{\"sirt_team\": [\"U0SIRT001\", \"u0sirt002\"]}",
                      "key \"sirt_team[1]\": invalid value \"u0sirt002\": expected a Slack user id");
    expect_team_error("{\"severity1_responders\": [\"C0SIRT001\"]}",
                      "key \"severity1_responders[0]\": invalid value");
    expect_team_error("{\"secops_oncall\": {\"fallback_user\": \"@bob\"}}",
                      "key \"secops_oncall.fallback_user\": invalid value \"@bob\"");
    expect_team_error("{\"components\": [{\"name\": \"Gitaly\"}]}",
                      "key \"components[0].name\": invalid value \"Gitaly\"");
    expect_team_error("{\"components\": [{\"name\": \"\"}]}", "key \"components[0].name\": invalid value");
    expect_team_error("{\"components\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
                      "key \"components[1].name\": duplicate component \"a\"");
    expect_team_error("{\"components\": [{\"name\": \"a\", \"channel\": \"D0123ABCD\"}]}",
                      "key \"components[0].channel\": invalid value");
    expect_team_error("{\"components\": [{\"name\": \"a\", \"gitlab_em\": \"@em gitaly\"}]}",
                      "key \"components[0].gitlab_em\": invalid value");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\"}, {\"user\": \"U0APPSEC1\"}]}",
                      "key \"appsec[1].user\": duplicate appsec user");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\", \"hours\": \"9-17\"}]}",
                      "key \"appsec[0].hours\": invalid value \"9-17\": expected a string like \"09:00-17:00\"");
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\", \"hours\": \"09:00-09:00\"}]}",
                      "key \"appsec[0].hours\": invalid value");
}

TEST(cfg_team_missing_required)
{
    expect_team_error("{\"appsec\": [{\"tz\": \"UTC\"}]}",
                      "sirt.json: key \"appsec[0].user\" is missing (it is required)");
    expect_team_error("{\"appsec\": [{\"user\": null}]}", "key \"appsec[0].user\" is missing");
    expect_team_error("{\"components\": [{\"name\": \"a\"}, {\"em\": \"U0EM00001\"}]}",
                      "key \"components[1].name\" is missing");
}

TEST(cfg_team_bad_zones)
{
    expect_team_error("{\"appsec\": [{\"user\": \"U0APPSEC1\", \"tz\": \"Mars/Olympus\"}]}",
                      "sirt.json: key \"appsec[0].tz\": unknown time zone \"Mars/Olympus\"");
    expect_team_error("{\"timezone\": \"../../etc/passwd\"}",
                      "key \"timezone\": unknown time zone \"../../etc/passwd\"");
    expect_team_error("{\"timezone\": \"/etc/localtime\"}", "unknown time zone");
    expect_team_error("{\"timezone\": \"\"}", "unknown time zone \"\"");
    expect_team_error("{\"timezone\": \"zone.tab\"}", "unknown time zone");
}

/* ---- zones and hours ---- */

TEST(cfg_zone_exists_cases)
{
    ASSERT(cfg_zone_exists("UTC"));
    ASSERT(cfg_zone_exists("Europe/Amsterdam"));
    ASSERT(cfg_zone_exists("America/Los_Angeles"));
    ASSERT(cfg_zone_exists("Asia/Kolkata"));
    ASSERT(cfg_zone_exists("Etc/GMT+5"));
    ASSERT(!cfg_zone_exists("Mars/Olympus"));
    ASSERT(!cfg_zone_exists("Europe"));             /* a directory */
    ASSERT(!cfg_zone_exists("europe/amsterdam"));
    ASSERT(!cfg_zone_exists("../../etc/passwd"));
    ASSERT(!cfg_zone_exists("Europe/../Europe/Amsterdam"));
    ASSERT(!cfg_zone_exists("/usr/share/zoneinfo/UTC"));
    ASSERT(!cfg_zone_exists(""));
    ASSERT(!cfg_zone_exists(NULL));
    ASSERT(!cfg_zone_exists("Europe/Amsterdam "));
    ASSERT(!cfg_zone_exists("Europe/Amsterdam\n"));
    ASSERT(!cfg_zone_exists("zone.tab"));
    ASSERT(!cfg_zone_exists("tzdata.zi"));
}

TEST(cfg_zone_tzdir)
{
    /* $TZDIR is honoured, and a non-TZif file there is not a zone. */
    char dir[] = "/tmp/sirt-tz-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/Test_Zone", dir);
    FILE *f = fopen(p, "w");
    ASSERT_NOT_NULL(f);
    fputs("TZif2\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/Not_Zone", dir);
    f = fopen(p, "w");
    ASSERT_NOT_NULL(f);
    fputs("hello", f);
    fclose(f);
    setenv("TZDIR", dir, 1);
    bool test_zone = cfg_zone_exists("Test_Zone");
    bool not_zone = cfg_zone_exists("Not_Zone");
    bool amsterdam = cfg_zone_exists("Europe/Amsterdam");
    bool utc = cfg_zone_exists("UTC");
    unsetenv("TZDIR");
    snprintf(p, sizeof(p), "%s/Test_Zone", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/Not_Zone", dir);
    unlink(p);
    rmdir(dir);
    ASSERT(test_zone);
    ASSERT(!not_zone);
    ASSERT(!amsterdam);
    ASSERT(utc);
}

TEST(cfg_hours_parse)
{
    int a = -1, b = -1;
    ASSERT_EQ(cfg_parse_hours("09:00-17:00", &a, &b), 0);
    ASSERT_EQ(a, 540);
    ASSERT_EQ(b, 1020);
    ASSERT_EQ(cfg_parse_hours("22:30-06:15", &a, &b), 0);   /* across midnight */
    ASSERT_EQ(a, 22 * 60 + 30);
    ASSERT_EQ(b, 6 * 60 + 15);
    ASSERT_EQ(cfg_parse_hours("00:00-23:59", &a, &b), 0);
    ASSERT_EQ(a, 0);
    ASSERT_EQ(b, 1439);
    ASSERT_EQ(cfg_parse_hours("23:59-00:00", &a, &b), 0);
    ASSERT_EQ(a, 1439);
    ASSERT_EQ(b, 0);
    static const char *const bad[] = {
        "", "9:00-17:00", "09:00-17:0", "09:00 - 17:00", "09:00-17:00 ", "24:00-17:00",
        "09:60-17:00", "09:00-24:00", "09.00-17.00", "09:00_17:00", "09:00-09:00",
        "ab:cd-ef:gh", "-9:00-17:00", "09:00-17:00-", "+9:00-17:00",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        a = b = -7;
        if (cfg_parse_hours(bad[i], &a, &b) != -1)
            TEST_FAIL("hours \"%s\" accepted", bad[i]);
        ASSERT_EQ(a, -7);
        ASSERT_EQ(b, -7);
    }
    ASSERT_EQ(cfg_parse_hours(NULL, &a, &b), -1);
}

TEST(cfg_finish_frees_after_partial_error)
{
    /* Error deep inside the second array element: everything allocated so
     * far is released (valgrind/ASan check), struct left zeroed. */
    const char *j = "{\"sirt_team\": [\"U0SIRT001\", \"U0SIRT002\"], \"timezone\": \"UTC\","
                    " \"appsec\": [{\"user\": \"U0APPSEC1\", \"tz\": \"UTC\", \"gitlab\": \"a\"},"
                    " {\"user\": \"U0APPSEC2\", \"tz\": \"Nowhere/Land\"}]}";
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[256];
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", j, strlen(j), err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "key \"appsec[1].tz\": unknown time zone \"Nowhere/Land\"");
    ASSERT_EQ(c.n_appsec, 0);
    ASSERT_NULL(c.appsec);
    ASSERT_EQ(c.sirt_team.n, 0);
    cfg_finish(&c);
}

TEST(cfg_small_err_buffer)
{
    /* A tiny buffer truncates, never overflows. */
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[8];
    const char *j = "{\"sirt_chanel\": 1}";
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", j, strlen(j), err, sizeof(err)), -1);
    ASSERT_STR_EQ(err, "sirt.js");
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", j, strlen(j), NULL, 0), -1);
}

/* paging.ack_minutes (issue 9, pages that are seen): 1..720, default 15. */
TEST(cfg_paging_ack_minutes)
{
    struct cfg c;
    parse_ok(&c, "{}");
    ASSERT_EQ(c.paging_ack_minutes, 15);
    cfg_finish(&c);
    const char *j = "{\"paging\":{\"ack_minutes\":30}}";
    parse_ok(&c, j);
    ASSERT_EQ(c.paging_ack_minutes, 30);
    cfg_finish(&c);
    expect_team_error("{\"paging\":{\"ack_minutes\":0}}",
                      "key \"paging.ack_minutes\": invalid value 0: expected an integer from 1 to 720 (minutes)");
    expect_team_error("{\"paging\":{\"ack_minutes\":721}}", "key \"paging.ack_minutes\": invalid value 721");
    expect_team_error("{\"paging\":{\"ack_minutes\":2.5}}", "key \"paging.ack_minutes\": invalid value 2.5");
    expect_team_error("{\"paging\":{\"ack_minutes\":\"15\"}}",
                      "key \"paging.ack_minutes\": expected an integer from 1 to 720 (minutes)");
    expect_team_error("{\"paging\":15}", "key \"paging\": expected an object");
    expect_team_error("{\"paging\":{\"ack_minute\":15}}", "ack_minute");
}
