/* effects_pd: pd.trigger and pd.resolve, PagerDuty Events API v2.  The
 * routing key travels in the body (no Authorization header); dedup_key
 * "SIRT-<n>" makes a repeated trigger or resolve harmless, so these ops need
 * no reconciliation.  The routing key is never logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "effects_internal.h"
#include "http.h"
#include "util.h"

#define PD_DEFAULT_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

static const char *routing_key(const struct fx *fx)
{
    const struct cfg *c = fx->app->cfg;
    return c && c->pagerduty_routing_key && c->pagerduty_routing_key[0] ? c->pagerduty_routing_key : NULL;
}

static const char *events_url(const struct fx *fx)
{
    const struct cfg *c = fx->app->cfg;
    return c && c->pagerduty_events_url && c->pagerduty_events_url[0] ? c->pagerduty_events_url
                                                                       : PD_DEFAULT_EVENTS_URL;
}

/* Body skeleton; NULL (and the job finished) when paging is impossible. */
static cJSON *pd_body(struct fx *fx, const char *action)
{
    const char *key = routing_key(fx);
    if (!key) {
        eff_fail(fx, "paging disabled: PAGERDUTY_ROUTING_KEY is not set");
        return NULL;
    }
    char dedup[48];
    const char *d = eff_str(fx->payload, "dedup_key");
    if (!d && fx->incident_id > 0) {
        snprintf(dedup, sizeof(dedup), "SIRT-%lld", (long long)fx->incident_id);
        d = dedup;
    }
    if (!d) {
        eff_fail(fx, "bad payload: no incident for dedup_key");
        return NULL;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "routing_key", key);
    cJSON_AddStringToObject(b, "event_action", action);
    cJSON_AddStringToObject(b, "dedup_key", d);
    return b;
}

static void pd_sent(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299) {
        cJSON *j = eff_parse(resp);
        const char *d = eff_str(j, "dedup_key");
        if (d)
            cJSON_AddStringToObject(eff_result(fx), "dedup_key", d);
        cJSON_Delete(j);
        cJSON_AddStringToObject(eff_result(fx), "timeline",
                                strcmp(fx->op, "pd.resolve") == 0
                                    ? "PagerDuty incident resolved"
                                    : "security on-call paged (PagerDuty)");
        eff_done(fx);
        return;
    }
    eff_finish_http(fx, resp, "pagerduty");
}

void eff_pd_trigger(struct fx *fx)
{
    cJSON *b = pd_body(fx, "trigger");
    if (!b)
        return;
    cJSON *p = cJSON_AddObjectToObject(b, "payload");
    const char *summary = eff_str(fx->payload, "summary");
    char fallback[48];
    if (!summary) {
        snprintf(fallback, sizeof(fallback), "SIRT-%lld", (long long)fx->incident_id);
        summary = fallback;
    }
    const char *source = eff_str(fx->payload, "source");
    const char *severity = eff_str(fx->payload, "severity");
    cJSON_AddStringToObject(p, "summary", summary);
    cJSON_AddStringToObject(p, "source", source ? source : "sirtbot");
    cJSON_AddStringToObject(p, "severity", severity ? severity : "critical");
    const char *component = eff_str(fx->payload, "component");
    if (component)
        cJSON_AddStringToObject(p, "component", component);
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(fx->payload, "custom_details");
    if (cJSON_IsObject(details))
        cJSON_AddItemToObject(p, "custom_details", cJSON_Duplicate(details, 1));

    cJSON *links = cJSON_CreateArray();
    char *chan = effect_channel_url(fx->app, fx->inc_channel_id);
    if (chan) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "href", chan);
        cJSON_AddStringToObject(l, "text", "Slack channel");
        cJSON_AddItemToArray(links, l);
        free(chan);
    }
    if (fx->inc_issue_url) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "href", fx->inc_issue_url);
        cJSON_AddStringToObject(l, "text", "GitLab issue");
        cJSON_AddItemToArray(links, l);
    }
    if (cJSON_GetArraySize(links) > 0)
        cJSON_AddItemToObject(b, "links", links);
    else
        cJSON_Delete(links);
    cJSON_AddStringToObject(b, "client", "sirtbot");
    /* PagerDuty dedups on dedup_key: sending again is harmless. */
    eff_http_post(fx, events_url(fx), b, true, pd_sent);
}

void eff_pd_resolve(struct fx *fx)
{
    cJSON *b = pd_body(fx, "resolve");
    if (!b)
        return;
    eff_http_post(fx, events_url(fx), b, true, pd_sent);
}
