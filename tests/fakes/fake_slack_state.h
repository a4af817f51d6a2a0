/* fake_slack_state: the state fake_slack's files share (fake_slack.c life
 * cycle, HTTP answers and call records; fake_slack_api.c and
 * fake_slack_conv.c the Web API methods; fake_slack_ws.c the Socket Mode
 * sockets; fake_slack_send.c envelopes and their delivery).  The HTTP side
 * runs on fake_http (no records of its own: fake_slack keeps fake_calls).
 * Not for tests: they use fake_slack.h. */
#ifndef SIRT_FAKE_SLACK_STATE_H
#define SIRT_FAKE_SLACK_STATE_H

#include <libwebsockets.h>

#include "../../bot/util.h"
#include "fake_http.h"
#include "fake_slack.h"

#define FS_WS_RX_CAP       (4u << 20)   /* one reassembled ws message */
#define FS_BAD_KEEP        100          /* bad frames kept for inspection */
#define FS_BAD_KEEP_BYTES  1024
#define FS_TEAM            "T0FAKE001"
#define FS_APP             "A0FAKE001"
#define FS_BOT_USER        "U0BOT0001"
#define FS_BOT_ID          "B0BOT0001"
#define FS_TAG_LEN         32           /* client tags (fake_slack_client_api_url) */
#define FS_MAX_CONNS       10           /* Slack: 10 Socket Mode connections per app */

enum fs_out_kind { OUT_FRAME, OUT_HELLO, OUT_ENVELOPE };

struct fs_env;

/* One queued outgoing websocket message; data has LWS_PRE headroom. */
struct fs_out {
    struct fs_out *next;
    enum fs_out_kind kind;
    bool binary;
    struct fs_env *env;      /* OUT_ENVELOPE: map entry to stamp */
    size_t len;
    size_t off;              /* bytes already written (fragmented send) */
    unsigned char data[];    /* LWS_PRE + len */
};

struct fs_conn {
    struct fake_slack *f;
    struct lws *wsi;
    struct fs_conn *prev, *next;
    struct fs_out *out_head, *out_tail;
    struct buf rx;
    bool rx_overflow;
    bool hello_written;
    bool silent;
    bool dropping;
    bool ping_want;
    bool over_limit;         /* past the connection limit: no hello, no envelopes */
    unsigned id;
    char tag[FS_TAG_LEN];    /* the client tag of the ticket it used ("" none) */
};

/* A websocket's per-connection data (fake_http_ws pss). */
struct fs_pss {
    struct fs_conn *conn;
    char tag[FS_TAG_LEN];    /* FILTER -> ESTABLISHED: the ticket's client tag */
};

/* One envelope sent (or queued).  pub points into the arrays below. */
struct fs_env {
    struct fs_env *next;                  /* map bucket */
    struct fs_env *pend_prev, *pend_next; /* unacked events_api awaiting redelivery */
    bool pending;
    bool listed;                          /* in f->envs: freed only with the fake */
    uint64_t queued_us;
    uint64_t sent_us;
    struct fake_ack *ack;
    bool written;
    char *payload;                        /* pending only: the payload JSON to send again */
    struct fake_delivery pub;
    char id[40];
    char type[16];
    char event_id[64];
    char conn_tag[FS_TAG_LEN];
};

struct fs_fail {
    char *method;       /* NULL: every Web API method (outages) */
    bool outage;        /* not counted: every call until until_us / fake_slack_outage_end */
    uint64_t until_us;  /* outage end (CLOCK_MONOTONIC), 0 = until told */
    int times;
    int status;
    char *error;
    int retry_after;
};

struct fs_user {
    char *id, *name, *email, *tz;
};

struct fake_slack {
    char *only_bot_token;        /* fake_slack_only_bot_token: other xoxb- tokens are invalid_auth */
    int close_frames;            /* close frames received from the bot */
    int last_close_code;         /* status code of the last one, 0 if none given */
    uv_loop_t *loop;
    struct fake_http *http;      /* the listeners; NULL once it has freed itself */
    int port;
    char api_url[64];
    /* TLS listener (fake_slack_create_tls); tls_port 0 without one */
    int tls_port;
    char ws_host[128];
    char tls_api_url[192];
    int ws_tls_total;
    uint32_t prefix;             /* random, makes ids differ per fake */
    bool destroying;

