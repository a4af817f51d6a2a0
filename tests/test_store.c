/* test_store: the SQLite store against a real file in a fresh temp directory
 * per test (removed at the end): schema and migrations, transactions, events,
 * incidents, timeline, the outbox queue semantics, crash safety (a child
 * SIGKILLed mid-transaction) and a timing print for the write path. */
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bot/clock.h"
#include "../bot/store.h"
#include "test.h"

struct tdir {
    char dir[64];
    char db[96];
};

static void tdir_make(struct tdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/sirt-store-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(t->dir));
    snprintf(t->db, sizeof(t->db), "%s/sirt.db", t->dir);
}

static void tdir_remove(struct tdir *t)
{
    DIR *d = opendir(t->dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
        ASSERT_EQ(unlink(p), 0);
    }
    closedir(d);
    ASSERT_EQ(rmdir(t->dir), 0);
}

static struct store *open_ok(const char *path)
{
    struct store *s = NULL;
    char err[512];
    int rc = store_open(&s, path, err, sizeof(err));
    if (rc != 0)
        TEST_FAIL("store_open(%s): %d %s", path, rc, err);
    ASSERT_NOT_NULL(s);
    return s;
}

/* Runs one scalar query on a separate raw connection. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t new_incident(struct store *s, const char *key, int64_t now)
{
    struct incident inc = {
        .title = "t", .description = "d", .severity = 2, .priority = 3,
        .reporter = "U0REP0001", .submission_key = (char *)key, .created_ms = now,
    };
    ASSERT_EQ(store_incident_create(s, &inc), 0);
    ASSERT(inc.id > 0);
    return inc.id;
}

static int64_t add_job(struct store *s, const char *key, int64_t next_at, int64_t deadline,
                       const int64_t *deps, size_t n_deps)
{
    struct outbox_new j = {
        .idem_key = key, .op = "slack.post", .payload = "{\"text\":\"x\"}",
        .next_at_ms = next_at, .deps_deadline_ms = deadline, .deps = deps, .n_deps = n_deps,
        .now_ms = 1000,
    };
    int64_t id = store_outbox_add(s, &j);
    ASSERT(id > 0);
    return id;
}

/* Ids of due jobs at now, in order, as a string "1,2,3". */
static void due_ids(struct store *s, int64_t now, size_t max, char *out, size_t outlen)
{
    struct outbox_job *jobs = NULL;
    size_t n = 99;
    ASSERT_EQ(store_outbox_due(s, now, max, &jobs, &n), 0);
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(jobs[i].state, OUTBOX_PENDING);
        len += (size_t)snprintf(out + len, outlen - len, "%s%lld", i ? "," : "",
                                (long long)jobs[i].id);
    }
    outbox_jobs_free(jobs, n);
}

static void job_get(struct store *s, int64_t id, struct outbox_job *j)
{
    ASSERT_EQ(store_outbox_get(s, id, j), 0);
}

/* ---- schema ---- */

TEST(store_schema_created)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    store_close(s);
    ASSERT_EQ(raw_int(t.db, "PRAGMA user_version"), 2);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                            " ('incidents','timeline','events','outbox','outbox_deps')"), 5);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                            " ('incidents_channel','timeline_incident','events_seen','outbox_due')"), 4);
    tdir_remove(&t);
}

TEST(store_wal_mode)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    /* WAL is persistent in the file; a raw connection sees it. */
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(t.db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_reopen_idempotent)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t id = new_incident(s, "view-1", 1000);
    store_close(s);
    for (int i = 0; i < 3; i++) {
        s = open_ok(t.db);
        struct incident inc;
        ASSERT_EQ(store_incident_get(s, id, &inc), 0);
        ASSERT_STR_EQ(inc.submission_key, "view-1");
        incident_finish(&inc);
        store_close(s);
    }
    ASSERT_EQ(raw_int(t.db, "PRAGMA user_version"), 2);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM incidents"), 1);
    tdir_remove(&t);
}

TEST(store_newer_schema_refused)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    store_close(s);
    raw_exec(t.db, "PRAGMA user_version = 7");
    char err[512], want[512];
    s = (struct store *)&err;   /* must be reset to NULL on failure */
    ASSERT(store_open(&s, t.db, err, sizeof(err)) < 0);
    ASSERT_NULL(s);
    snprintf(want, sizeof(want), "%s: schema version 7 is newer than this sirtbot (2)", t.db);
    ASSERT_STR_EQ(err, want);
    ASSERT_EQ(raw_int(t.db, "PRAGMA user_version"), 7);
    tdir_remove(&t);
}

