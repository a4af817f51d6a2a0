/* store (SQLite backend): owns the one sqlite3 connection, the schema and
 * its migrations (PRAGMA user_version), and every prepared statement, which
 * is prepared once at open and finalized in store_close.  Strings handed out
 * in structs are malloc'd copies owned by the caller (incident_finish,
 * decision_finish, sched_timer_finish, outbox_job_finish); entries passed to
 * iteration callbacks are borrowed for the call, and the callbacks may use
 * the store (rows are read first). */
#include "store.h"

#include <assert.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* ---- schema ---- */

/* Migration i takes the schema from user_version i to i + 1.  Append only:
 * a step, once released, never changes. */
static const char *const migrations[] = {
    /* 0 -> 1 */
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
    "  PRIMARY KEY (job_id, dep_id));",
    /* 1 -> 2: envelopes acked but not yet handled (see store_inbox_add) */
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  type TEXT NOT NULL, envelope TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL DEFAULT 0);",
    /* 2 -> 3: people on an incident, short-term decisions, timers */
    "CREATE TABLE incident_members ("
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL, role TEXT,"
    "  added_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (incident_id, user_id));"
    "CREATE TABLE decisions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
    "  author TEXT, created_ms INTEGER NOT NULL DEFAULT 0,"
    "  solution TEXT, options TEXT, effectiveness TEXT, customers TEXT,"
    "  how_affected TEXT, magnitude TEXT, consequences TEXT,"
    "  fix_delivered_ms INTEGER NOT NULL DEFAULT 0, fix_delivered_by TEXT,"
    "  validated INTEGER NOT NULL DEFAULT -1 CHECK (validated BETWEEN -1 AND 1),"
    "  validated_by TEXT, validated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX decisions_incident ON decisions(incident_id, id);"
    "CREATE TABLE timers ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL, kind TEXT NOT NULL,"
    "  incident_id INTEGER NULL,"
    "  due_ms INTEGER NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0,"      /* 0 pending, 1 done, 2 canceled */
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX timers_pending_key ON timers(key) WHERE state = 0;"
    "CREATE INDEX timers_due ON timers(state, due_ms);",
    /* 3 -> 4 (retry until delivered): when a job was first sent (its
     * give-up and page-announcement clocks start there); state 4 = dropped
     * (no longer needed, e.g. a page for a resolved incident). */
    "ALTER TABLE outbox ADD COLUMN first_due_ms INTEGER NOT NULL DEFAULT 0;",
    /* 4 -> 5: page rounds, one PagerDuty alert (dedup_key) each.  Incidents
     * paged before this version had one round, "SIRT-<n>", still open unless
     * the incident was resolved. */
    "CREATE TABLE pages ("
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  round INTEGER NOT NULL CHECK (round >= 1),"
    "  dedup_key TEXT NOT NULL UNIQUE, reason TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, resolved_ms INTEGER NOT NULL DEFAULT 0,"
    "  paged_user TEXT,"
    "  PRIMARY KEY (incident_id, round));"
    "INSERT INTO pages(incident_id, round, dedup_key, reason, created_ms, resolved_ms)"
    "  SELECT i.id, 1, 'SIRT-' || i.id, 'page', i.created_ms,"
    "         CASE WHEN i.state = 'resolved' THEN max(i.resolved_ms, 1) ELSE 0 END"
    "  FROM incidents i WHERE EXISTS (SELECT 1 FROM outbox o"
    "    WHERE o.incident_id = i.id AND o.op = 'pd.trigger');",
};
#define SCHEMA_VERSION ((int)ARRAY_LEN(migrations))

/* ---- statements ---- */

#define INC_COLS \
    "id, title, description, severity, priority, component, repro, issue_link, reporter, " \
    "owner, state, origin_channel, submission_key, channel_id, channel_name, " \
    "gitlab_project_id, gitlab_project_path, gitlab_project_url, gitlab_issue_iid, " \
    "gitlab_issue_url, created_ms, updated_ms, resolved_ms"
#define DEC_COLS \
    "id, incident_id, author, created_ms, solution, options, effectiveness, customers, " \
    "how_affected, magnitude, consequences, fix_delivered_ms, fix_delivered_by, validated, " \
    "validated_by, validated_ms"
#define TIMER_COLS "id, key, kind, incident_id, due_ms, payload"
#define PAGE_COLS "incident_id, round, dedup_key, reason, created_ms, resolved_ms, paged_user"
#define JOB_COLS \
    "o.id, o.incident_id, o.idem_key, o.op, o.payload, o.state, o.attempts, o.maybe_sent, " \
    "o.next_at_ms, o.deps_deadline_ms, o.last_error, o.result, o.created_ms, o.updated_ms, " \
    "o.first_due_ms"
/* A dependency of job o that is not done or dropped (failed ones included;
 * pending ones, retrying, make o wait), or failed. */
#define DEP_UNFINISHED \
    "EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox p ON p.id = d.dep_id" \
    " WHERE d.job_id = o.id AND p.state NOT IN (2, 4))"
#define DEP_FAILED \
    "EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox p ON p.id = d.dep_id" \
    " WHERE d.job_id = o.id AND p.state = 3)"

