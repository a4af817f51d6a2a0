/* db_sqlite_ckpt: the SQLite driver's checkpointer.  SQLite's automatic
 * checkpoint runs inside the commit that takes the WAL past 1,000 frames,
 * on the store thread, with two fsyncs: 10-25 ms during which no envelope
 * is made durable and no ack leaves.  Here the writer's WAL hook replaces
 * it: past SQ_CKPT_PAGES it only wakes this thread, which owns a second
 * connection to the same file and runs a PASSIVE checkpoint there (it never
 * blocks the writer; the writer's next transaction rewinds the WAL once
 * every frame is copied).  A writer that never pauses gives the WAL no
 * moment to rewind: past SQ_CKPT_HARD_PAGES the writer checkpoints itself
 * (RESTART), after any checkpoint of the thread's (run_mu), so the WAL
 * stays bounded.  Durability is unchanged (synchronous=NORMAL on both).
 * Lifetime: sq_ckpt_start once the writer is open in WAL mode; sq_ckpt_stop
 * before the writer closes. */
#include "db_sqlite_ckpt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"

struct sq_ckpt {
    sqlite3 *writer;        /* borrowed: the store thread's connection */
    sqlite3 *h;             /* owned: used on the checkpointer thread only */
    pthread_t thread;
    pthread_mutex_t mu;     /* guards wanted and stopping; cv signals them */
    pthread_cond_t cv;
    bool wanted, stopping;
    pthread_mutex_t run_mu; /* held while either connection checkpoints */
};

/* On the writer's thread, after each commit (its locks released): cheap
 * below the threshold, and never fails the commit. */
static int on_wal(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)name;
    struct sq_ckpt *c = ud;
    if (pages < SQ_CKPT_PAGES)
        return SQLITE_OK;
    if (pages >= SQ_CKPT_HARD_PAGES) {
        pthread_mutex_lock(&c->run_mu);
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, &log_frames, &done);
        pthread_mutex_unlock(&c->run_mu);
        LOG_DEBUG("store: WAL not rewound between commits: checkpointed by the writer", "pages:d rc:d copied:d",
                  pages, rc, done);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->wanted) {
        c->wanted = true;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct sq_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping)
            break;
        c->wanted = false;
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_lock(&c->run_mu);
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
        pthread_mutex_unlock(&c->run_mu);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            LOG_WARN("store: checkpoint failed (tried again at the next commits)", "rc:d error:s", rc,
                     sqlite3_errmsg(c->h));
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct sq_ckpt *sq_ckpt_start(sqlite3 *writer, const char *file)
{
    struct sq_ckpt *c = xcalloc(1, sizeof(*c));
    c->writer = writer;
    if (sqlite3_open_v2(file, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK
        || sqlite3_exec(c->h, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -64", NULL, NULL, NULL)
               != SQLITE_OK) {
        LOG_WARN("store: no checkpointer connection: SQLite checkpoints inside commits", "error:s",
                 c->h ? sqlite3_errmsg(c->h) : "out of memory");
        sqlite3_close(c->h);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->run_mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        LOG_WARN("store: no checkpointer thread: SQLite checkpoints inside commits", "");
        pthread_mutex_destroy(&c->mu);
        pthread_mutex_destroy(&c->run_mu);
        pthread_cond_destroy(&c->cv);
        sqlite3_close(c->h);
        free(c);
        return NULL;
    }
    sqlite3_wal_hook(writer, on_wal, c);   /* replaces the automatic checkpoint */
    return c;
}

void sq_ckpt_stop(struct sq_ckpt *c)
{
    if (!c)
        return;
    sqlite3_wal_autocheckpoint(c->writer, SQ_CKPT_PAGES);   /* unhooks on_wal: SQLite's own again */
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    if (sqlite3_close(c->h) != SQLITE_OK)
        LOG_ERROR("store: checkpointer close failed", "error:s", sqlite3_errmsg(c->h));
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->run_mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
