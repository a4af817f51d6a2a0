/* fake_pagerduty: a loopback PagerDuty on the caller's libuv loop (built on
 * fake_http).  One port serves both APIs:
 *   POST /v2/enqueue   Events API v2, validated like PagerDuty (400
 *                      {"status":"invalid event","message":"Event object is
 *                      invalid","errors":[...]}), 202 {"status":"success",
 *                      "message":"Event processed","dedup_key":...}.
 *                      De-duplication is modelled: one incident per
 *                      dedup_key while it is open (triggered/acknowledged);
 *                      a trigger for an open incident adds an alert to it,
 *                      acknowledge/resolve change its state, a trigger after
 *                      resolve opens a new incident.
 *   GET  /incidents    REST, by incident_key (see below; fake_pagerduty_rest.c).
 *   GET  /oncalls      REST, "Authorization: Token token=<token>" (else 401
 *                      {"error":{"message":"Unauthenticated","code":2006}}),
 *                      filtered by schedule_ids[]; include[]=users expands
 *                      the user.
 * Only 202 answers count as events.  Loop thread only; everything returned
 * is owned by the fake and lives until fake_pagerduty_destroy(). */
#ifndef SIRT_FAKE_PAGERDUTY_H
#define SIRT_FAKE_PAGERDUTY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fake_http.h"

/* A valid routing key (32 chars) and the REST token the harness gives the bot. */
#define FAKE_PD_ROUTING_KEY "0123456789abcdef0123456789abcdef"
#define FAKE_PD_API_TOKEN   "pd-test-token"

struct fake_pagerduty;

struct fake_pd_event {
    cJSON *json;           /* the event as received */
    char *action;          /* trigger / acknowledge / resolve */
    char *dedup_key;       /* as answered (generated for a trigger without one) */
    bool new_incident;     /* this trigger opened an incident */
    uint64_t t_us;         /* CLOCK_MONOTONIC µs when received */
};

struct fake_pd_incident {
    char *dedup_key;
    char *state;           /* "triggered", "acknowledged", "resolved" */
    char id[16];           /* REST id, e.g. "PINC00001" */
    int number;            /* incident_number, 1, 2, ... */
    int64_t created_s;     /* wall clock (epoch s) when opened */
    int64_t changed_s;     /* last status change (epoch s) */
    char *changed_by;      /* who changed it last (summary), NULL: the service */
    int64_t ack_s;         /* acknowledgement time (epoch s), 0 = none */
    char *acker_id, *acker_name;   /* acknowledger reference (user or service) */
    char *summary;         /* payload.summary of the opening trigger */
    char *severity;
    int alerts;            /* triggers folded into it, the first included */
    uint64_t t_us;         /* opened */
};

/* port 0 picks a free one.  NULL on failure. */
struct fake_pagerduty *fake_pagerduty_create(uv_loop_t *loop, int port);
/* Async, as fake_http_destroy: keep running the loop until the fake has
 * freed itself (fake_http_live_count() drops).  NULL is a no-op. */
void fake_pagerduty_destroy(struct fake_pagerduty *pd);
int fake_pagerduty_port(const struct fake_pagerduty *pd);
const char *fake_pagerduty_url(const struct fake_pagerduty *pd);           /* "http://127.0.0.1:P" */
const char *fake_pagerduty_events_url(const struct fake_pagerduty *pd);    /* ".../v2/enqueue" */
/* The underlying server: every request (valid or not) is recorded there;
 * patterns such as "POST /v2/enqueue", "GET /oncalls". */
struct fake_http *fake_pagerduty_http(const struct fake_pagerduty *pd);
/* REST token accepted (default FAKE_PD_API_TOKEN). */
void fake_pagerduty_set_api_token(struct fake_pagerduty *pd, const char *token);

