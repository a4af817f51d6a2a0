/* End-to-end retention.days on the settable clock: SIRT-1 is reported and
 * resolved, SIRT-2 twenty days later; the clock moves past SIRT-1's thirty
 * days and the daily "retention" timer erases SIRT-1's text.  Its words are
 * then gone from /sirt status, from /sirt timeline, from every column of
 * every table and from the raw bytes of the SQLite files; SIRT-2 is
 * untouched; the log says it happened and the timeline has an "erased"
 * entry.  Without retention.days nothing is erased. */
#define _GNU_SOURCE             /* memmem */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_files.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define DAY (24LL * 3600 * 1000)
#define T0 1793613600000LL         /* 2026-11-02T10:00:00Z */
#define PUBLIC "C0PUBLIC1"

static const struct report_fields old_fields = {
    .title = "Walrusgate token leak in runners",
    .what = "Runner logs print the Walrusgate deploy token.",
    .severity = "2", .priority = "2", .component = "gitaly",
    .repro = "Open any Walrusgate job log",
    .link = "https://gitlab.example.com/walrusgate/-/issues/1",
};
static const struct report_fields new_fields = {
    .title = "Narwhalbug in the mirror",
    .what = "Narwhalbug serves stale refs.",
    .severity = "2", .priority = "2", .component = "gitaly",
    .repro = "Clone a Narwhalbug mirror",
};
/* Info, not debug: a failure's message stays within the runner's 200 lines. */
static const char *const quiet_env[] = { "SIRT_LOG=info", NULL };
/* Every form of SIRT-1's words (the channel slug is lowercase). */
static const char *const old_words[] = { "Walrusgate", "walrusgate" };

static void write_config(struct fx *fx, int days)
{
    char *cfg = xstrdup(fx_default_config);
    char *end = strrchr(cfg, '}');
    ASSERT_NOT_NULL(end);
    *end = '\0';
    char *full = days > 0 ? xasprintf("%s,\n  \"retention\": {\"days\": %d}\n}\n", cfg, days)
                          : xasprintf("%s}\n", cfg);
    fx_write_config(fx, full);
    free(full);
    free(cfg);
}

static size_t posts_to(struct fx *fx, const char *channel)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel });
}

/* The text of the idx-th message posted to channel, NULL if none. */
static const char *post_text(struct fx *fx, const char *channel, size_t idx)
{
    const struct fake_call *c = fx_nth(fx, &(struct fx_q){ .channel = channel }, idx);
    return c ? util_jstr(c->json, "text") : NULL;
}

/* Reports an incident (the n-th channel) and resolves it; returns its channel id. */
static const char *report_and_resolve(struct fx *fx, const char *view_id, const struct report_fields *f, int n)
{
    fx_submit_report(fx, view_id, "U0REPORT1", f);
    ASSERT(fx_wait_calls(fx, "pins.add", (size_t)n, 15000));
    const struct fake_channel *ch = fake_slack_channel(fx->slack, (size_t)n - 1);
    ASSERT_NOT_NULL(ch);
    ASSERT(fx_wait_q(fx, &(struct fx_q){ .channel = ch->id }, 1, 10000));
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "resolve SIRT-%d", n);
    ASSERT_CONTAINS(fx_slash_text(fx, "U0SIRT002", PUBLIC, cmd), "Resolving SIRT-");
    snprintf(cmd, sizeof(cmd), "resolved SIRT-%d", n);
    for (int i = 0; i < 50; i++) {
        for (size_t k = 0; k < posts_to(fx, ch->id); k++)
            if (strstr(post_text(fx, ch->id, k), cmd))
                return ch->id;
        fx_run_for(fx, 100);
    }
    TEST_FAIL("SIRT-%d not resolved", n);
}

/* /sirt timeline SIRT-n by the SIRT team: the Markdown file uploaded to its channel. */
struct files_want {
    size_t n;
};

static bool pred_files(struct fx *fx, void *ud)
{
    struct files_want *w = ud;
    size_t n = fake_slack_file_count(fx->slack);
    return n >= w->n && fake_slack_file(fx->slack, w->n - 1)->completed;
}

static const char *timeline_of(struct fx *fx, int n, const char *channel)
{
    struct files_want w = { fake_slack_file_count(fx->slack) + 1 };
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "timeline SIRT-%d", n);
    ASSERT_CONTAINS(fx_slash_text(fx, "U0SIRT001", PUBLIC, cmd), "Uploading the timeline");
    ASSERT(fx_wait(fx, pred_files, &w, 10000));
    const struct fake_file *file = fake_slack_file(fx->slack, w.n - 1);
    ASSERT_STR_EQ(file->channel, channel);
    return file->content;
}

