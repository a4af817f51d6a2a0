/* test_config: the environment table and finding the config file.  The
 * environment comes from a fake getenv; files live in a fresh temp dir that
 * is also the working directory, so the default "sirt.json" is under test
 * control.  Every error is checked to be one line naming what is wrong.
 * The team config's parser is tested in test_config_team.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/util.h"
#include "test.h"

#define APP_TOKEN "xapp-1-A0TEST-123456789-abcdef0123456789"
#define BOT_TOKEN "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"

/* ---- fake environment ---- */

#define MAX_ENV 32
static const char *env_names[MAX_ENV];
static const char *env_vals[MAX_ENV];
static size_t n_env;

static void env_set(const char *name, const char *val)
{
    for (size_t i = 0; i < n_env; i++) {
        if (strcmp(env_names[i], name) == 0) {
            env_vals[i] = val;
            return;
        }
    }
    ASSERT(n_env < MAX_ENV);
    env_names[n_env] = name;
    env_vals[n_env++] = val;
}

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < n_env; i++)
        if (strcmp(env_names[i], name) == 0)
            return env_vals[i];
    return NULL;
}

/* Minimal valid environment in a fresh temp dir (cwd), no sirt.json. */
static char tmpdir[64];

static void rm_tmpdir(void)
{
    char cmd[128];
    if (chdir("/") == 0 && tmpdir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

/* The runner ends a passing test with _exit(), which skips atexit: tests
 * that call setup() end with teardown(); a failing one exits via exit(). */
static void teardown(void)
{
    rm_tmpdir();
    tmpdir[0] = '\0';
}

static void setup(void)
{
    n_env = 0;
    env_set("SLACK_APP_TOKEN", APP_TOKEN);
    env_set("SLACK_BOT_TOKEN", BOT_TOKEN);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sirt-cfg-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(tmpdir));
    ASSERT_EQ(chdir(tmpdir), 0);
    atexit(rm_tmpdir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *want)
{
    struct cfg c;
    char err[512] = "";
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, want);
    ASSERT_ONE_LINE(err);
    ASSERT_NULL(c.slack_app_token);
    ASSERT_NULL(c.slack_bot_token);
}

/* ---- environment ---- */

TEST(cfg_env_minimal_defaults)
{
    setup();
    struct cfg c;
    char err[256] = "x";
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), 0);
    ASSERT_STR_EQ(err, "");
    ASSERT_STR_EQ(c.slack_app_token, APP_TOKEN);
    ASSERT_STR_EQ(c.slack_bot_token, BOT_TOKEN);
    ASSERT_STR_EQ(c.slack_api_url, "https://slack.com/api");
    ASSERT_STR_EQ(c.pagerduty_events_url, "https://events.pagerduty.com/v2/enqueue");
    ASSERT_STR_EQ(c.pagerduty_api_url, "https://api.pagerduty.com");
    ASSERT_NULL(c.pagerduty_routing_key);
    ASSERT_NULL(c.pagerduty_api_token);
    ASSERT_NULL(c.gitlab_url);
    ASSERT_NULL(c.gitlab_token);
    ASSERT_STR_EQ(c.config_path, "sirt.json");
    ASSERT(!c.config_present);
    ASSERT_STR_EQ(c.db, "sirt.db");
    ASSERT_NULL(c.http_host);
    ASSERT_EQ(c.log_level, LOG_LVL_INFO);
    /* built-in team defaults */
    ASSERT_STR_EQ(c.timezone, "UTC");
    ASSERT_EQ(c.handoff_lead_minutes, 30);
    ASSERT_EQ(c.handoff_accept_minutes, 30);
    ASSERT_NULL(c.sirt_channel);
    ASSERT_EQ(c.n_appsec, 0);
    ASSERT_EQ(c.n_components, 0);
    ASSERT_EQ(c.sirt_team.n, 0);
    ASSERT_EQ(c.gitlab_namespace_id, 0);
    cfg_finish(&c);
    cfg_finish(&c);     /* idempotent */
    teardown();
}

