/* outbox_internal: what the outbox's files share (outbox.c: the worker,
 * its timer, the queue in memory and the lifecycle; outbox_dispatch.c: jobs
 * on their way out; outbox_outcome.c: outcomes on their way back;
 * outbox_notice.c: what is told about them).  Not for other modules.
 * Ownership is as outbox.c's header says: an inflight entry is freed on the
 * store thread once its outcome is recorded. */
#ifndef SIRT_OUTBOX_INTERNAL_H
#define SIRT_OUTBOX_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "effects.h"
#include "outbox.h"
#include "outbox_queue.h"
#include "store.h"

struct sirt_app;

struct outbox_inflight {
    struct outbox_inflight *next;
    struct outbox *o;
    int64_t job_id;
    int64_t incident_id;
    int attempts;
    char *op;
    char *idem_key;
    uint64_t started_us;
    int64_t first_due_ms;   /* when the job was first sent (give-up and announcement clocks) */
};

/* An effect's outcome on its way from the loop to the store thread. */
struct outbox_outcome {
    struct outbox_outcome *next;
    struct outbox_inflight *f;
    enum effect_outcome outcome;
    char *error;
    long retry_after_ms;
    bool maybe_sent;
    cJSON *result;          /* owned copy */
    /* What the queue in memory learns once the outcome's commit is done: */
    int final_state;        /* DONE, FAILED, or -1: pending again (a retry) */
    int64_t next_at_ms;
    char *new_payload;
};

/* A job ready to go, on its way from the store thread to the loop. */
struct outbox_start {
    struct outbox_start *next;
    struct outbox_inflight *f;
    struct outbox_job job;
    cJSON *payload;
    struct incident inc;
    bool have_inc;
};

struct outbox {
    struct sirt_app *app;        /* the store thread's view */
    struct sirt_app *loop_app;
    uv_timer_t timer;            /* loop */
    bool started;
    atomic_bool closing;         /* set once on the loop, read by both threads */
    bool timer_closed;
    struct outbox_inflight *inflight;   /* store thread */
    size_t n_inflight;
    bool ticking;
    bool tick_posted;            /* guarded by mu */
    pthread_mutex_t mu;          /* guards outcomes, tick_posted and the gauges */
    struct outbox_outcome *out_head, *out_tail;
    bool outcome_posted;
    struct outbox_start *starts;        /* store thread: picked in this tick, sent after its commit */
    int64_t gauges[OUTBOX_N_STATES];
    int64_t oldest_ms;
    bool gauges_ok;
    struct obq *q;               /* store thread: the due jobs this replica holds */
    int64_t counts[OUTBOX_N_STATES];   /* store thread: jobs by state, kept as they change */
    int64_t next_sweep_ms;       /* store thread: lease renewal and sweep */
    int64_t armed_for;           /* store thread: the moment the loop's timer was last set for
                                  * (0: unknown, INT64_MAX: never); a tick that wants the
                                  * same moment sends no message */
    bool timer_fired;            /* guarded by mu: the timer fired since the last tick_st */
    /* Store thread, between outbox_st_precommit and outbox_st_postcommit: */
    bool pre;                    /* jobs were picked inside the caller's transaction */
    bool pre_failed;             /* a mark failed there: nothing picked leaves */
    int64_t *tent;               /* the jobs that transaction created (leave if it rolls back) */
    size_t n_tent, cap_tent;
};


/* outbox.c, store thread: a job moved between states (-1: none) in the
 * counts /metrics shows; the jobs the commits since the last call created
 * join the queue; one dispatch pass (unless closing or already in one). */
void outbox__count_move(struct outbox *o, int from, int to);
void outbox__take_created(struct outbox *o);
void outbox__tick(struct outbox *o);

/* outbox_dispatch.c, store thread: the dispatch rounds of a tick, inside the
 * caller's open transaction (false when the store refused a write); once it
 * ended, the picked jobs' requests leave (ok) or they stay pending, and the
 * jobs the transaction created (tent) leave the queue with it. */
bool outbox__pick_rounds(struct outbox *o);
void outbox__starts_settle(struct outbox *o, bool ok, const int64_t *tent, size_t n_tent);

/* outbox_outcome.c: the effect_done_fn of every job (loop; ud is its
 * inflight entry), and the freeing of an entry (store thread). */
void outbox__on_effect_done(void *ud, const struct effect_result *r);
void outbox__finish_inflight(struct outbox *o, struct outbox_inflight *f);

/* outbox_notice.c, store thread, inside the caller's transaction: the
 * notice of a job failed for good (none for quiet ops or without an
 * incident); the "not accepted" announcement of a page first due at
 * first_due_ms (once); and, when that was made, the page's end (delivered,
 * or dropped as the incident was resolved). */
void outbox__notice_failed(struct sirt_app *app, int64_t incident_id, const char *op, const char *idem,
                           const char *error);
void outbox__page_delayed(struct sirt_app *app, int64_t incident_id, const char *idem, int64_t first_due_ms,
                          const char *error);
void outbox__page_outcome(struct sirt_app *app, int64_t incident_id, const char *idem, bool delivered);

#endif