enum stmt_id {
    ST_BEGIN, ST_RELEASE, ST_ROLLBACK_TO,
    ST_EVENT_INSERT, ST_EVENT_PRUNE,
    ST_INC_INSERT, ST_INC_BY_KEY, ST_INC_GET, ST_INC_BY_CHANNEL, ST_INC_OPEN, ST_INC_SINCE,
    ST_TL_INSERT, ST_TL_LIST,
    ST_MEM_ADD, ST_MEM_IS,
    ST_DEC_INSERT, ST_DEC_GET, ST_DEC_FIX, ST_DEC_VALIDATED, ST_DEC_LIST,
    ST_TM_RETIRE, ST_TM_UPSERT, ST_TM_CANCEL, ST_TM_GET, ST_TM_DUE, ST_TM_NEXT, ST_TM_DONE,
    ST_TM_EXISTS, ST_TM_CANCEL_INC,
    ST_OB_INSERT, ST_OB_BY_KEY, ST_OB_DEP_INSERT, ST_OB_GET, ST_OB_DUE, ST_OB_NEXT_DUE,
    ST_OB_BLOCKED, ST_OB_SENDING, ST_OB_STATE, ST_OB_DONE, ST_OB_RETRY, ST_OB_FAILED,
    ST_OB_PAYLOAD, ST_OB_RECOVER, ST_OB_COUNTS, ST_OB_DROPPED, ST_OB_OLDEST, ST_OB_PENDING, ST_OB_OPEN_DEPS,
    ST_INBOX_ADD, ST_INBOX_DEL, ST_INBOX_LIST,
    ST_PG_INSERT, ST_PG_LAST, ST_PG_OPEN, ST_PG_LIST, ST_PG_RESOLVE, ST_PG_USER,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "SAVEPOINT sirt",
    [ST_RELEASE] = "RELEASE sirt",
    [ST_ROLLBACK_TO] = "ROLLBACK TO sirt",
    [ST_EVENT_INSERT] = "INSERT OR IGNORE INTO events(event_id, seen_ms) VALUES (?1, ?2)",
    [ST_EVENT_PRUNE] = "DELETE FROM events WHERE seen_ms < ?1",
    [ST_INC_INSERT] =
        "INSERT INTO incidents(title, description, severity, priority, component, repro,"
        " issue_link, reporter, owner, state, origin_channel, submission_key, channel_id,"
        " channel_name, gitlab_project_id, gitlab_project_path, gitlab_project_url,"
        " gitlab_issue_iid, gitlab_issue_url, created_ms, updated_ms, resolved_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, COALESCE(?10, 'open'), ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20, ?21)"
        " ON CONFLICT(submission_key) DO NOTHING",
    [ST_INC_BY_KEY] = "SELECT id FROM incidents WHERE submission_key = ?1",
    [ST_INC_GET] = "SELECT " INC_COLS " FROM incidents WHERE id = ?1",
    [ST_INC_BY_CHANNEL] =
        "SELECT " INC_COLS " FROM incidents WHERE channel_id = ?1 ORDER BY id DESC LIMIT 1",
    [ST_INC_OPEN] = "SELECT " INC_COLS " FROM incidents WHERE state = 'open' ORDER BY id",
    [ST_INC_SINCE] =
        "SELECT " INC_COLS " FROM incidents WHERE created_ms >= ?1 OR state = 'open' ORDER BY id",
    [ST_TL_INSERT] =
        "INSERT INTO timeline(incident_id, ts_ms, actor, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TL_LIST] =
        "SELECT id, incident_id, ts_ms, actor, kind, text FROM timeline"
        " WHERE incident_id = ?1 ORDER BY ts_ms, id",
    [ST_MEM_ADD] =
        "INSERT INTO incident_members(incident_id, user_id, role, added_ms) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(incident_id, user_id) DO NOTHING",
    [ST_MEM_IS] = "SELECT 1 FROM incident_members WHERE incident_id = ?1 AND user_id = ?2",
    [ST_DEC_INSERT] =
        "INSERT INTO decisions(incident_id, author, created_ms, solution, options, effectiveness,"
        " customers, how_affected, magnitude, consequences)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_DEC_GET] = "SELECT " DEC_COLS " FROM decisions WHERE id = ?1",
    [ST_DEC_FIX] = "UPDATE decisions SET fix_delivered_ms = ?2, fix_delivered_by = ?3 WHERE id = ?1",
    [ST_DEC_VALIDATED] =
        "UPDATE decisions SET validated = ?2, validated_by = ?3, validated_ms = ?4 WHERE id = ?1",
    [ST_DEC_LIST] = "SELECT " DEC_COLS " FROM decisions WHERE incident_id = ?1 ORDER BY id",
    /* A pending timer already due when its key is set again is retired and
     * replaced rather than moved in place: it may be firing right now, and
     * marking it done afterwards must not swallow the new schedule. */
    [ST_TM_RETIRE] =
        "UPDATE timers SET state = 2, updated_ms = ?2 WHERE key = ?1 AND state = 0 AND due_ms <= ?2",
    [ST_TM_UPSERT] =
        "INSERT INTO timers(key, kind, incident_id, due_ms, payload, state, created_ms, updated_ms)"
        " VALUES (?1, ?2, NULLIF(?3, 0), ?4, ?5, 0, ?6, ?6)"
        " ON CONFLICT(key) WHERE state = 0 DO UPDATE SET kind = excluded.kind,"
        " incident_id = excluded.incident_id, due_ms = excluded.due_ms,"
        " payload = excluded.payload, updated_ms = excluded.updated_ms",
    [ST_TM_CANCEL] = "UPDATE timers SET state = 2 WHERE key = ?1 AND state = 0",
    [ST_TM_GET] = "SELECT " TIMER_COLS " FROM timers WHERE key = ?1 AND state = 0",
    [ST_TM_DUE] =
        "SELECT " TIMER_COLS " FROM timers WHERE state = 0 AND due_ms <= ?1"
        " ORDER BY due_ms, id LIMIT ?2",
    [ST_TM_NEXT] = "SELECT MIN(due_ms) FROM timers WHERE state = 0",
    [ST_TM_DONE] = "UPDATE timers SET state = 1 WHERE id = ?1 AND state = 0",
    [ST_TM_EXISTS] = "SELECT state FROM timers WHERE id = ?1",
    [ST_TM_CANCEL_INC] = "UPDATE timers SET state = 2 WHERE incident_id = ?1 AND state = 0",
    [ST_OB_INSERT] =
        "INSERT INTO outbox(incident_id, idem_key, op, payload, state, attempts, maybe_sent,"
        " next_at_ms, deps_deadline_ms, created_ms, updated_ms)"
        " VALUES (NULLIF(?1, 0), ?2, ?3, ?4, 0, 0, 0, ?5, ?6, ?7, ?7)"
        " ON CONFLICT(idem_key) DO NOTHING",
    [ST_OB_BY_KEY] = "SELECT id FROM outbox WHERE idem_key = ?1",
    [ST_OB_DEP_INSERT] = "INSERT OR IGNORE INTO outbox_deps(job_id, dep_id) VALUES (?1, ?2)",
    [ST_OB_GET] = "SELECT " JOB_COLS " FROM outbox o WHERE o.id = ?1",
    [ST_OB_DUE] =
        "SELECT " JOB_COLS " FROM outbox o"
        " WHERE o.state = 0 AND o.next_at_ms <= ?1"
        " AND (NOT " DEP_UNFINISHED
        "      OR (o.deps_deadline_ms != 0 AND o.deps_deadline_ms <= ?1))"
        " AND NOT " DEP_FAILED
        " ORDER BY o.next_at_ms, o.id LIMIT ?2",
    [ST_OB_NEXT_DUE] =
        "SELECT MIN(CASE WHEN " DEP_UNFINISHED
        "            THEN max(o.next_at_ms, o.deps_deadline_ms) ELSE o.next_at_ms END)"
        " FROM outbox o WHERE o.state = 0 AND NOT " DEP_FAILED
        " AND (o.deps_deadline_ms != 0 OR NOT " DEP_UNFINISHED ")",
    [ST_OB_BLOCKED] = "SELECT o.id FROM outbox o WHERE o.state = 0 AND " DEP_FAILED " ORDER BY o.id",
    [ST_OB_SENDING] =
        "UPDATE outbox SET state = 1, attempts = attempts + 1, updated_ms = ?2,"
        " first_due_ms = CASE WHEN first_due_ms = 0 THEN ?2 ELSE first_due_ms END"
        " WHERE id = ?1 AND state = 0",
    [ST_OB_STATE] = "SELECT state FROM outbox WHERE id = ?1",
    [ST_OB_DONE] = "UPDATE outbox SET state = 2, result = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_RETRY] =
        "UPDATE outbox SET state = 0, next_at_ms = ?2, last_error = ?3,"
        " maybe_sent = (maybe_sent OR ?4), updated_ms = ?5 WHERE id = ?1",
    [ST_OB_FAILED] = "UPDATE outbox SET state = 3, last_error = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_PAYLOAD] = "UPDATE outbox SET payload = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_RECOVER] = "UPDATE outbox SET state = 0, maybe_sent = 1, updated_ms = ?1 WHERE state = 1",
    [ST_OB_COUNTS] = "SELECT state, COUNT(*) FROM outbox GROUP BY state",
    [ST_OB_DROPPED] =
        "UPDATE outbox SET state = 4, last_error = ?2, updated_ms = ?3 WHERE id = ?1 AND state IN (0, 1)",
    [ST_OB_OLDEST] = "SELECT MIN(created_ms) FROM outbox WHERE state IN (0, 1)",
    [ST_OB_PENDING] = "SELECT " JOB_COLS " FROM outbox o WHERE o.state = 0 ORDER BY o.id",
    [ST_OB_OPEN_DEPS] =
        "SELECT d.job_id, d.dep_id, p.state FROM outbox_deps d JOIN outbox o ON o.id = d.job_id"
        " JOIN outbox p ON p.id = d.dep_id WHERE o.state = 0 AND p.state NOT IN (2, 4) ORDER BY d.job_id",
    [ST_INBOX_ADD] = "INSERT INTO inbox(type, envelope, received_ms) VALUES (?1, ?2, ?3)",
    [ST_INBOX_DEL] = "DELETE FROM inbox WHERE id = ?1",
    [ST_INBOX_LIST] = "SELECT id, type, envelope FROM inbox ORDER BY id",
    [ST_PG_INSERT] =
        "INSERT INTO pages(incident_id, round, dedup_key, reason, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PG_LAST] = "SELECT COALESCE(MAX(round), 0) FROM pages WHERE incident_id = ?1",
    [ST_PG_OPEN] =
        "SELECT " PAGE_COLS " FROM pages WHERE incident_id = ?1 AND resolved_ms = 0"
        " ORDER BY round DESC LIMIT 1",
    [ST_PG_LIST] = "SELECT " PAGE_COLS " FROM pages WHERE incident_id = ?1 ORDER BY round",
    [ST_PG_RESOLVE] =
        "UPDATE pages SET resolved_ms = ?3 WHERE incident_id = ?1 AND resolved_ms = 0"
        " AND (?2 IS NULL OR dedup_key = ?2)",
    [ST_PG_USER] = "UPDATE pages SET paged_user = ?3 WHERE incident_id = ?1 AND dedup_key = ?2",
};

