/* test_store_pg: what only the PostgreSQL driver has to get right, on the
 * test server (a fresh database per test): replicas opening an empty
 * database at once migrate it once; a connection the server kills fails
 * the transaction it was in and the next one reconnects (health says so);
 * a raised unique violation is STORE_EEXIST and spoils only what it should;
 * event ids and incident numbers stay unique across connections; a password
 * in the URI never reaches the log or an error.  Children are forked before
 * the parent opens anything, and leave with _exit. */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bot/db.h"
#include "../bot/health.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "pg_test.h"
#include "store_fixture.h"
#include "test.h"

static long long q_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void q_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static int64_t new_incident(struct store *s, const char *key)
{
    struct incident inc = { .title = "t", .severity = 2, .priority = 2, .reporter = "U1",
                            .submission_key = (char *)key, .created_ms = 1 };
    int rc = store_incident_create(s, &inc);
    return rc < 0 ? rc : inc.id;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        TEST_FAIL("waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Terminates the store's backend (the only session named sirtbot on the
 * database) and waits until it is gone. */
static void kill_store_backend(PGconn *admin)
{
    const char *sql = "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND application_name = 'sirtbot'";
    ASSERT_EQ(q_int(admin, sql), 1);
}

TEST_PG(store_pg_replicas_migrate_once)
{
    char *uri = pg_test_fresh_db("migrate_once");
    enum { N = 4 };
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            char b;
            if (read(go[0], &b, 1) != 0)     /* EOF: every child starts now */
                _exit(2);
            struct store *s = NULL;
            char err[512];
            if (store_open(&s, uri, err, sizeof(err)) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(1);
            }
            int64_t id = new_incident(s, NULL);
            store_close(s);
            _exit(id > 0 ? 0 : 3);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(wait_child(kids[i]), 0);
    PGconn *c = sfx_pg_connect(uri);
    /* One migration row per step: a second migration would have failed on
     * its primary key (and on CREATE TABLE) and so a child's open. */
    ASSERT_EQ(q_int(c, "SELECT count(*) FROM schema_version"), 7);
    ASSERT_EQ(q_int(c, "SELECT count(DISTINCT version) FROM schema_version"), 7);
    ASSERT_EQ(q_int(c, "SELECT max(version) FROM schema_version"), 7);
    ASSERT_EQ(q_int(c, "SELECT count(*) FROM incidents"), N);
    ASSERT_EQ(q_int(c, "SELECT count(DISTINCT id) FROM incidents"), N);
    PQfinish(c);
    free(uri);
}

TEST_PG(store_pg_killed_connection_fails_one_transaction)
{
    char *uri = pg_test_fresh_db("killed_conn");
    struct store *s = sfx_open(uri);
    PGconn *admin = sfx_pg_connect(uri);
    char why[128];

    /* Killed while idle: nothing was in flight, the next transaction begins
     * on a new connection. */
    ASSERT_EQ(store_event_record(s, "before", 1), 0);
    kill_store_backend(admin);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "after-idle-kill", 1), 0);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events WHERE event_id = 'after-idle-kill'"), 1);

    /* Killed inside a transaction: its statements fail, its commit fails,
     * nothing of it is kept; health says the store lost its database. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "lost-1", 2), 0);
    kill_store_backend(admin);
    ASSERT_EQ(store_event_record(s, "lost-2", 2), STORE_EIO);
    ASSERT(store_txn_failed(s));
    ASSERT_EQ(store_commit(s), STORE_EIO);
    health_ready(why, sizeof(why));
    ASSERT_CONTAINS(why, "store: database connection lost");
    /* The next one reconnects and works; health is back. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "lost-1", 3), 0);     /* never recorded */
    ASSERT_EQ(store_event_record(s, "kept", 3), 0);
    ASSERT_EQ(store_commit(s), 0);
    health_ready(why, sizeof(why));
    ASSERT_NOT_CONTAINS(why, "store:");
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events WHERE event_id IN ('lost-1', 'kept')"), 2);
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events WHERE event_id = 'lost-2'"), 0);

    /* Outside a transaction a statement is its own: the one that meets the
     * dead connection fails, the next reconnects. */
    kill_store_backend(admin);
    ASSERT_EQ(store_event_record(s, "auto-1", 4), STORE_EIO);
    ASSERT_EQ(store_event_record(s, "auto-2", 4), 0);
    ASSERT_EQ(store_event_record(s, "auto-2", 4), 1);

    PQfinish(admin);
    store_close(s);
    free(uri);
}

