/* outbox_jobs: writing jobs into the outbox (outbox_jobs.c).  outbox.h
 * includes this header; handlers include it alone (outbox_add), never
 * outbox.h, the worker that sends. */
#ifndef SIRT_OUTBOX_JOBS_H
#define SIRT_OUTBOX_JOBS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sirt_app;
struct store;

/* Convenience for handlers: adds a job with payload (borrowed, serialized
 * here) and deps; returns the job id (> 0) or < 0.  idem_key must be unique
 * per effect, e.g. "SIRT-12/create_channel". */
int64_t outbox_add(struct store *s, int64_t incident_id, const char *idem_key, const char *op,
                   const cJSON *payload, const int64_t *deps, size_t n_deps,
                   int64_t deps_deadline_ms);

/* The outbox's own jobs, on the store thread inside the caller's
 * transaction: the notice of a job failed for good (none for quiet ops, a
 * notice's own failure, or without an incident); the "not accepted"
 * announcement of a page first due at first_due_ms (once); and, when that
 * was made, the page's end (delivered, or dropped as the incident was
 * resolved). */
void outbox__notice_failed(struct sirt_app *app, int64_t incident_id, const char *op, const char *idem,
                           const char *error);
void outbox__page_delayed(struct sirt_app *app, int64_t incident_id, const char *idem, int64_t first_due_ms,
                          const char *error);
void outbox__page_outcome(struct sirt_app *app, int64_t incident_id, const char *idem, bool delivered);

#endif
