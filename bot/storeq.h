/* storeq: the store thread.  It owns the store connection outright: while
 * it runs, every store call of the bot is made from a work item run here
 * (asserted in debug builds by store_bind_thread).  The loop posts items;
 * each item's fn runs on the store thread, then its done (if any) runs back
 * on the loop, woken by uv_async_send.  Items run in the order posted,
 * except urgent ones, which run before any ordinary item still waiting (the
 * router's ingest: an ack never waits behind handler work).
 *
 * Lifetime: storeq_create/storeq_start on the loop thread; storeq_close
 * (loop thread) lets the thread finish every queued item, joins it, runs
 * the completions left, and frees the queue once its async handle is
 * closed (the loop must keep running).  arg is owned by the poster until
 * done runs (or, without done, until fn returns). */
#ifndef SIRT_STOREQ_H
#define SIRT_STOREQ_H

#include <stdbool.h>
#include <uv.h>

struct store;
struct metrics;
struct storeq;

typedef void (*storeq_fn)(struct store *st, void *arg);   /* on the store thread */
typedef void (*storeq_done_fn)(void *arg);                 /* on the loop */

struct storeq *storeq_create(uv_loop_t *loop, struct store *st, struct metrics *metrics);
/* Starts the thread; from now on only it may use the store.  0 or -errno. */
int storeq_start(struct storeq *q);
/* Loop or store thread.  Ignored (done still runs) after storeq_close, or
 * when q is NULL. */
void storeq_post(struct storeq *q, storeq_fn fn, storeq_done_fn done, void *arg);
void storeq_post_urgent(struct storeq *q, storeq_fn fn, storeq_done_fn done, void *arg);
/* Store thread: runs done(arg) on the loop. */
void storeq_to_loop(struct storeq *q, storeq_done_fn done, void *arg);
/* True on the store thread (for assertions). */
bool storeq_on_thread(const struct storeq *q);
/* Items waiting (both lanes), for tests and gauges. */
size_t storeq_pending(struct storeq *q);
/* Loop: waits until the store thread is parked between two items, and
 * keeps it there until storeq_resume: for the rare change of something
 * both threads read (the config on SIGHUP).  No-op before start. */
void storeq_pause(struct storeq *q);
void storeq_resume(struct storeq *q);
/* Finishes the queue and stops; q is freed once its handle closes.
 * storeq_close(NULL) is a no-op. */
void storeq_close(struct storeq *q);

#endif
