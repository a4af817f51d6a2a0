/* db_sqlite_ckpt: WAL checkpoints on a thread and connection of their own,
 * off the store thread's commits (see db_sqlite_ckpt.c).  sq_ckpt_start
 * returns NULL when none could be set up: SQLite then checkpoints inside
 * commits, as it does by default.  The writer connection outlives it:
 * sq_ckpt_stop before sqlite3_close of the writer. */
#ifndef SIRT_DB_SQLITE_CKPT_H
#define SIRT_DB_SQLITE_CKPT_H

#include <sqlite3.h>

struct sq_ckpt;

/* The WAL size (frames) at which the checkpointer is woken, and the one at
 * which the writer, finding it not rewound yet, checkpoints itself (RESTART)
 * so the WAL stays bounded by about the second plus one transaction. */
#define SQ_CKPT_PAGES 1000
#define SQ_CKPT_HARD_PAGES 4000

/* writer: an open connection in WAL mode, used on one thread at a time;
 * file: the path it was opened with. */
struct sq_ckpt *sq_ckpt_start(sqlite3 *writer, const char *file);
/* Unhooks the writer (SQLite's automatic checkpoint again), joins the
 * thread, closes its connection.  NULL is a no-op. */
void sq_ckpt_stop(struct sq_ckpt *c);

#endif
