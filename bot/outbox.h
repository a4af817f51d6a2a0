/* outbox: sends every external side effect exactly as recorded.  Handlers
 * add jobs with outbox_add() inside their store transaction (so a job exists
 * iff the state change that caused it was committed), then the worker on the
 * loop runs due jobs through effects.h, marks them done, and retries
 * transient failures (network, timeouts, 5xx, 408, 429 after Retry-After)
 * with capped, jittered exponential backoff by the op's retry class: a page
 * at most 60 s apart until it goes out or its incident is resolved (then it
 * is dropped), announced in the incident channel and sirt_channel when still
 * not accepted 120 s after it was first due, and again when it goes out;
 * every other job at most 5 min apart for outbox.give_up_hours from when it
 * was first due.  Permanent errors, and giving up, fail the job and tell the
 * incident channel (or the reporter by DM when there is no channel yet).
 * Jobs wait for their dependencies, retrying ones included; a failed
 * dependency fails its dependents.  A job is marked "sending" in the store before its request
 * leaves, so after a crash it is retried with maybe_sent set and the effect
 * reconciles instead of creating a second channel, project, issue or page.
 *
 * One timer set to the next due moment, recomputed on every change. */
#ifndef SIRT_OUTBOX_H
#define SIRT_OUTBOX_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "outbox_jobs.h"   /* outbox_add */

struct sirt_app;
struct outbox;

struct outbox *outbox_create(struct sirt_app *app);
/* Recovers jobs left "sending" by a crash and starts the worker. */
int outbox_start(struct outbox *o);
/* Loop: re-examines the queue soon (e.g. after the clock moved). */
void outbox_kick(struct outbox *o);
/* Store thread: a transaction that may have added jobs committed (or was
 * rolled back); due jobs go out now. */
void outbox_st_committed(struct outbox *o);
void outbox_st_rolled_back(struct outbox *o);
/* Store thread, around the commit of a handler's outermost transaction:
 * precommit, just before it, marks the due jobs (those the transaction
 * created included) as sending inside it, which saves the commit a tick of
 * its own would cost; postcommit, once it committed or rolled back, sends
 * them (after the commit only: the outbox is durable before anything
 * leaves) or forgets them.  Without a precommit that picked anything,
 * postcommit is outbox_st_committed after a commit. */
void outbox_st_precommit(struct outbox *o);
void outbox_st_postcommit(struct outbox *o, bool committed);
/* Loop: stops the worker; in-flight effects are told to cancel (by closing
 * the clients) and their outcomes recorded by the store thread's drain, the
 * jobs pending (maybe_sent) for the next start.  The loop must keep
 * running until the timer closed; outbox_destroy frees it after the store
 * thread has ended. */
void outbox_close(struct outbox *o);
void outbox_destroy(struct outbox *o);
size_t outbox_in_flight(const struct outbox *o);

#endif
