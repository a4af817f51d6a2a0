/* test_store: the store suite, each test written once over a target and
 * registered twice: on a SQLite file in a fresh temp directory (removed at
 * the end) and, as <name>_pg, on a fresh PostgreSQL database of the test
 * server.  Schema and migrations (a frozen SQLite version-2 database
 * upgraded in place), transactions, events, incidents, timeline, members,
 * decisions, timers, the outbox queue semantics, crash safety (a child
 * SIGKILLed mid-transaction) and a timing print for the write path.
 * PostgreSQL-only behaviour is in test_store_pg.c. */
#include <dirent.h>
#include <libpq-fe.h>
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
    int64_t id = new_incident(s, "view-1", 1000);
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

/* ---- incidents ---- */

STORE_TEST(store_incident_roundtrip, 30)
{
    struct store *s = sfx_open(f->target);
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
}

STORE_TEST(store_incident_set_rejects, 30)
{
    struct store *s = sfx_open(f->target);
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
}

STORE_TEST(store_incident_submission_key_conflict, 30)
{
    struct store *s = sfx_open(f->target);
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
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incidents"), 4);
    store_close(s);
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

STORE_TEST(store_incidents_open_iteration, 30)
{
    struct store *s = sfx_open(f->target);
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

STORE_TEST(store_timeline_order, 30)
{
    struct store *s = sfx_open(f->target);
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
}

/* ---- outbox ---- */

STORE_TEST(store_outbox_add_idempotent, 30)
{
    struct store *s = sfx_open(f->target);
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
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox_deps"), 0);

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
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(store_outbox_get(s, 999, &j), STORE_ENOTFOUND);

    /* The failed adds left no transaction open. */
    add_job(s, "dangling", 0, 0, NULL, 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 3);
    store_close(s);
}

STORE_TEST(store_outbox_due_order_and_deps, 30)
{
    struct store *s = sfx_open(f->target);
    char ids[256];
    int64_t a = add_job(s, "a", 100, 0, NULL, 0);
    int64_t b = add_job(s, "b", 50, 0, &a, 1);         /* waits for a */
    int64_t c = add_job(s, "c", 100, 0, NULL, 0);
    int64_t d = add_job(s, "d", 20, 0, NULL, 0);
    int64_t deps_ac[] = { a, c, a };                      /* duplicate dep is fine */
    int64_t e = add_job(s, "e", 0, 0, deps_ac, 3);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox_deps"), 3);

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
}

STORE_TEST(store_outbox_deps_deadline, 30)
{
    struct store *s = sfx_open(f->target);
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
}

STORE_TEST(store_outbox_failed_dep_blocks, 30)
{
    struct store *s = sfx_open(f->target);
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
}

STORE_TEST(store_outbox_next_due_values, 30)
{
    struct store *s = sfx_open(f->target);
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
}

STORE_TEST(store_outbox_transitions, 30)
{
    struct store *s = sfx_open(f->target);
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

    int64_t fj = add_job(s, "f", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, fj, 1), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, fj, "channel_not_found", 2), 0);
    job_get(s, fj, &j);
    ASSERT_EQ(j.state, OUTBOX_FAILED);
    ASSERT_STR_EQ(j.last_error, "channel_not_found");
    outbox_job_finish(&j);

    ASSERT_EQ(store_outbox_mark_done(s, 999, NULL, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_retry(s, 999, 1, "x", false, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_failed(s, 999, "x", 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_set_payload(s, 999, "{}", 1), STORE_ENOTFOUND);
    store_close(s);
}

STORE_TEST(store_outbox_recover_after_crash, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = add_job(s, "a", 0, 0, NULL, 0);
    int64_t b = add_job(s, "b", 0, 0, NULL, 0);
    int64_t c = add_job(s, "c", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, a, 10), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, b, 10), 0);
    ASSERT_EQ(store_outbox_mark_done(s, b, NULL, 11), 0);
    store_close(s);   /* a was never marked done */

    s = sfx_open(f->target);
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
}

STORE_TEST(store_outbox_counts_by_state, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t counts[OUTBOX_N_STATES] = { -1, -1, -1, -1, -1 };
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    for (int i = 0; i < OUTBOX_N_STATES; i++)
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
}

/* ---- migration from version 2 ---- */

/* The schema as sirtbot version 2 wrote it, frozen here on purpose: it is the
 * file a deployed bot has on disk, whatever the migrations list says now. */
static const char v2_schema[] =
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  title TEXT, description TEXT,"
    "  severity INTEGER CHECK (severity BETWEEN 1 AND 4),"
    "  priority INTEGER CHECK (priority BETWEEN 1 AND 4),"
    "  component TEXT, repro TEXT, issue_link TEXT,"
    "  reporter TEXT NOT NULL, owner TEXT,"
    "  state TEXT NOT NULL DEFAULT 'open',"
    "  origin_channel TEXT, submission_key TEXT UNIQUE,"
    "  channel_id TEXT, channel_name TEXT,"
    "  gitlab_project_id INTEGER NOT NULL DEFAULT 0,"
    "  gitlab_project_path TEXT, gitlab_project_url TEXT,"
    "  gitlab_issue_iid INTEGER NOT NULL DEFAULT 0, gitlab_issue_url TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
    "  resolved_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX incidents_channel ON incidents(channel_id);"
    "CREATE TABLE timeline ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  ts_ms INTEGER NOT NULL, actor TEXT, kind TEXT, text TEXT);"
    "CREATE INDEX timeline_incident ON timeline(incident_id, ts_ms, id);"
    "CREATE TABLE events (event_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL);"
    "CREATE INDEX events_seen ON events(seen_ms);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident_id INTEGER NULL REFERENCES incidents(id),"
    "  idem_key TEXT UNIQUE NOT NULL, op TEXT NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  maybe_sent INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL DEFAULT 0,"
    "  deps_deadline_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, result TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(state, next_at_ms);"
    "CREATE TABLE outbox_deps ("
    "  job_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  dep_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  PRIMARY KEY (job_id, dep_id));"
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  type TEXT NOT NULL, envelope TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL DEFAULT 0);"
    "PRAGMA user_version = 2;";

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
    sfx_sq_exec(t.db, v2_schema);
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
    job_get(s, 1, &j);
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
    ASSERT_EQ(new_incident(s, NULL, 400), 3);
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