TEST(cfg_env_all_set)
{
    setup();
    env_set("SLACK_API_URL", "http://127.0.0.1:8080/api//");
    env_set("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY0123456789");
    env_set("PAGERDUTY_EVENTS_URL", "http://127.0.0.1:9/v2/enqueue");
    env_set("PAGERDUTY_API_TOKEN", "u+pdtoken123");
    env_set("PAGERDUTY_API_URL", "http://127.0.0.1:9/");
    env_set("GITLAB_URL", "https://gitlab.example.com/");
    env_set("GITLAB_TOKEN", "glpat-abcdefghijklmnopqrst");
    env_set("SIRT_DB", "/var/lib/sirt/sirt.db");
    env_set("SIRT_HTTP", "127.0.0.1:9102");
    env_set("SIRT_LOG", "debug");
    struct cfg c;
    char err[256];
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), 0);
    ASSERT_STR_EQ(c.slack_api_url, "http://127.0.0.1:8080/api");
    ASSERT_STR_EQ(c.pagerduty_routing_key, "R0UTINGKEY0123456789");
    ASSERT_STR_EQ(c.pagerduty_events_url, "http://127.0.0.1:9/v2/enqueue");
    ASSERT_STR_EQ(c.pagerduty_api_token, "u+pdtoken123");
    ASSERT_STR_EQ(c.pagerduty_api_url, "http://127.0.0.1:9");
    ASSERT_STR_EQ(c.gitlab_url, "https://gitlab.example.com");
    ASSERT_STR_EQ(c.gitlab_token, "glpat-abcdefghijklmnopqrst");
    ASSERT_STR_EQ(c.db, "/var/lib/sirt/sirt.db");
    ASSERT_STR_EQ(c.http_host, "127.0.0.1");
    ASSERT_EQ(c.http_port, 9102);
    ASSERT_EQ(c.log_level, LOG_LVL_DEBUG);
    cfg_finish(&c);
    teardown();
}

TEST(cfg_env_http_forms)
{
    setup();
    static const struct { const char *v; const char *host; int port; } ok[] = {
        { "localhost:1", "localhost", 1 },
        { "0.0.0.0:65535", "0.0.0.0", 65535 },
        { "[::1]:9102", "::1", 9102 },
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        env_set("SIRT_HTTP", ok[i].v);
        struct cfg c;
        char err[256];
        ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), 0);
        ASSERT_STR_EQ(c.http_host, ok[i].host);
        ASSERT_EQ(c.http_port, ok[i].port);
        cfg_finish(&c);
    }
    static const struct { const char *v; const char *msg; } bad[] = {
        { "127.0.0.1:0", "SIRT_HTTP \"127.0.0.1:0\": port must be 1..65535" },
        { "127.0.0.1:65536", "SIRT_HTTP \"127.0.0.1:65536\": port must be 1..65535" },
        { "127.0.0.1", "SIRT_HTTP \"127.0.0.1\": expected host:port, e.g. 127.0.0.1:9102" },
        { ":9102", "expected host:port" },
        { "127.0.0.1:", "expected host:port" },
        { "127.0.0.1:90a", "expected host:port" },
        { "::1:9102", "expected host:port" },
        { "[::1]9102", "expected host:port" },
        { "host name:80", "expected host:port" },
        { "127.0.0.1:123456", "expected host:port" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        env_set("SIRT_HTTP", bad[i].v);
        expect_load_error(bad[i].msg);
    }
    teardown();
}

TEST(cfg_env_required_missing)
{
    setup();
    env_set("SLACK_APP_TOKEN", NULL);
    expect_load_error("SLACK_APP_TOKEN is not set: create an app-level token with "
                      "connections:write (xapp-...) and export it");
    env_set("SLACK_APP_TOKEN", "");     /* empty counts as unset */
    expect_load_error("SLACK_APP_TOKEN is not set");
    env_set("SLACK_APP_TOKEN", APP_TOKEN);
    env_set("SLACK_BOT_TOKEN", "");
    expect_load_error("SLACK_BOT_TOKEN is not set: ");
    env_set("SLACK_BOT_TOKEN", NULL);
    expect_load_error("(xoxb-...)");
    teardown();
}

