/* socket_mode_state: what the Socket Mode client's files share — the client
 * (struct sm), one websocket (struct sm_conn) with its queue of acks, an
 * ack token, and the functions one file calls in the other (sm__ prefix).
 * Not for use outside bot/socket_mode*.c.  socket_mode.c is the connection
 * state machine and the lifecycle; socket_mode_frames.c the websocket
 * callback, the frames that arrive and the acks that leave. */
#ifndef SIRT_SOCKET_MODE_STATE_H
#define SIRT_SOCKET_MODE_STATE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "socket_mode.h"
#include "util.h"

struct api_client;
struct metrics;

/* One ack frame queued on a conn, written when the socket is writeable. */
struct sm_item {
    struct sm_item *next;
    char *frame;              /* LWS_PRE headroom + ack JSON */
    size_t len;               /* bytes of JSON after the headroom */
    char type[24];
    uint64_t rx_us;           /* when the envelope's last byte arrived */
};

/* An envelope's ack token: the consumer's from on_envelope until sm_ack. */
struct sm_ack {
    unsigned conn_id;         /* the socket the envelope came on */
    uint64_t rx_us;
    char type[24];
    char envelope_id[132];
};

struct sm_queue {
    struct sm_item *head, *tail;
    size_t n;
};

/* One websocket: freed when lws destroys it (sm__conn_destroyed). */
struct sm_conn {
    struct sm_conn *next;     /* in s->conns */
    struct sm *s;
    struct lws *wsi;
    struct buf rx;
    bool rx_discard;          /* current message overflowed: drop until final */
    bool retiring;            /* got "disconnect": close once acks are flushed */
    bool closing;             /* close frame requested */
    struct sm_queue acks;
    unsigned pending;         /* tokens handed out and not acked yet */
    unsigned id;
};

/* The client: freed in the close callback of its last uv handle, once no
 * lookup, request or socket can call back into it. */
struct sm {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct api_client *api;
    struct metrics *metrics;
    char *app_token;
    struct sm_config cfg;
    lws_retry_bo_t retry;

    enum sm_state state;
    struct sm_conn *cur;
    struct sm_conn *conns;    /* every live conn */
    unsigned n_conns;         /* live conns, current and retiring */
    unsigned conn_seq;
    unsigned failures;        /* consecutive failed attempts */
    bool ever_online;
    bool api_pending;         /* apps.connections.open in flight */
    bool destroyed;

    char host[256];
    char path[2048];
    int port;
    bool tls;
    uv_getaddrinfo_t gai;
    bool gai_pending;

    uv_timer_t backoff_timer;
    uv_timer_t hello_timer;
    uv_timer_t stop_timer;
    int open_handles;

    void (*stop_done)(void *);
    void *stop_ud;
};

/* ---- socket_mode.c: the state machine ---- */
/* The websocket of c is up: wait for hello (c still current, not draining). */
void sm__established(struct sm_conn *c);
/* Slack's "hello" on c: online when c is the current socket and the client
 * still waits for it.  num_connections: Slack's count, -1 when absent. */
void sm__hello(struct sm_conn *c, int num_connections);
/* Slack's "disconnect" on c (why: its reason): c retires once its acks are
 * out, and a new socket is opened at once (after a backoff for
 * "link_disabled"). */
void sm__disconnect(struct sm_conn *c, const char *why);
/* lws destroyed c's socket: c is freed here (its acks dropped), and the
 * client reconnects, finishes a stop, or is freed after sm_destroy. */
void sm__conn_destroyed(struct sm_conn *c);

/* ---- socket_mode_frames.c: the websocket ---- */
/* The protocol list of the client vhost (its callback is the frame path). */
extern const struct lws_protocols sm__protocols[];
/* Frees every ack queued on c and not written. */
void sm__acks_drop(struct sm_conn *c);

#endif
