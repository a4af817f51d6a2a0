/* fake_pagerduty: see fake_pagerduty.h.  State (events, incidents,
 * on-call table) lives in struct fake_pagerduty; HTTP goes through a
 * fake_http whose handlers point back here.  fake_pagerduty_destroy() frees
 * the state at once and starts the fake_http's async close (its handlers
 * are never called once destroy has begun). */
#include "fake_pagerduty.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bot/util.h"
#include "fake_pagerduty_internal.h"

struct pd_oncall {
    char *schedule, *user, *name, *email;
    bool empty;
};

struct fake_pagerduty {
    struct fake_http *http;
    char events_url[96];
    char *api_token;
    struct fake_pd_event **events;
    size_t n_events;
    struct fake_pd_incident **incidents;
    size_t n_incidents;
    struct pd_oncall *oncalls;
    size_t n_oncalls;
    unsigned key_seq;
};

static const char *const pd_api_pattern[] = {
    [FAKE_PD_ENQUEUE] = "POST /v2/enqueue",
    [FAKE_PD_ONCALLS] = "GET /oncalls",
    [FAKE_PD_INCIDENTS] = "GET /incidents",
    [FAKE_PD_ANY] = NULL,
};

/* ------------------------------------------------------------------ */
/* Events API v2 */

static void invalid_event(struct fake_http_resp *resp, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "invalid event");
    cJSON_AddStringToObject(o, "message", "Event object is invalid");
    cJSON *errs = cJSON_AddArrayToObject(o, "errors");
    cJSON_AddItemToArray(errs, cJSON_CreateString(error));
    fake_http_reply_json(resp, 400, o);
    cJSON_Delete(o);
}

static const char *str_field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static bool is_open(const struct fake_pd_incident *inc)
{
    return strcmp(inc->state, "resolved") != 0;
}

static struct fake_pd_incident *find_incident(const struct fake_pagerduty *pd, const char *key)
{
    for (size_t i = pd->n_incidents; i-- > 0;)
        if (strcmp(pd->incidents[i]->dedup_key, key) == 0)
            return pd->incidents[i];
    return NULL;
}

static void set_state(struct fake_pd_incident *inc, const char *state)
{
    free(inc->state);
    inc->state = xstrdup(state);
    inc->changed_s = (int64_t)time(NULL);
    free(inc->changed_by);
    inc->changed_by = NULL;
    if (strcmp(state, "acknowledged") != 0) {   /* PagerDuty lists acknowledgements only while acknowledged */
        inc->ack_s = 0;
        free(inc->acker_id);
        free(inc->acker_name);
        inc->acker_id = inc->acker_name = NULL;
    }
}

/* Returns the validation error, or NULL when the event is valid. */
static const char *validate(const cJSON *ev, const char **action)
{
    const char *rk = str_field(ev, "routing_key");
    if (!rk)
        return "'routing_key' is missing or blank";
    if (strlen(rk) != 32)
        return "Length of 'routing_key' is incorrect (should be 32 characters)";
    const char *a = str_field(ev, "event_action");
    if (!a)
        return "'event_action' is missing or blank";
    if (strcmp(a, "trigger") != 0 && strcmp(a, "acknowledge") != 0 && strcmp(a, "resolve") != 0)
        return "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')";
    *action = a;
    const cJSON *dk = cJSON_GetObjectItemCaseSensitive(ev, "dedup_key");
    if (dk && !cJSON_IsString(dk) && !cJSON_IsNull(dk))
        return "'dedup_key' must be a string";
    if (strcmp(a, "trigger") != 0)
        return str_field(ev, "dedup_key") ? NULL : "'dedup_key' is missing or blank";
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(ev, "payload");
    if (!cJSON_IsObject(p))
        return "'payload' is missing or not an object";
    if (!str_field(p, "summary"))
        return "'payload.summary' is missing or blank";
    if (!str_field(p, "source"))
        return "'payload.source' is missing or blank";
    const char *sev = str_field(p, "severity");
    if (!sev)
        return "'payload.severity' is missing or blank";
    if (strcmp(sev, "critical") != 0 && strcmp(sev, "error") != 0 && strcmp(sev, "warning") != 0 &&
        strcmp(sev, "info") != 0)
        return "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')";
    return NULL;
}

