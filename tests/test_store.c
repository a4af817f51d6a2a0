/* test_store: the store suite's schema and life cycle, each test written
 * once over a target and registered twice (SQLite, and <name>_pg on a
 * fresh PostgreSQL database; tests/store_fixture.h): the schema and its
 * migrations (a version-2 SQLite database upgraded in place), opening and
 * reopening, events, nested transactions, crash safety (a child SIGKILLed
 * mid-transaction) and a timing print for the write path.  Incidents are in
 * test_store_incidents.c, the outbox in test_store_outbox.c, timers in
 * test_store_timers.c; PostgreSQL-only behaviour in test_store_pg.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bot/clock.h"
#include "../bot/db.h"
#include "../bot/store.h"
#include "../bot/store_internal.h"
#include "pg_test.h"
#include "store_fixture.h"
#include "test.h"

/* The schema version as each driver records it, and the current one. */
static long long schema_version(struct sfx *f)
{
    return sfx_raw_int(f, f->pg ? "SELECT COALESCE(MAX(version), 0) FROM schema_version" : "PRAGMA user_version");
}
#define SCHEMA_SQLITE 11
#define SCHEMA_PG 7

/* ---- schema ---- */

TEST(store_schema_created)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    struct store *s = sfx_open(t.db);
    store_close(s);
    ASSERT_EQ(sfx_sq_int(t.db, "PRAGMA user_version"), SCHEMA_SQLITE);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                            " ('incidents','timeline','events','outbox','outbox_deps','inbox',"
                            "  'incident_members','decisions','timers')"), 9);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                            " ('incidents_channel','timeline_incident','events_seen','outbox_due',"
                            "  'decisions_incident','timers_pending_key','timers_due')"), 7);
    sfx_tdir_remove(&t);
}

TEST(store_wal_mode)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    struct store *s = sfx_open(t.db);
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
    sfx_tdir_remove(&t);
}

STORE_TEST(store_reopen_idempotent, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t id = sfx_new_incident(s, "view-1", 1000);
    store_close(s);
    for (int i = 0; i < 3; i++) {
        s = sfx_open(f->target);
        struct incident inc;
        ASSERT_EQ(store_incident_get(s, id, &inc), 0);
        ASSERT_STR_EQ(inc.submission_key, "view-1");
        incident_finish(&inc);
        store_close(s);
    }
    ASSERT_EQ(schema_version(f), f->pg ? SCHEMA_PG : SCHEMA_SQLITE);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incidents"), 1);
}

STORE_TEST(store_newer_schema_refused, 30)
{
    struct store *s = sfx_open(f->target);
    store_close(s);
    sfx_raw_exec(f, f->pg ? "INSERT INTO schema_version(version) VALUES (99)" : "PRAGMA user_version = 99");
    char err[512], want[512];
    s = (struct store *)&err;   /* must be reset to NULL on failure */
    ASSERT(store_open(&s, f->target, err, sizeof(err)) < 0);
    ASSERT_NULL(s);
    snprintf(want, sizeof(want), "%s: schema version 99 is newer than this sirtbot (%d)", f->target,
             f->pg ? SCHEMA_PG : SCHEMA_SQLITE);
    ASSERT_STR_EQ(err, want);
    ASSERT_EQ(schema_version(f), 99);
}

TEST(store_open_errors)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
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
    sfx_tdir_remove(&t);
}

/* A SQLite database serves one process: a second one is refused at open
 * with a clear message (and so is a second store in this process), while
 * plain SQLite readers are not held up; once the owner closes, it opens. */
TEST(store_sqlite_one_process)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    struct store *s = sfx_open(t.db);
    ASSERT_EQ(store_event_record(s, "Ev1", 1), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct store *o = NULL;
        char err[512];
        int rc = store_open(&o, t.db, err, sizeof(err));
        if (rc >= 0 || o || !strstr(err, "another sirtbot process is using this database")) {
            fprintf(stderr, "child: rc %d err %s\n", rc, err);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    struct store *o = NULL;
    char err[512], want[512];
    ASSERT_EQ(store_open(&o, t.db, err, sizeof(err)), STORE_EEXIST);
    ASSERT_NULL(o);
    snprintf(want, sizeof(want), "%s: another sirtbot process is using this database; a SQLite database "
             "serves one process (use SIRT_DB=postgres://... to run several replicas)", t.db);
    ASSERT_STR_EQ(err, want);
    /* The lock is not SQLite's: a plain reader still reads. */
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM events"), 1);
    ASSERT_EQ(store_event_record(s, "Ev2", 1), 0);
    store_close(s);
    s = sfx_open(t.db);
    ASSERT_EQ(store_event_record(s, "Ev2", 2), 1);
    store_close(s);
    sfx_tdir_remove(&t);
}

TEST(store_in_memory)
{
    /* Handy for other modules' unit tests: no file, no WAL, same schema. */
    struct store *s = sfx_open(":memory:");
    int64_t id = sfx_new_incident(s, "V1", 1);
    ASSERT_EQ(sfx_add_job(s, "k", 0, 0, NULL, 0) > 0, 1);
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

STORE_TEST(store_events, 30)
{
    struct store *s = sfx_open(f->target);
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
}

/* ---- transactions ---- */

STORE_TEST(store_nested_inner_rollback, 30)
{
    struct store *s = sfx_open(f->target);
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
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM events"), 0);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM events"), 3);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM events WHERE event_id IN ('a', 'c', 'd')"), 3);
    store_close(s);
}

