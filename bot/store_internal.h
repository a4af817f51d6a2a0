/* store_internal: shared by the store's files (store.c: open, transactions,
 * events, inbox; store_incidents.c; store_timers.c; store_outbox.c;
 * store_retention.c; store_sql.c: every statement and migration).  Not for anyone else.  The
 * row helpers read rows into malloc'd memory owned by the caller and end the
 * statement before returning, so callers may use the store while they walk
 * what was read. */
#ifndef SIRT_STORE_INTERNAL_H
#define SIRT_STORE_INTERNAL_H

#include "db.h"
#include "store.h"

enum stmt_id {
    ST_EVENT_INSERT, ST_EVENT_PRUNE,
    ST_INC_INSERT, ST_INC_BY_KEY, ST_INC_GET, ST_INC_BY_CHANNEL, ST_INC_OPEN, ST_INC_SINCE,
    ST_TL_INSERT, ST_TL_LIST,
    ST_MEM_ADD, ST_MEM_IS,
    ST_DEC_INSERT, ST_DEC_GET, ST_DEC_FIX, ST_DEC_VALIDATED, ST_DEC_LIST,
    ST_TM_RETIRE, ST_TM_UPSERT, ST_TM_CANCEL, ST_TM_GET, ST_TM_DUE, ST_TM_NEXT, ST_TM_DONE,
    ST_TM_EXISTS, ST_TM_CANCEL_INC, ST_TM_CLAIM, ST_TM_FIRE, ST_TM_RENEW, ST_TM_RELEASE, ST_TM_CLEAR,
    ST_OB_INSERT, ST_OB_BY_KEY, ST_OB_DEP_INSERT, ST_OB_GET, ST_OB_DUE, ST_OB_NEXT_DUE,
    ST_OB_BLOCKED, ST_OB_SENDING, ST_OB_STATE, ST_OB_DONE, ST_OB_RETRY, ST_OB_FAILED,
    ST_OB_PAYLOAD, ST_OB_RECOVER, ST_OB_COUNTS, ST_OB_DROPPED, ST_OB_OLDEST, ST_OB_PENDING, ST_OB_OPEN_DEPS,
    ST_OB_CLAIM, ST_OB_RENEW, ST_OB_RELEASE, ST_OB_DEPS_OF,
    ST_INBOX_ADD, ST_INBOX_DEL, ST_INBOX_LIST, ST_INBOX_CLAIM, ST_INBOX_RENEW, ST_INBOX_RELEASE, ST_INBOX_CLEAR,
    ST_PG_INSERT, ST_PG_LAST, ST_PG_OPEN, ST_PG_LIST, ST_PG_RESOLVE, ST_PG_USER,
    ST_IMP_INSERT, ST_IMP_OPEN, ST_IMP_GET, ST_IMP_DONE, ST_INC_AFTER,
    ST_REL_SET, ST_REL_GET,
    ST_PA_GET, ST_PA_LIST, ST_PA_PUT, ST_PA_SEEN,
    ST_RET_DUE, ST_RET_INC, ST_RET_DEC, ST_RET_TL, ST_RET_OB, ST_RET_TM,
    ST_COUNT,
    /* Then one "UPDATE incidents SET <field> ..." per store__inc_fields entry. */
    ST_SET_FIELD = ST_COUNT
};

/* The only incident columns store_incident_set_* may name; the SQL for each
 * is built from this table (never from the caller's string) at open. */
struct store_field {
    const char *name;
    bool is_int;
};
extern const struct store_field store__inc_fields[];
extern const int store__n_inc_fields;

/* SQL per driver: the migrations (append only: a step, once released,
 * never changes) and the statement table, where a driver's own text for a
 * statement (e.g. a claim with FOR UPDATE SKIP LOCKED) replaces the
 * common one. */
struct store_dialect {
    const char *const *migrations;
    int n_migrations;
    const char *const *own;     /* ST_COUNT entries, NULL: the common SQL */
};
extern const char *const store__sql[ST_COUNT];
const struct store_dialect *store__dialect(enum db_dialect d);

struct store {
    struct db *db;
    char owner[96];     /* this process's replica id, the owner of its leases */
    int64_t lease_ms;   /* STORE_LEASE_MS, or SIRT_TEST_LEASE_MS */
    bool track;         /* store_outbox_track */
    struct outbox_created *created, **created_tail;   /* oldest first */
    bool scrub;         /* text was erased: db_scrub after the outermost commit */
};
/* store.c, after every commit (ok) or rollback at any depth: the created
 * jobs of savepoints released join their parent's; those of rolled-back
 * ones are forgotten (store_outbox.c). */
void store__outbox_txn_end(struct store *s, bool ok);

typedef void (*store_decode_fn)(const struct db_row *r, void *row);

/* Runs a bound one-row query and decodes its row into out; ENOTFOUND if
 * there is none (out is then left as it was). */
int store__fetch_row(struct store *s, int st, const char *what, const struct db_arg *args, int n,
                     store_decode_fn decode, void *out);
/* Reads every row (at most max) into a malloc'd array of elements of size
 * bytes, each filled by decode.  *rows and *n hold what was read even on
 * error: the caller frees it. */
int store__collect_rows(struct store *s, int st, const char *what, const struct db_arg *args, int n,
                        size_t size, size_t max, store_decode_fn decode, void **rows, size_t *cnt);
/* A one-row SELECT MIN(...): INT64_MAX when it is NULL (nothing matched). */
int64_t store__select_min(struct store *s, int st, const char *what, const struct db_arg *args, int n);
/* A bound UPDATE of one row: 0, ENOTFOUND if no row changed, or < 0. */
int store__update_one(struct store *s, int st, const char *what, const struct db_arg *args, int n);
/* A statement run for its effect: 0 or < 0. */
int store__exec(struct store *s, int st, const char *what, const struct db_arg *args, int n);
/* Runs an INSERT ... RETURNING id to its end: the number of rows inserted
 * (0: nothing, e.g. ON CONFLICT DO NOTHING) with the first id in *id, or < 0. */
int store__insert_id(struct store *s, int st, const char *what, const struct db_arg *args, int n, int64_t *id);
/* Decodes the single int64 column of a row (an id, a state). */
void store__int64_from_row(const struct db_row *r, void *row);
/* max as a LIMIT argument. */
int64_t store__limit(size_t max);

#endif
