/* outbox_queue: the in-memory set of due jobs (see outbox_queue.h).  A
 * chained hash by id and a list by arrival; scans are over the jobs this
 * replica holds (bounded by what is pending), never the store. */
#include "outbox_queue.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define OBQ_BUCKETS 1024
#define OBQ_RECENT 1024

struct obq {
    struct obq_job *buckets[OBQ_BUCKETS];
    struct obq_job *head, *tail;
    size_t n;
    struct { int64_t id; int state; } recent[OBQ_RECENT];   /* ring of finished jobs */
    size_t recent_next;
};

static size_t bucket(int64_t id)
{
    return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 54) % OBQ_BUCKETS;
}

struct obq *obq_create(void)
{
    return xcalloc(1, sizeof(struct obq));
}

static void job_free(struct obq_job *j)
{
    outbox_job_finish(&j->job);
    free(j->deps);
    free(j);
}

void obq_destroy(struct obq *q)
{
    if (!q)
        return;
    while (q->head) {
        struct obq_job *j = q->head;
        q->head = j->next;
        job_free(j);
    }
    free(q);
}

size_t obq_size(const struct obq *q)
{
    return q->n;
}

struct obq_job *obq_first(const struct obq *q)
{
    return q->head;
}

struct obq_job *obq_get(const struct obq *q, int64_t id)
{
    for (struct obq_job *j = q->buckets[bucket(id)]; j; j = j->hnext)
        if (j->job.id == id)
            return j;
    return NULL;
}

struct obq_job *obq_add(struct obq *q, struct outbox_job *job)
{
    if (obq_get(q, job->id)) {
        outbox_job_finish(job);
        return NULL;
    }
    struct obq_job *j = xcalloc(1, sizeof(*j));
    j->job = *job;
    memset(job, 0, sizeof(*job));
    size_t b = bucket(j->job.id);
    j->hnext = q->buckets[b];
    q->buckets[b] = j;
    j->prev = q->tail;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
    return j;
}

void obq_add_dep(struct obq_job *j, int64_t dep_id)
{
    for (size_t i = 0; i < j->n_deps; i++)
        if (j->deps[i] == dep_id)
            return;
    j->deps = xrealloc(j->deps, (j->n_deps + 1) * sizeof(*j->deps));
    j->deps[j->n_deps++] = dep_id;
}

void obq_takeover(struct obq_job *j, int64_t now)
{
    int64_t dl = j->job.deps_deadline_ms;
    if (dl == 0)
        return;
    int64_t wait = dl - j->job.created_ms;
    if (wait < 0)
        wait = 0;
    if (now + wait > dl)
        j->job.deps_deadline_ms = now + wait;
}

void obq_remove(struct obq *q, struct obq_job *j)
{
    struct obq_job **pp = &q->buckets[bucket(j->job.id)];
    while (*pp && *pp != j)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = j->hnext;
    if (j->prev)
        j->prev->next = j->next;
    else
        q->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        q->tail = j->prev;
    q->n--;
    job_free(j);
}

void obq_finished(struct obq *q, int64_t id, enum outbox_state state)
{
    struct obq_job *self = obq_get(q, id);
    if (self)
        obq_remove(q, self);
    q->recent[q->recent_next].id = id;
    q->recent[q->recent_next].state = (int)state;
    q->recent_next = (q->recent_next + 1) % OBQ_RECENT;
    for (struct obq_job *j = q->head; j; j = j->next) {
        for (size_t i = 0; i < j->n_deps; i++) {
            if (j->deps[i] != id)
                continue;
            j->deps[i] = j->deps[--j->n_deps];
            if (state == OUTBOX_FAILED)
                j->dep_failed = true;
            break;
        }
    }
}

int obq_state(const struct obq *q, int64_t id)
{
    if (obq_get(q, id))
        return OUTBOX_PENDING;
    for (size_t i = 0; i < OBQ_RECENT; i++)
        if (q->recent[i].id == id && id != 0)
            return q->recent[i].state;
    return -1;
}

bool obq_blocked(const struct obq_job *j)
{
    return j->dep_failed && j->job.deps_deadline_ms == 0;
}

/* When j becomes due by time alone, INT64_MAX if it waits for a dependency. */
static int64_t due_at(const struct obq_job *j)
{
    if (obq_blocked(j))
        return 0;   /* to be failed now */
    if (j->n_deps == 0 || j->dep_failed)   /* soft deps: a failed one does not stop it */
        return j->job.next_at_ms;
    if (j->job.deps_deadline_ms == 0)
        return INT64_MAX;
    return j->job.next_at_ms > j->job.deps_deadline_ms ? j->job.next_at_ms : j->job.deps_deadline_ms;
}

int64_t obq_next_due(const struct obq *q)
{
    int64_t next = INT64_MAX;
    for (const struct obq_job *j = q->head; j; j = j->next) {
        if (j->inflight)
            continue;
        int64_t at = due_at(j);
        if (at < next)
            next = at;
    }
    return next;
}

static int by_due(const void *a, const void *b)
{
    const struct obq_job *x = *(struct obq_job *const *)a, *y = *(struct obq_job *const *)b;
    if (x->job.next_at_ms != y->job.next_at_ms)
        return x->job.next_at_ms < y->job.next_at_ms ? -1 : 1;
    return x->job.id < y->job.id ? -1 : x->job.id > y->job.id;
}

size_t obq_due(const struct obq *q, int64_t now, struct obq_job **out, size_t max)
{
    size_t n = 0, cap = 0;
    struct obq_job **all = NULL;
    for (struct obq_job *j = q->head; j; j = j->next) {
        if (j->inflight || due_at(j) > now)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            all = xrealloc(all, cap * sizeof(*all));
        }
        all[n++] = j;
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), by_due);
    if (n > max)
        n = max;
    if (n)
        memcpy(out, all, n * sizeof(*out));
    free(all);
    return n;
}

int64_t obq_oldest(const struct obq *q)
{
    int64_t m = INT64_MAX;
    for (const struct obq_job *j = q->head; j; j = j->next)
        if (j->job.created_ms < m)
            m = j->job.created_ms;
    return m;
}