STORE_TEST(store_nested_outer_rollback, 30)
{
    struct store *s = sfx_open(f->target);
    ASSERT_EQ(store_begin(s), 0);
    int64_t inc = sfx_new_incident(s, NULL, 5);
    ASSERT_EQ(store_event_record(s, "x", 1), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "y", 1), 0);
    sfx_add_job(s, "job-y", 0, 0, NULL, 0);
    ASSERT_EQ(store_commit(s), 0);
    store_rollback(s);
    ASSERT_EQ(store_event_record(s, "x", 2), 0);
    ASSERT_EQ(store_event_record(s, "y", 2), 0);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, inc, &got), STORE_ENOTFOUND);
    int64_t counts[OUTBOX_N_STATES];
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
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM events WHERE event_id = 'z'"), 0);
}

/* ---- migration from version 2 ---- */

/* A database as sirtbot version 2 left it on disk: the store's first two
 * SQLite migrations, which never change once released (store_sql.c), so
 * they are the schema a deployed version-2 bot wrote. */
static void make_v2_db(const char *path)
{
    struct db *db = NULL;
    char err[256];
    if (db_open(&db, path, err, sizeof(err)) != 0)
        TEST_FAIL("db_open(%s): %s", path, err);
    const struct store_dialect *d = store__dialect(DB_SQLITE);
    ASSERT(d->n_migrations > 2);
    if (db_migrate(db, d->migrations, 2, err, sizeof(err)) != 0)
        TEST_FAIL("db_migrate to version 2: %s", err);
    db_close(db);
}

static bool collect_inbox(void *ud, int64_t id, const char *type, const char *json)
{
    (void)id;
    (void)json;
    ASSERT_STR_EQ(type, "events_api");
    (*(int *)ud)++;
    return true;
}