TEST_PG(store_pg_unique_violation_is_eexist)
{
    char *uri = pg_test_fresh_db("unique_violation");
    struct store *s = sfx_open(uri);
    PGconn *admin = sfx_pg_connect(uri);
    ASSERT_EQ(new_incident(s, "k0"), 1);
    ASSERT_EQ(new_incident(s, "k1"), 2);
    ASSERT_EQ(new_incident(s, "k2"), 3);
    /* Only a key the insert does not expect can raise: wind the sequence
     * back so the next ids collide with the primary key (23505). */
    q_exec(admin, "ALTER TABLE incidents ALTER COLUMN id RESTART WITH 1");
    ASSERT_EQ(new_incident(s, "k2b"), STORE_EEXIST);

    /* Inside a transaction PostgreSQL aborts the transaction: it cannot
     * commit, and nothing of it is kept... */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "in-spoiled", 1), 0);
    ASSERT_EQ(new_incident(s, "k3"), STORE_EEXIST);
    ASSERT(store_commit(s) < 0);
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events"), 0);
    /* ...unless it ran in a savepoint that the caller rolled back. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "kept", 1), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(new_incident(s, "k4"), STORE_EEXIST);
    store_rollback(s);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events WHERE event_id = 'kept'"), 1);
    /* The sequence moved on with each try: the next id is free again. */
    ASSERT_EQ(new_incident(s, "k5"), 4);
    /* Conflicts the store expects are answers, not errors: the transaction
     * goes on (a duplicate event, a taken submission key, a page round). */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "kept", 2), 1);
    ASSERT_EQ(new_incident(s, "k5"), STORE_EEXIST);
    ASSERT_EQ(store_page_add(s, 4, 1, "SIRT-4", "report", 1), 0);
    ASSERT_EQ(store_page_add(s, 4, 1, "SIRT-4", "report", 1), STORE_EEXIST);
    ASSERT_EQ(store_event_record(s, "after", 2), 0);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT_EQ(q_int(admin, "SELECT count(*) FROM events WHERE event_id = 'after'"), 1);
    PQfinish(admin);
    store_close(s);
    free(uri);
}

/* Two connections create incidents at once, some in transactions that roll
 * back: every committed id is distinct, and no id handed out (even rolled
 * back) is handed out again. */
TEST_PG(store_pg_incident_ids_never_repeat)
{
    char *uri = pg_test_fresh_db("ids_never_repeat");
    store_close(sfx_open(uri));                  /* migrated before the race */
    enum { KIDS = 2, PER = 150 };
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t kids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        ASSERT(kids[k] >= 0);
        if (kids[k] == 0) {
            close(out[0]);
            struct store *s = NULL;
            char err[256];
            if (store_open(&s, uri, err, sizeof(err)) != 0)
                _exit(1);
            for (int i = 0; i < PER; i++) {
                if (store_begin(s) != 0)
                    _exit(2);
                int64_t id = new_incident(s, NULL);
                if (id <= 0)
                    _exit(3);
                if (i % 3 == 2) {
                    store_rollback(s);
                    id = -id;           /* handed out, not kept */
                } else if (store_commit(s) != 0) {
                    _exit(4);
                }
                if (write(out[1], &id, sizeof(id)) != sizeof(id))
                    _exit(5);
            }
            store_close(s);
            _exit(0);
        }
    }
    close(out[1]);
    static int64_t ids[KIDS * PER];
    size_t n = 0;
    while (n < KIDS * PER && read(out[0], &ids[n], sizeof(ids[n])) == sizeof(ids[n]))
        n++;
    close(out[0]);
    for (int k = 0; k < KIDS; k++)
        ASSERT_EQ(wait_child(kids[k]), 0);
    ASSERT_EQ(n, KIDS * PER);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (llabs(ids[i]) == llabs(ids[j]))
                TEST_FAIL("id %lld handed out twice", (long long)llabs(ids[i]));
    PGconn *c = sfx_pg_connect(uri);
    ASSERT_EQ(q_int(c, "SELECT count(*) FROM incidents"), KIDS * (PER - PER / 3));
    ASSERT_EQ(q_int(c, "SELECT count(DISTINCT id) FROM incidents"), KIDS * (PER - PER / 3));
    PQfinish(c);
    free(uri);
}

