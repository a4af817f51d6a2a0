/* outbox_state: the outbox worker's state, shared by its files (outbox.c:
 * the public calls, the tick and its timer, sending and receiving;
 * outbox_dispatch.c: picking due jobs; outbox_outcome.c: recording an
 * outcome; outbox_state.c: the queue in memory).  Not for other modules.
 * An inflight entry is freed on the store thread once its outcome is
 * recorded (outbox__finish_inflight). */
#ifndef SIRT_OUTBOX_STATE_H
#define SIRT_OUTBOX_STATE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "effects.h"
#include "store.h"

struct sirt_app;
struct obq;
struct obq_job;

#define OUTBOX_MAX_IN_FLIGHT 32

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


/* Store thread.  A job moved between states (-1: none) in the counts
 * /metrics shows. */
void outbox__count_move(struct outbox *o, int from, int to);
/* The jobs the commits since the last call created join the queue. */
void outbox__take_created(struct outbox *o);
/* The dependency dep of j (a job in the queue): waited for while pending
 * here or elsewhere, j blocked when it failed. */
void outbox__resolve_dep(struct outbox *o, struct obq_job *j, int64_t dep);
/* Jobs claimed from the store (borrowed) join the queue; returns how many
 * were new.  with_deps: their unfinished dependencies are read too. */
size_t outbox__adopt(struct outbox *o, struct outbox_job *jobs, size_t n, bool with_deps);
/* Renews this replica's leases and claims the jobs no one holds; sets
 * o->next_sweep_ms from outbox__sweep_every_ms. */
void outbox__sweep(struct outbox *o);
int64_t outbox__sweep_every_ms(const struct outbox *o);

#endif
