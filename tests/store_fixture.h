/* store_fixture: the store suites' fixture, one test body run on both
 * drivers.  STORE_TEST(name, secs) { ... f ... } registers name on a SQLite
 * file in a fresh temp directory (removed at the end) and name_pg on a
 * fresh PostgreSQL database of the test server.  The sfx_raw_* helpers
 * read and write through a separate raw connection of the test's driver.
 * Every helper fails the test on error. */
#ifndef SIRT_STORE_FIXTURE_H
#define SIRT_STORE_FIXTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/store.h"

struct sfx_tdir {
    char dir[64];
    char db[96];                /* <dir>/sirt.db */
};
void sfx_tdir_make(struct sfx_tdir *t);
/* Removes every file in it, then the directory. */
void sfx_tdir_remove(struct sfx_tdir *t);

/* store_open, failing the test on error. */
struct store *sfx_open(const char *path);
/* One scalar query / one statement on a separate raw SQLite connection. */
long long sfx_sq_int(const char *path, const char *sql);
void sfx_sq_exec(const char *path, const char *sql);

struct sfx {
    bool pg;
    struct sfx_tdir t;          /* SQLite */
    char *uri;                  /* PostgreSQL */
    const char *target;         /* what store_open gets */
};
void sfx_make(struct sfx *f, const char *name, bool pg);
void sfx_remove(struct sfx *f);
PGconn *sfx_pg_connect(const char *uri);
/* One scalar query / one statement on a raw connection of f's driver. */
long long sfx_raw_int(struct sfx *f, const char *sql);
void sfx_raw_exec(struct sfx *f, const char *sql);

/* An incident created through the store ("t", S2/P3, reporter U0REP0001,
 * key may be NULL) at now; its id. */
int64_t sfx_new_incident(struct store *s, const char *key, int64_t now);
/* A slack.post job with key, due at next_at, depending on deps (deadline
 * deps_deadline_ms); its id. */
int64_t sfx_add_job(struct store *s, const char *key, int64_t next_at, int64_t deadline,
                    const int64_t *deps, size_t n_deps);
/* store_outbox_get of id into j (outbox_job_finish it). */
void sfx_job_get(struct store *s, int64_t id, struct outbox_job *j);
/* Appends item to the comma-separated list in out (size outlen). */
void sfx_list_add(char *out, size_t outlen, const char *item);

/* STORE_TEST(name, secs) { body using f } registers name (SQLite) and
 * name_pg (PostgreSQL). */
#define STORE_TEST(name, secs) \
    static void name##_body(struct sfx *f); \
    TEST_T(name, secs) \
    { \
        struct sfx fx; \
        sfx_make(&fx, #name, false); \
        name##_body(&fx); \
        sfx_remove(&fx); \
    } \
    TEST_PG_T(name##_pg, 2 * (secs)) \
    { \
        struct sfx fx; \
        sfx_make(&fx, #name, true); \
        name##_body(&fx); \
        sfx_remove(&fx); \
    } \
    static void name##_body(struct sfx *f)

#endif