TEST(store_migrate_v2_to_v5)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    make_v2_db(t.db);
    sfx_sq_exec(t.db,
             "INSERT INTO incidents(title, severity, priority, reporter, state, submission_key,"
             "  channel_id, created_ms, updated_ms)"
             " VALUES ('old', 2, 2, 'U0REP0001', 'open', 'V-old', 'C0OLD0001', 100, 100);"
             "INSERT INTO incidents(title, severity, priority, reporter, state, created_ms,"
             "  updated_ms, resolved_ms)"
             " VALUES ('done', 3, 3, 'U0REP0002', 'resolved', 50, 60, 60);"
             "INSERT INTO timeline(incident_id, ts_ms, actor, kind, text)"
             " VALUES (1, 100, 'U0REP0001', 'reported', NULL);"
             "INSERT INTO events(event_id, seen_ms) VALUES ('Ev-old', 100);"
             "INSERT INTO outbox(incident_id, idem_key, op, payload, state, next_at_ms)"
             " VALUES (1, 'SIRT-1/post', 'slack.post', '{}', 2, 0);"
             "INSERT INTO outbox(incident_id, idem_key, op, payload, state, next_at_ms)"
             " VALUES (1, 'SIRT-1/page', 'pd.trigger', '{}', 2, 0);"
             "INSERT INTO outbox(incident_id, idem_key, op, payload, state, next_at_ms)"
             " VALUES (2, 'SIRT-2/page', 'pd.trigger', '{}', 2, 0);"
             "INSERT INTO inbox(type, envelope, received_ms) VALUES ('events_api', '{}', 100);");
    ASSERT_EQ(sfx_sq_int(t.db, "PRAGMA user_version"), 2);

    struct store *s = sfx_open(t.db);
    ASSERT_EQ(sfx_sq_int(t.db, "PRAGMA user_version"), SCHEMA_SQLITE);
    /* Every old row is still there and readable through the store. */
    struct incident inc;
    ASSERT_EQ(store_incident_by_channel(s, "C0OLD0001", &inc), 0);
    ASSERT_EQ(inc.id, 1);
    ASSERT_STR_EQ(inc.title, "old");
    ASSERT_STR_EQ(inc.submission_key, "V-old");
    incident_finish(&inc);
    ASSERT_EQ(store_event_record(s, "Ev-old", 200), 1);
    struct outbox_job j;
    sfx_job_get(s, 1, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    ASSERT_EQ(j.incident_id, 1);
    outbox_job_finish(&j);
    /* The old inbox row is nobody's: the first claim takes it. */
    int n = 0;
    ASSERT_EQ(store_inbox_list(s, collect_inbox, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(store_inbox_claim(s, 10, collect_inbox, &n), 1);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM timeline"), 1);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM incidents"), 2);
    /* Incidents paged before page rounds have round 1, "SIRT-<n>": open
     * unless the incident was resolved. */
    struct page_round pr;
    memset(&pr, 0, sizeof(pr));
    ASSERT_EQ(store_page_open(s, 1, &pr), 0);
    ASSERT_EQ(pr.round, 1);
    ASSERT_STR_EQ(pr.dedup_key, "SIRT-1");
    page_round_finish(&pr);
    ASSERT_EQ(store_page_open(s, 2, &pr), STORE_ENOTFOUND);
    ASSERT_EQ(store_page_last_round(s, 2), 1);

    /* The new tables work against the old rows. */
    ASSERT_EQ(store_member_add(s, 1, "U0REP0001", "reporter", 300), 0);
    ASSERT_EQ(store_member_is(s, 1, "U0REP0001"), 1);
    struct decision d = { .incident_id = 1, .author = "U0REP0001", .created_ms = 300, .solution = "s" };
    ASSERT_EQ(store_decision_add(s, &d), 0);
    ASSERT(d.id > 0);
    ASSERT_EQ(store_timer_set(s, "reminder/SIRT-1", "reminder", 1, 5000, NULL, 300), 0);
    ASSERT_EQ(store_timer_next(s, 0), 5000);
    /* The old incident keeps its id sequence: a new one follows it. */
    ASSERT_EQ(sfx_new_incident(s, NULL, 400), 3);
    store_close(s);

    /* Opening again changes nothing. */
    s = sfx_open(t.db);
    ASSERT_EQ(sfx_sq_int(t.db, "PRAGMA user_version"), SCHEMA_SQLITE);
    ASSERT_EQ(store_member_is(s, 1, "U0REP0001"), 1);
    store_close(s);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM pragma_integrity_check"
                            " WHERE integrity_check != 'ok'"), 0);
    ASSERT_EQ(sfx_sq_int(t.db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
    sfx_tdir_remove(&t);
}

/* ---- crash safety ---- */

static bool count_open(void *ud, const struct incident *inc)
{
    (void)inc;
    (*(int *)ud)++;
    return true;
}

STORE_TEST(store_crash_mid_transaction, 30)
{
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct store *s = sfx_open(f->target);
        /* Committed: one incident, its event and two jobs, in one transaction. */
        ASSERT_EQ(store_begin(s), 0);
        ASSERT_EQ(store_event_record(s, "Ev-committed", 1), 0);
        int64_t inc = sfx_new_incident(s, "V-committed", 1);
        struct outbox_new j = { .incident_id = inc, .idem_key = "c1", .op = "x", .now_ms = 1 };
        ASSERT(store_outbox_add(s, &j) > 0);
        j.idem_key = "c2";
        ASSERT(store_outbox_add(s, &j) > 0);
        ASSERT_EQ(store_commit(s), 0);
        /* Uncommitted, and big enough that SQLite spills pages into the WAL
         * before the commit that never comes. */
        ASSERT_EQ(store_begin(s), 0);
        ASSERT_EQ(store_event_record(s, "Ev-lost", 2), 0);
        int64_t lost = sfx_new_incident(s, "V-lost", 2);
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
    if (!f->pg) {
        /* The uncommitted pages did reach the WAL: recovery has to skip them. */
        char wal[128];
        snprintf(wal, sizeof(wal), "%s-wal", f->target);
        struct stat sb;
        ASSERT_EQ(stat(wal, &sb), 0);
        fprintf(stderr, "wal after kill: %lld bytes\n", (long long)sb.st_size);
        ASSERT(sb.st_size > 1024 * 1024);
    }

    struct store *s = sfx_open(f->target);
    int n = 0;
    ASSERT_EQ(store_incidents_open(s, count_open, &n), 0);
    ASSERT_EQ(n, 1);
    int64_t counts[OUTBOX_N_STATES];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 2);
    ASSERT_EQ(counts[OUTBOX_SENDING] + counts[OUTBOX_DONE] + counts[OUTBOX_FAILED], 0);
    ASSERT_EQ(store_event_record(s, "Ev-committed", 3), 1);
    ASSERT_EQ(store_event_record(s, "Ev-lost", 3), 0);
    struct incident again = { .severity = 1, .priority = 1, .reporter = "U1",
                              .submission_key = "V-lost", .created_ms = 3 };
    ASSERT_EQ(store_incident_create(s, &again), 0);   /* the key is free */
    if (!f->pg)
        ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"), 0);
    store_close(s);
}

/* ---- performance sanity (prints, never fails on speed) ---- */

STORE_TEST(store_perf_sanity, 120)
{
    struct store *s = sfx_open(f->target);
    const int n_tx = 1000;
    uint64_t t0 = clock_mono_us();
    for (int i = 0; i < n_tx; i++) {
        char key[64];
        ASSERT_EQ(store_begin(s), 0);
        snprintf(key, sizeof(key), "view-%d", i);
        int64_t inc = sfx_new_incident(s, key, i);
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
    int64_t counts[OUTBOX_N_STATES];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 5 * n_tx);
    store_close(s);
}
