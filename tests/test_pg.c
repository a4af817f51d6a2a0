/* test_pg: the PostgreSQL test server the runner starts (tests/pg/pg-server.sh)
 * is reachable, and pg_test_fresh_db() gives each test an empty database of
 * its own.  The store suite and the replica tests build on both. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "pg_test.h"
#include "test.h"

static PGconn *connect_ok(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        TEST_FAIL("connect %s: %s", uri, PQerrorMessage(c));
    return c;
}

/* One row, one column; returns a copy (caller frees). */
static char *scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

TEST_PG(pg_server_reachable)
{
    char *uri = pg_test_fresh_db("pg_server_reachable");
    ASSERT_CONTAINS(uri, "postgresql://");
    PGconn *c = connect_ok(uri);
    ASSERT_GE(PQserverVersion(c), 120000);
    char *db = scalar(c, "SELECT current_database()");
    ASSERT_CONTAINS(db, "t_pg_server_reachable_");
    free(db);
    /* The throwaway settings the script promises. */
    char *fsync = scalar(c, "SHOW fsync");
    ASSERT_STR_EQ(fsync, "off");
    free(fsync);
    char *enc = scalar(c, "SHOW server_encoding");
    ASSERT_STR_EQ(enc, "UTF8");
    free(enc);
    /* A fresh database has no tables of ours; it takes writes and reads them back. */
    char *n = scalar(c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    ASSERT_STR_EQ(n, "0");
    free(n);
    exec_ok(c, "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text NOT NULL)");
    exec_ok(c, "INSERT INTO t (v) VALUES ('é-ok')");
    char *v = scalar(c, "SELECT v FROM t WHERE id = 1");
    ASSERT_STR_EQ(v, "é-ok");
    free(v);
    PQfinish(c);
    free(uri);
}

TEST_PG(pg_fresh_db_isolated)
{
    char *a = pg_test_fresh_db("iso_a");
    char *b = pg_test_fresh_db("iso_b");
    ASSERT(strcmp(a, b) != 0);
    PGconn *ca = connect_ok(a);
    exec_ok(ca, "CREATE TABLE only_in_a (x int)");
    exec_ok(ca, "INSERT INTO only_in_a VALUES (1)");
    PQfinish(ca);

    PGconn *cb = connect_ok(b);
    char *n = scalar(cb, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'");
    ASSERT_STR_EQ(n, "0");
    free(n);
    PQfinish(cb);

    /* Asking again for the same name starts over from empty. */
    char *a2 = pg_test_fresh_db("iso_a");
    ASSERT_STR_EQ(a2, a);
    ca = connect_ok(a2);
    n = scalar(ca, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'");
    ASSERT_STR_EQ(n, "0");
    free(n);
    PQfinish(ca);
    free(a);
    free(a2);
    free(b);
}