/* The same event id reaching two replicas: the second insert waits for the
 * first transaction, then reads as a duplicate (or records it, if the
 * first rolled back). */
static void event_race(const char *uri, bool first_commits)
{
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t kid = fork();
    ASSERT(kid >= 0);
    if (kid == 0) {
        close(ready[1]);
        char b;
        if (read(ready[0], &b, 1) != 1)
            _exit(2);
        struct store *s = NULL;
        char err[256];
        if (store_open(&s, uri, err, sizeof(err)) != 0)
            _exit(3);
        int rc = store_event_record(s, "Ev-shared", 2);    /* blocks until the parent ends */
        store_close(s);
        _exit(rc == (first_commits ? 1 : 0) ? 0 : 10 + rc);
    }
    close(ready[0]);
    struct store *s = sfx_open(uri);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_event_record(s, "Ev-shared", 1), 0);
    ASSERT_EQ(write(ready[1], "g", 1), 1);
    close(ready[1]);
    usleep(300 * 1000);                     /* the child is now waiting on our row */
    if (first_commits)
        ASSERT_EQ(store_commit(s), 0);
    else
        store_rollback(s);
    ASSERT_EQ(wait_child(kid), 0);
    ASSERT_EQ(store_event_record(s, "Ev-shared", 3), 1);
    store_close(s);
}

TEST_PG(store_pg_event_id_once_across_connections)
{
    char *uri = pg_test_fresh_db("event_once");
    store_close(sfx_open(uri));
    event_race(uri, true);
    char *uri2 = pg_test_fresh_db("event_once_rb");
    store_close(sfx_open(uri2));
    event_race(uri2, false);
    free(uri);
    free(uri2);
}

TEST_PG(store_pg_password_never_shown)
{
    char *uri = pg_test_fresh_db("password_shown");
    /* The test server trusts local connections: a password in the URI is
     * accepted and ignored, so the store opens and must never repeat it. */
    char *with_pw = NULL;
    const char *p = strstr(uri, ":///");
    ASSERT_NOT_NULL(p);
    with_pw = xasprintf("postgresql://sirt:Hunter2Secret@%s", p + 3);
    ASSERT_NOT_NULL(with_pw);
    char shown[512];
    db_target_show(with_pw, shown, sizeof(shown));
    ASSERT_NOT_CONTAINS(shown, "Hunter2Secret");
    ASSERT_CONTAINS(shown, "postgresql://sirt:***@");
    db_target_show("postgres://u@h/db?sslmode=require&password=Hunter2Secret&x=1", shown, sizeof(shown));
    ASSERT_STR_EQ(shown, "postgres://u@h/db?sslmode=require&password=***&x=1");
    db_target_show("postgres://u:p%40ss@h:5432/db", shown, sizeof(shown));
    ASSERT_STR_EQ(shown, "postgres://u:***@h:5432/db");
    db_target_show("/var/lib/sirt/sirt.db", shown, sizeof(shown));
    ASSERT_STR_EQ(shown, "/var/lib/sirt/sirt.db");

    /* Opened for real, with the log caught in a file: the store names the
     * database it connected to, masked. */
    char logpath[] = "/tmp/sirt-pglog-XXXXXX";
    int lfd = mkstemp(logpath);
    ASSERT(lfd >= 0);
    fflush(stderr);
    int saved = dup(2);
    ASSERT_EQ(dup2(lfd, 2), 2);
    struct store *ok = sfx_open(with_pw);
    store_close(ok);
    fflush(stderr);
    ASSERT_EQ(dup2(saved, 2), 2);
    close(saved);
    char logbuf[8192] = "";
    ssize_t got = pread(lfd, logbuf, sizeof(logbuf) - 1, 0);
    ASSERT(got > 0);
    logbuf[got] = '\0';
    close(lfd);
    unlink(logpath);
    ASSERT_CONTAINS(logbuf, "connected to postgresql");
    ASSERT_CONTAINS(logbuf, "\"db\":\"postgresql://sirt:");
    ASSERT_NOT_CONTAINS(logbuf, "Hunter2Secret");

    /* A database that is not there: the error names it, masked. */
    char *bad = xasprintf("postgresql://sirt:Hunter2Secret@127.0.0.1:1/nodb?connect_timeout=2");
    struct store *s = NULL;
    char err[512];
    ASSERT(store_open(&s, bad, err, sizeof(err)) < 0);
    ASSERT_NULL(s);
    ASSERT_CONTAINS(err, "postgresql://sirt:***@127.0.0.1:1/nodb");
    ASSERT_NOT_CONTAINS(err, "Hunter2Secret");
    ASSERT(strchr(err, '\n') == NULL);
    free(bad);
    free(with_pw);
    free(uri);
}