TEST(store_open_errors)
{
    struct tdir t;
    tdir_make(&t);
    char path[256], err[512], want[512];
    struct store *s = NULL;
    snprintf(path, sizeof(path), "%s/missing/dir/sirt.db", t.dir);
    ASSERT(store_open(&s, path, err, sizeof(err)) < 0);
    ASSERT_NULL(s);
    snprintf(want, sizeof(want), "%s: unable to open database file", path);
    ASSERT_STR_EQ(err, want);

    /* A file that is not a database. */
    snprintf(path, sizeof(path), "%s/junk.db", t.dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database at all. ", f);
    fclose(f);
    ASSERT(store_open(&s, path, err, sizeof(err)) < 0);
    ASSERT_NULL(s);
    snprintf(want, sizeof(want), "%s: file is not a database", path);
    ASSERT_STR_EQ(err, want);
    ASSERT(strchr(err, '\n') == NULL);
    tdir_remove(&t);
}

TEST(store_in_memory)
{
    /* Handy for other modules' unit tests: no file, no WAL, same schema. */
    struct store *s = open_ok(":memory:");
    int64_t id = new_incident(s, "V1", 1);
    ASSERT_EQ(add_job(s, "k", 0, 0, NULL, 0) > 0, 1);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, id, &got), 0);
    incident_finish(&got);
    store_close(s);
}

TEST(store_close_null_and_strerror)
{
    store_close(NULL);
    ASSERT_STR_EQ(store_strerror(STORE_EEXIST), "already exists");
    ASSERT_STR_EQ(store_strerror(STORE_ENOTFOUND), "not found");
    ASSERT_STR_EQ(store_strerror(-99), "unknown store error");
}

/* ---- events ---- */

TEST(store_events)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    ASSERT_EQ(store_event_record(s, "Ev1", 100), 0);
    ASSERT_EQ(store_event_record(s, "Ev1", 150), 1);
    ASSERT_EQ(store_event_record(s, "Ev2", 200), 0);
    ASSERT_EQ(store_event_record(s, "Ev3", 300), 0);
    ASSERT_EQ(store_events_prune(s, 250), 2);
    ASSERT_EQ(store_events_prune(s, 250), 0);
    ASSERT_EQ(store_event_record(s, "Ev1", 400), 0);   /* forgotten */
    ASSERT_EQ(store_event_record(s, "Ev3", 400), 1);   /* kept */
    ASSERT_EQ(store_event_record(s, NULL, 400), STORE_EINVAL);
    store_close(s);
    tdir_remove(&t);
}

/* ---- transactions ---- */

TEST(store_nested_inner_rollback)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    struct store *other = open_ok(t.db);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "a", 1), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "b", 1), 0);
    store_rollback(s);
    ASSERT_EQ(store_event_record(s, "c", 1), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "d", 1), 0);
    ASSERT_EQ(store_commit(s), 0);
    /* Inner release commits nothing yet: another connection sees nothing. */
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM events"), 0);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM events"), 3);
    ASSERT_EQ(store_event_record(other, "a", 2), 1);
    ASSERT_EQ(store_event_record(other, "b", 2), 0);
    ASSERT_EQ(store_event_record(other, "c", 2), 1);
    ASSERT_EQ(store_event_record(other, "d", 2), 1);
    store_close(other);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_nested_outer_rollback)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    ASSERT_EQ(store_begin(s), 0);
    int64_t inc = new_incident(s, NULL, 5);
    ASSERT_EQ(store_event_record(s, "x", 1), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "y", 1), 0);
    add_job(s, "job-y", 0, 0, NULL, 0);
    ASSERT_EQ(store_commit(s), 0);
    store_rollback(s);
    ASSERT_EQ(store_event_record(s, "x", 2), 0);
    ASSERT_EQ(store_event_record(s, "y", 2), 0);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, inc, &got), STORE_ENOTFOUND);
    int64_t counts[4];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 0);

    /* At depth 0: rollback is a no-op, commit is refused. */
    store_rollback(s);
    ASSERT_EQ(store_commit(s), STORE_EINVAL);
    ASSERT_EQ(store_event_record(s, "x", 3), 1);

    /* Closing inside a transaction discards it. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "z", 1), 0);
    store_close(s);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM events WHERE event_id = 'z'"), 0);
    tdir_remove(&t);
}

/* ---- incidents ---- */

