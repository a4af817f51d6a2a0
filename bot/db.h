/* db: the store's driver layer.  One connection to SQLite (a file path) or
 * PostgreSQL (a postgres:// URI), chosen at db_open, behind one small API:
 * a statement table prepared once (SQL with ?N placeholders), one running
 * statement at a time, nested transactions, errors as STORE_E* codes.
 * Only the store (bot/store*.c) uses it.  A connection belongs to the one
 * thread that calls it.  Rows handed out by db_next are borrowed until the
 * next db_* call on the connection; db_col_str returns a malloc'd copy. */
#ifndef SIRT_DB_H
#define SIRT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_row;

enum db_dialect { DB_SQLITE, DB_PG };

enum db_arg_type { DB_ARG_NULL, DB_ARG_INT, DB_ARG_TEXT };
struct db_arg {
    enum db_arg_type type;
    int64_t i;
    const char *s;              /* borrowed for the call */
};
static inline struct db_arg db_int(int64_t v)
{
    return (struct db_arg){ .type = DB_ARG_INT, .i = v };
}
/* NULL text binds SQL NULL. */
static inline struct db_arg db_text(const char *s)
{
    return (struct db_arg){ .type = s ? DB_ARG_TEXT : DB_ARG_NULL, .s = s };
}
/* db_exec(db, ST_X, "what", DB_ARGS(db_int(1), db_text(k))) */
#define DB_ARGS(...) ((const struct db_arg[]){ __VA_ARGS__ }), \
    (int)(sizeof((const struct db_arg[]){ __VA_ARGS__ }) / sizeof(struct db_arg))
#define DB_NOARGS NULL, 0

/* True when target names a PostgreSQL database (postgres:// or postgresql://). */
bool db_is_pg_target(const char *target);
/* Copies target into out (size n) with any password replaced by "***"
 * (user:PASSWORD@ in a URI, password=... in its query): what may be logged. */
void db_target_show(const char *target, char *out, size_t n);

/* Connects (SQLite: opens or creates the file and takes the one-process
 * lock).  On error: a negative STORE_E* code and a one-line message naming
 * the target (password masked) in err. */
int db_open(struct db **out, const char *target, char *err, size_t errlen);
void db_close(struct db *db);           /* db_close(NULL) is a no-op */
enum db_dialect db_dialect(const struct db *db);

/* Brings the schema to version n by running steps[v..n-1] in one
 * transaction (step i takes version i to i + 1), so processes opening the
 * same empty database at once migrate it once.  A database newer than n is
 * refused (STORE_EINVAL, "schema version X is newer than this sirtbot (n)"). */
int db_migrate(struct db *db, const char *const *steps, int n, char *err, size_t errlen);
/* Prepares the statement table (copied: sql may be freed after); statement
 * i is run as db_exec(db, i, ...).  Placeholders are ?1..?N; PostgreSQL's
 * driver rewrites them to $1..$N outside quotes. */
int db_prepare(struct db *db, const char *const *sql, int n, char *err, size_t errlen);
/* One owner per thread: once bound, statements must come from the thread
 * that bound it (asserted in debug builds); bind = false lifts it. */
void db_bind_thread(struct db *db, bool bind);
/* Statements run (reads = SELECTs) and outermost commits since db_open. */
void db_stats_get(const struct db *db, uint64_t *reads, uint64_t *writes, uint64_t *commits);

/* Runs statement id to completion.  Returns the number of rows it changed
 * (>= 0) or < 0.  what names the operation in error logs. */
int64_t db_exec(struct db *db, int id, const char *what, const struct db_arg *args, int n);
/* Starts statement id; read its rows with db_next until it returns 0 (no
 * more rows) or < 0 (error); either ends the statement, and so does db_end. */
int db_query(struct db *db, int id, const char *what, const struct db_arg *args, int n);
/* 1 and *row set, 0 at the end, or < 0. */
int db_next(struct db *db, const struct db_row **row);
void db_end(struct db *db);
/* Rows changed by the last statement that ran to completion. */
int64_t db_changes(const struct db *db);

/* Outside any transaction (STORE_EINVAL inside one): makes what committed
 * writes overwrote unreadable in the database's files.  SQLite overwrites
 * freed space with zeros (secure_delete) but the WAL still holds earlier
 * page images: they are checkpointed into the database and the WAL is
 * truncated.  PostgreSQL: nothing here (dead row versions go at the next
 * (auto)vacuum). */
int db_scrub(struct db *db);

/* Columns of the current row; NULL reads as 0 / NULL. */
int64_t db_col_int(const struct db_row *r, int i);
bool db_col_null(const struct db_row *r, int i);
char *db_col_str(const struct db_row *r, int i);       /* malloc'd copy or NULL */

/* Transactions nest (see store.h for the contract the store relies on). */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
bool db_txn_failed(const struct db *db);
int db_depth(const struct db *db);
/* Inside a transaction: its commit need not wait for the disk (PostgreSQL:
 * synchronous_commit off for it alone; SQLite: nothing to change). */
void db_relax_commit(struct db *db);

#endif
