/* scheduler: runs the durable agenda (store timers) on one uv_timer set to
 * the earliest due moment and recomputed on every change — no polling.  A
 * due timer's handler runs inside a store transaction (with the timer
 * marked done in the same transaction) and may add outbox jobs and set new
 * timers.  Handlers are looked up by kind in the struct sched_kinds
 * (bot/dispatch.h) given at create time.  The
 * timer lives on the loop; the reading and firing run on the store thread. */
#ifndef SIRT_SCHEDULER_H
#define SIRT_SCHEDULER_H

struct hctx;
struct sirt_app;
struct scheduler;
struct sched_kinds;

/* kinds: the handlers' timer kinds; ctx: the context they fire with (on
 * the store thread).  Both borrowed for the scheduler's life. */
struct scheduler *scheduler_create(struct sirt_app *app, const struct sched_kinds *kinds, const struct hctx *ctx);
void scheduler_start(struct scheduler *s);
/* Loop: re-reads the next due moment (e.g. after the clock was moved). */
void scheduler_kick(struct scheduler *s);
/* Store thread: a commit may have set timers (one read; the loop hears only
 * of a change). */
void scheduler_st_changed(struct scheduler *s);
/* Loop: closes the timer (the loop must keep running); scheduler_destroy
 * frees it once the store thread has ended.  Both accept NULL. */
void scheduler_close(struct scheduler *s);
void scheduler_destroy(struct scheduler *s);

#endif