TEST(store_incident_roundtrip)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    struct incident inc = {
        .title = "Token leak", .description = "desc", .severity = 1, .priority = 2,
        .component = "gitaly", .repro = "GET /x", .issue_link = "https://example/1",
        .reporter = "U0REP0001", .origin_channel = "C0ORIGIN1", .submission_key = "V123",
        .created_ms = 1700000000123LL,
    };
    ASSERT_EQ(store_incident_create(s, &inc), 0);
    ASSERT_EQ(inc.id, 1);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, inc.id, &got), 0);
    ASSERT_EQ(got.id, 1);
    ASSERT_STR_EQ(got.title, "Token leak");
    ASSERT_STR_EQ(got.description, "desc");
    ASSERT_EQ(got.severity, 1);
    ASSERT_EQ(got.priority, 2);
    ASSERT_STR_EQ(got.component, "gitaly");
    ASSERT_STR_EQ(got.repro, "GET /x");
    ASSERT_STR_EQ(got.issue_link, "https://example/1");
    ASSERT_STR_EQ(got.reporter, "U0REP0001");
    ASSERT_NULL(got.owner);
    ASSERT_STR_EQ(got.state, "open");
    ASSERT_STR_EQ(got.origin_channel, "C0ORIGIN1");
    ASSERT_STR_EQ(got.submission_key, "V123");
    ASSERT_NULL(got.channel_id);
    ASSERT_EQ(got.gitlab_project_id, 0);
    ASSERT_EQ(got.gitlab_issue_iid, 0);
    ASSERT_EQ(got.created_ms, 1700000000123LL);
    ASSERT_EQ(got.updated_ms, 1700000000123LL);
    ASSERT_EQ(got.resolved_ms, 0);
    incident_finish(&got);
    ASSERT_NULL(got.title);
    incident_finish(&got);   /* finishing twice is harmless */

    ASSERT_EQ(store_incident_get(s, 42, &got), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_by_channel(s, "C0INC0001", &got), STORE_ENOTFOUND);

    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_id", "C0INC0001", 2000), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_name", "sirt-1-token-leak", 2001), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "owner", "U0OWNER01", 2002), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "gitlab_project_id", 77, 2003), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "gitlab_issue_iid", 3, 2004), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "severity", 4, 2005), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "gitlab_issue_url", "https://gl/i/3", 2006), 0);
    ASSERT_EQ(store_incident_by_channel(s, "C0INC0001", &got), 0);
    ASSERT_EQ(got.id, inc.id);
    ASSERT_STR_EQ(got.channel_name, "sirt-1-token-leak");
    ASSERT_STR_EQ(got.owner, "U0OWNER01");
    ASSERT_EQ(got.gitlab_project_id, 77);
    ASSERT_EQ(got.gitlab_issue_iid, 3);
    ASSERT_EQ(got.severity, 4);
    ASSERT_STR_EQ(got.gitlab_issue_url, "https://gl/i/3");
    ASSERT_EQ(got.updated_ms, 2006);
    ASSERT_EQ(got.created_ms, 1700000000123LL);
    incident_finish(&got);

    /* NULL clears a text field. */
    ASSERT_EQ(store_incident_set_text(s, inc.id, "owner", NULL, 2007), 0);
    ASSERT_EQ(store_incident_get(s, inc.id, &got), 0);
    ASSERT_NULL(got.owner);
    incident_finish(&got);

    store_close(s);
    tdir_remove(&t);
}

