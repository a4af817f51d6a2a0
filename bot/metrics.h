/* metrics: in-process counters and one histogram, rendered in Prometheus
 * text format for GET /metrics.  All names are fixed at compile time except
 * the label values (envelope type, API method), which are interned in small
 * bounded tables (overflow goes to the label value "other").  Owned by main;
 * everything else holds a borrowed pointer, which may be NULL.  Thread-safe:
 * the loop and the store thread both count here.  The outbox probe is
 * called with the metrics lock held (it must not call back in here). */
#ifndef SIRT_METRICS_H
#define SIRT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;

struct metrics *metrics_create(void);
void metrics_destroy(struct metrics *m);

void metrics_envelope_received(struct metrics *m, const char *type);
void metrics_envelope_acked(struct metrics *m, const char *type, uint64_t latency_us);
void metrics_envelope_dropped(struct metrics *m, const char *reason);
void metrics_duplicate_event(struct metrics *m);
void metrics_reconnect(struct metrics *m);
void metrics_set_connected(struct metrics *m, bool up);
/* result: "ok", or the Slack error code / "http_<status>" / "network". */
void metrics_api_call(struct metrics *m, const char *method, const char *result);

/* outcome: "done", "retry", "failed", "dropped". */
void metrics_outbox(struct metrics *m, const char *op, const char *outcome);
void metrics_outbox_in_flight(struct metrics *m, long n);
/* One transient failure of op that will be retried (sirt_outbox_retries_total). */
void metrics_outbox_retry(struct metrics *m, const char *op);

/* The outbox queue as the store holds it, read when /metrics is rendered:
 * counts by state in the order pending, sending, done, failed, dropped
 * (store.h's enum outbox_state) and the age of the oldest pending or
 * sending job (0 when none).  Returns false when it cannot tell (the
 * gauges are then left out).  fn NULL unregisters. */
#define METRICS_OUTBOX_STATES 5
typedef bool (*metrics_outbox_probe_fn)(void *ud, int64_t counts[METRICS_OUTBOX_STATES], int64_t *oldest_age_ms);
void metrics_set_outbox_probe(struct metrics *m, metrics_outbox_probe_fn fn, void *ud);

/* The store thread's figures after each of its steps: commits and
 * statements run (sirt_store_commits_total, sirt_store_statements_total). */
void metrics_store_txn(struct metrics *m, uint64_t commits, uint64_t reads, uint64_t writes);
/* Store reads the outbox made (sirt_outbox_store_reads_total). */
void metrics_outbox_reads(struct metrics *m, uint64_t reads);
/* One group commit of the inbox made `envelopes` durable (sirt_store_batch_size). */
void metrics_store_batch(struct metrics *m, size_t envelopes);

/* Appends the Prometheus exposition text to out. */
void metrics_render(const struct metrics *m, struct buf *out);

/* Incident step durations by severity (sirt_incident_time_to_*_seconds
 * histograms): a snapshot computed from the store elsewhere (the review's
 * figures, so every replica renders the same store-wide values) and
 * replaced whole.  Kinds in this order: page, acknowledge, decision,
 * validated_fix, resolve; severities 1..4. */
#define METRICS_DUR_KINDS 5
#define METRICS_DUR_SEVERITIES 4
#define METRICS_DUR_BUCKETS 12
struct metrics_durations {
    uint64_t bucket[METRICS_DUR_KINDS][METRICS_DUR_SEVERITIES][METRICS_DUR_BUCKETS + 1];  /* last: +Inf */
    double sum_s[METRICS_DUR_KINDS][METRICS_DUR_SEVERITIES];
    uint64_t count[METRICS_DUR_KINDS][METRICS_DUR_SEVERITIES];
};
/* Counts one duration into d (pure; kind or severity out of range: ignored). */
void metrics_durations_observe(struct metrics_durations *d, int kind, int severity, double seconds);
/* Replaces the snapshot rendered (copied); NULL leaves the histograms out. */
void metrics_set_durations(struct metrics *m, const struct metrics_durations *d);
/* Called (on the rendering thread, without the metrics lock) each time
 * /metrics is rendered, to ask for a fresher snapshot; fn NULL unregisters. */
typedef void (*metrics_refresh_fn)(void *ud);
void metrics_set_durations_refresh(struct metrics *m, metrics_refresh_fn fn, void *ud);

#endif