TEST(cfg_env_token_kinds_no_secret_in_message)
{
    setup();
    struct cfg c;
    char err[512];
    env_set("SLACK_APP_TOKEN", BOT_TOKEN);      /* swapped */
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "SLACK_APP_TOKEN must be an app-level token (xapp-...)");
    ASSERT_NOT_CONTAINS(err, "123456789012");
    ASSERT_NOT_CONTAINS(err, "AbCdEf");

    env_set("SLACK_APP_TOKEN", APP_TOKEN);
    env_set("SLACK_BOT_TOKEN", "not-a-token-secretvalue");
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), -1);
    ASSERT_STR_EQ(err, "SLACK_BOT_TOKEN must be a bot token (xoxb-...)");

    env_set("SLACK_BOT_TOKEN", BOT_TOKEN "\n");     /* pasted with a newline */
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "SLACK_BOT_TOKEN contains whitespace");
    ASSERT_NOT_CONTAINS(err, "AbCdEf");

    env_set("SLACK_BOT_TOKEN", BOT_TOKEN);
    env_set("GITLAB_TOKEN", "glpat-secret value");
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "GITLAB_TOKEN contains whitespace");
    ASSERT_NOT_CONTAINS(err, "secret value");
    teardown();
}

TEST(cfg_env_bad_url_and_log)
{
    setup();
    env_set("SLACK_API_URL", "ftp://slack.com/api");
    expect_load_error("SLACK_API_URL must be an http:// or https:// URL");
    env_set("SLACK_API_URL", "https://");
    expect_load_error("SLACK_API_URL must be an http:// or https:// URL");
    env_set("SLACK_API_URL", NULL);
    env_set("GITLAB_URL", "gitlab.com");
    expect_load_error("GITLAB_URL must be an http:// or https:// URL");
    env_set("GITLAB_URL", "https://oauth2:glpat-abcdefghijkl@gitlab .com");
    expect_load_error("GITLAB_URL must be an http");
    env_set("GITLAB_URL", NULL);
    env_set("PAGERDUTY_API_URL", "api.pagerduty.com");
    expect_load_error("PAGERDUTY_API_URL must be an http");
    env_set("PAGERDUTY_API_URL", NULL);
    env_set("SIRT_LOG", "verbose");
    expect_load_error("SIRT_LOG \"verbose\": expected debug, info, warn or error");
    env_set("SIRT_LOG", "warn");
    struct cfg c;
    char err[256];
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), 0);
    ASSERT_EQ(c.log_level, LOG_LVL_WARN);
    cfg_finish(&c);
    teardown();
}

/* ---- config file presence ---- */

TEST(cfg_file_default_present)
{
    setup();
    write_file("sirt.json", "{\"timezone\": \"Europe/Amsterdam\", \"appsec\": [{\"user\": \"U0APPSEC1\"},"
                            " {\"user\": \"U0APPSEC2\"}, {\"user\": \"U0APPSEC3\"}]}");
    struct cfg c;
    char err[256];
    ASSERT_EQ(cfg_load(&c, fake_getenv, err, sizeof(err)), 0);
    ASSERT(c.config_present);
    ASSERT_STR_EQ(c.timezone, "Europe/Amsterdam");
    ASSERT_EQ(c.n_appsec, 3);
    cfg_finish(&c);
    teardown();
}

TEST(cfg_file_env_missing_is_error)
{
    setup();
    env_set("SIRT_CONFIG", "/nonexistent/team.json");
    expect_load_error("/nonexistent/team.json: cannot read team config: No such file or directory");
    env_set("SIRT_CONFIG", ".");
    expect_load_error(".: cannot read team config: Is a directory");
    env_set("SIRT_CONFIG", "sirt.json");    /* explicit default path: must exist */
    expect_load_error("sirt.json: cannot read team config");
    teardown();
}

TEST(cfg_file_unreadable_and_bad)
{
    setup();
    write_file("team.json", "{\"timezone\": \"UTC\",\n \"sirt_channel\": }\n");
    env_set("SIRT_CONFIG", "team.json");
    expect_load_error("team.json: not valid JSON near line 2 col 18");
    write_file("team.json", "{\"timezone\": \"Mars/Olympus\"}");
    expect_load_error("team.json: key \"timezone\": unknown time zone \"Mars/Olympus\"");
    if (geteuid() != 0) {       /* root reads anything */
        write_file("team.json", "{}");
        ASSERT_EQ(chmod("team.json", 0), 0);
        expect_load_error("team.json: cannot read team config: Permission denied");
    }
    teardown();
}

TEST(cfg_file_env_error_comes_first)
{
    setup();
    write_file("sirt.json", "not json");
    env_set("SLACK_BOT_TOKEN", NULL);
    expect_load_error("SLACK_BOT_TOKEN is not set");
    teardown();
}