TEST(store_incident_set_rejects)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t id = new_incident(s, NULL, 1000);
    /* Not on the whitelist, or whitelisted with the other type. */
    ASSERT_EQ(store_incident_set_text(s, id, "reporter", "U0EVIL", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "submission_key", "x", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "title = 'x', reporter", "y", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "Title", "y", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "severity", "1", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, NULL, "1", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "title", 1, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "id", 9, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "created_ms", 9, 2000), STORE_EINVAL);
    /* Values the schema refuses. */
    ASSERT_EQ(store_incident_set_int(s, id, "severity", 5, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "priority", 0, 2000), STORE_EINVAL);
    /* Missing incident. */
    ASSERT_EQ(store_incident_set_text(s, 999, "title", "y", 2000), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_set_int(s, 999, "severity", 1, 2000), STORE_ENOTFOUND);

    struct incident got;
    ASSERT_EQ(store_incident_get(s, id, &got), 0);
    ASSERT_STR_EQ(got.reporter, "U0REP0001");
    ASSERT_STR_EQ(got.title, "t");
    ASSERT_EQ(got.severity, 2);
    ASSERT_EQ(got.updated_ms, 1000);
    incident_finish(&got);

    /* Create-time validation. */
    struct incident bad = { .severity = 9, .priority = 1, .reporter = "U1", .created_ms = 1 };
    ASSERT_EQ(store_incident_create(s, &bad), STORE_EINVAL);
    struct incident noreporter = { .severity = 1, .priority = 1, .created_ms = 1 };
    ASSERT_EQ(store_incident_create(s, &noreporter), STORE_EINVAL);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_incident_submission_key_conflict)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t first = new_incident(s, "V-dup", 1000);
    new_incident(s, "V-other", 1000);
    struct incident again = {
        .title = "again", .severity = 1, .priority = 1, .reporter = "U0REP0002",
        .submission_key = "V-dup", .created_ms = 2000,
    };
    ASSERT_EQ(store_incident_create(s, &again), STORE_EEXIST);
    ASSERT_EQ(again.id, first);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, first, &got), 0);
    ASSERT_STR_EQ(got.title, "t");   /* untouched */
    incident_finish(&got);
    /* Without a key there is never a conflict. */
    int64_t a = new_incident(s, NULL, 3000);
    int64_t b = new_incident(s, NULL, 3000);
    ASSERT_NE(a, b);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM incidents"), 4);
    store_close(s);
    tdir_remove(&t);
}

struct open_ctx {
    struct store *s;
    int64_t ids[16];
    int n;
    int stop_after;
};

static bool collect_open(void *ud, const struct incident *inc)
{
    struct open_ctx *c = ud;
    c->ids[c->n++] = inc->id;
    /* Writing the store from inside the callback is allowed. */
    ASSERT_EQ(store_incident_set_text(c->s, inc->id, "owner", "U0SEEN", 5000), 0);
    return c->n != c->stop_after;
}

TEST(store_incidents_open_iteration)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t a = new_incident(s, NULL, 1);
    int64_t b = new_incident(s, NULL, 2);
    int64_t c = new_incident(s, NULL, 3);
    int64_t d = new_incident(s, NULL, 4);
    ASSERT_EQ(store_incident_set_text(s, b, "state", "resolved", 10), 0);
    ASSERT_EQ(store_incident_set_int(s, b, "resolved_ms", 10, 10), 0);

    struct open_ctx ctx = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_open(s, collect_open, &ctx), 0);
    ASSERT_EQ(ctx.n, 3);
    ASSERT_EQ(ctx.ids[0], a);
    ASSERT_EQ(ctx.ids[1], c);
    ASSERT_EQ(ctx.ids[2], d);

    struct open_ctx early = { .s = s, .stop_after = 2 };
    ASSERT_EQ(store_incidents_open(s, collect_open, &early), 0);
    ASSERT_EQ(early.n, 2);

    struct incident got;
    ASSERT_EQ(store_incident_get(s, d, &got), 0);
    ASSERT_STR_EQ(got.owner, "U0SEEN");
    incident_finish(&got);
    ASSERT_EQ(store_incident_get(s, b, &got), 0);
    ASSERT_NULL(got.owner);
    ASSERT_EQ(got.resolved_ms, 10);
    incident_finish(&got);
    store_close(s);
    tdir_remove(&t);
}

/* ---- timeline ---- */

struct tl_ctx {
    char kinds[256];
    int64_t last_ts;
    int n, stop_after;
};

static bool collect_tl(void *ud, const struct timeline_entry *e)
{
    struct tl_ctx *c = ud;
    ASSERT(e->ts_ms >= c->last_ts);
    c->last_ts = e->ts_ms;
    strcat(c->kinds, e->kind);
    strcat(c->kinds, " ");
    c->n++;
    return c->n != c->stop_after;
}

