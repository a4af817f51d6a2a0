/* harness: drive the real bot binary from a test on one libuv loop.
 * fx_init() creates the loop and a fake Slack; fx_spawn() starts bot/sirtbot
 * (path from $SIRTBOT_BIN, default bot/sirtbot) with a clean environment
 * (SLACK_* pointing at the fake, SIRT_CONFIG/SIRT_DB in a fresh temp dir,
 * plus extra "NAME=value" entries, where "NAME=" with nothing removes a
 * default) and captures its stderr.  fx_wait() runs the loop until a
 * predicate holds or the timeout passes.  fx_finish() kills what is left,
 * closes everything and removes the temp dir.
 *
 * Child environment (nothing else leaks in): SLACK_APP_TOKEN=xapp-1-A0FAKE001-test,
 * SLACK_BOT_TOKEN=xoxb-test-token, SLACK_API_URL=<fake>/api,
 * SIRT_CONFIG=<dir>/sirt.json, SIRT_DB=<dir>/sirt.db, SIRT_LOG=debug, and
 * PATH, HOME, TMPDIR, ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS when set in
 * the test's environment.  argv: $SIRTBOT_WRAPPER split on spaces (if set),
 * then $SIRTBOT_BIN.  The child's stdout goes to the test's stderr; its
 * stderr is captured (8 MiB cap) and echoed to the test's stderr.
 * fx_init also tells the fake about the users of the default config:
 * U0SIRT001 sirt1, U0SIRT002 sirt2, U0APPSEC1 alice (America/Los_Angeles),
 * U0APPSEC2 bob (Europe/Amsterdam), U0SECOPS1 secops, U0EM00001 em-gitaly,
 * U0PM00001 pm-gitaly, U0DIRSEC1 dirsec, U0DIRINF1 dirinf, U0REPORT1
 * reporter (emails <name>@example.com).
 * Any failure inside the harness itself (temp dir, loop) fails the test.
 *
 * fx_init_opts(fx, FX_PAGERDUTY | FX_GITLAB) also starts a fake PagerDuty
 * and/or GitLab on the same loop (fx->pd, fx->gitlab; NULL when not
 * started) and adds to the child's environment:
 *   PAGERDUTY_ROUTING_KEY=FAKE_PD_ROUTING_KEY (32 chars),
 *   PAGERDUTY_EVENTS_URL=http://127.0.0.1:P/v2/enqueue,
 *   PAGERDUTY_API_URL=http://127.0.0.1:P, PAGERDUTY_API_TOKEN=pd-test-token,
 *   GITLAB_URL=http://127.0.0.1:G, GITLAB_TOKEN=FAKE_GITLAB_TOKEN.
 * The fake GitLab knows the config's gitlab users: alice (201), em-gitaly
 * (202), pm-gitaly (203); namespace 42 "security/incidents".  The fake
 * PagerDuty has schedule PSCHED1 -> PSECOPS01 "secops"
 * (secops@example.com, the Slack user U0SECOPS1's email).  fx_finish()
 * destroys them. */
#ifndef SIRT_HARNESS_H
#define SIRT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "../bot/util.h"
#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "report_payloads.h"

#define FX_MAX_REPLICAS 10   /* Slack's connection limit per app */

/* One bot process of a replica set (fx_replicas_*; harness_replicas.c). */
struct fx_replica {
    struct fx *fx;
    int index;                   /* 1..n: client tag "r<index>" at the fake Slack */
    char tag[16];
    char log_path[320];          /* <dir>/replica-<index>.log: its stderr, every run appended */
    int http_port;               /* its SIRT_HTTP port on 127.0.0.1 */
    uv_process_t proc;
    bool proc_open;
    bool running;
    bool exited;
    int64_t exit_status;
    int term_signal;
    int spawns;
    int pid;                     /* of the current (or last) run */
    bool killed;                 /* fx_replica_kill ended a run of it (SIGKILL) */
    uint64_t killed_us;          /* CLOCK_MONOTONIC µs of that kill */
};