/* The only incident columns store_incident_set_* may name.  The SQL for each
 * is built from this table (never from the caller's string) at open. */
static const struct {
    const char *name;
    bool is_int;
} inc_fields[] = {
    { "title", false }, { "description", false }, { "component", false },
    { "repro", false }, { "issue_link", false }, { "owner", false },
    { "state", false }, { "channel_id", false }, { "channel_name", false },
    { "gitlab_project_path", false }, { "gitlab_project_url", false },
    { "gitlab_issue_url", false },
    { "severity", true }, { "priority", true }, { "gitlab_project_id", true },
    { "gitlab_issue_iid", true }, { "resolved_ms", true },
};
#define N_FIELDS ARRAY_LEN(inc_fields)

struct store {
    sqlite3 *db;
    int depth;                          /* open savepoints */
    bool txn_failed;                    /* a write of the open transaction failed */
    bool faulted;                       /* the last step failed by the test knob */
    char *fault_file;                   /* SIRT_TEST_STORE_FAULT, NULL when unset */
    bool fault_seen;                    /* the file existed at the last write */
    long fault_allow;                   /* writes still allowed since it appeared */
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *set_field[N_FIELDS];
    bool bound;                         /* store_bind_thread: only owner may call */
    pthread_t owner;
    long delay_ms;                      /* SIRT_TEST_STORE_DELAY_MS */
    struct store_stats stats;
};

/* ---- helpers ---- */

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EEXIST: return "already exists";
    case STORE_EIO: return "database error";
    case STORE_EINVAL: return "invalid argument";
    default: return "unknown store error";
    }
}

/* Logs a SQLite failure (codes and SQLite's message, which names tables and
 * columns but never bound values) and maps it to a STORE_E* code. */
static int db_fail(struct store *s, int rc, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db);
    const char *msg = sqlite3_errmsg(s->db);
    if (s->faulted) {
        s->faulted = false;
        ext = SQLITE_FULL;
        msg = "database or disk is full (SIRT_TEST_STORE_FAULT)";
    }
    LOG_ERROR("store: sqlite error", "op:s rc:d extended:d error:s", what, rc, ext, msg);
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return STORE_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return STORE_ENOTFOUND;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return STORE_EINVAL;
    default:
        /* Disk full, read-only, locked, I/O: nothing this transaction
         * writes from now on may commit (see store_commit). */
        if (s->depth > 0)
            s->txn_failed = true;
        return STORE_EIO;
    }
}

/* The test knob: while the file named by SIRT_TEST_STORE_FAULT exists, a
 * statement that writes fails before it runs, as SQLITE_FULL would.
 * Reads and transaction control (which sqlite3_stmt_readonly counts as
 * read-only) still work, as they do on a full disk.  A number N in the file
 * lets the first N writes after it appeared through (e.g. 1: the inbox row
 * of the next envelope is written, its work then fails). */
static bool fault_active(struct store *s, sqlite3_stmt *st)
{
    if (!s->fault_file || sqlite3_stmt_readonly(st))
        return false;
    FILE *f = fopen(s->fault_file, "r");
    if (!f) {
        s->fault_seen = false;
        return false;
    }
    if (!s->fault_seen) {
        s->fault_seen = true;
        if (fscanf(f, "%ld", &s->fault_allow) != 1 || s->fault_allow < 0)
            s->fault_allow = 0;
    }
    fclose(f);
    if (s->fault_allow > 0) {
        s->fault_allow--;
        return false;
    }
    return true;
}

static int step(struct store *s, sqlite3_stmt *st)
{
    /* One owner per thread: once bound, the store thread alone may use it. */
    assert(!s->bound || pthread_equal(s->owner, pthread_self()));
    if (sqlite3_stmt_readonly(st)) {
        if (sqlite3_column_count(st) > 0)
            s->stats.reads++;
    } else {
        s->stats.writes++;
    }
    if (fault_active(s, st)) {
        s->faulted = true;
        return SQLITE_FULL;
    }
    return sqlite3_step(st);
}

