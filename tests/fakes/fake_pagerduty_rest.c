/* fake_pagerduty_rest: the fake PagerDuty's REST GET /incidents, in the
 * shape of PagerDuty's REST API v2 reference (PagerDuty/api-schema,
 * reference/REST/openapiv3.json, "List incidents"): token check, the
 * incident_key / statuses[] / date window / limit / offset filters, and
 * incident objects with acknowledgements [{at, acknowledger}].  It reads
 * the incidents fake_pagerduty.c keeps; everything it builds is freed
 * before the handler returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bot/util.h"
#include "fake_pagerduty_internal.h"

#define MONTH_S (31LL * 86400)

static bool status_wanted(const struct fake_http_request *rq, const char *status)
{
    if (!fake_http_arg(rq, "statuses[]", 0))
        return true;
    for (size_t i = 0; i < 8; i++) {
        const char *s = fake_http_arg(rq, "statuses[]", i);
        if (!s)
            break;
        if (strcmp(s, status) == 0)
            return true;
    }
    return false;
}

static bool valid_status_args(const struct fake_http_request *rq)
{
    for (size_t i = 0; i < 8; i++) {
        const char *s = fake_http_arg(rq, "statuses[]", i);
        if (!s)
            return true;
        if (strcmp(s, "triggered") != 0 && strcmp(s, "acknowledged") != 0 && strcmp(s, "resolved") != 0)
            return false;
    }
    return true;
}

/* "2026-11-25T10:00:00Z" (the form the bot and this fake write) to epoch
 * seconds; -1 when it is not one. */
static int64_t parse_iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
    char buf[32];
    fake_pd__iso_time((time_t)t, buf);
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *incident_json(const struct fake_pagerduty *pd, const struct fake_pd_incident *inc)
{
    const char *base = fake_pagerduty_url(pd);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", inc->id);
    cJSON_AddStringToObject(o, "type", "incident");
    cJSON_AddStringToObject(o, "summary", inc->summary ? inc->summary : "");
    char url[256];
    snprintf(url, sizeof(url), "%s/incidents/%s", base, inc->id);
    cJSON_AddStringToObject(o, "self", url);
    snprintf(url, sizeof(url), "https://fake.pagerduty.com/incidents/%s", inc->id);
    cJSON_AddStringToObject(o, "html_url", url);
    cJSON_AddNumberToObject(o, "incident_number", inc->number);
    cJSON_AddStringToObject(o, "title", inc->summary ? inc->summary : "");
    cJSON_AddStringToObject(o, "status", inc->state);
    cJSON_AddStringToObject(o, "incident_key", inc->dedup_key);
    cJSON_AddStringToObject(o, "urgency", "high");
    add_time(o, "created_at", inc->created_s);
    add_time(o, "updated_at", inc->changed_s);
    add_time(o, "last_status_change_at", inc->changed_s);
    if (inc->changed_by)
        fake_pd__add_ref(o, "last_status_change_by", "user_reference", FAKE_PD_RESPONDER_ID, inc->changed_by, base,
                         "users");
    else
        fake_pd__add_ref(o, "last_status_change_by", "service_reference", FAKE_PD_SERVICE_ID,
                         FAKE_PD_SERVICE_NAME, base, "services");
    bool resolved = strcmp(inc->state, "resolved") == 0;
    if (resolved)
        add_time(o, "resolved_at", inc->changed_s);
    else
        cJSON_AddNullToObject(o, "resolved_at");
    fake_pd__add_ref(o, "service", "service_reference", FAKE_PD_SERVICE_ID, FAKE_PD_SERVICE_NAME, base,
                     "services");
    fake_pd__add_ref(o, "escalation_policy", "escalation_policy_reference", "PEPFAKE01", "Security", base,
                     "escalation_policies");
    cJSON_AddStringToObject(o, "assigned_via", "escalation_policy");
    cJSON *assignments = cJSON_AddArrayToObject(o, "assignments");
    if (!resolved) {   /* empty once resolved */
        cJSON *a = cJSON_CreateObject();
        add_time(a, "at", inc->created_s);
        fake_pd__add_ref(a, "assignee", "user_reference", "PSECOPS01", "secops", base, "users");
        cJSON_AddItemToArray(assignments, a);
    }
    cJSON *acks = cJSON_AddArrayToObject(o, "acknowledgements");
    if (strcmp(inc->state, "acknowledged") == 0 && inc->ack_s > 0) {   /* empty unless acknowledged */
        cJSON *a = cJSON_CreateObject();
        add_time(a, "at", inc->ack_s);
        bool service = inc->acker_id && strcmp(inc->acker_id, FAKE_PD_SERVICE_ID) == 0;
        fake_pd__add_ref(a, "acknowledger", service ? "service_reference" : "user_reference",
                         inc->acker_id ? inc->acker_id : FAKE_PD_RESPONDER_ID,
                         inc->acker_name ? inc->acker_name : FAKE_PD_RESPONDER_NAME, base,
                         service ? "services" : "users");
        cJSON_AddItemToArray(acks, a);
    }
    cJSON_AddArrayToObject(o, "pending_actions");
    cJSON_AddArrayToObject(o, "teams");
    cJSON_AddNullToObject(o, "priority");
    cJSON *counts = cJSON_AddObjectToObject(o, "alert_counts");
    cJSON_AddNumberToObject(counts, "all", inc->alerts);
    cJSON_AddNumberToObject(counts, "triggered", resolved ? 0 : inc->alerts);
    cJSON_AddNumberToObject(counts, "resolved", resolved ? inc->alerts : 0);
    return o;
}

