/* effects_internal: what effects.c, effects_slack.c, effects_gitlab.c and
 * effects_pd.c share, and the pure pieces the unit tests reach.  Not for
 * other modules: they use effects.h.  Names carry the eff_ prefix.
 *
 * One struct fx per running effect, owned by the effects module from
 * effect_start() until its done callback has returned.  An op's code drives
 * one request at a time (eff_slack / eff_gitlab / eff_http_post); every step
 * ends in exactly one of: another request, or eff_finish*().  After calling
 * any of those the caller must return at once: fx may already be freed. */
#ifndef SIRT_EFFECTS_INTERNAL_H
#define SIRT_EFFECTS_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "effects.h"

struct api_result;
struct http_response;
struct fx;

typedef void (*eff_api_fn)(struct fx *fx, const struct api_result *r);
typedef void (*eff_http_fn)(struct fx *fx, const struct http_response *resp);

struct fx {
    struct sirt_app *app;
    const char *op;                /* static name from the op table */
    effect_done_fn done;
    void *ud;
    int64_t job_id;
    int64_t incident_id;
    int64_t job_created_ms;
    int64_t job_first_ms;          /* first send of the job (0 = unknown: use job_created_ms) */
    bool job_maybe_sent;
    char *idem_key;                /* the job's idempotency key ("" when none) */
    cJSON *payload;                /* owned copy; never NULL (empty object) */

    /* Incident row at start, strings passed through mask_secrets(). */
    char *inc_channel_id;
    int64_t inc_project_id;
    int64_t inc_issue_iid;
    char *inc_issue_url;
    int inc_severity, inc_priority;  /* 1..4, 0 when unknown */

    /* Progress of multi-step ops (meaning per op). */
    cJSON *result;                 /* DONE result being built, owned */
    cJSON *work;                   /* scratch: list of names/users still to do */
    char *s1, *s2;                 /* scratch strings (cursor, channel, path, ...) */
    int n1, n2;                    /* scratch counters (pages, index) */

    /* Looking for this job's own message after a crash (eff_slack_find_posted). */
    struct {
        char *channel, *thread_ts, *cursor;
        int pages;
        void (*then)(struct fx *fx, const char *ts);
    } scan;

    /* People's names for {{user.<id>}} placeholders (effects_names.c). */
    struct {
        cJSON *ids;                /* array of ids still to look up */
        cJSON *map;                /* id -> name found */
        void (*then)(struct fx *fx);
    } names;

    /* Current request. */
    bool pending;
    bool mutating;                 /* the request in flight may change remote state */
    eff_api_fn api_cb;
    eff_http_fn http_cb;

    /* Completion. */
    bool in_start;                 /* inside effect_start: completion is deferred */
    bool finished;
    bool timer_used;
    uv_timer_t timer;
    struct effect_result res;
    char error[256];
};