static void stmt_release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows and releases it. */
static int exec_stmt(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = step(s, st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(s, rc, what);
    stmt_release(st);
    return ret;
}

/* Steps a bound one-row SELECT and decodes its row into out; ENOTFOUND if
 * there is none (out is then left as it was). */
static int fetch_row(struct store *s, sqlite3_stmt *st, void (*decode)(sqlite3_stmt *st, void *row),
                     void *out, const char *what)
{
    int rc = step(s, st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        decode(st, out);
    else
        ret = rc == SQLITE_DONE ? STORE_ENOTFOUND : db_fail(s, rc, what);
    stmt_release(st);
    return ret;
}

/* Reads every row (at most max) of a bound SELECT into a malloc'd array of
 * elements of size bytes, each filled by decode, and releases the statement
 * before returning, so callers may use the store while they walk the rows.
 * *rows and *n hold what was read even on error: the caller frees it. */
static int collect_rows(struct store *s, sqlite3_stmt *st, size_t size, size_t max,
                        void (*decode)(sqlite3_stmt *st, void *row), void **rows, size_t *n,
                        const char *what)
{
    char *v = NULL;
    size_t cnt = 0, alloc = 0;
    int rc = SQLITE_DONE, ret = 0;
    while (cnt < max && (rc = step(s, st)) == SQLITE_ROW) {
        if (cnt == alloc) {
            alloc = alloc ? alloc * 2 : (max < 16 ? max : 16);
            v = xrealloc(v, alloc * size);
        }
        decode(st, v + cnt++ * size);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(s, rc, what);
    stmt_release(st);
    *rows = v;
    *n = cnt;
    return ret;
}

/* Decodes the single int64 column of a row (an id, a state). */
static void int64_from_row(sqlite3_stmt *st, void *row)
{
    *(int64_t *)row = sqlite3_column_int64(st, 0);
}

/* Reads a one-row SELECT MIN(...): INT64_MAX when it is NULL (nothing matched). */
static int64_t select_min(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = step(s, st);
    int64_t ret = INT64_MAX;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            ret = sqlite3_column_int64(st, 0);
    } else {
        ret = db_fail(s, rc, what);
    }
    stmt_release(st);
    return ret;
}

/* Runs a bound UPDATE of one row; ENOTFOUND if no row changed. */
static int update_one(struct store *s, sqlite3_stmt *st, const char *what)
{
    int ret = exec_stmt(s, st, what);
    if (ret < 0)
        return ret;
    return sqlite3_changes(s->db) ? 0 : STORE_ENOTFOUND;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* ---- open / close / migrate ---- */

static int exec_sql(sqlite3 *db, const char *sql, char **errmsg)
{
    return sqlite3_exec(db, sql, NULL, NULL, errmsg);
}

static int read_int_pragma(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static void set_err(char *err, size_t errlen, const char *path, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
}

/* Brings the schema to SCHEMA_VERSION in one immediate transaction, so two
 * processes opening a fresh file at once cannot both migrate it. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int version = 0;
    if (read_int_pragma(db, "PRAGMA user_version", &version) != SQLITE_OK)
        goto sqlerr;
    if (version > SCHEMA_VERSION)
        goto too_new;
    if (version == SCHEMA_VERSION)
        return 0;
    if (exec_sql(db, "BEGIN IMMEDIATE", NULL) != SQLITE_OK)
        goto sqlerr;
    if (read_int_pragma(db, "PRAGMA user_version", &version) != SQLITE_OK)
        goto sqlerr_rollback;
    if (version > SCHEMA_VERSION) {
        exec_sql(db, "ROLLBACK", NULL);
        goto too_new;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (exec_sql(db, migrations[v], NULL) != SQLITE_OK)
            goto sqlerr_rollback;
        LOG_INFO("store: schema migrated", "from:d to:d", v, v + 1);
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (exec_sql(db, sql, NULL) != SQLITE_OK)
        goto sqlerr_rollback;
    if (exec_sql(db, "COMMIT", NULL) != SQLITE_OK)
        goto sqlerr_rollback;
    return 0;

sqlerr_rollback:
    set_err(err, errlen, path, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        exec_sql(db, "ROLLBACK", NULL);
    return STORE_EIO;
sqlerr:
    set_err(err, errlen, path, sqlite3_errmsg(db));
    return STORE_EIO;
too_new:
    if (err && errlen)
        snprintf(err, errlen, "%s: schema version %d is newer than this sirtbot (%d)", path,
                 version, SCHEMA_VERSION);
    return STORE_EINVAL;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
}

static int prepare_all(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = prepare(s, stmt_sql[i], &s->st[i]);
        if (rc != SQLITE_OK)
            return rc;
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "UPDATE incidents SET %s = ?1, updated_ms = ?2 WHERE id = ?3",
                 inc_fields[i].name);
        int rc = prepare(s, sql, &s->set_field[i]);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

int store_open(struct store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path) {
        set_err(err, errlen, path ? path : "(null)", "empty database path");
        return STORE_EINVAL;
    }
    struct store *s = xcalloc(1, sizeof(*s));
    int ret = STORE_EIO;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* Test knob (README, "Test knobs"): not part of the config table because
     * it is not configuration, and it must hold before the first write. */
    const char *delay = getenv("SIRT_TEST_STORE_DELAY_MS");
    if (delay && *delay)
        s->delay_ms = atol(delay) > 0 ? atol(delay) : 0;
    const char *fault = getenv("SIRT_TEST_STORE_FAULT");
    if (fault && *fault) {
        s->fault_file = xstrdup(fault);
        LOG_WARN("store: write-fault knob armed: writes fail while the file exists", "file:s", fault);
    }

    /* journal_mode answers with the mode in effect; also the first read, so a
     * file that is not a database fails here with SQLite's own words. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0) {
            if (strcmp(path, ":memory:") != 0)
                LOG_WARN("store: WAL mode unavailable", "path:s mode:s", path, mode);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, path, sqlite3_errmsg(s->db));
        goto fail;
    }
    /* NORMAL under WAL loses nothing on a process crash (only on power loss
     * the last commits may roll back), and skips an fsync per commit. */
    if (exec_sql(s->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024; "
                     "PRAGMA secure_delete = ON", NULL) != SQLITE_OK) {
        set_err(err, errlen, path, sqlite3_errmsg(s->db));
        goto fail;
    }
    ret = migrate(s->db, path, err, errlen);
    if (ret < 0)
        goto fail;
    ret = STORE_EIO;
    if (prepare_all(s) != SQLITE_OK) {
        set_err(err, errlen, path, sqlite3_errmsg(s->db));
        goto fail;
    }
    *out = s;
    return 0;

fail:
    store_close(s);
    return ret;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->depth > 0) {
        LOG_WARN("store: closed inside a transaction, rolling back", "depth:d", s->depth);
        if (!sqlite3_get_autocommit(s->db))
            exec_sql(s->db, "ROLLBACK", NULL);
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (size_t i = 0; i < N_FIELDS; i++)
        sqlite3_finalize(s->set_field[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        LOG_ERROR("store: close failed", "error:s", sqlite3_errmsg(s->db));
    free(s->fault_file);
    free(s);
}

/* ---- threads and figures ---- */

void store_bind_thread(struct store *s, bool bind)
{
    s->bound = bind;
    s->owner = pthread_self();
}

void store_stats_get(const struct store *s, struct store_stats *out)
{
    *out = s->stats;
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
    int ret = exec_stmt(s, s->st[ST_BEGIN], "begin");
    if (ret == 0) {
        if (s->depth == 0)
            s->txn_failed = false;
        s->depth++;
    }
    return ret;
}

bool store_txn_failed(const struct store *s)
{
    return s && s->depth > 0 && s->txn_failed;
}

/* True (after logging) when SQLite already rolled the whole transaction back
 * on its own (it does on some I/O, full-disk and out-of-memory errors). */
static bool txn_lost(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        return false;
    LOG_ERROR("store: transaction was rolled back by sqlite", "depth:d", s->depth);
    s->depth = 0;
    return true;
}

int store_commit(struct store *s)
{
    if (s->depth == 0) {
        LOG_WARN("store: commit without a transaction", NULL);
        return STORE_EINVAL;
    }
    if (txn_lost(s))
        return STORE_EIO;
    if (s->depth == 1 && s->txn_failed) {
        /* A write failed (its caller may not have looked): committing the
         * rest would keep half a plan.  Undo all of it instead. */
        LOG_ERROR("store: a write of this transaction failed: rolled back, not committed", NULL);
        store_rollback(s);
        return STORE_EIO;
    }
    if (s->depth == 1 && s->delay_ms) {
        /* The test knob: a slow disk or a far database, once per commit. */
        struct timespec ts = { s->delay_ms / 1000, (s->delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    int ret = exec_stmt(s, s->st[ST_RELEASE], "commit");
    if (ret == 0) {
        s->depth--;
        if (s->depth == 0)
            s->stats.commits++;
        return 0;
    }
    /* The level is not released: undo it so the caller is never left inside
     * a savepoint it believes closed.  At depth 1 that ends the transaction. */
    if (!txn_lost(s))
        store_rollback(s);
    return STORE_EIO;
}

void store_rollback(struct store *s)
{
    if (s->depth == 0) {
        LOG_WARN("store: rollback without a transaction", NULL);
        return;
    }
    if (txn_lost(s))
        return;
    s->depth--;
    if (exec_stmt(s, s->st[ST_ROLLBACK_TO], "rollback") == 0 &&
        exec_stmt(s, s->st[ST_RELEASE], "rollback release") == 0)
        return;
    /* Cannot unwind one level: abandon the whole transaction instead. */
    if (!sqlite3_get_autocommit(s->db))
        exec_sql(s->db, "ROLLBACK", NULL);
    LOG_ERROR("store: rollback failed, whole transaction abandoned", "depth:d", s->depth + 1);
    s->depth = 0;
}

/* ---- events ---- */

int store_event_record(struct store *s, const char *event_id, int64_t now_ms)
{
    if (!event_id || !*event_id)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_EVENT_INSERT];
    bind_text(st, 1, event_id);
    sqlite3_bind_int64(st, 2, now_ms);
    int ret = exec_stmt(s, st, "event_record");
    if (ret < 0)
        return ret;
    return sqlite3_changes(s->db) == 0 ? 1 : 0;
}

/* ---- inbox ---- */

int64_t store_inbox_add(struct store *s, const char *type, const char *envelope_json, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_INBOX_ADD];
    bind_text(st, 1, type);
    bind_text(st, 2, envelope_json);
    sqlite3_bind_int64(st, 3, now_ms);
    int ret = exec_stmt(s, st, "inbox_add");
    return ret < 0 ? ret : sqlite3_last_insert_rowid(s->db);
}

int store_inbox_delete(struct store *s, int64_t id)
{
    sqlite3_stmt *st = s->st[ST_INBOX_DEL];
    sqlite3_bind_int64(st, 1, id);
    return exec_stmt(s, st, "inbox_delete");
}

struct inbox_row {
    int64_t id;
    char *type, *json;
};

static void inbox_from_row(sqlite3_stmt *st, void *row)
{
    struct inbox_row *r = row;
    r->id = sqlite3_column_int64(st, 0);
    r->type = col_str(st, 1);
    r->json = col_str(st, 2);
}

int store_inbox_list(struct store *s, bool (*cb)(void *ud, int64_t id, const char *type, const char *json),
                     void *ud)
{
    void *rows;
    size_t n;
    int ret = collect_rows(s, s->st[ST_INBOX_LIST], sizeof(struct inbox_row), SIZE_MAX, inbox_from_row,
                           &rows, &n, "inbox_list");
    struct inbox_row *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, v[i].id, v[i].type ? v[i].type : "", v[i].json ? v[i].json : "{}"))
            break;
    for (size_t i = 0; i < n; i++) {
        free(v[i].type);
        free(v[i].json);
    }
    free(v);
    return ret;
}

int store_events_prune(struct store *s, int64_t cutoff_ms)
{
    sqlite3_stmt *st = s->st[ST_EVENT_PRUNE];
    sqlite3_bind_int64(st, 1, cutoff_ms);
    int ret = exec_stmt(s, st, "events_prune");
    return ret < 0 ? ret : sqlite3_changes(s->db);
}

/* ---- incidents ---- */

void incident_finish(struct incident *inc)
{
    if (!inc)
        return;
    char **strs[] = {
        &inc->title, &inc->description, &inc->component, &inc->repro, &inc->issue_link,
        &inc->reporter, &inc->owner, &inc->state, &inc->origin_channel, &inc->submission_key,
        &inc->channel_id, &inc->channel_name, &inc->gitlab_project_path,
        &inc->gitlab_project_url, &inc->gitlab_issue_url,
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Fills inc from a row of INC_COLS. */
static void incident_from_row(sqlite3_stmt *st, void *row)
{
    struct incident *inc = row;
    memset(inc, 0, sizeof(*inc));
    inc->id = sqlite3_column_int64(st, 0);
    inc->title = col_str(st, 1);
    inc->description = col_str(st, 2);
    inc->severity = sqlite3_column_int(st, 3);
    inc->priority = sqlite3_column_int(st, 4);
    inc->component = col_str(st, 5);
    inc->repro = col_str(st, 6);
    inc->issue_link = col_str(st, 7);
    inc->reporter = col_str(st, 8);
    inc->owner = col_str(st, 9);
    inc->state = col_str(st, 10);
    inc->origin_channel = col_str(st, 11);
    inc->submission_key = col_str(st, 12);
    inc->channel_id = col_str(st, 13);
    inc->channel_name = col_str(st, 14);
    inc->gitlab_project_id = sqlite3_column_int64(st, 15);
    inc->gitlab_project_path = col_str(st, 16);
    inc->gitlab_project_url = col_str(st, 17);
    inc->gitlab_issue_iid = sqlite3_column_int64(st, 18);
    inc->gitlab_issue_url = col_str(st, 19);
    inc->created_ms = sqlite3_column_int64(st, 20);
    inc->updated_ms = sqlite3_column_int64(st, 21);
    inc->resolved_ms = sqlite3_column_int64(st, 22);
}

int store_incident_create(struct store *s, struct incident *inc)
{
    if (!inc->reporter)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_INC_INSERT];
    bind_text(st, 1, inc->title);
    bind_text(st, 2, inc->description);
    sqlite3_bind_int(st, 3, inc->severity);
    sqlite3_bind_int(st, 4, inc->priority);
    bind_text(st, 5, inc->component);
    bind_text(st, 6, inc->repro);
    bind_text(st, 7, inc->issue_link);
    bind_text(st, 8, inc->reporter);
    bind_text(st, 9, inc->owner);
    bind_text(st, 10, inc->state);
    bind_text(st, 11, inc->origin_channel);
    bind_text(st, 12, inc->submission_key);
    bind_text(st, 13, inc->channel_id);
    bind_text(st, 14, inc->channel_name);
    sqlite3_bind_int64(st, 15, inc->gitlab_project_id);
    bind_text(st, 16, inc->gitlab_project_path);
    bind_text(st, 17, inc->gitlab_project_url);
    sqlite3_bind_int64(st, 18, inc->gitlab_issue_iid);
    bind_text(st, 19, inc->gitlab_issue_url);
    sqlite3_bind_int64(st, 20, inc->created_ms);
    sqlite3_bind_int64(st, 21, inc->resolved_ms);
    int ret = exec_stmt(s, st, "incident_create");
    if (ret < 0)
        return ret;
    if (sqlite3_changes(s->db) == 1) {
        inc->id = sqlite3_last_insert_rowid(s->db);
        inc->updated_ms = inc->created_ms;
        return 0;
    }
    /* Only the submission_key conflict is ignored by the insert. */
    st = s->st[ST_INC_BY_KEY];
    bind_text(st, 1, inc->submission_key);
    ret = fetch_row(s, st, int64_from_row, &inc->id, "incident_by_key");
    if (ret == 0)
        return STORE_EEXIST;
    return ret == STORE_ENOTFOUND ? STORE_EIO : ret;
}

int store_incident_get(struct store *s, int64_t id, struct incident *out)
{
    sqlite3_stmt *st = s->st[ST_INC_GET];
    sqlite3_bind_int64(st, 1, id);
    return fetch_row(s, st, incident_from_row, out, "incident_get");
}

int store_incident_by_channel(struct store *s, const char *channel_id, struct incident *out)
{
    if (!channel_id)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_INC_BY_CHANNEL];
    bind_text(st, 1, channel_id);
    return fetch_row(s, st, incident_from_row, out, "incident_by_channel");
}

static int field_index(const char *field, bool is_int)
{
    if (!field)
        return -1;
    for (size_t i = 0; i < N_FIELDS; i++)
        if (inc_fields[i].is_int == is_int && strcmp(inc_fields[i].name, field) == 0)
            return (int)i;
    return -1;
}

/* Runs the bound UPDATE of one incident field. */
static int set_field_run(struct store *s, sqlite3_stmt *st, int64_t id, int64_t now_ms)
{
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, id);
    return update_one(s, st, "incident_set");
}

int store_incident_set_text(struct store *s, int64_t id, const char *field, const char *value,
                            int64_t now_ms)
{
    int i = field_index(field, false);
    if (i < 0) {
        LOG_WARN("store: unknown incident text field", "id:l field:s", (long long)id, field);
        return STORE_EINVAL;
    }
    bind_text(s->set_field[i], 1, value);
    return set_field_run(s, s->set_field[i], id, now_ms);
}

int store_incident_set_int(struct store *s, int64_t id, const char *field, int64_t value,
                           int64_t now_ms)
{
    int i = field_index(field, true);
    if (i < 0) {
        LOG_WARN("store: unknown incident integer field", "id:l field:s", (long long)id, field);
        return STORE_EINVAL;
    }
    sqlite3_bind_int64(s->set_field[i], 1, value);
    return set_field_run(s, s->set_field[i], id, now_ms);
}

/* Calls cb for each row of a bound SELECT of INC_COLS.  Everything is read
 * first: the callback may write the store (or iterate again), which must not
 * disturb a live cursor. */
static int incidents_each(struct store *s, sqlite3_stmt *st, const char *what,
                          bool (*cb)(void *ud, const struct incident *inc), void *ud)
{
    void *rows;
    size_t n;
    int ret = collect_rows(s, st, sizeof(struct incident), SIZE_MAX, incident_from_row, &rows, &n, what);
    struct incident *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        incident_finish(&v[i]);
    free(v);
    return ret;
}

int store_incidents_open(struct store *s, bool (*cb)(void *ud, const struct incident *inc), void *ud)
{
    return incidents_each(s, s->st[ST_INC_OPEN], "incidents_open", cb, ud);
}

int store_incidents_since(struct store *s, int64_t since_ms, bool (*cb)(void *ud, const struct incident *inc),
                          void *ud)
{
    sqlite3_stmt *st = s->st[ST_INC_SINCE];
    sqlite3_bind_int64(st, 1, since_ms);
    return incidents_each(s, st, "incidents_since", cb, ud);
}

/* ---- timeline ---- */

int store_timeline_add(struct store *s, int64_t incident_id, int64_t ts_ms, const char *actor,
                       const char *kind, const char *text)
{
    sqlite3_stmt *st = s->st[ST_TL_INSERT];
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int64(st, 2, ts_ms);
    bind_text(st, 3, actor);
    bind_text(st, 4, kind);
    bind_text(st, 5, text);
    return exec_stmt(s, st, "timeline_add");
}

static void timeline_from_row(sqlite3_stmt *st, void *row)
{
    struct timeline_entry *e = row;
    e->id = sqlite3_column_int64(st, 0);
    e->incident_id = sqlite3_column_int64(st, 1);
    e->ts_ms = sqlite3_column_int64(st, 2);
    e->actor = col_str(st, 3);
    e->kind = col_str(st, 4);
    e->text = col_str(st, 5);
}

int store_timeline_list(struct store *s, int64_t incident_id,
                        bool (*cb)(void *ud, const struct timeline_entry *e), void *ud)
{
    sqlite3_stmt *st = s->st[ST_TL_LIST];
    sqlite3_bind_int64(st, 1, incident_id);
    void *rows;
    size_t n;
    int ret = collect_rows(s, st, sizeof(struct timeline_entry), SIZE_MAX, timeline_from_row, &rows, &n,
                           "timeline_list");
    struct timeline_entry *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++) {
        free(v[i].actor);
        free(v[i].kind);
        free(v[i].text);
    }
    free(v);
    return ret;
}

/* ---- people on an incident ---- */

int store_member_add(struct store *s, int64_t incident_id, const char *user, const char *role, int64_t now_ms)
{
    if (!user || !*user)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_MEM_ADD];
    sqlite3_bind_int64(st, 1, incident_id);
    bind_text(st, 2, user);
    bind_text(st, 3, role);
    sqlite3_bind_int64(st, 4, now_ms);
    return exec_stmt(s, st, "member_add");
}

int store_member_is(struct store *s, int64_t incident_id, const char *user)
{
    /* Nobody in particular is on no incident: fail closed. */
    if (!user || !*user)
        return 0;
    sqlite3_stmt *st = s->st[ST_MEM_IS];
    sqlite3_bind_int64(st, 1, incident_id);
    bind_text(st, 2, user);
    int64_t one;
    int ret = fetch_row(s, st, int64_from_row, &one, "member_is");
    if (ret == STORE_ENOTFOUND)
        return 0;
    return ret < 0 ? ret : 1;
}

/* ---- short-term decisions ---- */

void decision_finish(struct decision *d)
{
    if (!d)
        return;
    char **strs[] = {
        &d->author, &d->solution, &d->options, &d->effectiveness, &d->customers,
        &d->how_affected, &d->magnitude, &d->consequences, &d->fix_delivered_by, &d->validated_by,
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Fills d from a row of DEC_COLS. */
static void decision_from_row(sqlite3_stmt *st, void *row)
{
    struct decision *d = row;
    memset(d, 0, sizeof(*d));
    d->id = sqlite3_column_int64(st, 0);
    d->incident_id = sqlite3_column_int64(st, 1);
    d->author = col_str(st, 2);
    d->created_ms = sqlite3_column_int64(st, 3);
    d->solution = col_str(st, 4);
    d->options = col_str(st, 5);
    d->effectiveness = col_str(st, 6);
    d->customers = col_str(st, 7);
    d->how_affected = col_str(st, 8);
    d->magnitude = col_str(st, 9);
    d->consequences = col_str(st, 10);
    d->fix_delivered_ms = sqlite3_column_int64(st, 11);
    d->fix_delivered_by = col_str(st, 12);
    d->validated = sqlite3_column_int(st, 13);
    d->validated_by = col_str(st, 14);
    d->validated_ms = sqlite3_column_int64(st, 15);
}

/* A new decision starts with no fix delivered and effectiveness unknown,
 * whatever those fields of d hold (a zeroed struct would read "not
 * effective"); only the two dedicated calls change them. */
int store_decision_add(struct store *s, struct decision *d)
{
    sqlite3_stmt *st = s->st[ST_DEC_INSERT];
    sqlite3_bind_int64(st, 1, d->incident_id);
    bind_text(st, 2, d->author);
    sqlite3_bind_int64(st, 3, d->created_ms);
    bind_text(st, 4, d->solution);
    bind_text(st, 5, d->options);
    bind_text(st, 6, d->effectiveness);
    bind_text(st, 7, d->customers);
    bind_text(st, 8, d->how_affected);
    bind_text(st, 9, d->magnitude);
    bind_text(st, 10, d->consequences);
    int ret = exec_stmt(s, st, "decision_add");
    if (ret < 0)
        return ret;
    d->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_decision_get(struct store *s, int64_t id, struct decision *out)
{
    sqlite3_stmt *st = s->st[ST_DEC_GET];
    sqlite3_bind_int64(st, 1, id);
    return fetch_row(s, st, decision_from_row, out, "decision_get");
}

int store_decision_fix_delivered(struct store *s, int64_t id, const char *user, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_DEC_FIX];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    bind_text(st, 3, user);
    return update_one(s, st, "decision_fix_delivered");
}

int store_decision_validated(struct store *s, int64_t id, bool effective, const char *user, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_DEC_VALIDATED];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, effective ? 1 : 0);
    bind_text(st, 3, user);
    sqlite3_bind_int64(st, 4, now_ms);
    return update_one(s, st, "decision_validated");
}

int store_decisions_list(struct store *s, int64_t incident_id,
                         bool (*cb)(void *ud, const struct decision *d), void *ud)
{
    sqlite3_stmt *st = s->st[ST_DEC_LIST];
    sqlite3_bind_int64(st, 1, incident_id);
    void *rows;
    size_t n;
    int ret = collect_rows(s, st, sizeof(struct decision), SIZE_MAX, decision_from_row, &rows, &n,
                           "decisions_list");
    struct decision *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        decision_finish(&v[i]);
    free(v);
    return ret;
}

/* ---- timers ---- */

void sched_timer_finish(struct sched_timer *t)
{
    if (!t)
        return;
    free(t->key);
    free(t->kind);
    free(t->payload);
    t->key = t->kind = t->payload = NULL;
}

void sched_timers_free(struct sched_timer *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sched_timer_finish(&t[i]);
    free(t);
}

/* Fills t from a row of TIMER_COLS. */
static void timer_from_row(sqlite3_stmt *st, void *row)
{
    struct sched_timer *t = row;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    t->key = col_str(st, 1);
    t->kind = col_str(st, 2);
    t->incident_id = sqlite3_column_int64(st, 3);     /* NULL reads as 0 */
    t->due_ms = sqlite3_column_int64(st, 4);
    t->payload = col_str(st, 5);
}

int store_timer_set(struct store *s, const char *key, const char *kind, int64_t incident_id, int64_t due_ms,
                    const char *payload_json, int64_t now_ms)
{
    if (!key || !*key || !kind || !*kind)
        return STORE_EINVAL;
    int ret = store_begin(s);
    if (ret < 0)
        return ret;
    sqlite3_stmt *st = s->st[ST_TM_RETIRE];
    bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, now_ms);
    ret = exec_stmt(s, st, "timer_retire");
    if (ret < 0)
        goto fail;
    st = s->st[ST_TM_UPSERT];
    bind_text(st, 1, key);
    bind_text(st, 2, kind);
    sqlite3_bind_int64(st, 3, incident_id);
    sqlite3_bind_int64(st, 4, due_ms);
    bind_text(st, 5, payload_json);
    sqlite3_bind_int64(st, 6, now_ms);
    ret = exec_stmt(s, st, "timer_set");
    if (ret < 0)
        goto fail;
    return store_commit(s);

fail:
    store_rollback(s);
    return ret;
}