static void pd_enqueue(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_pagerduty *pd = ud;
    cJSON *ev = cJSON_ParseWithLength(rq->body, rq->body_len);
    if (!cJSON_IsObject(ev)) {
        cJSON_Delete(ev);
        invalid_event(resp, "Event object is not valid JSON");
        return;
    }
    const char *action = NULL;
    const char *err = validate(ev, &action);
    if (err) {
        invalid_event(resp, err);
        cJSON_Delete(ev);
        return;
    }
    char gen[48];
    const char *key = str_field(ev, "dedup_key");
    if (!key) {
        snprintf(gen, sizeof(gen), "fakedd%026u", ++pd->key_seq);
        key = gen;
    }
    struct fake_pd_event *e = xcalloc(1, sizeof(*e));
    e->json = ev;
    e->action = xstrdup(action);
    e->dedup_key = xstrdup(key);
    e->t_us = rq->t_us;
    struct fake_pd_incident *inc = find_incident(pd, key);
    if (strcmp(action, "trigger") == 0) {
        if (inc && is_open(inc)) {
            inc->alerts++;
        } else {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(ev, "payload");
            inc = xcalloc(1, sizeof(*inc));
            inc->dedup_key = xstrdup(key);
            inc->state = xstrdup("triggered");
            inc->summary = xstrdup(str_field(p, "summary"));
            inc->severity = xstrdup(str_field(p, "severity"));
            inc->alerts = 1;
            inc->t_us = rq->t_us;
            inc->number = (int)pd->n_incidents + 1;
            snprintf(inc->id, sizeof(inc->id), "PINC%05d", inc->number);
            inc->created_s = inc->changed_s = (int64_t)time(NULL);
            pd->incidents = xrealloc(pd->incidents, (pd->n_incidents + 1) * sizeof(*pd->incidents));
            pd->incidents[pd->n_incidents++] = inc;
            e->new_incident = true;
        }
    } else if (inc && is_open(inc)) {
        /* acknowledge / resolve of nothing open: accepted, no effect (as PD) */
        bool ack = strcmp(action, "acknowledge") == 0;
        set_state(inc, ack ? "acknowledged" : "resolved");
        if (ack) {   /* acknowledged through the integration: the service is the acknowledger */
            inc->ack_s = inc->changed_s;
            inc->acker_id = xstrdup(FAKE_PD_SERVICE_ID);
            inc->acker_name = xstrdup(FAKE_PD_SERVICE_NAME);
        }
    }
    pd->events = xrealloc(pd->events, (pd->n_events + 1) * sizeof(*pd->events));
    pd->events[pd->n_events++] = e;

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "success");
    cJSON_AddStringToObject(o, "message", "Event processed");
    cJSON_AddStringToObject(o, "dedup_key", key);
    fake_http_reply_json(resp, 202, o);
    cJSON_Delete(o);
}

/* ------------------------------------------------------------------ */
/* REST */

void fake_pd__rest_error(struct fake_http_resp *resp, int status, const char *msg, int code)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddNumberToObject(e, "code", code);
    fake_http_reply_json(resp, status, o);
    cJSON_Delete(o);
}

bool fake_pd__authorized(const struct fake_pagerduty *pd, const struct fake_http_request *rq)
{
    const char *a = fake_http_header(rq, "authorization");
    if (!a || !str_starts(a, "Token token="))
        return false;
    return strcmp(a + 12, pd->api_token) == 0;
}

