/* http: asynchronous HTTP client, libcurl's multi interface driven by the
 * libuv loop (curl_multi_socket_action, one uv_poll_t per socket, one
 * uv_timer_t).  Never blocks the loop.  Every request has a timeout and a cap
 * on the response size.
 *
 * Lifetime: http_send() copies everything it needs from the request; the
 * response passed to the callback is valid only during the callback.  The
 * callback is called exactly once per successful http_send(), also when the
 * client is closed (err = HTTP_ECANCELED).  http_close() cancels what is in
 * flight and frees the client once libuv has closed its handles, so the loop
 * must keep running after it. */
#ifndef SIRT_HTTP_H
#define SIRT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum http_err {
    HTTP_OK = 0,
    HTTP_ENET = -1,       /* connect/resolve/send/recv failure */
    HTTP_ETIMEDOUT = -2,
    HTTP_ETOOBIG = -3,    /* response larger than max_response */
    HTTP_ECANCELED = -4,  /* client closed before completion */
    HTTP_EINVAL = -5,
};

const char *http_strerror(int err);

struct http_request {
    const char *method;          /* "GET", "POST", ...; NULL = POST if body else GET */
    const char *url;
    const char *const *headers;  /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;            /* may be NULL */
    size_t body_len;
    long timeout_ms;             /* 0 = 10000 */
    size_t max_response;         /* 0 = 4 MiB */
};

struct http_response {
    int err;                     /* enum http_err */
    const char *errmsg;          /* curl's message when err != 0, else "" */
    long status;                 /* HTTP status, 0 if none */
    const char *body;            /* NUL-terminated, may be "" */
    size_t body_len;
    long retry_after_s;          /* Retry-After in seconds, -1 if absent */
    uint64_t elapsed_us;
};

typedef void (*http_done_cb)(void *ud, const struct http_response *resp);

struct http_client;

struct http_client *http_create(uv_loop_t *loop);
/* Returns 0 or HTTP_EINVAL (bad arguments, client closing). */
int http_send(struct http_client *c, const struct http_request *req,
              http_done_cb cb, void *ud);
size_t http_in_flight(const struct http_client *c);
/* Cancels all in-flight requests (their callbacks run with HTTP_ECANCELED
 * before this returns) and frees the client asynchronously. */
void http_close(struct http_client *c);

#endif
