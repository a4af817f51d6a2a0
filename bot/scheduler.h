/* scheduler: runs the durable agenda (store timers) on one uv_timer set to
 * the earliest due moment and recomputed on every change — no polling.  A
 * due timer's handler runs inside a store transaction (with the timer
 * marked done in the same transaction) and may add outbox jobs and set new
 * timers.  Handlers are looked up by kind in handlers_timer(). */
#ifndef SIRT_SCHEDULER_H
#define SIRT_SCHEDULER_H

struct sirt_app;
struct scheduler;

struct scheduler *scheduler_create(struct sirt_app *app);
void scheduler_start(struct scheduler *s);
/* Re-reads the next due moment (after a commit that set timers, or after
 * the clock was moved). Cheap; safe to call often. */
void scheduler_kick(struct scheduler *s);
/* Frees once the timer handle is closed; the loop must keep running. */
void scheduler_close(struct scheduler *s);

#endif