/* ---- incidents since ---- */

STORE_TEST(store_incidents_since_window, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t old_open = new_incident(s, NULL, 100);
    int64_t old_resolved = new_incident(s, NULL, 200);
    int64_t recent_resolved = new_incident(s, NULL, 1000);
    int64_t recent_open = new_incident(s, NULL, 1500);
    int64_t edge = new_incident(s, NULL, 999);
    ASSERT_EQ(store_incident_set_text(s, old_resolved, "state", "resolved", 300), 0);
    ASSERT_EQ(store_incident_set_text(s, recent_resolved, "state", "resolved", 1100), 0);
    ASSERT_EQ(store_incident_set_text(s, edge, "state", "resolved", 1100), 0);

    struct open_ctx ctx = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, 1000, collect_open, &ctx), 0);
    ASSERT_EQ(ctx.n, 3);
    ASSERT_EQ(ctx.ids[0], old_open);         /* old, but still open */
    ASSERT_EQ(ctx.ids[1], recent_resolved);  /* created exactly at since */
    ASSERT_EQ(ctx.ids[2], recent_open);

    struct open_ctx early = { .s = s, .stop_after = 1 };
    ASSERT_EQ(store_incidents_since(s, 1000, collect_open, &early), 0);
    ASSERT_EQ(early.n, 1);

    struct open_ctx all = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, 0, collect_open, &all), 0);
    ASSERT_EQ(all.n, 5);
    for (int i = 1; i < all.n; i++)
        ASSERT(all.ids[i] > all.ids[i - 1]);

    struct open_ctx future = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, INT64_MAX, collect_open, &future), 0);
    ASSERT_EQ(future.n, 2);                  /* only the open ones */
    store_close(s);
}

