/* fake_http_state: what fake_http.c (the lws server, requests and their
 * answers, life cycle) shares with fake_http_req.c (records and their
 * lookups, arguments, patterns and knob rules, answer builders).  Not for
 * users of the fake: they use fake_http.h (and fake_http_ws.h). */
#ifndef SIRT_FAKE_HTTP_STATE_H
#define SIRT_FAKE_HTTP_STATE_H

#include <libwebsockets.h>

#include "../../bot/util.h"
#include "fake_http.h"
#include "fake_http_ws.h"

#define FH_BODY_CAP    (8u << 20)
#define FH_MAX_XH      16           /* extra answer headers */
#define FH_MAX_ARGS    256
#define FH_MAX_CAPTURE 32

struct fh_route {
    char *method;
    char *prefix;
    fake_http_handler fn;
    void *ud;
};

struct fh_rule {
    char *pattern;
    int times;
    int status;          /* fail rules */
    char *ctype;
    char *body;
    int retry_after;
    int ms;              /* delay rules */
    bool outage;         /* fail rule for every request until until_us / fake_http_outage_end */
    uint64_t until_us;   /* outage: CLOCK_MONOTONIC end, 0 = until told */
};

struct fake_http_resp {
    int status;
    char ctype[96];
    struct buf body;
    int n_xh;
    char *xh_names[FH_MAX_XH];
    char *xh_values[FH_MAX_XH];
};

struct fake_http {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh, *tls_vh;
    int port, tls_port;
    char url[64];
    char name[32];
    bool destroying;
    struct fake_http_opts opts;
    struct fake_http_ws ws;          /* opts.ws copied; fn NULL without one */
    struct lws_protocols protocols[2];

    struct fh_route *routes;
    size_t n_routes;
    char *(*match_fn)(void *ud, const char *path);
    void *match_ud;
    char *capture[FH_MAX_CAPTURE];
    size_t n_capture;
    struct fh_rule *fails, *delays;
    size_t n_fails, n_delays;

    struct fh_req *reqs;
    struct fake_http_request **recs;
    size_t n_recs, cap_recs;
    size_t answered;

    int delays_closing;          /* delay timers whose close is pending */
    uv_timer_t fin;
    int fin_ticks;
    bool fin_busy;
};

/* Appends (name, value) to parallel arrays; takes both strings. */
void fake_http__push_pair(size_t *n, char ***names, char ***values, char *name, char *value);
void fake_http__rec_free(struct fake_http_request *r);
/* The first live rule whose pattern matches r (counted rules lose one use). */
struct fh_rule *fake_http__take_rule(struct fh_rule *rules, size_t n, const struct fake_http_request *r);
void fake_http__rules_free(struct fh_rule *rules, size_t n);
/* The default answer: 200 "{}" JSON. */
void fake_http__resp_init(struct fake_http_resp *resp);
void fake_http__resp_finish(struct fake_http_resp *resp);

#endif
