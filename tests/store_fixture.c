/* store_fixture: see store_fixture.h.  A SQLite file in a fresh temp
 * directory or a fresh PostgreSQL database per test, and raw connections
 * of either driver that look at what the store wrote. */
#include "store_fixture.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_test.h"
#include "test.h"

void sfx_tdir_make(struct sfx_tdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/sirt-store-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(t->dir));
    snprintf(t->db, sizeof(t->db), "%s/sirt.db", t->dir);
}

void sfx_tdir_remove(struct sfx_tdir *t)
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

struct store *sfx_open(const char *path)
{
    struct store *s = NULL;
    char err[512];
    int rc = store_open(&s, path, err, sizeof(err));
    if (rc != 0)
        TEST_FAIL("store_open(%s): %d %s", path, rc, err);
    ASSERT_NOT_NULL(s);
    return s;
}

/* Runs one scalar query on a separate raw SQLite connection. */
long long sfx_sq_int(const char *path, const char *sql)
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

void sfx_sq_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

void sfx_make(struct sfx *f, const char *name, bool pg)
{
    memset(f, 0, sizeof(*f));
    f->pg = pg;
    if (pg) {
        f->uri = pg_test_fresh_db(name);
        f->target = f->uri;
    } else {
        sfx_tdir_make(&f->t);
        f->target = f->t.db;
    }
}

void sfx_remove(struct sfx *f)
{
    if (f->pg)
        free(f->uri);
    else
        sfx_tdir_remove(&f->t);
}

PGconn *sfx_pg_connect(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        TEST_FAIL("connect %s: %s", uri, PQerrorMessage(c));
    return c;
}

/* One scalar query on a separate raw connection of the test's driver. */
long long sfx_raw_int(struct sfx *f, const char *sql)
{
    if (!f->pg)
        return sfx_sq_int(f->target, sql);
    PGconn *c = sfx_pg_connect(f->uri);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

void sfx_raw_exec(struct sfx *f, const char *sql)
{
    if (!f->pg) {
        sfx_sq_exec(f->target, sql);
        return;
    }
    PGconn *c = sfx_pg_connect(f->uri);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

int64_t sfx_new_incident(struct store *s, const char *key, int64_t now)
{
    struct incident inc = {
        .title = "t", .description = "d", .severity = 2, .priority = 3,
        .reporter = "U0REP0001", .submission_key = (char *)key, .created_ms = now,
    };
    ASSERT_EQ(store_incident_create(s, &inc), 0);
    ASSERT(inc.id > 0);
    return inc.id;
}

int64_t sfx_add_job(struct store *s, const char *key, int64_t next_at, int64_t deadline,
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

void sfx_job_get(struct store *s, int64_t id, struct outbox_job *j)
{
    ASSERT_EQ(store_outbox_get(s, id, j), 0);
}

void sfx_list_add(char *out, size_t outlen, const char *item)
{
    size_t len = strlen(out);
    ASSERT(len < outlen);
    snprintf(out + len, outlen - len, "%s%s", len ? "," : "", item);
}