TEST(store_timeline_order)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t inc = new_incident(s, NULL, 1);
    int64_t other = new_incident(s, NULL, 1);
    ASSERT_EQ(store_timeline_add(s, inc, 300, "sirtbot", "paged", "p"), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 100, "U0REP0001", "reported", "r"), 0);
    ASSERT_EQ(store_timeline_add(s, other, 150, "sirtbot", "elsewhere", NULL), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 200, "sirtbot", "channel_created", NULL), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 100, "sirtbot", "same_ts_later", "x"), 0);

    struct tl_ctx c = { .stop_after = -1 };
    ASSERT_EQ(store_timeline_list(s, inc, collect_tl, &c), 0);
    ASSERT_STR_EQ(c.kinds, "reported same_ts_later channel_created paged ");

    struct tl_ctx early = { .stop_after = 1 };
    ASSERT_EQ(store_timeline_list(s, inc, collect_tl, &early), 0);
    ASSERT_STR_EQ(early.kinds, "reported ");

    struct tl_ctx none = { .stop_after = -1 };
    ASSERT_EQ(store_timeline_list(s, 999, collect_tl, &none), 0);
    ASSERT_EQ(none.n, 0);
    /* An entry for a missing incident is refused by the foreign key. */
    ASSERT(store_timeline_add(s, 999, 1, "sirtbot", "x", NULL) < 0);
    store_close(s);
    tdir_remove(&t);
}

/* ---- outbox ---- */