void fake_pd__iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void fake_pd__add_ref(cJSON *o, const char *key, const char *type, const char *id, const char *summary,
                    const char *base, const char *kind)
{
    cJSON *r = cJSON_AddObjectToObject(o, key);
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "type", type);
    cJSON_AddStringToObject(r, "summary", summary);
    char url[256];
    snprintf(url, sizeof(url), "%s/%s/%s", base, kind, id);
    cJSON_AddStringToObject(r, "self", url);
    snprintf(url, sizeof(url), "https://fake.pagerduty.com/%s/%s", kind, id);
    cJSON_AddStringToObject(r, "html_url", url);
}

static bool wanted(const struct fake_http_request *rq, const char *schedule)
{
    if (!fake_http_arg(rq, "schedule_ids[]", 0))
        return true;
    for (size_t i = 0; i < 64; i++) {
        const char *s = fake_http_arg(rq, "schedule_ids[]", i);
        if (!s)
            break;
        if (strcmp(s, schedule) == 0)
            return true;
    }
    return false;
}

static bool include_users(const struct fake_http_request *rq)
{
    for (size_t i = 0; i < 16; i++) {
        const char *s = fake_http_arg(rq, "include[]", i);
        if (!s)
            break;
        if (strcmp(s, "users") == 0)
            return true;
    }
    return false;
}

static void pd_oncalls(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_pagerduty *pd = ud;
    if (!fake_pd__authorized(pd, rq)) {
        fake_pd__rest_error(resp, 401, "Unauthenticated", 2006);
        return;
    }
    const char *base = fake_http_url(pd->http);
    bool users = include_users(rq);
    time_t now = time(NULL);
    char start[32], endt[32];
    fake_pd__iso_time(now - 3600, start);
    fake_pd__iso_time(now + 7 * 86400, endt);
    const char *since = fake_http_arg(rq, "since", 0);
    const char *until = fake_http_arg(rq, "until", 0);

    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "oncalls");
    for (size_t i = 0; i < pd->n_oncalls; i++) {
        const struct pd_oncall *oc = &pd->oncalls[i];
        if (oc->empty || !wanted(rq, oc->schedule))
            continue;
        cJSON *e = cJSON_CreateObject();
        fake_pd__add_ref(e, "user", "user_reference", oc->user, oc->name, base, "users");
        if (users) {
            cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "user");
            cJSON_ReplaceItemInObjectCaseSensitive(u, "type", cJSON_CreateString("user"));
            cJSON_AddStringToObject(u, "name", oc->name);
            cJSON_AddStringToObject(u, "email", oc->email);
            cJSON_AddStringToObject(u, "time_zone", "Etc/UTC");
            cJSON_AddStringToObject(u, "role", "user");
        }
        fake_pd__add_ref(e, "schedule", "schedule_reference", oc->schedule, "Security on-call", base, "schedules");
        fake_pd__add_ref(e, "escalation_policy", "escalation_policy_reference", "PEPFAKE01", "Security", base,
                "escalation_policies");
        cJSON_AddNumberToObject(e, "escalation_level", 1);
        cJSON_AddStringToObject(e, "start", since ? since : start);
        cJSON_AddStringToObject(e, "end", until ? until : endt);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(o, "limit", 25);
    cJSON_AddNumberToObject(o, "offset", 0);
    cJSON_AddFalseToObject(o, "more");
    cJSON_AddNullToObject(o, "total");
    fake_http_reply_json(resp, 200, o);
    cJSON_Delete(o);
}

/* GET /schedules/{id}: the schedules the fake knows are those it has
 * on-call entries for (fake_pagerduty_set_oncall / _clear_oncall). */
