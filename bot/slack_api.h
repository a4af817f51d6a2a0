/* slack_api: one entry point for every Slack Web API method.  POSTs a JSON
 * body (Content-Type: application/json; charset=utf-8) to
 * $SLACK_API_URL/<method> with Authorization: Bearer <token>; GET with a
 * query string for the methods that do not take JSON (users.info,
 * usergroups.users.list, users.lookupByEmail).
 *
 * Errors: Slack answers method errors as HTTP 200 {"ok":false,"error":"..."}:
 * that is API_ESLACK with r->error = the code, logged at warn.  HTTP 429:
 * waits Retry-After seconds (capped) then retries; 5xx and network errors:
 * bounded retries with jittered exponential backoff.  Tokens are never
 * logged.  The callback runs exactly once per successful api_call*(); the
 * result and its JSON are owned by the client and valid only during it. */
#ifndef SIRT_SLACK_API_H
#define SIRT_SLACK_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <uv.h>

struct http_client;
struct metrics;

enum api_err {
    API_OK = 0,
    API_ESLACK = -1,     /* ok:false; error holds Slack's code */
    API_EHTTP = -2,      /* non-2xx after retries (error holds "http_<status>") */
    API_ENET = -3,       /* network error/timeout after retries */
    API_EBADJSON = -4,   /* 2xx but the body is not a JSON object with "ok" */
    API_ECANCELED = -5,  /* client closed */
    API_ERATELIMITED = -6, /* still 429 after the allowed retries */
};

struct api_result {
    int err;                 /* enum api_err */
    const char *error;       /* Slack error code or a short description; "" when ok */
    long http_status;
    long retry_after_s;      /* from the last response, -1 if none */
    const cJSON *json;       /* parsed body, NULL on network errors */
    int attempts;
};

typedef void (*api_cb)(void *ud, const struct api_result *r);

struct api_opts {
    const char *token;       /* NULL = the bot token */
    bool get;                /* GET with query string from args' string/number members */
    bool form;               /* POST the same members form-encoded (application/x-www-form-urlencoded) */
    bool no_retry;           /* one attempt only (caller handles retries, e.g. the outbox) */
    int max_attempts;        /* 0 = default (5) */
    long timeout_ms;         /* 0 = default (10000) per attempt */
};

struct api_client;

/* base_url and bot_token are copied. metrics may be NULL. */
struct api_client *api_create(uv_loop_t *loop, struct http_client *http,
                              const char *base_url, const char *bot_token,
                              struct metrics *metrics);
/* Tests and drills (SIRT_TEST_BACKOFF_SCALE): multiplies the retry backoff
 * of network errors and 5xx by f (0 < f <= 1); Retry-After is kept. */
void api_set_backoff_scale(struct api_client *c, double f);
/* args is borrowed (serialized before return); may be NULL.  cb may be NULL
 * (fire and forget: errors are logged).  Returns 0 or API_ECANCELED. */
int api_call(struct api_client *c, const char *method, const cJSON *args,
             api_cb cb, void *ud);
int api_call_opts(struct api_client *c, const char *method, const cJSON *args,
                  const struct api_opts *opts, api_cb cb, void *ud);
/* POST a JSON body to a Slack response_url (no token). Same retry rules. */
int api_post_url(struct api_client *c, const char *url, const cJSON *body,
                 api_cb cb, void *ud);
const char *api_strerror(int err);
/* Cancels pending calls and retry timers (callbacks run with API_ECANCELED)
 * and frees the client once its timers are closed. */
void api_close(struct api_client *c);

/* Classifies a Slack answer that arrived (not a network error, not a 429 or
 * 5xx being retried): sets r->err, r->error and r->json, and returns the
 * parsed body (caller frees; NULL when it is not JSON).  Non-2xx gives
 * API_EHTTP with r->error = code = "http_<status>"; a 2xx without a boolean
 * "ok" API_EBADJSON; ok:false API_ESLACK with Slack's code (r->error points
 * into the returned JSON).  response_url: any 2xx is API_OK.  Pure; used by
 * the client and by fuzz/fuzz_slack_response.c. */
cJSON *api_parse_response(long status, const char *body, size_t len, bool response_url,
                          struct api_result *r, char code[32]);

/* Backoff for attempt n (1-based): base * 2^(n-1), capped, with full jitter
 * in [d/2, d].  Exposed for unit tests. */
uint64_t api_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

#endif