/* --- events --- */
size_t fake_pagerduty_event_count(const struct fake_pagerduty *pd);        /* accepted (202) events */
const struct fake_pd_event *fake_pagerduty_event(const struct fake_pagerduty *pd, size_t idx);
const cJSON *fake_pagerduty_event_json(const struct fake_pagerduty *pd, size_t idx);  /* NULL past the end */
const cJSON *fake_pagerduty_last_event(const struct fake_pagerduty *pd);
uint64_t fake_pagerduty_event_time_us(const struct fake_pagerduty *pd, size_t idx);   /* 0 past the end */
/* Incidents ever opened (a re-trigger of an open incident is not one). */
size_t fake_pagerduty_incident_count(const struct fake_pagerduty *pd);
const struct fake_pd_incident *fake_pagerduty_incident(const struct fake_pagerduty *pd, size_t idx);
/* The newest incident with this dedup key, NULL if none. */
const struct fake_pd_incident *fake_pagerduty_incident_by_key(const struct fake_pagerduty *pd, const char *dedup_key);
/* Its state ("triggered", "acknowledged", "resolved"), NULL if none. */
const char *fake_pagerduty_incident_state(const struct fake_pagerduty *pd, const char *dedup_key);

/* Triggers ever sent under dedup_key, accepted or not (retries included),
 * and how many of them PagerDuty accepted (202). */
size_t fake_pagerduty_trigger_attempts(const struct fake_pagerduty *pd, const char *dedup_key);
size_t fake_pagerduty_trigger_count(const struct fake_pagerduty *pd, const char *dedup_key);
/* A responder acknowledges ("acknowledged") or resolves ("resolved") the
 * open incident of dedup_key in PagerDuty itself (web UI, app); no event is
 * recorded.  false when no incident with that key is open. */
bool fake_pagerduty_set_incident_state(struct fake_pagerduty *pd, const char *dedup_key, const char *state);

/* A responder acknowledges the open incident of dedup_key in PagerDuty at
 * at_s (epoch seconds, the bot's clock in tests): state "acknowledged",
 * acknowledgements [{at, acknowledger: user_reference {id, summary}}].
 * false when no incident with that key is open. */
bool fake_pagerduty_acknowledge(struct fake_pagerduty *pd, const char *dedup_key, const char *user_id,
                                const char *name, int64_t at_s);

/* --- REST /incidents (fake_pagerduty_rest.c) ---
 * GET /incidents: token as /oncalls; incident_key filters (the key's
 * incidents, newest last), statuses[] too; date_range=all or since/until
 * (else the last month, by created_at); limit (1..100), offset.  The
 * documented shape: {"incidents":[{id, type "incident", incident_number,
 * title, status, incident_key, urgency, created_at, updated_at,
 * last_status_change_at, last_status_change_by, resolved_at, service,
 * assignments, acknowledgements [{at, acknowledger}], html_url, self, ...}],
 * "limit","offset","more","total"}.  Acknowledgements and assignments are
 * empty unless acknowledged / open, as PagerDuty's. */
size_t fake_pagerduty_incident_lookups(const struct fake_pagerduty *pd, const char *dedup_key);

/* --- on-call --- */
/* Who is on call for schedule_id (replaces the previous one).  Users get
 * time_zone "Etc/UTC"; the escalation policy is PEPFAKE01 "Security". */
void fake_pagerduty_set_oncall(struct fake_pagerduty *pd, const char *schedule_id, const char *user_id,
                               const char *name, const char *email);
/* Nobody on call for schedule_id (an empty "oncalls" array). */
void fake_pagerduty_clear_oncall(struct fake_pagerduty *pd, const char *schedule_id);

/* --- knobs --- */
enum fake_pd_api { FAKE_PD_ENQUEUE, FAKE_PD_ONCALLS, FAKE_PD_INCIDENTS, FAKE_PD_ANY };
/* The next `times` requests to api fail with status and a PagerDuty-shaped
 * body: 429 (with Retry-After: retry_after when > 0), 500, 400, ...; 0 drops
 * the connection.  The request has no effect. */
void fake_pagerduty_fail(struct fake_pagerduty *pd, enum fake_pd_api api, int times, int status, int retry_after);
/* Outage of api: every request fails with status (0 drops the connection)
 * for ms from now, or until fake_pagerduty_outage_end when ms <= 0. */
void fake_pagerduty_outage(struct fake_pagerduty *pd, enum fake_pd_api api, int status, int ms);
void fake_pagerduty_outage_end(struct fake_pagerduty *pd);
/* The next `times` answers of api are written ms late (effect at once). */
void fake_pagerduty_delay(struct fake_pagerduty *pd, enum fake_pd_api api, int times, int ms);

#endif