struct fx {
    uv_loop_t loop;
    struct fake_slack *slack;
    char dir[256];               /* temp dir for config and db */
    char config_path[300];
    uv_process_t proc;
    uv_pipe_t err_pipe;
    bool running;
    bool exited;
    int64_t exit_status;
    int term_signal;
    struct buf stderr_buf;       /* everything the bot wrote on stderr */
    /* private to harness.c */
    uv_timer_t timer;            /* bounds fx_wait */
    bool timer_fired;
    bool proc_open;              /* proc handle not yet closed */
    bool pipe_open;              /* err_pipe not yet closed */
    size_t spawn_offset;         /* stderr_buf.len at the last fx_spawn */
    bool clock_set;              /* fx_set_clock was called: pass SIRT_CLOCK_FILE */
    int spawns;
    /* fx_init_opts */
    struct fake_pagerduty *pd;   /* FX_PAGERDUTY, else NULL */
    struct fake_gitlab *gitlab;  /* FX_GITLAB, else NULL */
    /* FX_SLACK_TLS / fx_init_tls */
    char tls_dir[300];           /* <dir>/tls: what fx_tls_make_* wrote ("" before any) */
    char tls_ca[400];            /* PEM of the CA that signed the fake's certificate, "" without TLS */
    /* fx_finish fails the test when the fake Slack refused blocks or a view
     * (Block Kit limits), unless the test set this because it sends bad
     * ones on purpose. */
    bool allow_block_refusals;
    /* fx_replicas_init */
    struct fx_replica reps[FX_MAX_REPLICAS];
    int n_reps;
    char rep_db[1024];           /* SIRT_DB of every replica */
    bool rep_sqlite;             /* rep_db is the SQLite file in dir */
};

enum {
    FX_PAGERDUTY = 1 << 0,
    FX_GITLAB = 1 << 1,
    FX_SLACK_TLS = 1 << 2,     /* = fx_init_tls(fx, flags, NULL) */
};

typedef bool (*fx_pred)(struct fx *fx, void *ud);

void fx_init(struct fx *fx);                 /* = fx_init_opts(fx, 0) */
void fx_init_opts(struct fx *fx, int flags);   /* FX_PAGERDUTY | FX_GITLAB */
/* TLS fake Slack (fx_init_opts with FX_SLACK_TLS, or fx_init_tls).  With the
 * openssl command-line tool (no network, each step bounded to 20 s) fx
 * makes a throwaway CA "fx" (fx->tls_ca = <dir>/tls/fx-ca.pem) and a server
 * certificate signed by it (EC P-256, valid from now for 2 days,
 * serverAuth), then starts the fake with fake_slack_create_tls: the Web API
 * stays plain http (SLACK_API_URL is unchanged: libcurl does not read
 * SSL_CERT_FILE, see tests/test_e2e_tls.c) and apps.connections.open
 * answers wss://<ws_host>:<tls port>/link/....  Nothing is added to the
 * child's environment: pass e.g. "SSL_CERT_FILE=<fx->tls_ca>" to fx_spawn to
 * make the bot trust the CA.  Options (o may be NULL; NULL fields take the
 * default): san, the server certificate's subjectAltName in openssl syntax
 * (default "IP:127.0.0.1,DNS:localhost"); cn, its subject CN (default
 * "sirtbot fake slack"); ws_host, the host in the wss:// URL (default
 * "127.0.0.1"; the listener is on 127.0.0.1 whatever the name). */
struct fx_tls_opts {
    const char *san;
    const char *cn;
    const char *ws_host;
};
void fx_init_tls(struct fx *fx, int flags, const struct fx_tls_opts *o);
/* Makes another throwaway CA: <dir>/tls/<name>-ca.pem (+ -ca.key); writes
 * the PEM's path to pem (size n).  0, or -1 (logged) on failure. */
int fx_tls_make_ca(struct fx *fx, const char *name, char *pem, size_t n);
/* Makes a server certificate <dir>/tls/<name>.pem and key <name>.key signed
 * by the CA <ca_name> (made earlier), with subjectAltName san and subject CN
 * cn (NULL = name).  Paths written to cert/key (size n each).  0 or -1. */
int fx_tls_make_cert(struct fx *fx, const char *ca_name, const char *name, const char *san, const char *cn,
                     char *cert, char *key, size_t n);

/* The start of the default config, shared by configs written out the same
 * way (demo/drill.c): "{", the time zone, the SIRT channel and team, the
 * severity-1 responders, the directors and the opening of "appsec": [. */
