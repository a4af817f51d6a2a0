/* test_store_ckpt: the SQLite driver's checkpointer (bot/db_sqlite_ckpt.c).
 * The writer no longer checkpoints inside its commits; a thread of its own
 * copies the WAL back while the writer is idle; and a writer that never
 * pauses still keeps the WAL bounded.  Real files in a temp directory,
 * removed at the end; no timing is asserted (waits have generous deadlines
 * and only bound how long a failure takes to show). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bot/db_sqlite_ckpt.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "test.h"

struct ckdir {
    char dir[64];
    char db[96], wal[100];
};

static void ckdir_make(struct ckdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/sirt-ckpt-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(t->dir));
    snprintf(t->db, sizeof(t->db), "%s/sirt.db", t->dir);
    snprintf(t->wal, sizeof(t->wal), "%s-wal", t->db);
}

static void ckdir_remove(struct ckdir *t)
{
    const char *sfx[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < sizeof(sfx) / sizeof(*sfx); i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s", t->db, sfx[i]);
        unlink(p);
    }
    ASSERT_EQ(rmdir(t->dir), 0);
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static int pragma_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* With the checkpointer on, the writer's commits never checkpoint (SQLite's
 * automatic checkpoint is off on it: wal_autocheckpoint reads 0); past the
 * threshold the thread copies the WAL into the database file while the
 * writer does nothing at all; stopping it gives SQLite's default back. */
TEST_T(store_ckpt_thread_checkpoints_idle_writer, 60)
{
    struct ckdir t;
    ckdir_make(&t);
    sqlite3 *w = NULL;
    ASSERT_EQ(sqlite3_open_v2(t.db, &w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(w, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                              "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(pragma_int(w, "PRAGMA wal_autocheckpoint"), 1000);
    struct sq_ckpt *c = sq_ckpt_start(w, t.db);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(pragma_int(w, "PRAGMA wal_autocheckpoint"), 0);
    long long db_before = file_size(t.db);
    /* One commit of a page per row: past the threshold, short of the hard
     * one, so the hook only wakes the thread. */
    enum { ROWS = SQ_CKPT_PAGES + SQ_CKPT_PAGES / 5 };
    ASSERT_EQ(sqlite3_exec(w, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *ins = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(w, "INSERT INTO t(pad) VALUES (zeroblob(3000))", -1, &ins, NULL), SQLITE_OK);
    for (int i = 0; i < ROWS; i++) {
        ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    ASSERT_EQ(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_LE(file_size(t.wal), (long long)SQ_CKPT_HARD_PAGES * 4096);
    /* The writer is idle from here: only the thread can copy the frames. */
    long long want = db_before + (long long)ROWS * 3000;
    for (int i = 0; i < 2000 && file_size(t.db) < want; i++)
        usleep(10 * 1000);
    ASSERT_GE(file_size(t.db), want);
    sq_ckpt_stop(c);
    ASSERT_EQ(pragma_int(w, "PRAGMA wal_autocheckpoint"), SQ_CKPT_PAGES);
    ASSERT_EQ(pragma_int(w, "SELECT COUNT(*) FROM t"), ROWS);
    ASSERT_EQ(sqlite3_close(w), SQLITE_OK);
    ckdir_remove(&t);
}

/* Through the store: a writer that never pauses gives the WAL no moment to
 * rewind by itself.  It must stay bounded: about SQ_CKPT_HARD_PAGES frames
 * (16.1 MiB) and one transaction; asserted with a wide margin (24 MiB).
 * Without any checkpoint these 10,000 commits make a WAL of about 94 MiB.
 * Every row is in the database file itself while the store is still open. */
TEST_T(store_ckpt_wal_bounded_for_a_writer_that_never_pauses, 120)
{
    struct ckdir t;
    ckdir_make(&t);
    struct store *s = NULL;
    char err[256];
    ASSERT_EQ(store_open(&s, t.db, err, sizeof(err)), 0);
    char *pad = xcalloc(1, 2100);
    memset(pad, 'x', 2048);
    char *json = xasprintf("{\"pad\":\"%s\"}", pad);
    long long max_wal = 0;
    for (int i = 0; i < 10000; i++) {
        ASSERT_EQ(store_begin(s), 0);
        ASSERT(store_inbox_add(s, "events_api", json, 1000 + i) > 0);
        ASSERT_EQ(store_commit(s), 0);
        long long w = file_size(t.wal);
        if (w > max_wal)
            max_wal = w;
    }
    fprintf(stderr, "  largest WAL seen: %.1f MiB\n", (double)max_wal / (1 << 20));
    ASSERT(max_wal > 0);
    ASSERT_LE(max_wal, 24LL << 20);
    /* 10,000 rows of 2 KiB: most of them copied back already. */
    ASSERT_GE(file_size(t.db), 10LL << 20);
    store_close(s);
    sqlite3 *h = NULL;
    ASSERT_EQ(sqlite3_open_v2(t.db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(pragma_int(h, "SELECT COUNT(*) FROM inbox"), 10000);
    sqlite3_close(h);
    free(json);
    free(pad);
    ckdir_remove(&t);
}
