/* http_peer: a scripted raw HTTP/1.1 server on 127.0.0.1, on the test's
 * libuv loop, for byte-level tests of the HTTP and Slack API clients.
 * Each request received takes the next scripted reply from a FIFO queue (or
 * the default reply when the queue is empty) and is recorded: method,
 * target, raw header block, body.  Replies can also be behaviours: never
 * answer, drop the connection, answer after a delay.  Keep-alive is
 * supported (Content-Length bodies); chunked request bodies are not.
 *
 * Lifetime: records stay valid until http_peer_destroy(), which starts the
 * async close; keep running the loop until it returns 0 (the peer frees
 * itself in its last close callback). */
#ifndef SIRT_HTTP_PEER_H
#define SIRT_HTTP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum http_peer_action {
    PEER_RESPOND = 0,      /* send the reply (after delay_ms if set) */
    PEER_SILENT,           /* read the request, never answer, keep the socket open */
    PEER_CLOSE,            /* close the connection as soon as the request is read */
};

struct http_peer_reply {
    enum http_peer_action action;
    int status;                  /* 0 = 200 */
    const char *headers;         /* extra header lines, each ending "\r\n"; may be NULL */
    const char *body;            /* may be NULL (= "") */
    size_t body_len;             /* 0 = strlen(body) */
    int delay_ms;                /* answer after this long */
    bool no_length;              /* no Content-Length: body delimited by closing */
};

struct http_peer_request {
    char *method;
    char *target;                /* path plus query, as sent */
    char *headers;               /* raw header lines (without the request line) */
    char *body;                  /* NUL-terminated */
    size_t body_len;
    uint64_t t_us;               /* uv_hrtime()/1000 when fully received */
};

struct http_peer;

/* Listens on 127.0.0.1, a free port. Returns NULL on failure. */
struct http_peer *http_peer_create(uv_loop_t *loop);
void http_peer_destroy(struct http_peer *p);
int http_peer_port(const struct http_peer *p);
/* "http://127.0.0.1:<port>" */
const char *http_peer_url(const struct http_peer *p);

/* Queues a reply (strings are copied).  n copies with http_peer_push_n. */
void http_peer_push(struct http_peer *p, const struct http_peer_reply *r);
void http_peer_push_n(struct http_peer *p, const struct http_peer_reply *r, int n);
/* Shorthand: queue a RESPOND reply with status, body and extra headers. */
void http_peer_push_simple(struct http_peer *p, int status, const char *headers, const char *body);
/* Reply used when the queue is empty (initially: 200, body "ok"). */
void http_peer_set_default(struct http_peer *p, const struct http_peer_reply *r);

size_t http_peer_count(const struct http_peer *p);                /* requests received */
const struct http_peer_request *http_peer_request(const struct http_peer *p, size_t i);
/* Value of a header of a recorded request (case-insensitive name), a new
 * string the caller frees, or NULL if absent. */
char *http_peer_header(const struct http_peer_request *r, const char *name);
size_t http_peer_connections(const struct http_peer *p);         /* accepted so far */

/* Test helper: runs loop until pred(ud) is true or timeout_ms passes.
 * pred may be NULL (run for the full time).  Returns pred's last value. */
bool http_peer_run_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud, int timeout_ms);

#endif