/* ---- completion (effects.c) ---- */
void eff_finish(struct fx *fx, enum effect_outcome outcome, long retry_after_ms, bool maybe_sent,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* DONE with fx->result (may be NULL). */
void eff_done(struct fx *fx);
void eff_fail(struct fx *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RETRY, not maybe_sent, outbox backoff: "waiting for <what>". */
void eff_wait(struct fx *fx, const char *what);
/* Maps a failed request with the outcome rules and finishes.  A job that
 * came in maybe_sent stays maybe_sent on RETRY. */
void eff_finish_api(struct fx *fx, const struct api_result *r);
void eff_finish_http(struct fx *fx, const struct http_response *resp, const char *service);

/* ---- outcome rules (pure) ---- */
/* Fills out (outcome, retry_after_ms, maybe_sent, error -> errbuf) from a
 * Slack API result.  mutating: the request could have changed state.
 * API_OK gives DONE. */
void eff_outcome_api(const struct api_result *r, bool mutating, struct effect_result *out,
                    char *errbuf, size_t errlen);
/* Same for a raw HTTP response; service names the peer in the error
 * ("gitlab http_403: <message>").  2xx gives DONE. */
void eff_outcome_http(const struct http_response *resp, bool mutating, const char *service,
                     struct effect_result *out, char *errbuf, size_t errlen);
/* True for the Slack ok:false codes that are worth retrying. */
bool eff_slack_error_retryable(const char *code);

/* ---- requests (effects.c) ---- */
/* Slack Web API, one attempt.  args is consumed.  get: query string. */
void eff_slack(struct fx *fx, const char *method, cJSON *args, bool get, bool mutating, eff_api_fn cb);
/* Slack Web API, one attempt, arguments form-encoded (methods that take no
 * JSON body, e.g. files.getUploadURLExternal).  args is consumed. */
void eff_slack_form(struct fx *fx, const char *method, cJSON *args, bool mutating, eff_api_fn cb);
/* GitLab REST: $GITLAB_URL/api/v4<path>; body (consumed) may be NULL. */
void eff_gitlab(struct fx *fx, const char *method, const char *path, cJSON *body, bool mutating,
               eff_http_fn cb);
/* POST a JSON body (consumed) to url, no credentials in headers. */
void eff_http_post(struct fx *fx, const char *url, cJSON *body, bool mutating, eff_http_fn cb);

/* What a GitLab answer means for the step that asked (effects_gitlab.c):
 * true for a 2xx, the step goes on.  Otherwise fx is finished and the caller
 * returns at once: a 403 or 404, when refused is given, by refused(fx, resp,
 * what) (GitLab's "may not see" or "may not change", which no retry mends:
 * the op tells why and finishes); anything else by the outcome rules
 * (eff_finish_http: retry, or fail with GitLab's message). */
typedef void (*eff_gitlab_refused_fn)(struct fx *fx, const struct http_response *resp, const char *what);
bool eff_gitlab_answer_ok(struct fx *fx, const struct http_response *resp, eff_gitlab_refused_fn refused,
                          const char *what);

/* ---- helpers ---- */
const char *eff_str(const cJSON *obj, const char *key);        /* non-empty string or NULL */
int64_t eff_int(const cJSON *obj, const char *key);            /* number, else 0 */
cJSON *eff_result(struct fx *fx);                              /* creates fx->result */
cJSON *eff_result_incident(struct fx *fx);                     /* result."incident" */
/* Appends s percent-encoded (RFC 3986 unreserved kept) to a malloc'd copy
 * of prefix... : returns prefix + enc(s) (caller frees). */
char *eff_urlenc_cat(const char *prefix, const char *s);
/* Parses a 2xx body as JSON (NULL if it is not). */
cJSON *eff_parse(const struct http_response *resp);

/* ---- pure pieces of the ops ---- */
/* Slack channel name from a wanted name and a suffix number (0 or 1 = none):
 * lowercase, [a-z0-9_-] (others become '-'), at most 80 bytes with the
 * suffix: the base is trimmed (and trailing '-'/'_' dropped) so that
 * "<base>-<n>" fits.  out must hold 81 bytes. */
void eff_channel_name(const char *name, int suffix, char out[81]);
/* In a conversations.list "channels" array, the channel named name created
 * by bot_user (non-empty), or NULL. */
const cJSON *eff_find_own_channel(const cJSON *channels, const char *name, const char *bot_user);
/* First element of a GitLab issue/note array whose field (description or
 * body) contains marker, or NULL. */
const cJSON *eff_find_marker(const cJSON *items, const char *field, const char *marker);
/* PagerDuty GET /oncalls body: the first on-call's user email, or NULL
 * (points into j). */
const char *eff_pd_first_email(const cJSON *j);
/* ISO 8601 date-time as PagerDuty writes it ("2015-10-06T21:38:23Z",
 * "2015-03-06T15:28:51-05:00", fractions allowed) to epoch ms; 0 when it
 * is not one. */
int64_t eff_pd_parse_time(const char *s);
/* PagerDuty GET /incidents body: 1 when the newest incident was seen
 * (acknowledged: its earliest acknowledgement's at and acknowledger
 * summary, how "acknowledged"; resolved: resolved_at and
 * last_status_change_by, how "resolved"), 0 otherwise.  by may be NULL;
 * strings point into j. */
int eff_pd_page_seen(const cJSON *j, int64_t *at_ms, const char **by, const char **how);
/* GitLab GET /users?username= body: the id of the user named username
 * (case-insensitive), or 0. */
int64_t eff_gitlab_user_id(const cJSON *users, const char *username);
/* The body of the issue PUT of gitlab.update_issue (state_event NULL) and
 * gitlab.issue_state ("close"/"reopen"): state_event, then the payload's
 * add_labels and remove_labels as GitLab's comma-separated strings (arrays
 * are joined, empty names dropped); NULL when it would change nothing
 * (caller frees). */
cJSON *eff_gitlab_issue_body(const cJSON *payload, const char *state_event);
/* A reconciling step's listing of issues or notes (a 2xx answer, newest
 * first): the first item whose field carries the job's marker goes to
 * found(fx, item), which returns true when it took it and finished the job
 * or moved it on (the item is freed after found returns; fx may be gone);
 * with no such item, or found returning false, post(fx) sends the thing. */
void eff_gitlab_reconcile(struct fx *fx, const struct http_response *resp, const char *field,
                          bool (*found)(struct fx *fx, const cJSON *item), void (*post)(struct fx *fx));
/* text with marker appended as an HTML comment unless it already holds it
 * (caller frees). */
char *eff_with_marker(const char *text, const char *marker);

/* ---- posting exactly once (effects_slack.c) ----
 * Every chat.postMessage of an outbox job carries metadata
 * {"event_type":"sirt_outbox","event_payload":{"job":"<token>"}}: the token
 * is opaque (HMAC-SHA-256 of the job's idempotency key under a key derived
 * from the bot token, 128 bits in hex), so nothing about the incident is
 * visible to the workspace, and the same job gives the same token on every
 * replica.  A job retried with maybe_sent looks for its own message before
 * posting again. */
#define EFF_OUTBOX_EVENT "sirt_outbox"
#define EFF_TOKEN_HEX 32
#define EFF_TOKEN_KEY_LEN 32
/* The key the tokens are made with, derived from secret into key (two
 * SHA-256 runs: derive it once and keep it).  False without a secret. */
bool eff_outbox_key(const char *secret, unsigned char key[EFF_TOKEN_KEY_LEN]);
/* The token of idem_key under key into out (EFF_TOKEN_HEX + 1 bytes).
 * False (out "") without a key. */
bool eff_outbox_token_keyed(const unsigned char key[EFF_TOKEN_KEY_LEN], const char *idem_key,
                            char out[EFF_TOKEN_HEX + 1]);
/* Both: the token of idem_key under secret.  False (out "") without a
 * secret or a key. */
bool eff_outbox_token(const char *secret, const char *idem_key, char out[EFF_TOKEN_HEX + 1]);
/* The metadata object for this job's posts, or NULL (no token). */
cJSON *eff_post_metadata(const struct fx *fx);
/* In a conversations.history/replies "messages" array, the message posted by
 * us (user bot_user or bot_id bot_id, when those are known) with our
 * event_type and this token, or NULL. */
const cJSON *eff_find_own_message(const cJSON *messages, const char *token, const char *bot_user,
                                  const char *bot_id);
/* When the job is maybe_sent (and has a token), scans channel (thread_ts:
 * that thread, with conversations.replies) from the job's first send minus
 * a margin for its own message, a few small pages at most, then calls
 * then(fx, ts of the message found, or NULL: post it).  Otherwise calls
 * then(fx, NULL) at once.  A transient error or a 429 on the first page
 * finishes the job (RETRY, after Retry-After, still maybe_sent); a lasting
 * error, or a 429 on a later page, ends the scan: then(fx, NULL), logged. */
void eff_slack_find_posted(struct fx *fx, const char *channel, const char *thread_ts,
                           void (*then)(struct fx *fx, const char *ts));

/* ---- op entry points ---- */
void eff_slack_views_open(struct fx *fx);
void eff_slack_create_channel(struct fx *fx);
void eff_slack_invite(struct fx *fx);
void eff_slack_post(struct fx *fx);
void eff_slack_dm(struct fx *fx);
void eff_slack_ephemeral(struct fx *fx);
void eff_slack_response_url(struct fx *fx);
void eff_gitlab_create_project(struct fx *fx);
void eff_gitlab_create_issue(struct fx *fx);
void eff_gitlab_add_members(struct fx *fx);
void eff_gitlab_note(struct fx *fx);
void eff_gitlab_link(struct fx *fx);      /* effects_gitlab_link.c */
void eff_gitlab_update_issue(struct fx *fx);
void eff_pd_trigger(struct fx *fx);
void eff_pd_resolve(struct fx *fx);
void eff_pd_oncall(struct fx *fx);
void eff_gitlab_issue_state(struct fx *fx);
void eff_slack_file_upload(struct fx *fx);
void eff_slack_file_bytes(struct fx *fx);
void eff_slack_file_complete(struct fx *fx);

/* ---- people's names (effects_names.c) ----
 * A payload with "names": true may hold {{user.<Slack id>}} in any string.
 * eff_names_then looks each id up (users.info; cached in app->unames for a
 * day) and replaces the placeholders with the person's display name (else
 * real name, else the id) before it calls then(fx).  A transient Slack
 * error finishes the job (RETRY); a lasting one (user_not_found) leaves the
 * id. */
void eff_names_then(struct fx *fx, void (*then)(struct fx *fx));
/* s with every {{user.<id>}} replaced from map (id -> name; missing: the
 * id); caller frees.  Pure, for the unit tests. */
char *eff_names_apply(const char *s, const cJSON *map);
/* A display name made safe for Markdown and mrkdwn (control characters
 * dropped, ` < > * _ ~ | replaced), at most 80 bytes; caller frees. */
char *eff_name_clean(const char *name);
void eff_pd_page_status(struct fx *fx);

/* Sends one HTTP request for fx (body taken over, may be NULL; timeout 0 =
 * the default); cb runs with the response.  Returns 0, or non-zero when it
 * could not be sent (cb will not run: the caller decides the outcome). */
int eff_http_send(struct fx *fx, const char *method, const char *url, const char *const *headers, cJSON *body,
                  bool mutating, long timeout_ms, eff_http_fn cb);
/* The same with a raw body (borrowed for the call; may be NULL). */
int eff_http_send_raw(struct fx *fx, const char *method, const char *url, const char *const *headers,
                      const char *body, size_t body_len, bool mutating, long timeout_ms, eff_http_fn cb);
/* True if s holds control characters (never put into a header or URL). */
bool eff_has_ctl(const char *s);

#endif