/* ---- members ---- */

STORE_TEST(store_members, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = new_incident(s, NULL, 1);
    int64_t b = new_incident(s, NULL, 1);
    ASSERT_EQ(store_member_is(s, a, "U0EM00001"), 0);
    ASSERT_EQ(store_member_add(s, a, "U0EM00001", "em", 10), 0);
    ASSERT_EQ(store_member_add(s, a, "U0EM00001", "owner", 20), 0);     /* idempotent */
    ASSERT_EQ(store_member_add(s, a, "U0RESP001", NULL, 30), 0);
    ASSERT_EQ(store_member_is(s, a, "U0EM00001"), 1);
    ASSERT_EQ(store_member_is(s, a, "U0RESP001"), 1);
    ASSERT_EQ(store_member_is(s, b, "U0EM00001"), 0);                   /* per incident */
    ASSERT_EQ(store_member_is(s, a, "U0em00001"), 0);                   /* ids are exact */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incident_members"), 2);
    /* The first add's role and time are kept. */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incident_members"
                            " WHERE user_id = 'U0EM00001' AND role = 'em' AND added_ms = 10"), 1);

    ASSERT_EQ(store_member_add(s, a, NULL, "x", 1), STORE_EINVAL);
    ASSERT_EQ(store_member_add(s, a, "", "x", 1), STORE_EINVAL);
    ASSERT_EQ(store_member_is(s, a, NULL), 0);
    ASSERT_EQ(store_member_is(s, a, ""), 0);
    ASSERT(store_member_add(s, 999, "U0EM00001", "em", 1) < 0);        /* no such incident */
    ASSERT_EQ(store_member_is(s, 999, "U0EM00001"), 0);

    /* Inside a rolled-back transaction nothing sticks. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_member_add(s, b, "U0PM00001", "pm", 40), 0);
    ASSERT_EQ(store_member_is(s, b, "U0PM00001"), 1);
    store_rollback(s);
    ASSERT_EQ(store_member_is(s, b, "U0PM00001"), 0);
    store_close(s);
}

/* ---- decisions ---- */

