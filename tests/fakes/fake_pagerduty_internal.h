/* fake_pagerduty_internal: what fake_pagerduty.c (Events v2, /oncalls,
 * state) shares with fake_pagerduty_rest.c (GET /incidents).  Not for
 * tests: they use fake_pagerduty.h. */
#ifndef SIRT_FAKE_PAGERDUTY_INTERNAL_H
#define SIRT_FAKE_PAGERDUTY_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

#include "fake_http.h"
#include "fake_pagerduty.h"

/* The service every fake incident belongs to (also the acknowledger of an
 * Events v2 "acknowledge"), and the responder of
 * fake_pagerduty_set_incident_state. */
#define FAKE_PD_SERVICE_ID "PSVCFAKE1"
#define FAKE_PD_SERVICE_NAME "Security on-call"
#define FAKE_PD_RESPONDER_ID "PUSERFAKE1"
#define FAKE_PD_RESPONDER_NAME "Fake Responder"

/* PagerDuty's REST error body {"error":{"message","code"}}. */
void fake_pd__rest_error(struct fake_http_resp *resp, int status, const char *msg, int code);
/* The Authorization header carries "Token token=<the fake's token>". */
bool fake_pd__authorized(const struct fake_pagerduty *pd, const struct fake_http_request *rq);
/* "2026-11-25T10:00:00Z" into out. */
void fake_pd__iso_time(time_t t, char out[32]);
/* o[key] = {id, type, summary, self, html_url} (a reference). */
void fake_pd__add_ref(cJSON *o, const char *key, const char *type, const char *id, const char *summary,
                      const char *base, const char *kind);
/* The GET /incidents route (fake_pagerduty_rest.c); ud is the fake. */
void fake_pd__incidents(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp);

#endif