void fake_pd__incidents(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_pagerduty *pd = ud;
    if (!fake_pd__authorized(pd, rq)) {
        fake_pd__rest_error(resp, 401, "Unauthenticated", 2006);
        return;
    }
    const char *accept = fake_http_header(rq, "accept");
    if (accept && strstr(accept, "vnd.pagerduty+json") && !strstr(accept, "version=2")) {
        fake_pd__rest_error(resp, 406, "Not Acceptable: only version=2 is served", 2001);
        return;
    }
    if (!valid_status_args(rq)) {
        fake_pd__rest_error(resp, 400, "Invalid Input Provided", 2001);
        return;
    }
    const char *key = fake_http_arg(rq, "incident_key", 0);
    const char *range = fake_http_arg(rq, "date_range", 0);
    if (range && strcmp(range, "all") != 0) {
        fake_pd__rest_error(resp, 400, "Invalid Input Provided", 2001);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t since = now - MONTH_S, until = now + 60;
    if (!range) {
        const char *a = fake_http_arg(rq, "since", 0), *b = fake_http_arg(rq, "until", 0);
        if ((a && parse_iso(a) < 0) || (b && parse_iso(b) < 0)) {
            fake_pd__rest_error(resp, 400, "Invalid Input Provided", 2001);
            return;
        }
        if (a)
            since = parse_iso(a);
        if (b)
            until = parse_iso(b);
    }
    long limit = 25, offset = 0;
    const char *l = fake_http_arg(rq, "limit", 0), *off = fake_http_arg(rq, "offset", 0);
    if (l)
        limit = strtol(l, NULL, 10);
    if (off)
        offset = strtol(off, NULL, 10);
    if (limit < 1 || limit > 100 || offset < 0) {
        fake_pd__rest_error(resp, 400, "Invalid Input Provided", 2001);
        return;
    }

    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "incidents");
    long matched = 0;
    for (size_t i = 0; i < fake_pagerduty_incident_count(pd); i++) {
        const struct fake_pd_incident *inc = fake_pagerduty_incident(pd, i);
        if (key && strcmp(inc->dedup_key, key) != 0)
            continue;
        if (!status_wanted(rq, inc->state))
            continue;
        if (!range && (inc->created_s < since || inc->created_s > until))
            continue;
        if (matched++ < offset || cJSON_GetArraySize(arr) >= limit)
            continue;
        cJSON_AddItemToArray(arr, incident_json(pd, inc));
    }
    cJSON_AddNumberToObject(o, "limit", (double)limit);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    if (matched > offset + limit)
        cJSON_AddTrueToObject(o, "more");
    else
        cJSON_AddFalseToObject(o, "more");
    cJSON_AddNullToObject(o, "total");
    fake_http_reply_json(resp, 200, o);
    cJSON_Delete(o);
}

size_t fake_pagerduty_incident_lookups(const struct fake_pagerduty *pd, const char *dedup_key)
{
    const struct fake_http *h = fake_pagerduty_http(pd);
    size_t n = 0, total = fake_http_count(h, "GET /incidents");
    for (size_t i = 0; i < total; i++) {
        const char *k = fake_http_arg(fake_http_request(h, "GET /incidents", i), "incident_key", 0);
        if (k && dedup_key && strcmp(k, dedup_key) == 0)
            n++;
    }
    return n;
}