STORE_TEST(store_decision_roundtrip, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = new_incident(s, NULL, 1);
    /* Zeroed delivery/validation fields must not read as "validated: no". */
    struct decision d = {
        .incident_id = inc, .author = "U0EM00001", .created_ms = 5000,
        .solution = "Rotate the token", .options = "rotate; revoke all",
        .effectiveness = "stops new abuse", .customers = "all", .how_affected = "cannot log in",
        .magnitude = "minutes", .consequences = "sessions end",
    };
    ASSERT_EQ(store_decision_add(s, &d), 0);
    ASSERT(d.id > 0);

    struct decision got;
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.id, d.id);
    ASSERT_EQ(got.incident_id, inc);
    ASSERT_STR_EQ(got.author, "U0EM00001");
    ASSERT_EQ(got.created_ms, 5000);
    ASSERT_STR_EQ(got.solution, "Rotate the token");
    ASSERT_STR_EQ(got.options, "rotate; revoke all");
    ASSERT_STR_EQ(got.effectiveness, "stops new abuse");
    ASSERT_STR_EQ(got.customers, "all");
    ASSERT_STR_EQ(got.how_affected, "cannot log in");
    ASSERT_STR_EQ(got.magnitude, "minutes");
    ASSERT_STR_EQ(got.consequences, "sessions end");
    ASSERT_EQ(got.fix_delivered_ms, 0);
    ASSERT_NULL(got.fix_delivered_by);
    ASSERT_EQ(got.validated, -1);
    ASSERT_NULL(got.validated_by);
    ASSERT_EQ(got.validated_ms, 0);
    decision_finish(&got);
    ASSERT_NULL(got.solution);
    decision_finish(&got);     /* finishing twice is harmless */
    decision_finish(NULL);

    ASSERT_EQ(store_decision_fix_delivered(s, d.id, "U0DEV0001", 6000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.fix_delivered_ms, 6000);
    ASSERT_STR_EQ(got.fix_delivered_by, "U0DEV0001");
    ASSERT_EQ(got.validated, -1);
    decision_finish(&got);

    ASSERT_EQ(store_decision_validated(s, d.id, true, "U0EM00001", 7000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.validated, 1);
    ASSERT_STR_EQ(got.validated_by, "U0EM00001");
    ASSERT_EQ(got.validated_ms, 7000);
    ASSERT_EQ(got.fix_delivered_ms, 6000);
    decision_finish(&got);

    ASSERT_EQ(store_decision_validated(s, d.id, false, "U0PM00001", 8000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.validated, 0);
    ASSERT_STR_EQ(got.validated_by, "U0PM00001");
    ASSERT_EQ(got.validated_ms, 8000);
    decision_finish(&got);

    /* Sparse decision: NULL texts stay NULL. */
    struct decision sparse = { .incident_id = inc, .created_ms = 9000, .validated = 1,
                               .fix_delivered_ms = 42 };
    ASSERT_EQ(store_decision_add(s, &sparse), 0);
    ASSERT(sparse.id > d.id);
    ASSERT_EQ(store_decision_get(s, sparse.id, &got), 0);
    ASSERT_NULL(got.author);
    ASSERT_NULL(got.solution);
    ASSERT_EQ(got.validated, -1);
    ASSERT_EQ(got.fix_delivered_ms, 0);
    decision_finish(&got);

    ASSERT_EQ(store_decision_get(s, 999, &got), STORE_ENOTFOUND);
    ASSERT_EQ(store_decision_fix_delivered(s, 999, "U1", 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_decision_validated(s, 999, true, "U1", 1), STORE_ENOTFOUND);
    struct decision orphan = { .incident_id = 999, .author = "U1" };
    ASSERT(store_decision_add(s, &orphan) < 0);
    ASSERT_EQ(orphan.id, 0);
    store_close(s);
}

struct dec_ctx {
    struct store *s;
    int64_t ids[8];
    int n, stop_after;
};

static bool collect_decisions(void *ud, const struct decision *d)
{
    struct dec_ctx *c = ud;
    c->ids[c->n++] = d->id;
    /* Writing the store from inside the callback is allowed. */
    ASSERT_EQ(store_decision_fix_delivered(c->s, d->id, "U0CB", 77), 0);
    return c->n != c->stop_after;
}

STORE_TEST(store_decisions_list_order, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = new_incident(s, NULL, 1);
    int64_t other = new_incident(s, NULL, 1);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        struct decision d = { .incident_id = inc, .author = "U1", .created_ms = 100 - i };
        ASSERT_EQ(store_decision_add(s, &d), 0);
        ids[i] = d.id;
        struct decision o = { .incident_id = other, .author = "U2", .created_ms = 100 };
        ASSERT_EQ(store_decision_add(s, &o), 0);
    }
    struct dec_ctx c = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_decisions_list(s, inc, collect_decisions, &c), 0);
    ASSERT_EQ(c.n, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(c.ids[i], ids[i]);
    struct decision got;
    ASSERT_EQ(store_decision_get(s, ids[2], &got), 0);
    ASSERT_EQ(got.fix_delivered_ms, 77);
    decision_finish(&got);

    struct dec_ctx early = { .s = s, .stop_after = 2 };
    ASSERT_EQ(store_decisions_list(s, inc, collect_decisions, &early), 0);
    ASSERT_EQ(early.n, 2);
    struct dec_ctx none = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_decisions_list(s, 999, collect_decisions, &none), 0);
    ASSERT_EQ(none.n, 0);
    store_close(s);
}

/* ---- timers ---- */

/* Keys of due timers at now, in order, as "a,b,c". */
static void due_keys(struct store *s, int64_t now, size_t max, char *out, size_t outlen)
{
    struct sched_timer *v = NULL;
    size_t n = 99;
    ASSERT_EQ(store_timers_due(s, now, max, &v, &n), 0);
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT(v[i].due_ms <= now);
        len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? "," : "", v[i].key);
    }
    if (n == 0)
        ASSERT_NULL(v);
    sched_timers_free(v, n);
}