int store_timer_cancel(struct store *s, const char *key)
{
    if (!key)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_TM_CANCEL];
    bind_text(st, 1, key);
    return exec_stmt(s, st, "timer_cancel");
}

int store_timer_get(struct store *s, const char *key, struct sched_timer *out)
{
    if (!key)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_TM_GET];
    bind_text(st, 1, key);
    return fetch_row(s, st, timer_from_row, out, "timer_get");
}

int store_timers_due(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    sqlite3_stmt *st = s->st[ST_TM_DUE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (uint64_t)max > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)max);
    void *rows;
    size_t cnt;
    int ret = collect_rows(s, st, sizeof(struct sched_timer), max, timer_from_row, &rows, &cnt, "timers_due");
    if (ret < 0) {
        sched_timers_free(rows, cnt);
        return ret;
    }
    *out = rows;
    *n = cnt;
    return 0;
}

int64_t store_timer_next(struct store *s)
{
    return select_min(s, s->st[ST_TM_NEXT], "timer_next");
}

/* Idempotent: a timer no longer pending (done, canceled, or retired by a
 * set of its key while it fired) is left as it is. */
int store_timer_done(struct store *s, int64_t id)
{
    sqlite3_stmt *st = s->st[ST_TM_DONE];
    sqlite3_bind_int64(st, 1, id);
    int ret = update_one(s, st, "timer_done");
    if (ret != STORE_ENOTFOUND)
        return ret;
    int64_t state;
    st = s->st[ST_TM_EXISTS];
    sqlite3_bind_int64(st, 1, id);
    return fetch_row(s, st, int64_from_row, &state, "timer_state");
}

