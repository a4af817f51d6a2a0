/* db_internal: what a driver (db_sqlite.c, db_pg.c) implements for db.c.
 * A driver's connection struct starts with struct db; db.c owns the parts
 * common to both (transaction depth, the failed-transaction flag, health)
 * and calls the driver through db_ops.  Every op returns 0 / rows or a
 * negative STORE_E* code after logging; an I/O-class failure also sets
 * db->why (a static string for the health endpoint). */
#ifndef SIRT_DB_INTERNAL_H
#define SIRT_DB_INTERNAL_H

#include <pthread.h>

#include "db.h"

/* The current row of a query: h is the driver's handle (sqlite3_stmt or
 * PGresult), i the row index (PostgreSQL). */
struct db_row {
    const struct db_ops *ops;
    void *h;
    int i;
};

struct db_ops {
    enum db_dialect dialect;
    int (*open)(struct db **out, const char *target, const char *shown, char *err, size_t errlen);
    void (*close)(struct db *db);
    int (*migrate)(struct db *db, const char *const *steps, int n, char *err, size_t errlen);
    int (*prepare)(struct db *db, const char *const *sql, int n, char *err, size_t errlen);
    /* Binds and starts a statement; exec_done runs it to the end. */
    int (*start)(struct db *db, int id, const char *what, const struct db_arg *args, int n);
    int (*next)(struct db *db, const struct db_row **row);
    void (*end)(struct db *db);
    /* Transaction control at the given depth (levels open before the call). */
    int (*begin)(struct db *db, int depth);
    int (*release)(struct db *db, int depth);       /* depth >= 1: closes that level */
    int (*rollback_to)(struct db *db, int depth);   /* depth >= 1: undoes and closes that level */
    void (*abort)(struct db *db);                   /* ROLLBACK everything, errors ignored */
    bool (*in_txn)(struct db *db);                  /* the server/library still has one open */
    int64_t (*col_int)(const struct db_row *r, int i);
    bool (*col_null)(const struct db_row *r, int i);
    const char *(*col_text)(const struct db_row *r, int i);
    /* Outside any transaction: makes content erased by committed writes
     * unreadable in the files (NULL: nothing to do for this driver). */
    int (*scrub)(struct db *db);
};

struct db {
    const struct db_ops *ops;
    char *shown;                /* the target with its password masked */
    int depth;                  /* open transaction levels */
    bool txn_failed;            /* an I/O-class write of the open transaction failed */
    bool relaxed;               /* db_relax_commit: its commit need not wait for the disk */
    bool healthy;               /* what health_set_store_ok was last told */
    const char *why;            /* set by a driver with its I/O-class failure */
    int64_t changes;            /* rows changed by the last completed statement */
    struct db_row row;
    bool *readonly;             /* per prepared statement id: a SELECT */
    int n_stmts;
    bool bound;                 /* db_bind_thread: only owner may run statements */
    pthread_t owner;
    long delay_ms;              /* SIRT_TEST_STORE_DELAY_MS */
    uint64_t reads, writes, commits;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* For drivers: an I/O-class failure (or a retryable one) inside a
 * transaction: nothing it writes from now on may commit; also tells health. */
void db__io_failed(struct db *db, const char *why);
/* For drivers: the database answered again (after a reconnect). */
void db__works(struct db *db);

#endif