STORE_TEST(store_timer_set_move_cancel, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = new_incident(s, NULL, 1);
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), INT64_MAX);

    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 5000,
                              "{\"n\":1}", 100), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    int64_t id = tm.id;
    ASSERT(id > 0);
    ASSERT_STR_EQ(tm.key, "handoff_prompt/SIRT-1");
    ASSERT_STR_EQ(tm.kind, "handoff_prompt");
    ASSERT_EQ(tm.incident_id, inc);
    ASSERT_EQ(tm.due_ms, 5000);
    ASSERT_STR_EQ(tm.payload, "{\"n\":1}");
    sched_timer_finish(&tm);
    ASSERT_NULL(tm.key);
    sched_timer_finish(&tm);
    sched_timer_finish(NULL);
    ASSERT_EQ(store_timer_next(s, 0), 5000);

    /* Setting the key again moves the same timer (earlier or later). */
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt2", 0, 3000, NULL, 200), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    ASSERT_EQ(tm.id, id);
    ASSERT_STR_EQ(tm.kind, "handoff_prompt2");
    ASSERT_EQ(tm.incident_id, 0);                      /* 0 is stored as NULL */
    ASSERT_EQ(tm.due_ms, 3000);
    ASSERT_NULL(tm.payload);
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE incident_id IS NULL"), 1);
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 9000, "{}", 300), 0);
    ASSERT_EQ(store_timer_next(s, 0), 9000);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers"), 1);
    ASSERT_EQ(sfx_raw_int(f, "SELECT created_ms * 1000 + updated_ms FROM timers"), 100 * 1000 + 300);

    /* Cancel: gone from get/due/next; cancelling again (or a missing key) is fine. */
    ASSERT_EQ(store_timer_set(s, "other", "reminder", inc, 8000, NULL, 300), 0);
    ASSERT_EQ(store_timer_cancel(s, "handoff_prompt/SIRT-1"), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), 8000);
    ASSERT_EQ(store_timer_cancel(s, "handoff_prompt/SIRT-1"), 0);
    ASSERT_EQ(store_timer_cancel(s, "never-set"), 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'handoff_prompt/SIRT-1'"), 2);

    /* After a cancel the key is free: a new timer, not the canceled one. */
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 4000, NULL, 400), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    ASSERT(tm.id != id);
    ASSERT_EQ(tm.due_ms, 4000);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 4000);

    /* Bad input. */
    ASSERT_EQ(store_timer_set(s, NULL, "k", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "", "k", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "k", NULL, 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "k", "", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_get(s, NULL, &tm), STORE_EINVAL);
    ASSERT_EQ(store_timer_cancel(s, NULL), STORE_EINVAL);
    /* No transaction left open by the failed calls. */
    ASSERT_EQ(store_commit(s), STORE_EINVAL);
    store_close(s);
}