/* Two replicas (two stores) on one database: a job A holds is neither
 * claimed nor sent by B while A's lease lives; once it ends (A died without
 * renewing), B's sweep takes it back, as pending with maybe_sent since A
 * had started sending it, and exactly one of them can mark it sending.
 * Leases run on the real clock (SIRT_TEST_LEASE_MS shortens them), the
 * jobs' times on the bot's (t0...). */
static struct store *open_short_lease(const char *uri, int64_t lease_ms)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)lease_ms);
    setenv("SIRT_TEST_LEASE_MS", v, 1);
    struct store *s = sfx_open(uri);
    unsetenv("SIRT_TEST_LEASE_MS");
    return s;
}

TEST_PG(store_pg_outbox_leases_two_replicas)
{
    char *uri = pg_test_fresh_db("outbox_leases");
    int64_t lease = 400;
    struct store *a = open_short_lease(uri, lease);
    struct store *b = open_short_lease(uri, lease);
    ASSERT(strcmp(store_owner(a), store_owner(b)) != 0);
    ASSERT_EQ(store_lease_ms(a), lease);
    int64_t t0 = 1000000;
    struct outbox_new j = { .idem_key = "k/lease", .op = "slack.post", .payload = "{}", .next_at_ms = t0, .now_ms = t0 };
    int64_t id = store_outbox_add(a, &j);
    ASSERT(id > 0);
    struct outbox_job *jobs = NULL;
    size_t n = 0;
    /* A created it: A holds it.  B's sweep and B's claim find nothing. */
    ASSERT_EQ(store_outbox_claim(b, t0 + 1, true, 10, &jobs, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(store_outbox_mark_sending(b, id, t0 + 1), STORE_EINVAL);
    ASSERT_EQ(store_outbox_mark_sending(a, id, t0 + 2), 0);
    /* A renews; B still cannot take it just after the first lease end. */
    usleep((useconds_t)lease * 600);
    ASSERT_EQ(store_outbox_renew(a, t0 + 3), 1);
    usleep((useconds_t)lease * 600);
    ASSERT_EQ(store_outbox_claim(b, t0 + 4, false, 10, &jobs, &n), 0);
    ASSERT_EQ(n, 0);
    /* A dies (no more renewals): after its lease B takes it over. */
    usleep((useconds_t)lease * 1100);
    int64_t after = t0 + 10;
    ASSERT_EQ(store_outbox_claim(b, after, false, 10, &jobs, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(jobs[0].id, id);
    ASSERT_EQ(jobs[0].state, OUTBOX_PENDING);
    ASSERT(jobs[0].maybe_sent);
    outbox_jobs_free(jobs, n);
    /* Only B may send it now; a second sweep claims nothing more. */
    ASSERT_EQ(store_outbox_mark_sending(a, id, after + 1), STORE_EINVAL);
    ASSERT_EQ(store_outbox_mark_sending(b, id, after + 1), 0);
    ASSERT_EQ(store_outbox_claim(a, after + 2, false, 10, &jobs, &n), 0);
    ASSERT_EQ(n, 0);
    /* A clean stop releases: the job is anyone's at once. */
    ASSERT_EQ(store_outbox_mark_retry(b, id, after + 3, "x", false, after + 3), 0);
    ASSERT_EQ(store_outbox_release(b), 1);
    ASSERT_EQ(store_outbox_claim(a, after + 4, false, 10, &jobs, &n), 0);
    ASSERT_EQ(n, 1);
    outbox_jobs_free(jobs, n);
    store_close(a);
    store_close(b);
    free(uri);
}
