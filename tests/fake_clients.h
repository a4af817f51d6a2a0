/* fake_clients: blocking test clients for the fakes, run off the loop.
 * fc_off_loop() runs a blocking step (libcurl easy, or a tiny RFC 6455
 * websocket client "wsc") on a helper thread while the test thread keeps the
 * loop turning, so the fakes on that loop can answer.  fc_begin/fc_end wrap
 * fx_init/fx_finish and own the libcurl handle and the wake-up async handle;
 * frames and HTTP answers returned are owned by the caller. */
#ifndef SIRT_FAKE_CLIENTS_H
#define SIRT_FAKE_CLIENTS_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define XOXB "Bearer xoxb-test-token"
#define XAPP "Bearer xapp-1-A0FAKE001-test"
#define JSONT "application/json; charset=utf-8"
#define FORMT "application/x-www-form-urlencoded"
/* as header lines (fc_call, fc_http.hdrs) */
#define HDR_JSON "Content-Type: application/json"
#define HDR_FORM "Content-Type: application/x-www-form-urlencoded"

struct fc_job {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
};

struct fc_http {
    const char *method;       /* "GET", "POST", "PUT", "DELETE", ... */
    const char *url;
    const char *auth;         /* full header value or NULL */
    const char *ctype;        /* POST content type */
    const char *hdrs[4];      /* more "Name: value" lines, NULL-terminated */
    const char *body;         /* POST: NULL sends an empty body; others: NULL sends none */
    bool fresh;               /* a handle of its own (a new connection), not the shared keep-alive one */
    bool may_fail;            /* a transport error is an answer (status -1), not a test failure */
    long timeout_ms;          /* 0: 10 s */
    long status;
    struct buf resp;
    char retry_after[32];
    char resp_type[128];
    char err[CURL_ERROR_SIZE];
    uint64_t ms;              /* how long it took */
};

struct wsc {
    int fd;
    unsigned char *rx;
    size_t len, cap;
    char status[128];         /* handshake status line */
};

struct wsc_frame {
    int op;
    bool fin;
    char *data;               /* NUL-terminated, malloc'd */
    size_t len;
    int rc;                   /* 0 ok, -1 EOF/error/timeout */
};

/* Steps run off the loop thread. */
struct fc_ws_step {
    struct wsc *c;
    int port;
    const char *path;
    struct wsc_frame fr;
};

void fc_wake_init(struct fx *fx);
void *fc_job_main(void *p);
void fc_off_loop(struct fx *fx, void (*fn)(void *), void *arg);
bool fc_pred_job(struct fx *fx, void *ud);
void fc_http_job(void *arg);
void fc_http_run(struct fx *fx, struct fc_http *h);
void fc_http_done(struct fc_http *h);
/* fc_http_run on a fresh connection, a transport error allowed (status -1). */
void fc_http_raw(struct fx *fx, struct fc_http *h);
cJSON *fc_api(struct fx *fx, const char *http_method, const char *method, const char *auth, const char *ctype,
                  const char *body_or_query, long *status);
/* One request with up to two header lines (either NULL), a fresh
 * connection and transport errors allowed; the parsed answer (NULL if not
 * JSON, caller deletes) and its status. */
cJSON *fc_call(struct fx *fx, const char *method, const char *url, const char *h1, const char *h2, const char *body,
               long *status);
/* fc_api as the bot (XOXB); fails the test, naming the call, unless the
 * answer's string at path (fc_jpath) is want. */
void fc_api_expect(struct fx *fx, const char *http_method, const char *method, const char *ctype,
                   const char *body_or_query, const char *path, const char *want);
/* fc_call with the answer dropped: its status. */
long fc_call_status(struct fx *fx, const char *method, const char *url, const char *h1, const char *h2,
                    const char *body);
/* fc_http_raw then fc_http_done (h can be sent again): its status. */
long fc_http_status(struct fx *fx, struct fc_http *h);
/* libcurl write callback appending to a struct buf. */
size_t fc_write_buf(char *p, size_t sz, size_t n, void *ud);
/* "a.b.0.c": numeric parts index arrays; NULL when absent. */
const cJSON *fc_jpath(const cJSON *o, const char *path);
const char *fc_jstr(const cJSON *o, const char *path);
double fc_jnum(const cJSON *o, const char *path);   /* -1 when not a number */
const cJSON *fc_jget(const cJSON *o, const char *k);
void wsc_open(struct wsc *c, int port, const char *path);
void wsc_close(struct wsc *c);
void wsc_read(struct wsc *c, struct wsc_frame *fr);
int wsc_send(struct wsc *c, int op, bool fin, const void *p, size_t n);
int wsc_text(struct wsc *c, const char *s);
void fc_open_job(void *arg);
void fc_read_job(void *arg);
struct wsc_frame fc_next_frame(struct fx *fx, struct wsc *c);
bool fc_quiet_for(struct fx *fx, struct wsc *c, int ms);
char *fc_new_ticket_path(struct fx *fx);
void fc_ws_connect(struct fx *fx, struct wsc *c, const char *path);
void fc_ws_online(struct fx *fx, struct wsc *c);
bool fc_pred_ws_open_is(struct fx *fx, void *ud);
bool fc_pred_ws_count_is(struct fx *fx, void *ud);
void fc_begin(struct fx *fx);
/* fc_begin with fx_init_opts(fx, flags) (FX_PAGERDUTY, FX_GITLAB ...). */
void fc_begin_opts(struct fx *fx, int flags);
void fc_end(struct fx *fx);

#endif