STORE_TEST(store_timers_due_next_done, 30)
{
    struct store *s = sfx_open(f->target);
    char keys[256];
    ASSERT_EQ(store_timer_set(s, "c", "k", 0, 300, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a", "k", 0, 100, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b2", "k", 0, 200, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b1", "k", 0, 200, NULL, 1), 0);   /* same due: insertion order */
    ASSERT_EQ(store_timer_set(s, "late", "k", 0, 10000, NULL, 1), 0);
    ASSERT_EQ(store_timer_next(s, 0), 100);

    due_keys(s, 99, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    due_keys(s, 100, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a");
    due_keys(s, 300, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2,b1,c");
    due_keys(s, 300, 2, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2");
    due_keys(s, 300, 0, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    due_keys(s, INT64_MAX, SIZE_MAX, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2,b1,c,late");

    /* Fire "a": done, it no longer shows up or blocks its key. */
    struct sched_timer *v = NULL;
    size_t n = 0;
    ASSERT_EQ(store_timers_due(s, 100, 1, &v, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(v[0].key, "a");
    int64_t a_id = v[0].id;
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_done(s, a_id), 0);
    ASSERT_EQ(store_timer_done(s, a_id), 0);                 /* idempotent */
    ASSERT_EQ(store_timer_done(s, 999), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), 200);
    due_keys(s, 300, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b2,b1,c");
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "a", &tm), STORE_ENOTFOUND);

    /* Set after done: a new pending timer under the same key. */
    ASSERT_EQ(store_timer_set(s, "a", "k", 0, 150, "{\"again\":true}", 120), 0);
    ASSERT_EQ(store_timer_get(s, "a", &tm), 0);
    ASSERT(tm.id != a_id);
    ASSERT_EQ(tm.due_ms, 150);
    ASSERT_STR_EQ(tm.payload, "{\"again\":true}");
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'a' ORDER BY id LIMIT 1"), 1);
    ASSERT_EQ(store_timer_next(s, 0), 150);

    /* Done on a canceled timer leaves it canceled. */
    ASSERT_EQ(store_timer_get(s, "c", &tm), 0);
    int64_t c_id = tm.id;
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_cancel(s, "c"), 0);
    ASSERT_EQ(store_timer_done(s, c_id), 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'c'"), 2);

    /* Everything fired: next is INT64_MAX again. */
    ASSERT_EQ(store_timers_due(s, INT64_MAX, 100, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(store_timer_done(s, v[i].id), 0);
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_next(s, 0), INT64_MAX);
    due_keys(s, INT64_MAX, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    store_close(s);
}

/* A handler that sets its own key again while its timer fires must get the
 * new schedule, whether the timer is marked done before or after it runs. */
STORE_TEST(store_timer_reset_while_firing, 30)
{
    struct store *s = sfx_open(f->target);
    struct sched_timer tm;

    /* Done first, then set. */
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 1000, NULL, 0), 0);
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 2000, NULL, 1000), 0);
    ASSERT_EQ(store_commit(s), 0);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 2000);

    /* Set first (the firing timer is due, so it is retired), then done. */
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 3000, NULL, 2000), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    ASSERT_EQ(store_commit(s), 0);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 3000);
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(tm.due_ms, 3000);
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE state = 0"), 1);
    store_close(s);
}

STORE_TEST(store_timers_cancel_incident_only_its_own, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = new_incident(s, NULL, 1);
    int64_t b = new_incident(s, NULL, 1);
    char keys[256];
    ASSERT_EQ(store_timer_set(s, "a/1", "k", a, 100, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a/2", "k", a, 200, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a/fired", "k", a, 50, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b/1", "k", b, 150, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "global", "k", 0, 300, NULL, 1), 0);
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "a/fired", &tm), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    sched_timer_finish(&tm);

    ASSERT_EQ(store_timers_cancel_incident(s, a), 0);
    due_keys(s, 1000, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b/1,global");
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'a/fired'"), 1);   /* stays done */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE state = 2"), 2);
    ASSERT_EQ(store_timers_cancel_incident(s, a), 0);       /* nothing left: fine */
    ASSERT_EQ(store_timers_cancel_incident(s, 0), 0);       /* 0 is "none", not the NULL rows */
    due_keys(s, 1000, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b/1,global");
    store_close(s);
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
    int64_t counts[OUTBOX_N_STATES];
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 5 * n_tx);
    store_close(s);
}

/* ---- page rounds ---- */

struct rounds {
    char keys[8][64];
    int open;
    int n;
};

static bool collect_round(void *ud, const struct page_round *r)
{
    struct rounds *c = ud;
    if (c->n < 8)
        snprintf(c->keys[c->n++], 64, "%d:%s:%s", r->round, r->dedup_key, r->paged_user ? r->paged_user : "-");
    if (!r->resolved_ms)
        c->open++;
    return true;
}

STORE_TEST(store_page_rounds, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = new_incident(s, NULL, 100), b = new_incident(s, NULL, 100);
    struct page_round r;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(store_page_last_round(s, a), 0);
    ASSERT_EQ(store_page_open(s, a, &r), STORE_ENOTFOUND);
    ASSERT_EQ(store_page_add(s, a, 1, "SIRT-1", "report", 200), 0);
    ASSERT_EQ(store_page_add(s, a, 2, "SIRT-1/page-2", "handoff", 300), 0);
    /* A round or a key cannot be recorded twice, not even for another incident. */
    ASSERT_EQ(store_page_add(s, a, 2, "SIRT-1/page-x", "page", 300), STORE_EEXIST);
    ASSERT_EQ(store_page_add(s, b, 1, "SIRT-1", "page", 300), STORE_EEXIST);
    ASSERT_EQ(store_page_add(s, b, 0, "SIRT-2", "page", 300), STORE_EINVAL);
    ASSERT_EQ(store_page_last_round(s, a), 2);
    ASSERT_EQ(store_page_open(s, a, &r), 0);   /* the newest open round */
    ASSERT_EQ(r.round, 2);
    ASSERT_STR_EQ(r.dedup_key, "SIRT-1/page-2");
    ASSERT_STR_EQ(r.reason, "handoff");
    ASSERT_EQ(r.created_ms, 300);
    ASSERT(r.paged_user == NULL);
    page_round_finish(&r);
    ASSERT_EQ(store_page_set_user(s, a, "SIRT-1/page-2", "U0SECOPS1"), 0);
    ASSERT_EQ(store_page_set_user(s, b, "SIRT-1/page-2", "U0SECOPS1"), STORE_ENOTFOUND);
    /* Resolving one round leaves the other open; NULL resolves the rest. */
    ASSERT_EQ(store_page_resolve(s, a, "SIRT-1/page-2", 400), 1);
    ASSERT_EQ(store_page_resolve(s, a, "SIRT-1/page-2", 500), 0);
    ASSERT_EQ(store_page_open(s, a, &r), 0);
    ASSERT_STR_EQ(r.dedup_key, "SIRT-1");
    page_round_finish(&r);
    struct rounds c = { .n = 0 };
    ASSERT_EQ(store_pages_list(s, a, collect_round, &c), 0);
    ASSERT_EQ(c.n, 2);
    ASSERT_EQ(c.open, 1);
    ASSERT_STR_EQ(c.keys[0], "1:SIRT-1:-");
    ASSERT_STR_EQ(c.keys[1], "2:SIRT-1/page-2:U0SECOPS1");
    ASSERT_EQ(store_page_resolve(s, a, NULL, 600), 1);
    ASSERT_EQ(store_page_open(s, a, &r), STORE_ENOTFOUND);
    ASSERT_EQ(store_page_last_round(s, b), 0);
    store_close(s);
}

/* The journal of created jobs reports committed inserts once, and never
 * those of a rolled-back savepoint or transaction. */
TEST(store_outbox_created_journal)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    struct store *s = sfx_open(t.db);
    store_outbox_track(s, true);
    struct outbox_new j = { .idem_key = "a", .op = "slack.post", .payload = "{}", .now_ms = 5 };
    ASSERT_EQ(store_begin(s), 0);
    int64_t a = store_outbox_add(s, &j);
    ASSERT(a > 0);
    ASSERT(store_outbox_take_created(s) == NULL);   /* not committed yet */
    ASSERT_EQ(store_begin(s), 0);
    j.idem_key = "b";
    ASSERT(store_outbox_add(s, &j) > 0);
    store_rollback(s);                              /* the savepoint only */
    int64_t deps[] = { a };
    j.idem_key = "c";
    j.deps = deps;
    j.n_deps = 1;
    int64_t c = store_outbox_add(s, &j);
    ASSERT_EQ(store_commit(s), 0);
    struct outbox_created *list = store_outbox_take_created(s);
    ASSERT(list && list->next && !list->next->next);
    ASSERT_EQ(list->job.id, a);
    ASSERT_EQ(list->next->job.id, c);
    ASSERT_EQ(list->next->n_deps, 1);
    ASSERT_EQ(list->next->deps[0], a);
    outbox_created_free(list);
    ASSERT(store_outbox_take_created(s) == NULL);   /* once */
    ASSERT_EQ(store_begin(s), 0);
    j.idem_key = "d";
    j.n_deps = 0;
    ASSERT(store_outbox_add(s, &j) > 0);
    store_rollback(s);
    ASSERT(store_outbox_take_created(s) == NULL);
    /* The same idem key again inserts nothing: nothing reported. */
    j.idem_key = "a";
    ASSERT_EQ(store_outbox_add(s, &j), a);
    ASSERT(store_outbox_take_created(s) == NULL);
    store_close(s);
    sfx_tdir_remove(&t);
}

/* page_acks (issue 9, pages that are seen): the first acknowledgement seen
 * stands; the bot's columns and PagerDuty's are written separately. */
static bool count_acks(void *ud, const struct page_ack *a)
{
    int *n = ud;
    if (a->escalation_key)
        (*n)++;
    return true;
}

STORE_TEST(store_page_acks, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = new_incident(s, NULL, 1);
    struct page_ack a;
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1", &a), STORE_ENOTFOUND);
    memset(&a, 0, sizeof(a));
    a.dedup_key = (char *)"SIRT-1";
    a.incident_id = inc;
    a.polls = 2;
    a.poll_job = 7;
    ASSERT_EQ(store_page_ack_put(s, &a), 0);
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1", 5000, "Alice", "acknowledged"), 0);
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1", 9000, "Bob", "acknowledged"), 0);   /* the first stands */
    a.noticed_ms = 6000;
    a.escalation_key = (char *)"SIRT-1/escalation-1";
    a.escalated_ms = 5500;
    ASSERT_EQ(store_page_ack_put(s, &a), 0);   /* leaves ack_* alone */
    struct page_ack b;
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1", &b), 0);
    ASSERT_EQ(b.ack_ms, 5000);
    ASSERT_STR_EQ(b.ack_by, "Alice");
    ASSERT_STR_EQ(b.ack_how, "acknowledged");
    ASSERT_EQ(b.noticed_ms, 6000);
    ASSERT_STR_EQ(b.escalation_key, "SIRT-1/escalation-1");
    ASSERT_EQ(b.polls, 2);
    ASSERT_EQ(b.poll_job, 7);
    page_ack_finish(&b);
    /* Seen before the bot wrote its row: created by the capture. */
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1/page-2", 7000, NULL, "resolved"), 0);
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1/page-2", &b), 0);
    ASSERT_EQ(b.ack_ms, 7000);
    ASSERT_NULL(b.ack_by);
    page_ack_finish(&b);
    int n = 0;
    ASSERT_EQ(store_page_acks_list(s, inc, count_acks, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT(store_page_ack_seen(s, inc, "SIRT-1", 0, "x", "acknowledged") < 0);
    store_close(s);
}

/* A replica whose lease ended while it was still sending may report a
 * retry after another replica finished the job: the late retry must not
 * make the finished job pending again (it would be sent twice). */
STORE_TEST(store_outbox_late_retry_keeps_done, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = add_job(s, "late-retry", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_done(s, a, "{\"ok\":true}", 200), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, a, 5000, "timeout", true, 300), STORE_ENOTFOUND);
    struct outbox_job j;
    job_get(s, a, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    outbox_job_finish(&j);
    int64_t b = add_job(s, "late-retry-failed", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_failed(s, b, "bad", 200), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, b, 5000, "timeout", false, 300), STORE_ENOTFOUND);
    job_get(s, b, &j);
    ASSERT_EQ(j.state, OUTBOX_FAILED);
    outbox_job_finish(&j);
    /* a pending job still takes its retry */
    int64_t c = add_job(s, "late-retry-pending", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_retry(s, c, 5000, "timeout", true, 300), 0);
    job_get(s, c, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.next_at_ms, 5000);
    outbox_job_finish(&j);
    store_close(s);
}