TEST(store_outbox_add_idempotent)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t inc = new_incident(s, NULL, 1);
    struct outbox_new n = {
        .incident_id = inc, .idem_key = "SIRT-1/create_channel", .op = "slack.create_channel",
        .payload = "{\"name\":\"sirt-1\"}", .next_at_ms = 0, .now_ms = 1000,
    };
    int64_t id = store_outbox_add(s, &n);
    ASSERT(id > 0);
    int64_t other = add_job(s, "other", 0, 0, NULL, 0);

    /* Re-adding the same key (even with deps) returns the same id, adds nothing. */
    struct outbox_new again = n;
    again.payload = "{\"name\":\"changed\"}";
    again.deps = &other;
    again.n_deps = 1;
    ASSERT_EQ(store_outbox_add(s, &again), id);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM outbox_deps"), 0);

    struct outbox_job j;
    job_get(s, id, &j);
    ASSERT_EQ(j.id, id);
    ASSERT_EQ(j.incident_id, inc);
    ASSERT_STR_EQ(j.idem_key, "SIRT-1/create_channel");
    ASSERT_STR_EQ(j.op, "slack.create_channel");
    ASSERT_STR_EQ(j.payload, "{\"name\":\"sirt-1\"}");
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.attempts, 0);
    ASSERT_EQ(j.maybe_sent, 0);
    ASSERT_NULL(j.last_error);
    ASSERT_NULL(j.result);
    ASSERT_EQ(j.created_ms, 1000);
    ASSERT_EQ(j.updated_ms, 1000);
    outbox_job_finish(&j);

    /* Without an incident. */
    job_get(s, other, &j);
    ASSERT_EQ(j.incident_id, 0);
    outbox_job_finish(&j);

    /* Invalid input and a missing dependency add nothing. */
    struct outbox_new bad = { .idem_key = NULL, .op = "x" };
    ASSERT_EQ(store_outbox_add(s, &bad), STORE_EINVAL);
    int64_t ghost = 12345;
    struct outbox_new dangling = { .idem_key = "dangling", .op = "x", .deps = &ghost, .n_deps = 1 };
    ASSERT(store_outbox_add(s, &dangling) < 0);
    struct outbox_new noinc = { .incident_id = 777, .idem_key = "noinc", .op = "x" };
    ASSERT(store_outbox_add(s, &noinc) < 0);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(store_outbox_get(s, 999, &j), STORE_ENOTFOUND);

    /* The failed adds left no transaction open. */
    add_job(s, "dangling", 0, 0, NULL, 0);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM outbox"), 3);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_due_order_and_deps)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    char ids[256];
    int64_t a = add_job(s, "a", 100, 0, NULL, 0);
    int64_t b = add_job(s, "b", 50, 0, &a, 1);         /* waits for a */
    int64_t c = add_job(s, "c", 100, 0, NULL, 0);
    int64_t d = add_job(s, "d", 20, 0, NULL, 0);
    int64_t deps_ac[] = { a, c, a };                      /* duplicate dep is fine */
    int64_t e = add_job(s, "e", 0, 0, deps_ac, 3);
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM outbox_deps"), 3);

    due_ids(s, 10, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    due_ids(s, 99, 10, ids, sizeof(ids));
    char want[256];
    snprintf(want, sizeof(want), "%lld", (long long)d);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)d, (long long)a, (long long)c);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 2, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)d, (long long)a);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 0, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");

    /* A sending dependency still blocks; done releases. */
    ASSERT_EQ(store_outbox_mark_sending(s, a, 100), 0);
    due_ids(s, 100, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)d, (long long)c);
    ASSERT_STR_EQ(ids, want);
    ASSERT_EQ(store_outbox_mark_done(s, a, "{}", 101), 0);
    due_ids(s, 101, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)d, (long long)b, (long long)c);
    ASSERT_STR_EQ(ids, want);   /* e still waits for c */
    ASSERT_EQ(store_outbox_mark_sending(s, c, 101), 0);
    ASSERT_EQ(store_outbox_mark_done(s, c, NULL, 102), 0);
    due_ids(s, 102, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)e, (long long)d, (long long)b);
    ASSERT_STR_EQ(ids, want);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_deps_deadline)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    char ids[256], want[64];
    int64_t a = add_job(s, "a", 1000000, 0, NULL, 0);      /* far in the future */
    int64_t b = add_job(s, "b", 0, 500, &a, 1);             /* run anyway at 500 */
    int64_t c = add_job(s, "c", 700, 500, &a, 1);           /* ... but not before 700 */
    due_ids(s, 499, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    due_ids(s, 500, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld", (long long)b);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 700, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)b, (long long)c);
    ASSERT_STR_EQ(ids, want);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_failed_dep_blocks)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    char ids[256];
    int64_t a = add_job(s, "a", 0, 0, NULL, 0);
    int64_t ok = add_job(s, "ok", 0, 0, NULL, 0);
    int64_t b = add_job(s, "b", 0, 0, &a, 1);
    int64_t c = add_job(s, "c", 0, 10, &a, 1);              /* deadline does not rescue it */
    int64_t deps[] = { ok, a };
    int64_t d = add_job(s, "d", 0, 0, deps, 2);
    int64_t *blocked = NULL;
    size_t n = 99;
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_NULL(blocked);

    ASSERT_EQ(store_outbox_mark_sending(s, a, 1), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, a, "http 403", 2), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, ok, 1), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ok, NULL, 2), 0);
    due_ids(s, 1000, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    ASSERT_EQ(store_outbox_next_due(s), INT64_MAX);
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(blocked[0], b);
    ASSERT_EQ(blocked[1], c);
    ASSERT_EQ(blocked[2], d);
    free(blocked);

    /* Failing the dependents in cascade empties the list. */
    ASSERT_EQ(store_outbox_mark_failed(s, b, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, c, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, d, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 0);
    free(blocked);
    due_ids(s, 1000, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_next_due_values)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    ASSERT_EQ(store_outbox_next_due(s), INT64_MAX);
    int64_t a = add_job(s, "a", 5000, 0, NULL, 0);
    ASSERT_EQ(store_outbox_next_due(s), 5000);
    add_job(s, "wait-forever", 10, 0, &a, 1);             /* does not count */
    ASSERT_EQ(store_outbox_next_due(s), 5000);
    add_job(s, "deadline", 50, 3000, &a, 1);              /* max(50, 3000) */
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    add_job(s, "late-deadline", 4000, 100, &a, 1);        /* max(4000, 100) */
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    int64_t soon = add_job(s, "soon", 200, 0, NULL, 0);
    ASSERT_EQ(store_outbox_next_due(s), 200);
    /* Jobs not pending do not count. */
    ASSERT_EQ(store_outbox_mark_sending(s, soon, 200), 0);
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    /* Once a is done its dependents count by their own next_at. */
    ASSERT_EQ(store_outbox_mark_sending(s, a, 200), 0);
    ASSERT_EQ(store_outbox_mark_done(s, a, NULL, 201), 0);
    ASSERT_EQ(store_outbox_next_due(s), 10);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_transitions)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t id = add_job(s, "j", 0, 0, NULL, 0);
    struct outbox_job j;

    ASSERT_EQ(store_outbox_mark_sending(s, id, 2000), 0);
    job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_SENDING);
    ASSERT_EQ(j.attempts, 1);
    ASSERT_EQ(j.updated_ms, 2000);
    outbox_job_finish(&j);
    /* Only a pending job can be claimed. */
    ASSERT_EQ(store_outbox_mark_sending(s, id, 2001), STORE_EINVAL);
    ASSERT_EQ(store_outbox_mark_sending(s, 999, 2001), STORE_ENOTFOUND);

    ASSERT_EQ(store_outbox_mark_retry(s, id, 5000, "http 503", true, 2002), 0);
    job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.next_at_ms, 5000);
    ASSERT_STR_EQ(j.last_error, "http 503");
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 1);
    outbox_job_finish(&j);

    /* maybe_sent is sticky. */
    ASSERT_EQ(store_outbox_mark_sending(s, id, 5000), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, id, 6000, "ratelimited", false, 5001), 0);
    job_get(s, id, &j);
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 2);
    ASSERT_STR_EQ(j.last_error, "ratelimited");
    outbox_job_finish(&j);

    ASSERT_EQ(store_outbox_set_payload(s, id, "{\"name\":\"sirt-1-2\"}", 5002), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, id, 6000), 0);
    ASSERT_EQ(store_outbox_mark_done(s, id, "{\"channel\":\"C1\"}", 6001), 0);
    job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    ASSERT_EQ(j.attempts, 3);
    ASSERT_STR_EQ(j.payload, "{\"name\":\"sirt-1-2\"}");
    ASSERT_STR_EQ(j.result, "{\"channel\":\"C1\"}");
    ASSERT_EQ(j.updated_ms, 6001);
    outbox_job_finish(&j);

    int64_t f = add_job(s, "f", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, f, 1), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, f, "channel_not_found", 2), 0);
    job_get(s, f, &j);
    ASSERT_EQ(j.state, OUTBOX_FAILED);
    ASSERT_STR_EQ(j.last_error, "channel_not_found");
    outbox_job_finish(&j);

    ASSERT_EQ(store_outbox_mark_done(s, 999, NULL, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_retry(s, 999, 1, "x", false, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_failed(s, 999, "x", 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_set_payload(s, 999, "{}", 1), STORE_ENOTFOUND);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_recover_after_crash)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t a = add_job(s, "a", 0, 0, NULL, 0);
    int64_t b = add_job(s, "b", 0, 0, NULL, 0);
    int64_t c = add_job(s, "c", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, a, 10), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, b, 10), 0);
    ASSERT_EQ(store_outbox_mark_done(s, b, NULL, 11), 0);
    store_close(s);   /* a was never marked done */

    s = open_ok(t.db);
    ASSERT_EQ(store_outbox_recover(s, 20), 1);
    ASSERT_EQ(store_outbox_recover(s, 21), 0);
    struct outbox_job j;
    job_get(s, a, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 1);
    ASSERT_EQ(j.updated_ms, 20);
    outbox_job_finish(&j);
    job_get(s, c, &j);
    ASSERT_EQ(j.maybe_sent, 0);
    outbox_job_finish(&j);
    job_get(s, b, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    outbox_job_finish(&j);
    store_close(s);
    tdir_remove(&t);
}

