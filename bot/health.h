/* health: the SIRT_HTTP endpoint for orchestrators — GET /livez (the loop
 * turns), GET /readyz and /healthz (connected to Slack with a working
 * store), GET /metrics (Prometheus text) — served by a libwebsockets server
 * vhost on the shared context, so it runs on the one loop and never blocks
 * it.  Borrowed pointers to sm and metrics must outlive the lws context.
 * The store flag is process-wide and may be set from any thread. */
#ifndef SIRT_HEALTH_H
#define SIRT_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct lws_context;
struct sm;
struct metrics;

/* A heartbeat older than this makes /livez 503: the loop is stuck. */
#define HEALTH_BEAT_MS 1000
#define HEALTH_STALL_MS 10000

/* Creates the listening vhost on host:port and starts the loop heartbeat (an
 * unreferenced timer: it never keeps the loop alive).  Returns 0 or -1
 * (logged). */
int health_start(struct lws_context *ctx, uv_loop_t *loop, const char *host, int port, struct sm **sm,
                 struct metrics *metrics);
/* Closes the heartbeat timer (shutdown, before the loop's last run).
 * Harmless when health_start was not called or failed. */
void health_stop(void);

/* The store says whether it works.  ok=false with why, a short static
 * string ("database unreachable"), makes /readyz and /healthz 503 with
 * "store: <why>" until it says ok again.  Thread-safe (atomics): the store
 * thread may call it.  Starts false ("not open"). */
void health_set_store_ok(bool ok, const char *why);

/* Readiness as /readyz computes it: true when ready; else false with a
 * short reason in why (size n), e.g. "slack: backoff; store: not open". */
bool health_ready(char *why, size_t n);
/* Liveness as /livez computes it at now_ms (uv_hrtime in ms): true unless
 * the heartbeat is older than HEALTH_STALL_MS (why says how old). */
bool health_live(uint64_t now_ms, char *why, size_t n);

#endif