#define FX_CONFIG_HEAD \
    "{\n" \
    "  \"timezone\": \"UTC\",\n" \
    "  \"sirt_channel\": \"C0SIRT0001\",\n" \
    "  \"sirt_team\": [\"U0SIRT001\", \"U0SIRT002\"],\n" \
    "  \"severity1_responders\": [\"U0SIRT001\", \"U0SIRT002\"],\n" \
    "  \"directors\": [\"U0DIRSEC1\", \"U0DIRINF1\"],\n" \
    "  \"appsec\": [\n"

/* Default config text (what fx_init writes). */
extern const char fx_default_config[];
/* Writes the team config file used by the next fx_spawn (default: a small
 * valid config with one component "gitaly"). */
void fx_write_config(struct fx *fx, const char *json);
/* env: NULL-terminated extra "NAME=value" strings, may be NULL ("NAME="
 * alone removes NAME).  Returns 0, or a negative uv error (logged) when the
 * binary cannot be started or a child is still running.  May be called again
 * after the child exited (restart); stderr_buf keeps accumulating. */
int fx_spawn(struct fx *fx, const char *const *env);
/* Spawns and waits until the fake has an open socket that got hello
 * (15 s, 60 s under $SIRTBOT_WRAPPER); fails the test otherwise. */
void fx_start(struct fx *fx, const char *const *env);
bool fx_wait(struct fx *fx, fx_pred pred, void *ud, int timeout_ms);
/* Runs the loop for ms regardless. */
void fx_run_for(struct fx *fx, int ms);
/* Sends SIGTERM and waits (up to timeout) for exit; returns exit status or -1.
 * Exit status: the exit code, or 128 + signal when killed by a signal.  Both
 * also wait (up to 1 s) for the stderr pipe to drain, so stderr_buf is
 * complete when they return. */
int fx_stop(struct fx *fx, int timeout_ms);
/* Crash: SIGKILLs the child and waits (5 s) until it is reaped and its
 * stderr pipe has drained.  Returns 128 + 9, the exit status if it had
 * already exited, or -1 (never spawned / not reaped).  fx_spawn or fx_start
 * may then start the bot again on the same temp dir (same SIRT_DB). */
int fx_kill(struct fx *fx);
/* Sets the bot's wall clock (epoch ms) through SIRT_CLOCK_FILE: before
 * fx_spawn/fx_start it pins the start time; while the bot runs it moves the
 * clock (the bot re-reads the file on SIGUSR1).  Time runs on from there. */
void fx_set_clock(struct fx *fx, int64_t epoch_ms);
/* Waits for the bot to exit on its own; returns exit status or -1 on timeout. */
int fx_wait_exit(struct fx *fx, int timeout_ms);
/* SIGKILLs a child still running, closes every handle, destroys the fake,
 * runs the loop to completion (fails the test if handles remain after 5 s),
 * closes the loop and removes the temp dir.  Safe without fx_stop. */
void fx_finish(struct fx *fx);

/* --- replicas (tests/harness_replicas.c) ---
 * Several real bot processes against the one fake Slack (and PagerDuty,
 * GitLab) of fx: the same tokens, config and SIRT_DB, each its own
 * SIRT_HTTP=127.0.0.1:<free port>, its own log file (stderr; not captured
 * in stderr_buf) and its own client tag "r<i>" (SLACK_API_URL =
 * fake_slack_client_api_url(fx->slack, "r<i>")), so the fake tells which
 * replica made each call and owns each socket.  fx_replicas_init sets n
 * (1..FX_MAX_REPLICAS) and the database: db NULL = the SQLite file
 * <dir>/sirt.db, else a libpq URI (e.g. from pg_test_fresh_db).  The fake
 * Slack is switched to round-robin spreading unless the test sets another.
 * Indices are 1-based.  fx_finish() SIGKILLs whatever still runs.
 * env: extra "NAME=value" entries as for fx_spawn, applied to every start. */
void fx_replicas_init(struct fx *fx, int n, const char *db);
/* Spawns replica i (not waiting).  0 or a negative uv error (logged). */
int fx_replica_spawn(struct fx *fx, int i, const char *const *env);
/* Spawns every replica not running and waits (15 s, 60 s under
 * $SIRTBOT_WRAPPER) until each has a live socket; fails the test (with
 * the tail of the logs of those that did not connect) otherwise. */
