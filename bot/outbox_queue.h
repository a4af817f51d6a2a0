/* outbox_queue: the outbox's due jobs in memory, on the store thread (the
 * outbox's only user).  It holds the pending jobs this replica owns, their
 * unfinished dependencies, and the final states of recently finished jobs
 * (so a dependency on one resolves without a read).  Jobs own their
 * strings; obq_destroy frees what is left. */
#ifndef SIRT_OUTBOX_QUEUE_H
#define SIRT_OUTBOX_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct obq_job {
    struct obq_job *prev, *next;    /* all jobs, by arrival */
    struct obq_job *hnext;          /* hash chain */
    struct outbox_job job;          /* state PENDING (or SENDING while in flight) */
    int64_t *deps;                  /* unfinished dependencies */
    size_t n_deps;
    bool dep_failed;                /* one of them failed */
    bool inflight;
};

struct obq;

struct obq *obq_create(void);
void obq_destroy(struct obq *q);
size_t obq_size(const struct obq *q);
struct obq_job *obq_get(const struct obq *q, int64_t id);
/* Takes job's strings (job is zeroed); NULL (and job freed) when id is known. */
struct obq_job *obq_add(struct obq *q, struct outbox_job *job);
/* Adds an unfinished dependency to j. */
void obq_add_dep(struct obq_job *j, int64_t dep_id);
/* j was taken over at now (from a replica whose lease ended, or at start
 * from the previous run): nobody worked on its dependencies while it was
 * held by no live replica, so its soft wait for them (deps_deadline_ms,
 * written as created_ms + the wait) starts again from now.  Without this a
 * page adopted after its 15 s had run out left at once, before the GitLab
 * issue its own replica had not created, and its link update followed as
 * a second trigger a few ms later.  Jobs without a soft wait are left as
 * they are; the store's row keeps its deadline. */
void obq_takeover(struct obq_job *j, int64_t now);
/* Forgets j (claimed elsewhere, or finished: see obq_finished). */
void obq_remove(struct obq *q, struct obq_job *j);
/* Job id finished in state (DONE, FAILED or DROPPED): it leaves the queue,
 * its dependents stop waiting for it, and its state is remembered. */
void obq_finished(struct obq *q, int64_t id, enum outbox_state state);
/* OUTBOX_PENDING if queued here, a remembered final state, or -1 unknown. */
int obq_state(const struct obq *q, int64_t id);
/* Jobs ready at now (not in flight; deps done, failed (soft or failing), or
 * past the deadline), ordered by next_at_ms then id; at most max. */
size_t obq_due(const struct obq *q, int64_t now, struct obq_job **out, size_t max);
/* True when j must fail: a hard dependency failed. */
bool obq_blocked(const struct obq_job *j);
/* The earliest moment a job not in flight becomes due by time alone;
 * INT64_MAX if none. */
int64_t obq_next_due(const struct obq *q);
/* Smallest created_ms over the queue (in flight included); INT64_MAX if empty. */
int64_t obq_oldest(const struct obq *q);
/* Iteration: first job, then j->next. */
struct obq_job *obq_first(const struct obq *q);

#endif
