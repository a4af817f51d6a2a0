/* fake_http: a small loopback HTTP/1.1 server for the fakes of REST peers
 * (PagerDuty, GitLab) and of Slack's Web API (fake_slack, which adds TLS
 * and its Socket Mode websocket through fake_http_create_opts), on the
 * caller's libuv loop (libwebsockets server vhost on a foreign loop).
 * Requests are routed by method and path prefix to a handler that answers
 * at once; every request is recorded in arrival order.
 *
 * Knobs, per pattern (see fake_http_match): fail the next N requests with a
 * status (+ body, + Retry-After) without calling the handler; delay the next
 * N answers by D ms.  A delayed request's handler still runs when the
 * request arrives (its effect happens at once); only the answer waits, on a
 * uv timer.  So a client killed during the delay has had its effect applied
 * and never saw the answer, like a real server whose reply was lost.
 *
 * Loop thread only.  Every record and string handed out is owned by the
 * fake and lives until fake_http_destroy(). */
#ifndef SIRT_FAKE_HTTP_H
#define SIRT_FAKE_HTTP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct fake_http;
struct fake_http_resp;

/* One request: what the handler sees, and what stays recorded. */
struct fake_http_request {
    char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" */
    char *path;            /* as lws hands it over: %xx decoded ("a%2Fb" -> "a/b"), "//" merged, no query */
    char *match_path;      /* the path patterns see (fake_http_set_match_path), else = path */
    char *query;           /* decoded "name=value" args joined with '&'; "" when none */
    size_t n_args;         /* the same args one by one (decoded, so '&' inside a value is safe) */
    char **arg_names, **arg_values;
    size_t n_headers;      /* known headers plus captured custom ones; names lower case, no ':' */
    char **header_names, **header_values;
    char *body;            /* NUL-terminated (binary-safe up to body_len) */
    size_t body_len;
    bool body_toobig;      /* over 8 MiB: body cut, the request answered 413 */
    /* the answer */
    int status;            /* 0: the connection was dropped (fail knob with status 0) */
    char *resp_body;
    bool failed;           /* answered by a fail knob: the handler did not run */
    int delay_ms;          /* delay knob applied, 0 if none */
    uint64_t t_us;         /* CLOCK_MONOTONIC µs when the request was complete */
    uint64_t answered_us;  /* when the answer was written; 0 while pending or if the client left */
};

typedef void (*fake_http_handler)(void *ud, const struct fake_http_request *req, struct fake_http_resp *resp);

/* port 0 picks a free one; name shows in logs.  NULL on failure (a
 * half-built fake still frees itself on the loop). */
struct fake_http *fake_http_create(uv_loop_t *loop, int port, const char *name);
/* Async close, as fake_slack_destroy: closes every connection (pending
 * delayed answers are dropped), then lws finishes on the loop and the fake
 * frees itself; keep running the loop (uv_run until it returns 0, or until
 * fake_http_live_count() drops).  h must not be used after.  NULL no-op. */
void fake_http_destroy(struct fake_http *h);
int fake_http_live_count(void);

/* What fake_slack needs beyond a plain REST listener. */
struct fake_http_ws;
struct fake_http_opts {
    int port;                        /* 0 picks a free one */
    const char *name;                /* in logs; NULL "fake-http" */
    /* Both set: a second, TLS-only listener on 127.0.0.1:tls_port (0 picks
     * one) with this certificate (chain) and key, PEM files; it answers
     * what the plain one does.  NULL: plain only. */
    const char *tls_cert_pem, *tls_key_pem;
    int tls_port;
    const struct fake_http_ws *ws;   /* a websocket endpoint too (fake_http_ws.h); copied */
    bool no_records;                 /* the owner keeps its own: requests are freed once answered */
    /* Called once the fake has freed itself (after fake_http_destroy, or
     * on the loop after a failed create); NULL none.  ud also goes to ws. */
    void (*on_free)(void *ud);
    void *ud;
};
/* fake_http_create with options; NULL on failure (on_free still comes). */
struct fake_http *fake_http_create_opts(uv_loop_t *loop, const struct fake_http_opts *o);
int fake_http_tls_port(const struct fake_http *h);   /* 0 without TLS */
int fake_http_port(const struct fake_http *h);
const char *fake_http_url(const struct fake_http *h);     /* "http://127.0.0.1:P" */