void fx_replicas_start(struct fx *fx, const char *const *env);
/* Restarts one replica (must not be running) and waits until it is connected. */
void fx_replica_restart(struct fx *fx, int i, const char *const *env);
/* True once every running replica has a live socket at the fake (those
 * not running are not waited for: start and restart check they run). */
bool fx_replicas_connected(struct fx *fx);
bool fx_replicas_wait_connected(struct fx *fx, int timeout_ms);
/* SIGKILL, reaped within 5 s: 128 + 9, its exit status if it had already
 * exited, or -1 (never spawned / not reaped). */
int fx_replica_kill(struct fx *fx, int i);
/* SIGTERM to one / to all running, and wait (up to timeout_ms in all) for
 * exit.  One: its exit status (as fx_stop) or -1.  All: 0 if every one
 * exited 0, else the first non-zero status (or -1 on timeout). */
int fx_replica_stop(struct fx *fx, int i, int timeout_ms);
int fx_replicas_stop(struct fx *fx, int timeout_ms);
/* Waits for replica i to exit on its own: its status, or -1 on timeout. */
int fx_replica_wait_exit(struct fx *fx, int i, int timeout_ms);
bool fx_replica_running(const struct fx *fx, int i);
/* fx_set_clock for every running replica too (SIGUSR1 to each). */
void fx_replicas_set_clock(struct fx *fx, int64_t epoch_ms);
/* Its log so far (malloc'd, caller frees; "" when none). */
char *fx_replica_log(const struct fx *fx, int i);
bool fx_replica_log_has(const struct fx *fx, int i, const char *s);

/* --- "exactly once" over the fakes' records (harness_replicas.c) ---
 * Each check returns the number of violations and, when why != NULL, puts
 * a description of the first few in why (size n).  "ok" calls are those
 * the fake answered without an error (fake_call.error == NULL). */
/* Ok calls of method whose argument key (top level) equals value. */
size_t fx_slack_calls_where(struct fx *fx, const char *method, const char *key, const char *value);
/* Calls of method answered with Slack error err (e.g. "name_taken"). */
size_t fx_slack_errors(struct fx *fx, const char *method, const char *err);
/* Ok calls of method grouped by argument key: every value at most once. */
size_t fx_once_by(struct fx *fx, const char *method, const char *key, char *why, size_t n);
/* Channels: each name created once (no ok conversations.create twice for
 * a name, none answered name_taken except another replica's retry of a
 * create sent by a replica that fx_replica_kill ended). */
size_t fx_channels_once(struct fx *fx, char *why, size_t n);
/* Direct messages: ok chat.postMessage to a DM (a D... id, or a user id)
 * with the same channel and text at most once; dm_count counts those to
 * user whose text contains text_part (NULL = any). */
size_t fx_dms_once(struct fx *fx, char *why, size_t n);
size_t fx_dm_count(struct fx *fx, const char *user, const char *text_part);
/* Every (channel, text) of ok chat.postMessage calls at most once. */
size_t fx_posts_once(struct fx *fx, char *why, size_t n);
/* PagerDuty: each dedup_key triggered (accepted) exactly once — or twice
 * when the second is another replica's retry of a trigger that reached
 * PagerDuty just before its replica was SIGKILLed, folded into the open
 * incident (no new page); want_keys (if > 0) is the number of distinct keys
 * expected. */
size_t fx_pd_triggers_once(struct fx *fx, size_t want_keys, char *why, size_t n);
/* GitLab: each project path once, each project exactly one issue. */
size_t fx_gitlab_once(struct fx *fx, char *why, size_t n);

/* For harness_replicas.c: the child environment of harness.h (owned
 * strings, NULL-terminated, at most FX_MAX_ENV); api_url NULL = the fake's
 * plain URL.  Returns the count. */
#define FX_MAX_ENV 128
int fx_build_env(struct fx *fx, char **env, const char *api_url, const char *const *extra);
void fx_replicas_finish(struct fx *fx);

/* harness_cli.c: runs the bot binary (SIRTBOT_BIN, under SIRTBOT_WRAPPER)
 * with `args` (NULL-terminated) in the fixture's environment plus
 * extra_env, the loop turning meanwhile.  Returns the exit status (128+n
 * for a signal); *out and *err get its stdout and stderr (caller frees). */