int store_timers_cancel_incident(struct store *s, int64_t incident_id)
{
    sqlite3_stmt *st = s->st[ST_TM_CANCEL_INC];
    sqlite3_bind_int64(st, 1, incident_id);
    return exec_stmt(s, st, "timers_cancel_incident");
}

/* ---- outbox ---- */

void outbox_job_finish(struct outbox_job *j)
{
    if (!j)
        return;
    free(j->idem_key);
    free(j->op);
    free(j->payload);
    free(j->last_error);
    free(j->result);
    j->idem_key = j->op = j->payload = j->last_error = j->result = NULL;
}

void outbox_jobs_free(struct outbox_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outbox_job_finish(&jobs[i]);
    free(jobs);
}

/* Fills j from a row of JOB_COLS. */
static void job_from_row(sqlite3_stmt *st, void *row)
{
    struct outbox_job *j = row;
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(st, 0);
    j->incident_id = sqlite3_column_int64(st, 1);     /* NULL reads as 0 */
    j->idem_key = col_str(st, 2);
    j->op = col_str(st, 3);
    j->payload = col_str(st, 4);
    j->state = (enum outbox_state)sqlite3_column_int(st, 5);
    j->attempts = sqlite3_column_int(st, 6);
    j->maybe_sent = sqlite3_column_int(st, 7) != 0;
    j->next_at_ms = sqlite3_column_int64(st, 8);
    j->deps_deadline_ms = sqlite3_column_int64(st, 9);
    j->last_error = col_str(st, 10);
    j->result = col_str(st, 11);
    j->created_ms = sqlite3_column_int64(st, 12);
    j->updated_ms = sqlite3_column_int64(st, 13);
    j->first_due_ms = sqlite3_column_int64(st, 14);
}