static void pd_schedule(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_pagerduty *pd = ud;
    if (!fake_pd__authorized(pd, rq)) {
        fake_pd__rest_error(resp, 401, "Unauthenticated", 2006);
        return;
    }
    const char *id = rq->path + strlen("/schedules/");
    const struct pd_oncall *oc = NULL;
    for (size_t i = 0; i < pd->n_oncalls && !oc; i++)
        if (strcmp(pd->oncalls[i].schedule, id) == 0)
            oc = &pd->oncalls[i];
    if (!oc || strchr(id, '/')) {
        fake_pd__rest_error(resp, 404, "Not Found", 2100);
        return;
    }
    const char *base = fake_http_url(pd->http);
    cJSON *o = cJSON_CreateObject();
    cJSON *sc = cJSON_AddObjectToObject(o, "schedule");
    cJSON_AddStringToObject(sc, "id", oc->schedule);
    cJSON_AddStringToObject(sc, "type", "schedule");
    cJSON_AddStringToObject(sc, "summary", "Security on-call");
    char *self = xasprintf("%s/schedules/%s", base, oc->schedule);
    cJSON_AddStringToObject(sc, "self", self);
    free(self);
    cJSON_AddStringToObject(sc, "name", "Security on-call");
    cJSON_AddStringToObject(sc, "time_zone", "Etc/UTC");
    cJSON_AddStringToObject(sc, "description", "");
    cJSON_AddArrayToObject(sc, "escalation_policies");
    cJSON_AddArrayToObject(sc, "users");
    fake_http_reply_json(resp, 200, o);
    cJSON_Delete(o);
}

static void pd_not_found(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    (void)ud;
    (void)rq;
    fake_pd__rest_error(resp, 404, "Not Found", 2100);
}

/* ------------------------------------------------------------------ */
/* life cycle and accessors */

struct fake_pagerduty *fake_pagerduty_create(uv_loop_t *loop, int port)
{
    struct fake_http *h = fake_http_create(loop, port, "fake-pagerduty");
    if (!h)
        return NULL;
    struct fake_pagerduty *pd = xcalloc(1, sizeof(*pd));
    pd->http = h;
    pd->api_token = xstrdup(FAKE_PD_API_TOKEN);
    snprintf(pd->events_url, sizeof(pd->events_url), "%s/v2/enqueue", fake_http_url(h));
    fake_http_route(h, "POST", "/v2/enqueue", pd_enqueue, pd);
    fake_http_route(h, "GET", "/oncalls", pd_oncalls, pd);
    fake_http_route(h, "GET", "/incidents", fake_pd__incidents, pd);
    fake_http_route(h, "GET", "/schedules/", pd_schedule, pd);
    fake_http_route(h, NULL, "/", pd_not_found, pd);
    return pd;
}

void fake_pagerduty_destroy(struct fake_pagerduty *pd)
{
    if (!pd)
        return;
    fake_http_destroy(pd->http);
    for (size_t i = 0; i < pd->n_events; i++) {
        cJSON_Delete(pd->events[i]->json);
        free(pd->events[i]->action);
        free(pd->events[i]->dedup_key);
        free(pd->events[i]);
    }
    free(pd->events);
    for (size_t i = 0; i < pd->n_incidents; i++) {
        free(pd->incidents[i]->dedup_key);
        free(pd->incidents[i]->state);
        free(pd->incidents[i]->summary);
        free(pd->incidents[i]->severity);
        free(pd->incidents[i]->changed_by);
        free(pd->incidents[i]->acker_id);
        free(pd->incidents[i]->acker_name);
        free(pd->incidents[i]);
    }
    free(pd->incidents);
    for (size_t i = 0; i < pd->n_oncalls; i++) {
        free(pd->oncalls[i].schedule);
        free(pd->oncalls[i].user);
        free(pd->oncalls[i].name);
        free(pd->oncalls[i].email);
    }
    free(pd->oncalls);
    free(pd->api_token);
    free(pd);
}

int fake_pagerduty_port(const struct fake_pagerduty *pd)
{
    return fake_http_port(pd->http);
}

const char *fake_pagerduty_url(const struct fake_pagerduty *pd)
{
    return fake_http_url(pd->http);
}

const char *fake_pagerduty_events_url(const struct fake_pagerduty *pd)
{
    return pd->events_url;
}

struct fake_http *fake_pagerduty_http(const struct fake_pagerduty *pd)
{
    return pd->http;
}