int fx_cli_run(struct fx *fx, const char *const *args, const char *const *extra_env, char **out, char **err,
               int timeout_ms);

/* Common predicates */
bool fx_pred_online(struct fx *fx, void *ud);              /* ws_count >= 1 */
bool fx_pred_offline(struct fx *fx, void *ud);             /* ws_count == 0 */
bool fx_pred_acked(struct fx *fx, void *envelope_id);
bool fx_pred_exited(struct fx *fx, void *ud);
/* ud: const char *method; true once fake_slack_call_count(method) >= 1 */
bool fx_pred_called(struct fx *fx, void *method);
bool fx_wait_calls(struct fx *fx, const char *method, size_t n, int timeout_ms);
/* Waits until a chat.postMessage answered ok has a "text" containing part. */
bool fx_wait_post_text(struct fx *fx, const char *part, int timeout_ms);
/* True if the bot's stderr so far contains s; the wait until it does. */
bool fx_stderr_has(struct fx *fx, const char *s);
bool fx_wait_stderr(struct fx *fx, const char *s, int timeout_ms);
/* What the bot wrote on stderr since the last fx_spawn (never NULL). */
const char *fx_stderr_since_spawn(struct fx *fx);

/* --- what the tests do to the fakes and read from them (harness_slack.c) ---
 * Returned strings and JSON are borrowed from the fakes (valid until
 * fx_finish) unless "caller frees" is said. */

/* The envelope eid (NULL: not sent) acked within timeout_ms. */
bool fx_wait_ack(struct fx *fx, const char *eid, int timeout_ms);
/* The payload of the ack of eid, NULL when none (or no ack yet). */
const cJSON *fx_ack_payload(struct fx *fx, const char *eid);
/* Its "text", "" when it carries none. */
const char *fx_ack_text(struct fx *fx, const char *eid);
/* Sends an interactive payload (and frees it); fails the test unless it is
 * acked within timeout_ms.  Returns the envelope id. */
const char *fx_send_acked(struct fx *fx, cJSON *payload, int timeout_ms);
/* The report form submitted (report_submission_payload) and acked (5 s). */
const char *fx_submit_report(struct fx *fx, const char *view_id, const char *user, const struct report_fields *f);
/* A slash command /sirt <text>; fails the test unless acked within
 * timeout_ms.  Returns the ack's payload (NULL when it carries none). */
const cJSON *fx_slash(struct fx *fx, const char *user, const char *channel, const char *text, int timeout_ms);
/* The same with a 5 s bound, returning the ack's text ("" when none). */
const char *fx_slash_text(struct fx *fx, const char *user, const char *channel, const char *text);
/* An app_mention event: text "<@U0BOT0001> <text>" (raw: text as given),
 * ts (default "1700000300.000200"), event_ts and thread_ts when given.
 * Returns the envelope id (not waited for). */
struct fx_mention_opts {
    const char *user, *channel, *text;
    const char *event_id;          /* NULL: the fake makes one */
    const char *ts, *event_ts, *thread_ts;
    bool raw;
};
const char *fx_mention(struct fx *fx, const struct fx_mention_opts *m);
/* The same with the default ts and event_ts "1700000300.000200". */
const char *fx_mention_text(struct fx *fx, const char *user, const char *channel, const char *text,
                            const char *event_id);
/* A block_actions payload of one button as Slack sends it: user.id, the
 * channel object (when channel), trigger_id (default: action_ts), and with
 * app user.team_id and api_app_id; with message_ts a message container;
 * with response_path response_url = the fake's
 * /commands/T0FAKE001/<response_path>.  fx_button_payload: caller frees;
 * fx_press sends it and returns the envelope id (not waited for). */
struct fx_button {
    const char *user, *channel;
    const char *action_id, *block_id, *value, *action_ts;
    const char *trigger_id;
    const char *message_ts;
    const char *response_path;
    bool app;
};
cJSON *fx_button_payload(struct fx *fx, const struct fx_button *b);
const char *fx_press(struct fx *fx, const struct fx_button *b);