int64_t store_outbox_add(struct store *s, const struct outbox_new *j)
{
    if (!j->idem_key || !*j->idem_key || !j->op || (j->n_deps && !j->deps))
        return STORE_EINVAL;
    int ret = store_begin(s);
    if (ret < 0)
        return ret;
    sqlite3_stmt *st = s->st[ST_OB_INSERT];
    sqlite3_bind_int64(st, 1, j->incident_id);
    bind_text(st, 2, j->idem_key);
    bind_text(st, 3, j->op);
    bind_text(st, 4, j->payload);
    sqlite3_bind_int64(st, 5, j->next_at_ms);
    sqlite3_bind_int64(st, 6, j->deps_deadline_ms);
    sqlite3_bind_int64(st, 7, j->now_ms);
    ret = exec_stmt(s, st, "outbox_add");
    if (ret < 0)
        goto fail;
    int64_t id = 0;
    if (j->created)
        *j->created = sqlite3_changes(s->db) != 0;
    if (sqlite3_changes(s->db) == 0) {
        /* Already queued (a replayed event): same job, deps as first written. */
        st = s->st[ST_OB_BY_KEY];
        bind_text(st, 1, j->idem_key);
        ret = fetch_row(s, st, int64_from_row, &id, "outbox_by_key");
        if (ret < 0)
            goto fail;
    } else {
        id = sqlite3_last_insert_rowid(s->db);
        for (size_t i = 0; i < j->n_deps; i++) {
            st = s->st[ST_OB_DEP_INSERT];
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, j->deps[i]);
            ret = exec_stmt(s, st, "outbox_dep_add");
            if (ret < 0)
                goto fail;
        }
    }
    ret = store_commit(s);
    return ret < 0 ? ret : id;

fail:
    store_rollback(s);
    return ret;
}

int store_outbox_get(struct store *s, int64_t id, struct outbox_job *out)
{
    sqlite3_stmt *st = s->st[ST_OB_GET];
    sqlite3_bind_int64(st, 1, id);
    return fetch_row(s, st, job_from_row, out, "outbox_get");
}

int store_outbox_due(struct store *s, int64_t now_ms, size_t max, struct outbox_job **jobs, size_t *n)
{
    *jobs = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    sqlite3_stmt *st = s->st[ST_OB_DUE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (uint64_t)max > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)max);
    void *rows;
    size_t cnt;
    int ret = collect_rows(s, st, sizeof(struct outbox_job), max, job_from_row, &rows, &cnt, "outbox_due");
    if (ret < 0) {
        outbox_jobs_free(rows, cnt);
        return ret;
    }
    *jobs = rows;
    *n = cnt;
    return 0;
}

int store_outbox_pending(struct store *s, struct outbox_job **jobs, size_t *n)
{
    void *rows;
    size_t cnt;
    int ret = collect_rows(s, s->st[ST_OB_PENDING], sizeof(struct outbox_job), SIZE_MAX, job_from_row, &rows,
                           &cnt, "outbox_pending");
    if (ret < 0) {
        outbox_jobs_free(rows, cnt);
        rows = NULL;
        cnt = 0;
    }
    *jobs = rows;
    *n = cnt;
    return ret;
}

static void dep_from_row(sqlite3_stmt *st, void *row)
{
    struct outbox_dep *d = row;
    d->job_id = sqlite3_column_int64(st, 0);
    d->dep_id = sqlite3_column_int64(st, 1);
    d->dep_state = (enum outbox_state)sqlite3_column_int(st, 2);
}