void fake_pagerduty_set_api_token(struct fake_pagerduty *pd, const char *token)
{
    free(pd->api_token);
    pd->api_token = xstrdup(token ? token : "");
}

size_t fake_pagerduty_event_count(const struct fake_pagerduty *pd)
{
    return pd->n_events;
}

const struct fake_pd_event *fake_pagerduty_event(const struct fake_pagerduty *pd, size_t idx)
{
    return idx < pd->n_events ? pd->events[idx] : NULL;
}

const cJSON *fake_pagerduty_event_json(const struct fake_pagerduty *pd, size_t idx)
{
    return idx < pd->n_events ? pd->events[idx]->json : NULL;
}

const cJSON *fake_pagerduty_last_event(const struct fake_pagerduty *pd)
{
    return pd->n_events ? pd->events[pd->n_events - 1]->json : NULL;
}

uint64_t fake_pagerduty_event_time_us(const struct fake_pagerduty *pd, size_t idx)
{
    return idx < pd->n_events ? pd->events[idx]->t_us : 0;
}

size_t fake_pagerduty_incident_count(const struct fake_pagerduty *pd)
{
    return pd->n_incidents;
}

const struct fake_pd_incident *fake_pagerduty_incident(const struct fake_pagerduty *pd, size_t idx)
{
    return idx < pd->n_incidents ? pd->incidents[idx] : NULL;
}

const struct fake_pd_incident *fake_pagerduty_incident_by_key(const struct fake_pagerduty *pd, const char *dedup_key)
{
    return dedup_key ? find_incident(pd, dedup_key) : NULL;
}

const char *fake_pagerduty_incident_state(const struct fake_pagerduty *pd, const char *dedup_key)
{
    const struct fake_pd_incident *inc = fake_pagerduty_incident_by_key(pd, dedup_key);
    return inc ? inc->state : NULL;
}

/* True if a recorded request is a trigger under dedup_key. */
static bool request_triggers(const struct fake_http_request *rq, const char *dedup_key)
{
    cJSON *j = cJSON_ParseWithLength(rq->body, rq->body_len);
    bool hit = str_field(j, "event_action") && strcmp(str_field(j, "event_action"), "trigger") == 0
               && str_field(j, "dedup_key") && strcmp(str_field(j, "dedup_key"), dedup_key) == 0;
    cJSON_Delete(j);
    return hit;
}

size_t fake_pagerduty_trigger_attempts(const struct fake_pagerduty *pd, const char *dedup_key)
{
    size_t n = 0, total = fake_http_count(pd->http, pd_api_pattern[FAKE_PD_ENQUEUE]);
    for (size_t i = 0; i < total; i++)
        if (request_triggers(fake_http_request(pd->http, pd_api_pattern[FAKE_PD_ENQUEUE], i), dedup_key))
            n++;
    return n;
}

size_t fake_pagerduty_trigger_count(const struct fake_pagerduty *pd, const char *dedup_key)
{
    size_t n = 0;
    for (size_t i = 0; i < pd->n_events; i++)
        if (strcmp(pd->events[i]->action, "trigger") == 0 && strcmp(pd->events[i]->dedup_key, dedup_key) == 0)
            n++;
    return n;
}

bool fake_pagerduty_set_incident_state(struct fake_pagerduty *pd, const char *dedup_key, const char *state)
{
    struct fake_pd_incident *inc = find_incident(pd, dedup_key);
    if (!inc || !is_open(inc) || (strcmp(state, "acknowledged") != 0 && strcmp(state, "resolved") != 0))
        return false;
    set_state(inc, state);
    inc->changed_by = xstrdup(FAKE_PD_RESPONDER_NAME);
    if (strcmp(state, "acknowledged") == 0) {
        inc->ack_s = inc->changed_s;
        inc->acker_id = xstrdup(FAKE_PD_RESPONDER_ID);
        inc->acker_name = xstrdup(FAKE_PD_RESPONDER_NAME);
    }
    return true;
}