TEST(store_outbox_counts_by_state)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    int64_t counts[4] = { -1, -1, -1, -1 };
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(counts[i], 0);
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        ids[i] = add_job(s, key, 0, 0, NULL, 0);
    }
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(store_outbox_mark_sending(s, ids[i], 1), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ids[0], NULL, 2), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ids[1], NULL, 2), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, ids[2], "x", 2), 0);
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 3);
    ASSERT_EQ(counts[OUTBOX_SENDING], 1);
    ASSERT_EQ(counts[OUTBOX_DONE], 2);
    ASSERT_EQ(counts[OUTBOX_FAILED], 1);
    store_close(s);
    tdir_remove(&t);
}

/* ---- crash safety ---- */

static bool count_open(void *ud, const struct incident *inc)
{
    (void)inc;
    (*(int *)ud)++;
    return true;
}

TEST(store_crash_mid_transaction)
{
    struct tdir t;
    tdir_make(&t);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct store *s = open_ok(t.db);
        /* Committed: one incident, its event and two jobs, in one transaction. */
        ASSERT_EQ(store_begin(s), 0);
        ASSERT_EQ(store_event_record(s, "Ev-committed", 1), 0);
        int64_t inc = new_incident(s, "V-committed", 1);
        struct outbox_new j = { .incident_id = inc, .idem_key = "c1", .op = "x", .now_ms = 1 };
        ASSERT(store_outbox_add(s, &j) > 0);
        j.idem_key = "c2";
        ASSERT(store_outbox_add(s, &j) > 0);
        ASSERT_EQ(store_commit(s), 0);
        /* Uncommitted, and big enough that SQLite spills pages into the WAL
         * before the commit that never comes. */
        ASSERT_EQ(store_begin(s), 0);
        ASSERT_EQ(store_event_record(s, "Ev-lost", 2), 0);
        int64_t lost = new_incident(s, "V-lost", 2);
        char *payload = malloc(2048);
        ASSERT_NOT_NULL(payload);
        memset(payload, 'p', 2047);
        payload[2047] = '\0';
        for (int i = 0; i < 4000; i++) {
            char key[32];
            snprintf(key, sizeof(key), "lost-%d", i);
            struct outbox_new l = { .incident_id = lost, .idem_key = key, .op = "x",
                                    .payload = payload, .now_ms = 2 };
            ASSERT(store_outbox_add(s, &l) > 0);
        }
        raise(SIGKILL);
        _exit(3);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        TEST_FAIL("child exited with status %d before the kill", WEXITSTATUS(status));
    ASSERT_EQ(WTERMSIG(status), SIGKILL);
    /* The uncommitted pages did reach the WAL: recovery has to skip them. */
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", t.db);
    struct stat sb;
    ASSERT_EQ(stat(wal, &sb), 0);
    fprintf(stderr, "wal after kill: %lld bytes\n", (long long)sb.st_size);
    ASSERT(sb.st_size > 1024 * 1024);

    struct store *s = open_ok(t.db);
    int n = 0;
    ASSERT_EQ(store_incidents_open(s, count_open, &n), 0);
    ASSERT_EQ(n, 1);
    int64_t counts[4];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 2);
    ASSERT_EQ(counts[OUTBOX_SENDING] + counts[OUTBOX_DONE] + counts[OUTBOX_FAILED], 0);
    ASSERT_EQ(store_event_record(s, "Ev-committed", 3), 1);
    ASSERT_EQ(store_event_record(s, "Ev-lost", 3), 0);
    struct incident again = { .severity = 1, .priority = 1, .reporter = "U1",
                              .submission_key = "V-lost", .created_ms = 3 };
    ASSERT_EQ(store_incident_create(s, &again), 0);   /* the key is free */
    ASSERT_EQ(raw_int(t.db, "SELECT COUNT(*) FROM pragma_integrity_check"
                            " WHERE integrity_check != 'ok'"), 0);
    store_close(s);
    tdir_remove(&t);
}

