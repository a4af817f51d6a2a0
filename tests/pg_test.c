/* pg_test: see pg_test.h.  Each call opens one short-lived admin connection
 * to the server's maintenance database and closes it before returning. */
#include "pg_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../bot/util.h"
#include "test.h"

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        TEST_FAIL("%s: %s", sql, msg);
    }
    PQclear(r);
}

char *pg_test_fresh_db(const char *name)
{
    const char *uri = getenv("SIRT_TEST_PG_URI");
    const char *err = getenv("SIRT_TEST_PG_ERROR");
    if (!uri || !uri[0])
        TEST_FAIL("no PostgreSQL test server: %s", err ? err
                  : "SIRT_TEST_PG_URI is not set (run through the test runner, or export the URI of a server)");

    char db[64];
    int n = snprintf(db, sizeof(db), "t_%.40s_%d", name, (int)getpid());
    if (n < 0)
        TEST_FAIL("snprintf");
    for (char *p = db; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    }

    /* The server's own database is the maintenance one, never a test's. */
    const char *keys[] = { "dbname", "dbname", "connect_timeout", NULL };
    const char *vals[] = { uri, "postgres", "10", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        PQfinish(c);
        TEST_FAIL("cannot reach the PostgreSQL test server %s: %s", uri, msg);
    }
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\"", db);
    exec_ok(c, sql);
    /* FILE_COPY (PostgreSQL >= 15) copies template1's files instead of
     * WAL-logging every page: about 3x faster with fsync off. */
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"%s", db,
             PQserverVersion(c) >= 150000 ? " STRATEGY FILE_COPY" : "");
    exec_ok(c, sql);

    const char *host = PQhost(c), *port = PQport(c), *user = PQuser(c);
    struct buf b;
    buf_init(&b, 0);
    if (host && host[0] == '/')
        buf_printf(&b, "postgresql:///%s?host=%s&port=%s&user=%s", db, host, port, user);
    else
        buf_printf(&b, "postgresql://%s@%s:%s/%s", user, host, port, db);
    PQfinish(c);
    return buf_take(&b);
}