/* Every text column of every table, and the raw bytes of the files. */
static size_t store_hits(struct fx *fx, const char *word)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sirt.db", fx->dir);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &tables, NULL),
              SQLITE_OK);
    size_t hits = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char *sql = xasprintf("SELECT * FROM \"%s\"", (const char *)sqlite3_column_text(tables, 0));
        sqlite3_stmt *st = NULL;
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                if (v && strstr(v, word)) {
                    fprintf(stderr, "  %s in %s.%s\n", word, (const char *)sqlite3_column_text(tables, 0),
                            sqlite3_column_name(st, c));
                    hits++;
                }
            }
        sqlite3_finalize(st);
        free(sql);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    const char *files[] = { "sirt.db", "sirt.db-wal" };
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", fx->dir, files[i]);
        struct buf b;
        if (!fx_read_file(path, &b)) {
            buf_finish(&b);
            continue;
        }
        const char *at = b.len ? memmem(b.data, b.len, word, strlen(word)) : NULL;
        if (at) {
            size_t off = (size_t)(at - b.data);
            fprintf(stderr, "  %s in the bytes of %s at %zu (page %zu, type %d): %.60s\n", word, files[i], off,
                    off / 4096 + 1, b.data[(off / 4096) * 4096 + (off < 4096 ? 100 : 0)], at);
            hits++;
        }
        buf_finish(&b);
    }
    return hits;
}

TEST_T(e2e_retention_erases_old_incidents, 120)
{
    struct fx fx;
    fx_init(&fx);
    write_config(&fx, 30);
    fx_set_clock(&fx, T0);
    fx_start(&fx, quiet_env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    const char *ch1 = report_and_resolve(&fx, "V0RETAIN01", &old_fields, 1);

    /* Twenty days on: SIRT-2, resolved too.  The daily run has nothing to do. */
    fx_set_clock(&fx, T0 + 20 * DAY);
    const char *ch2 = report_and_resolve(&fx, "V0RETAIN02", &new_fields, 2);
    ASSERT(fx_wait_stderr(&fx, "\"kind\":\"retention\"", 10000));
    ASSERT(!fx_stderr_has(&fx, "retention: incident text erased"));
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "status SIRT-1"), "Walrusgate");

    /* Thirty-five days after SIRT-1 was resolved: its text goes. */
    fx_set_clock(&fx, T0 + 35 * DAY);
    ASSERT(fx_wait_stderr(&fx, "retention: incident text erased", 15000));
    ASSERT(fx_stderr_has(&fx, "\"incident\":1,\"days\":30"));
    ASSERT(!fx_stderr_has(&fx, "\"incident\":2,\"days\""));

    const char *t = fx_slash_text(&fx, "U0SIRT001", PUBLIC, "status SIRT-1");
    ASSERT_CONTAINS(t, "SIRT-1");
    ASSERT_CONTAINS(t, "(erased after 30 days)");
    ASSERT_CONTAINS(t, "S2");
    ASSERT_CONTAINS(t, "gitaly");
    for (size_t i = 0; i < ARRAY_LEN(old_words); i++)
        ASSERT_NOT_CONTAINS(t, old_words[i]);
    t = fx_slash_text(&fx, "U0SIRT001", PUBLIC, "status SIRT-2");
    ASSERT_CONTAINS(t, "Narwhalbug in the mirror");

    const char *md = timeline_of(&fx, 1, ch1);
    ASSERT_CONTAINS(md, "erased: report text, decisions and timeline text erased");
    ASSERT_CONTAINS(md, "reported");
    for (size_t i = 0; i < ARRAY_LEN(old_words); i++)
        ASSERT_NOT_CONTAINS(md, old_words[i]);
    md = timeline_of(&fx, 2, ch2);
    ASSERT_CONTAINS(md, "Narwhalbug");
    ASSERT_NOT_CONTAINS(md, "erased");

    /* The store, while the bot runs and after it stopped.  While it runs,
     * the erasing commit's WAL checkpoint may still be racing the
     * checkpointer thread: give it a few seconds, then it must be gone. */
    for (size_t i = 0; i < ARRAY_LEN(old_words); i++) {
        size_t hits = store_hits(&fx, old_words[i]);
        for (int k = 0; k < 50 && hits; k++) {
            fx_run_for(&fx, 100);
            hits = store_hits(&fx, old_words[i]);
        }
        ASSERT_EQ(hits, 0);
    }
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    for (size_t i = 0; i < ARRAY_LEN(old_words); i++)
        ASSERT_EQ(store_hits(&fx, old_words[i]), 0);
    ASSERT(store_hits(&fx, "Narwhalbug") > 0);
    fx_finish(&fx);
}

/* Without retention.days the daily run erases nothing. */
TEST_T(e2e_retention_absent_keeps_everything, 90)
{
    struct fx fx;
    fx_init(&fx);
    write_config(&fx, 0);
    fx_set_clock(&fx, T0);
    fx_start(&fx, quiet_env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    report_and_resolve(&fx, "V0RETAIN03", &old_fields, 1);
    fx_set_clock(&fx, T0 + 3650 * DAY);
    ASSERT(fx_wait_stderr(&fx, "\"kind\":\"retention\"", 10000));
    fx_run_for(&fx, 500);
    ASSERT(!fx_stderr_has(&fx, "retention: incident text erased"));
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", PUBLIC, "status SIRT-1"), "Walrusgate token leak");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    ASSERT(store_hits(&fx, "Walrusgate") > 0);
    fx_finish(&fx);
}