/* ---- performance sanity (prints, never fails on speed) ---- */

TEST_T(store_perf_sanity, 120)
{
    struct tdir t;
    tdir_make(&t);
    struct store *s = open_ok(t.db);
    const int n_tx = 1000;
    uint64_t t0 = clock_mono_us();
    for (int i = 0; i < n_tx; i++) {
        char key[64];
        ASSERT_EQ(store_begin(s), 0);
        snprintf(key, sizeof(key), "view-%d", i);
        int64_t inc = new_incident(s, key, i);
        for (int k = 0; k < 5; k++) {
            snprintf(key, sizeof(key), "SIRT-%lld/effect-%d", (long long)inc, k);
            struct outbox_new j = { .incident_id = inc, .idem_key = key, .op = "slack.post",
                                    .payload = "{\"text\":\"hello\"}", .now_ms = i };
            ASSERT(store_outbox_add(s, &j) > 0);
        }
        ASSERT_EQ(store_commit(s), 0);
    }
    uint64_t dt = clock_mono_us() - t0;
    fprintf(stderr, "store perf: %d transactions (1 incident + 5 outbox rows each) in %.1f ms: "
            "%.1f us per transaction\n", n_tx, (double)dt / 1000.0, (double)dt / n_tx);
    int64_t counts[4];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 5 * n_tx);
    store_close(s);
    tdir_remove(&t);
}