/* Which recorded Web API calls a question is about; NULL fields match any.
 * method NULL = "chat.postMessage"; channel, user: that argument equals;
 * body: the raw request body contains; text: the "text" argument contains;
 * json: the call's JSON printed compact contains; ok: FX_HTTP_OK only calls
 * answered with status 200, FX_NO_ERROR only those answered 200 without a
 * Slack error (fake_call.error == NULL: the fake's ok answers are 200). */
enum fx_ok { FX_ANY_ANSWER, FX_HTTP_OK, FX_NO_ERROR };
struct fx_q {
    const char *method, *channel, *user;
    const char *body, *text, *json;
    enum fx_ok ok;
};
size_t fx_count(struct fx *fx, const struct fx_q *q);
/* The idx-th matching call (in order received) / the newest; NULL if none. */
const struct fake_call *fx_nth(struct fx *fx, const struct fx_q *q, size_t idx);
const struct fake_call *fx_last(struct fx *fx, const struct fx_q *q);
/* Waits until at least n calls match. */
bool fx_wait_q(struct fx *fx, const struct fx_q *q, size_t n, int timeout_ms);
/* Predicate: some pins.add was answered with status 200. */
bool fx_pred_pinned(struct fx *fx, void *ud);
/* The fake's channel (created or seen) has user as a member. */
bool fx_is_member(struct fx *fx, const char *channel, const char *user);
bool fx_wait_member(struct fx *fx, const char *channel, const char *user, int timeout_ms);
/* The channel the bot created for SIRT-n (name "sirt-<n>-..."), or NULL. */
const struct fake_channel *fx_incident_channel(struct fx *fx, int n);

/* Waits until count(fx) >= n; the counters below fit. */
typedef size_t (*fx_counter)(struct fx *fx);
bool fx_wait_n(struct fx *fx, fx_counter count, size_t n, int timeout_ms);
size_t fx_pd_events(struct fx *fx);     /* events the fake PagerDuty received */
size_t fx_gitlab_notes(struct fx *fx);  /* notes the fake GitLab holds */
size_t fx_gitlab_issues(struct fx *fx); /* issues the fake GitLab holds */
/* The body of a note the fake GitLab holds that contains part, NULL if none;
 * the wait until there is one. */
const char *fx_gitlab_note_with(struct fx *fx, const char *part);
bool fx_wait_gitlab_note(struct fx *fx, const char *part, int timeout_ms);
/* The access level of GitLab user user_id in the fake's first project (0:
 * not a member, or no project yet); the wait until it is above 0. */
int fx_gitlab_access(struct fx *fx, int user_id);
bool fx_wait_gitlab_member(struct fx *fx, int user_id, int timeout_ms);

/* The bot's SQLite file (<dir>/sirt.db) opened read-only beside the running
 * bot (5 s busy timeout); a query that does not prepare fails the test.
 * fx_db_int: the first column of the first row, -1 when no row.
 * fx_db_text: the same as text into out ("" when no row or NULL).
 * fx_db_rows: every row as "a:b|" (a NULL column as null_as), caller frees.
 * fx_wait_db_int: until fx_db_int(sql) == v. */
long long fx_db_int(struct fx *fx, const char *sql);
void fx_db_text(struct fx *fx, const char *sql, char *out, size_t n);
char *fx_db_rows(struct fx *fx, const char *sql, const char *null_as);
bool fx_wait_db_int(struct fx *fx, const char *sql, long long v, int timeout_ms);
/* The raw bytes of a file (the database, its -wal) into out, which it
 * initialises (buf_finish it either way); false when it cannot be opened. */
bool fx_read_file(const char *path, struct buf *out);

/* A port on 127.0.0.1 that was free a moment ago (-1 on failure). */
int fx_free_port(void);
/* fx_start with SIRT_HTTP=127.0.0.1:<a free port> before env (may be
 * NULL); returns the port. */
int fx_start_http(struct fx *fx, const char *const *env);
/* Blocking GET (3 s cap) of http://127.0.0.1:<port><path> into body (reset
 * first; data never NULL afterwards).  The HTTP status, 0 when no answer.
 * The bot is another process: not running the loop meanwhile is fine. */
long fx_http_get(int port, const char *path, struct buf *body);
/* The value of the series line "name value" in metrics text, -1 if none. */
double fx_metric(const char *text, const char *name);

#endif