int store_outbox_pending_deps(struct store *s, struct outbox_dep **deps, size_t *n)
{
    void *rows;
    size_t cnt;
    int ret = collect_rows(s, s->st[ST_OB_OPEN_DEPS], sizeof(struct outbox_dep), SIZE_MAX, dep_from_row, &rows,
                           &cnt, "outbox_pending_deps");
    if (ret < 0) {
        free(rows);
        rows = NULL;
        cnt = 0;
    }
    *deps = rows;
    *n = cnt;
    return ret;
}

int64_t store_outbox_next_due(struct store *s)
{
    return select_min(s, s->st[ST_OB_NEXT_DUE], "outbox_next_due");
}

int store_outbox_blocked_by_failure(struct store *s, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    void *rows;
    size_t cnt;
    int ret = collect_rows(s, s->st[ST_OB_BLOCKED], sizeof(int64_t), SIZE_MAX, int64_from_row, &rows, &cnt,
                           "outbox_blocked");
    if (ret < 0) {
        free(rows);
        return ret;
    }
    *ids = rows;
    *n = cnt;
    return 0;
}

int store_outbox_mark_sending(struct store *s, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_SENDING];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    int ret = update_one(s, st, "outbox_mark_sending");
    if (ret != STORE_ENOTFOUND)
        return ret;
    /* Only a pending job can be claimed; tell "gone" from "not pending". */
    int64_t state = 0;
    st = s->st[ST_OB_STATE];
    sqlite3_bind_int64(st, 1, id);
    ret = fetch_row(s, st, int64_from_row, &state, "outbox_state");
    if (ret < 0)
        return ret;
    LOG_WARN("store: outbox job not pending, not claimed", "id:l state:l", (long long)id,
             (long long)state);
    return STORE_EINVAL;
}

int store_outbox_mark_done(struct store *s, int64_t id, const char *result_json, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_DONE];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, result_json);
    sqlite3_bind_int64(st, 3, now_ms);
    return update_one(s, st, "outbox_mark_done");
}

int store_outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *error,
                            bool maybe_sent, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_RETRY];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, next_at_ms);
    bind_text(st, 3, error);
    sqlite3_bind_int(st, 4, maybe_sent ? 1 : 0);
    sqlite3_bind_int64(st, 5, now_ms);
    return update_one(s, st, "outbox_mark_retry");
}

int store_outbox_mark_failed(struct store *s, int64_t id, const char *error, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_FAILED];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, error);
    sqlite3_bind_int64(st, 3, now_ms);
    return update_one(s, st, "outbox_mark_failed");
}

int store_outbox_mark_dropped(struct store *s, int64_t id, const char *why, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_DROPPED];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, why);
    sqlite3_bind_int64(st, 3, now_ms);
    return update_one(s, st, "outbox_mark_dropped");
}

int64_t store_outbox_find(struct store *s, const char *idem_key)
{
    if (!idem_key || !*idem_key)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_OB_BY_KEY];
    bind_text(st, 1, idem_key);
    int64_t id = 0;
    int ret = fetch_row(s, st, int64_from_row, &id, "outbox_find");
    if (ret == STORE_ENOTFOUND)
        return 0;
    return ret < 0 ? ret : id;
}

int64_t store_outbox_oldest_pending(struct store *s)
{
    return select_min(s, s->st[ST_OB_OLDEST], "outbox_oldest_pending");
}

int store_outbox_set_payload(struct store *s, int64_t id, const char *payload_json, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_PAYLOAD];
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, payload_json);
    sqlite3_bind_int64(st, 3, now_ms);
    return update_one(s, st, "outbox_set_payload");
}

int store_outbox_recover(struct store *s, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_OB_RECOVER];
    sqlite3_bind_int64(st, 1, now_ms);
    int ret = exec_stmt(s, st, "outbox_recover");
    if (ret < 0)
        return ret;
    int n = sqlite3_changes(s->db);
    if (n)
        LOG_INFO("store: outbox jobs recovered from sending", "count:d", n);
    return n;
}

int store_outbox_counts(struct store *s, int64_t counts[OUTBOX_N_STATES])
{
    for (int i = 0; i < OUTBOX_N_STATES; i++)
        counts[i] = 0;
    sqlite3_stmt *st = s->st[ST_OB_COUNTS];
    int rc, ret = 0;
    while ((rc = step(s, st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < OUTBOX_N_STATES)
            counts[state] = sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        ret = db_fail(s, rc, "outbox_counts");
    stmt_release(st);
    return ret;
}

/* ---- page rounds ---- */

void page_round_finish(struct page_round *r)
{
    if (!r)
        return;
    free(r->dedup_key);
    free(r->reason);
    free(r->paged_user);
    r->dedup_key = r->reason = r->paged_user = NULL;
}

static void page_from_row(sqlite3_stmt *st, void *row)
{
    struct page_round *r = row;
    memset(r, 0, sizeof(*r));
    r->incident_id = sqlite3_column_int64(st, 0);
    r->round = sqlite3_column_int(st, 1);
    r->dedup_key = col_str(st, 2);
    r->reason = col_str(st, 3);
    r->created_ms = sqlite3_column_int64(st, 4);
    r->resolved_ms = sqlite3_column_int64(st, 5);
    r->paged_user = col_str(st, 6);
}

int store_page_add(struct store *s, int64_t incident_id, int round, const char *dedup_key, const char *reason,
                   int64_t now_ms)
{
    if (round < 1 || !dedup_key || !*dedup_key)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_PG_INSERT];
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int(st, 2, round);
    bind_text(st, 3, dedup_key);
    bind_text(st, 4, reason);
    sqlite3_bind_int64(st, 5, now_ms);
    return exec_stmt(s, st, "page_add");
}

int store_page_last_round(struct store *s, int64_t incident_id)
{
    sqlite3_stmt *st = s->st[ST_PG_LAST];
    sqlite3_bind_int64(st, 1, incident_id);
    int64_t n = 0;
    int ret = fetch_row(s, st, int64_from_row, &n, "page_last_round");
    return ret < 0 ? ret : (int)n;
}

int store_page_open(struct store *s, int64_t incident_id, struct page_round *out)
{
    sqlite3_stmt *st = s->st[ST_PG_OPEN];
    sqlite3_bind_int64(st, 1, incident_id);
    return fetch_row(s, st, page_from_row, out, "page_open");
}

int store_pages_list(struct store *s, int64_t incident_id, bool (*cb)(void *ud, const struct page_round *r),
                     void *ud)
{
    sqlite3_stmt *st = s->st[ST_PG_LIST];
    sqlite3_bind_int64(st, 1, incident_id);
    void *rows;
    size_t n;
    int ret = collect_rows(s, st, sizeof(struct page_round), SIZE_MAX, page_from_row, &rows, &n, "pages_list");
    struct page_round *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        page_round_finish(&v[i]);
    free(v);
    return ret;
}

int store_page_resolve(struct store *s, int64_t incident_id, const char *dedup_key, int64_t now_ms)
{
    sqlite3_stmt *st = s->st[ST_PG_RESOLVE];
    sqlite3_bind_int64(st, 1, incident_id);
    if (dedup_key)
        bind_text(st, 2, dedup_key);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, now_ms > 0 ? now_ms : 1);
    int ret = exec_stmt(s, st, "page_resolve");
    return ret < 0 ? ret : sqlite3_changes(s->db);
}

int store_page_set_user(struct store *s, int64_t incident_id, const char *dedup_key, const char *user)
{
    if (!dedup_key || !user)
        return STORE_EINVAL;
    sqlite3_stmt *st = s->st[ST_PG_USER];
    sqlite3_bind_int64(st, 1, incident_id);
    bind_text(st, 2, dedup_key);
    bind_text(st, 3, user);
    return update_one(s, st, "page_set_user");
}
