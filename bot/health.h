/* health: the SIRT_HTTP endpoint — GET /healthz (200 while the Socket Mode
 * socket is online, 503 otherwise) and GET /metrics (Prometheus text) —
 * served by a libwebsockets server vhost on the shared context, so it runs
 * on the one loop and never blocks it.  Borrowed pointers to sm and metrics
 * must outlive the lws context. */
#ifndef SIRT_HEALTH_H
#define SIRT_HEALTH_H

struct lws_context;
struct sm;
struct metrics;

/* Creates the listening vhost on host:port. Returns 0 or -1 (logged). */
int health_start(struct lws_context *ctx, const char *host, int port, struct sm **sm,
                 struct metrics *metrics);

#endif
