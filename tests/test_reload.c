/* Unit tests for the SIGHUP config reload in bot/config.c: cfg_reload_team
 * reads SIRT_CONFIG's file again into a fresh struct without touching the
 * running one; cfg_adopt_team moves the team part over and leaves the
 * environment part alone.  Files live in a fresh temp dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/config.h"
#include "../bot/util.h"
#include "test.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fputs(text, f) >= 0, 1);
    ASSERT_EQ(fclose(f), 0);
}

/* A running config: environment part set by hand, team part from text. */
static void running_cfg(struct cfg *c, const char *path, const char *team)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    ASSERT_EQ(cfg_parse_team(c, path, team, strlen(team), err, sizeof(err)), 0);
    c->config_path = xstrdup(path);
    c->slack_bot_token = xstrdup("xoxb-test-token");
    c->config_present = true;
}

TEST(cfg_reload_valid_then_adopt)
{
    char dir[] = "/tmp/sirt-reload-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/sirt.json", dir);
    struct cfg c;
    running_cfg(&c, path, "{\"sirt_team\":[\"U0SIRT001\"],\"appsec\":[{\"user\":\"U0APPSEC1\"}]}");

    write_file(path, "{\"sirt_team\":[\"U0SIRT001\",\"U0NEWSIRT1\"],\"timezone\":\"Europe/Amsterdam\","
                     "\"appsec\":[{\"user\":\"U0APPSEC2\",\"tz\":\"Asia/Tokyo\"},{\"user\":\"U0APPSEC1\"}]}");
    struct cfg fresh;
    char err[512];
    ASSERT_EQ(cfg_reload_team(&c, &fresh, err, sizeof(err)), 0);
    /* Nothing changed in the running config yet. */
    ASSERT_EQ(c.sirt_team.n, 1);
    ASSERT_EQ(c.n_appsec, 1);
    ASSERT_EQ(fresh.sirt_team.n, 2);
    ASSERT_NULL(fresh.slack_bot_token);
    cfg_adopt_team(&c, &fresh);
    ASSERT(cfg_strv_has(&c.sirt_team, "U0NEWSIRT1"));
    ASSERT_STR_EQ(c.timezone, "Europe/Amsterdam");
    ASSERT_EQ(c.n_appsec, 2);
    ASSERT_STR_EQ(c.appsec[0].tz, "Asia/Tokyo");
    ASSERT_NULL(c.appsec[1].tz);
    /* The environment part is the running one's. */
    ASSERT_STR_EQ(c.slack_bot_token, "xoxb-test-token");
    ASSERT_STR_EQ(c.config_path, path);
    /* fresh gave everything away: finishing it frees nothing twice. */
    ASSERT_EQ(fresh.n_appsec, 0);
    ASSERT_NULL(fresh.timezone);
    cfg_finish(&fresh);
    cfg_finish(&c);
    unlink(path);
    rmdir(dir);
}

TEST(cfg_reload_invalid_leaves_running_config)
{
    char dir[] = "/tmp/sirt-reload-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/sirt.json", dir);
    struct cfg c;
    running_cfg(&c, path, "{\"sirt_team\":[\"U0SIRT001\"],\"timezone\":\"UTC\"}");
    struct {
        const char *text;
        const char *want;
    } bad[] = {
        { "{\"timezone\":\"Mars/Olympus_Mons\"}", "key \"timezone\": unknown time zone \"Mars/Olympus_Mons\"" },
        { "{\"sirt_team\":[\"U0SIRT001\"],", "not valid JSON near line 1" },
        { "{\"sirt_teem\":[]}", "did you mean \"sirt_team\"" },
        { "{\"appsec\":[{\"user\":\"U0A1\"},{\"user\":\"U0A1\"}]}", "duplicate appsec user" },
        { "[]", "the top level must be a JSON object" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        write_file(path, bad[i].text);
        struct cfg fresh;
        char err[512];
        ASSERT_EQ(cfg_reload_team(&c, &fresh, err, sizeof(err)), -1);
        ASSERT_CONTAINS(err, path);
        ASSERT_CONTAINS(err, bad[i].want);
        ASSERT_NULL(strchr(err, '\n'));
        ASSERT_NULL(fresh.timezone);     /* nothing to free */
        ASSERT_EQ(fresh.n_appsec, 0);
        ASSERT_STR_EQ(c.timezone, "UTC");
        ASSERT(cfg_strv_has(&c.sirt_team, "U0SIRT001"));
    }
    /* A file that vanished is refused, not replaced by the defaults. */
    unlink(path);
    struct cfg fresh;
    char err[512];
    ASSERT_EQ(cfg_reload_team(&c, &fresh, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "cannot read team config");
    ASSERT_EQ(c.sirt_team.n, 1);
    cfg_finish(&c);
    rmdir(dir);
}