bool fake_pagerduty_acknowledge(struct fake_pagerduty *pd, const char *dedup_key, const char *user_id,
                                const char *name, int64_t at_s)
{
    struct fake_pd_incident *inc = find_incident(pd, dedup_key);
    if (!inc || !is_open(inc) || !user_id || !name)
        return false;
    set_state(inc, "acknowledged");
    inc->changed_s = inc->ack_s = at_s;
    inc->changed_by = xstrdup(name);
    inc->acker_id = xstrdup(user_id);
    inc->acker_name = xstrdup(name);
    return true;
}

static struct pd_oncall *oncall_slot(struct fake_pagerduty *pd, const char *schedule_id)
{
    for (size_t i = 0; i < pd->n_oncalls; i++)
        if (strcmp(pd->oncalls[i].schedule, schedule_id) == 0)
            return &pd->oncalls[i];
    pd->oncalls = xrealloc(pd->oncalls, (pd->n_oncalls + 1) * sizeof(*pd->oncalls));
    struct pd_oncall *oc = &pd->oncalls[pd->n_oncalls++];
    memset(oc, 0, sizeof(*oc));
    oc->schedule = xstrdup(schedule_id);
    return oc;
}

void fake_pagerduty_set_oncall(struct fake_pagerduty *pd, const char *schedule_id, const char *user_id,
                               const char *name, const char *email)
{
    struct pd_oncall *oc = oncall_slot(pd, schedule_id);
    free(oc->user);
    free(oc->name);
    free(oc->email);
    oc->user = xstrdup(user_id);
    oc->name = xstrdup(name ? name : user_id);
    oc->email = xstrdup(email ? email : "");
    oc->empty = false;
}

void fake_pagerduty_clear_oncall(struct fake_pagerduty *pd, const char *schedule_id)
{
    struct pd_oncall *oc = oncall_slot(pd, schedule_id);
    if (!oc->user) {
        oc->user = xstrdup("");
        oc->name = xstrdup("");
        oc->email = xstrdup("");
    }
    oc->empty = true;
}

void fake_pagerduty_fail(struct fake_pagerduty *pd, enum fake_pd_api api, int times, int status, int retry_after)
{
    const char *pattern = pd_api_pattern[api];
    bool events = api == FAKE_PD_ENQUEUE;
    const char *body;
    switch (status) {
    case 429:
        body = events ? "{\"status\":\"throttle event\",\"message\":\"Requests for this service are arriving too "
                        "quickly. Please retry later.\",\"errors\":[\"Too many requests\"]}"
                      : "{\"error\":{\"message\":\"Rate Limit Exceeded\",\"code\":2020}}";
        break;
    case 400:
        body = events ? "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\",\"errors\":[\"Fake "
                        "failure\"]}"
                      : "{\"error\":{\"message\":\"Invalid Input Provided\",\"code\":2001,\"errors\":[\"Fake "
                        "failure\"]}}";
        break;
    case 401:
        body = "{\"error\":{\"message\":\"Unauthenticated\",\"code\":2006}}";
        break;
    default:
        body = events ? "{\"status\":\"error\",\"message\":\"Internal Server Error\",\"errors\":[\"Fake failure\"]}"
                      : "{\"error\":{\"message\":\"Internal Server Error\",\"code\":2000}}";
        break;
    }
    fake_http_fail(pd->http, pattern, times, status, "application/json", body, retry_after);
}

void fake_pagerduty_outage(struct fake_pagerduty *pd, enum fake_pd_api api, int status, int ms)
{
    fake_http_outage(pd->http, pd_api_pattern[api], status, ms);
}

void fake_pagerduty_outage_end(struct fake_pagerduty *pd)
{
    fake_http_outage_end(pd->http);
}

void fake_pagerduty_delay(struct fake_pagerduty *pd, enum fake_pd_api api, int times, int ms)
{
    fake_http_delay(pd->http, pd_api_pattern[api], times, ms);
}