/* Routes, tried in the order added: method NULL matches any; the path must
 * start with prefix.  No route: 404 {"error":"not found"}. */
void fake_http_route(struct fake_http *h, const char *method, const char *prefix, fake_http_handler fn, void *ud);
/* fn(ud, path) returns a malloc'd path for pattern matching (NULL: use the
 * path as is), e.g. to strip "/api/v4" or turn "a/b/c" project paths into
 * ids.  Set before requests arrive. */
void fake_http_set_match_path(struct fake_http *h, char *(*fn)(void *ud, const char *path), void *ud);
/* lws only knows standard headers by name; other headers are recorded only
 * if captured: name without ':' (e.g. "private-token"; case-insensitive). */
void fake_http_capture_header(struct fake_http *h, const char *name);

/* Pattern: "METHOD /path" or "/path" (any method); METHOD may be "*".  In
 * the path, '*' matches any run of characters except '/', and a pattern
 * whose last segment is "**" matches that path and everything below it
 * ("/projects" + "/" + "**").  The whole match_path must match.  NULL
 * matches every request. */
bool fake_http_match(const char *pattern, const char *method, const char *path);

/* The next `times` requests matching pattern get status with body (NULL:
 * {"error":"<status> fake failure"}) of content_type (NULL: JSON), plus
 * Retry-After when retry_after > 0.  status 0 drops the connection without
 * an answer.  The handler does not run.  Rules add up, oldest first. */
void fake_http_fail(struct fake_http *h, const char *pattern, int times, int status, const char *content_type,
                    const char *body, int retry_after);
/* Outage: every request matching pattern fails with status (default body;
 * 0 drops the connection) for ms from now, or, with ms <= 0, until
 * fake_http_outage_end.  Checked before the counted fail rules added after
 * it; the handler does not run. */
void fake_http_outage(struct fake_http *h, const char *pattern, int status, int ms);
/* Ends every outage now. */
void fake_http_outage_end(struct fake_http *h);
/* The next `times` answers to requests matching pattern are written ms
 * later (failed answers too). */
void fake_http_delay(struct fake_http *h, const char *pattern, int times, int ms);
/* Ends every delay rule (answers already held still wait their time). */
void fake_http_delay_clear(struct fake_http *h);

/* Records, in arrival order, filtered by pattern (NULL = all). */
size_t fake_http_count(const struct fake_http *h, const char *pattern);
const struct fake_http_request *fake_http_request(const struct fake_http *h, const char *pattern, size_t idx);
const struct fake_http_request *fake_http_last(const struct fake_http *h, const char *pattern);
/* Answers written so far (a delayed answer counts once written). */
size_t fake_http_answered(const struct fake_http *h);

/* Lookups on a request; NULL when absent.  arg: the idx-th value of name
 * (repeated args such as "schedule_ids[]"); header: case-insensitive. */
const char *fake_http_arg(const struct fake_http_request *r, const char *name, size_t idx);
const char *fake_http_header(const struct fake_http_request *r, const char *name);
/* The body as JSON (caller deletes); for application/x-www-form-urlencoded
 * (or an empty body) a flat object of strings; query args fill in keys the
 * body lacks ("a[]" args become arrays).  NULL if a JSON body does not parse. */
cJSON *fake_http_args_json(const struct fake_http_request *r);

/* Answer builders for handlers (the default answer is 200 "{}" JSON). */
void fake_http_reply(struct fake_http_resp *resp, int status, const char *content_type, const char *body);
void fake_http_reply_json(struct fake_http_resp *resp, int status, const cJSON *body);
/* "{\"message\":<msg>}" style helper: one string field. */
void fake_http_reply_msg(struct fake_http_resp *resp, int status, const char *key, const char *msg);
void fake_http_reply_header(struct fake_http_resp *resp, const char *name, const char *value);

uint64_t fake_http_now_us(void);   /* CLOCK_MONOTONIC µs */

#endif