    /* websocket */
    struct fs_conn *conns;       /* newest first */
    int max_conns;               /* FS_MAX_CONNS unless set */
    int ws_over_limit;           /* connections refused for the limit */
    enum fake_slack_spread spread;
    uint64_t rnd;                /* FAKE_SLACK_SPREAD_RANDOM state (xorshift64) */
    unsigned rr_last;            /* FAKE_SLACK_SPREAD_ROUND_ROBIN: last connection id used */
    struct fs_env **envs;        /* every envelope in send order (while acks are recorded) */
    size_t n_envs, cap_envs;
    struct fs_env *pend;         /* redelivery candidates, oldest first */
    struct fs_env *pend_tail;
    int redeliver_ms;            /* 0 = off */
    int redeliver_max;
    size_t redeliveries;
    const char *cur_client;      /* the tag of the Web API call being answered */
    int ws_total, ws_refused;
    unsigned conn_seq;
    bool silent;
    size_t fragment;
    uint64_t env_seq;
    struct fs_env **map;
    size_t map_n, map_buckets;
    struct fake_ack **acks;
    size_t n_acks, cap_acks;
    size_t ack_total;
    bool record_acks;
    void (*on_ack)(void *ud, const struct fake_ack *a);
    void *on_ack_ud;
    size_t bad_frames;
    char *bad[FS_BAD_KEEP];
    uint64_t ping_seq, ping_sent_us, pongs, last_rtt_us;
    char ping_payload[32];

    /* tickets: state per number, 0 unissued, 1 issued, 2 used; and the
     * client tag of the apps.connections.open call that issued it */
    unsigned char *tickets;
    char (*ticket_tags)[FS_TAG_LEN];
    size_t n_tickets;

    /* web api */
    struct fake_call **calls;
    size_t n_calls, cap_calls;
    struct fs_fail *fails;
    size_t n_fails;
    struct fs_user *users;
    size_t n_users;
    struct fake_channel **channels;   /* known and seen-only, creation order */
    size_t n_channels;
    char **pins;                      /* "channel ts" */
    size_t n_pins;
    struct fake_messages *msgs;       /* what chat.postMessage posted */
    struct fake_files *files;         /* external uploads (fake_files.c) */
    uint64_t last_ts_us;              /* ts handed out: wall clock, strictly increasing */
    unsigned ts_seq, chan_seq, view_seq, trigger_seq, cmd_seq, event_seq;
    char last_trigger[64];
    size_t block_refusals;            /* blocks/views refused as Slack would */
    char last_refusal[512];

    /* timers: sweep finds peer-closed silent sockets; redo redelivers */
    uv_timer_t sweep;
    uv_timer_t redo;
    int closes_pending;
};

/* --- fake_slack.c --- */
/* args[k] as a non-empty string, else NULL; "true"/"1"/true. */
const char *fake_slack__arg_str(const cJSON *args, const char *k);
bool fake_slack__arg_true(const cJSON *args, const char *k);
char *fake_slack__json_print(const cJSON *o);   /* cJSON_free it */

/* --- fake_slack_api.c: the Web API methods --- */
/* A method answers with out (an object holding "ok":true) filled in and
 * returns NULL, or returns the Slack error code. */
typedef const char *(*fake_slack__api_fn)(struct fake_slack *f, const cJSON *args, cJSON *out);
/* The method's entry and whether it takes an app token (xapp-); NULL for a
 * method the fake does not know (it answers {"ok":true}). */
fake_slack__api_fn fake_slack__api_find(const char *method, bool *app_token);
/* Slack's refusal of blocks or a view: counts it, adds the messages to out,
 * returns code. */
const char *fake_slack__refuse(struct fake_slack *f, cJSON *out, const char *code, const char *msg);

/* --- fake_slack_conv.c: channels, conversations.*, pins, users --- */
const char *fake_slack__conv_create(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_list(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_info(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_invite(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_history(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_replies(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__conv_open(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__pins_add(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__users_info(struct fake_slack *f, const cJSON *args, cJSON *out);
const char *fake_slack__users_by_email(struct fake_slack *f, const cJSON *args, cJSON *out);
struct fake_channel *fake_slack__channel_find(const struct fake_slack *f, const char *id);
const char *fake_slack__user_name(const struct fake_slack *f, const char *id);   /* NULL unknown */
void fake_slack__conv_free(struct fake_slack *f);   /* channels, pins, users */

/* --- fake_slack_ws.c: Socket Mode sockets --- */
/* The fake_http_ws hook (fake_http_ws.h); ud is the fake. */
int fake_slack__ws_callback(void *ud, struct lws *wsi, enum lws_callback_reasons reason, void *pss, void *in,
                            size_t len);
/* The newest socket to send on: live ones first, else any still open. */
struct fs_conn *fake_slack__newest_conn(struct fake_slack *f);
bool fake_slack__conn_live(const struct fs_conn *c);
struct fs_out *fake_slack__out_new(enum fs_out_kind kind, const void *data, size_t len, bool binary);
/* Queues o on c and asks for a write unless c is silent or dropping. */
void fake_slack__conn_queue(struct fs_conn *c, struct fs_out *o);
void fake_slack__conn_unlink_free(struct fs_conn *c);

/* --- fake_slack_send.c: envelopes --- */
struct fs_env *fake_slack__map_find(const struct fake_slack *f, const char *id, struct fs_env ***link);
void fake_slack__pend_remove(struct fake_slack *f, struct fs_env *e);
void fake_slack__ack_free(struct fake_ack *a);
void fake_slack__map_free(struct fake_slack *f);
/* The socket an envelope goes to, by the spread mode. */
struct fs_conn *fake_slack__pick_conn(struct fake_slack *f);

#endif
