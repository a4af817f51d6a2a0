/* effects_pd: pd.trigger and pd.resolve, PagerDuty Events API v2,
 * pd.oncall (REST GET /oncalls + Slack users.lookupByEmail) and
 * pd.page_status (REST GET /incidents?incident_key=: was the page seen?).  The routing
 * key travels in the body (no Authorization header); the page round's
 * dedup_key, fixed in the payload when the job was written, makes a
 * repeated trigger or resolve harmless, so these ops need no
 * reconciliation.  Their follow-up jobs (the link update of a page sent
 * without its issue, the paged on-call's invitations) go back to the outbox
 * in the DONE result.  Neither the routing key nor the REST token is logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "mask.h"
#include "slack_api.h"
#include "util.h"

#define PD_DEFAULT_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

/* The payload's "routing":"escalation" names the security manager's
 * service (PAGERDUTY_ESCALATION_ROUTING_KEY): its trigger and its resolve
 * must use the same key, or PagerDuty drops the resolve. */
static const char *routing_key(const struct fx *fx)
{
    const struct cfg *c = fx->app->cfg;
    const char *r = eff_str(fx->payload, "routing");
    const char *k = !c ? NULL
                    : r && strcmp(r, "escalation") == 0 ? c->pagerduty_escalation_routing_key
                                                         : c->pagerduty_routing_key;
    return k && k[0] ? k : NULL;
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
        const char *r = eff_str(fx->payload, "routing");
        eff_fail(fx, "paging disabled: %s is not set",
                 r && strcmp(r, "escalation") == 0 ? "PAGERDUTY_ESCALATION_ROUTING_KEY" : "PAGERDUTY_ROUTING_KEY");
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

/* Adds {"key","op","payload","deps":[dep]} to the result's follow-up jobs;
 * payload is consumed. */
static void add_followup(struct fx *fx, const char *key, const char *op, cJSON *payload, int64_t dep)
{
    cJSON *res = eff_result(fx);
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(res, "jobs");
    if (!jobs)
        jobs = cJSON_AddArrayToObject(res, "jobs");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "key", key);
    cJSON_AddStringToObject(j, "op", op);
    cJSON_AddItemToObject(j, "payload", payload);
    if (dep > 0)
        cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "deps"), cJSON_CreateNumber((double)dep));
    cJSON_AddItemToArray(jobs, j);
}

/* A page that went out before its GitLab issue existed (the report's page
 * waits for it only so long): once the issue job is done, the channel is
 * told and a second trigger under the same dedup_key carries the links. */
static void trigger_link_followups(struct fx *fx)
{
    int64_t issue_job = eff_int(fx->payload, "issue_job");
    if (issue_job <= 0 || fx->inc_issue_url)
        return;
    cJSON *again = cJSON_Duplicate(fx->payload, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(again, "issue_job");
    cJSON_AddTrueToObject(again, "links_update");
    add_followup(fx, "links", "pd.trigger", again, issue_job);

    const char *d = eff_str(fx->payload, "dedup_key");
    char *text = xasprintf(":link: The page for SIRT-%lld went out before the GitLab issue was ready, so it had no "
                           "issue link. The issue is ready now: {{incident.issue_link}}. PagerDuty gets the link "
                           "too, on the same page (dedup_key `%s`).",
                           (long long)fx->incident_id, d ? d : "?");
    cJSON *post = cJSON_CreateObject();
    cJSON_AddStringToObject(post, "text", text);
    free(text);
    add_followup(fx, "links_notice", "slack.post", post, issue_job);
    LOG_INFO("pd.trigger: paged without the GitLab issue link; the link follows", "job:l incident:l",
             (long long)fx->job_id, (long long)fx->incident_id);
}

static void pd_sent(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299) {
        cJSON *j = eff_parse(resp);
        const char *d = eff_str(j, "dedup_key");
        if (d)
            cJSON_AddStringToObject(eff_result(fx), "dedup_key", d);
        cJSON_Delete(j);
        bool resolve = strcmp(fx->op, "pd.resolve") == 0;
        bool update = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "links_update"));
        const char *routing = eff_str(fx->payload, "routing");
        bool esc = routing && strcmp(routing, "escalation") == 0;
        cJSON_AddStringToObject(eff_result(fx), "timeline",
                                resolve  ? (esc ? "PagerDuty escalation page resolved" : "PagerDuty incident resolved")
                                : esc    ? "security manager on-call paged (PagerDuty escalation)"
                                : update ? "page updated with the GitLab issue link (PagerDuty)"
                                         : "security on-call paged (PagerDuty)");
        if (!resolve)
            trigger_link_followups(fx);
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

/* ---- pd.oncall ----
 * Who is on call: GET /oncalls for the schedule (REST token), the first
 * on-call's email, then Slack users.lookupByEmail.  When PagerDuty or Slack
 * cannot tell, the configured fallback user.  A job with a "reply" answers
 * someone waiting in Slack, so it falls back at once rather than retrying;
 * a job without one (a hand-off setting the owner) retries transient
 * failures for ONCALL_RETRY_WINDOW_MS, then falls back.  The REST token is
 * never logged; nor are the emails. */

#define PD_DEFAULT_API_URL "https://api.pagerduty.com"
#define ONCALL_RETRY_WINDOW_MS (5 * 60 * 1000L)

/* GET <REST API base><path><key percent-encoded><tail> with the REST API
 * token (PAGERDUTY_API_TOKEN; base PAGERDUTY_API_URL or PagerDuty's own).
 * 0: sent, cb will run.  Otherwise *why says why not: 1, the token or the
 * base URL is missing or unusable (lasting); -1, the request could not be
 * sent.  The token is wiped from memory once the request has it. */
static int pd_rest_get(struct fx *fx, const char *path, const char *key, const char *tail, long timeout_ms,
                       eff_http_fn cb, const char **why)
{
    const struct cfg *c = fx->app->cfg;
    const char *token = c && c->pagerduty_api_token && c->pagerduty_api_token[0] ? c->pagerduty_api_token : NULL;
    const char *base = c && c->pagerduty_api_url && c->pagerduty_api_url[0] ? c->pagerduty_api_url
                                                                            : PD_DEFAULT_API_URL;
    if (!token || eff_has_ctl(token)) {
        *why = "PAGERDUTY_API_TOKEN is not set";
        return 1;
    }
    if (!(str_starts(base, "http://") || str_starts(base, "https://")) || eff_has_ctl(base)) {
        *why = "PAGERDUTY_API_URL is not an http(s) URL";
        return 1;
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *prefix = xasprintf("%.*s%s", (int)n, base, path);
    char *u = eff_urlenc_cat(prefix, key);
    char *url = xasprintf("%s%s", u, tail);
    free(prefix);
    free(u);
    char *auth = xasprintf("Authorization: Token token=%s", token);
    const char *hdrs[] = { auth, "Accept: application/vnd.pagerduty+json;version=2",
                           "Content-Type: application/json", NULL };
    int rc = eff_http_send(fx, "GET", url, hdrs, NULL, false, timeout_ms, cb);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
    if (rc == 0)
        return 0;
    *why = "pagerduty: request not sent";
    return -1;
}

/* fx->s1: the user found, fx->s2: its source ("pagerduty" / "fallback"). */

static bool oncall_has_reply(const struct fx *fx)
{
    return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(fx->payload, "reply"));
}

/* "invite": the user found is invited to the incident channel and, with a
 * known GitLab username, added to the project, as follow-up jobs (after the
 * jobs "channel_job" / "project_job" when given); "page": the round they
 * were paged for records them. */
static void oncall_followups(struct fx *fx)
{
    const struct cfg *c = fx->app->cfg;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "invite")) && fx->incident_id > 0) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "users"), cJSON_CreateString(fx->s1));
        add_followup(fx, "invite", "slack.invite", p, eff_int(fx->payload, "channel_job"));
        const char *gl = cfg_gitlab_user(c, fx->s1);
        if (gl && c->gitlab_url) {
            p = cJSON_CreateObject();
            cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "usernames"), cJSON_CreateString(gl));
            cJSON_AddNumberToObject(p, "access_level", 30);
            add_followup(fx, "gitlab_member", "gitlab.add_members", p, eff_int(fx->payload, "project_job"));
        }
    }
    const char *dedup = eff_str(cJSON_GetObjectItemCaseSensitive(fx->payload, "page"), "dedup_key");
    if (dedup && fx->incident_id > 0) {
        cJSON *pg = cJSON_AddObjectToObject(eff_result(fx), "page");
        cJSON_AddStringToObject(pg, "dedup_key", dedup);
        cJSON_AddStringToObject(pg, "user", fx->s1);
    }
}

static void oncall_finish_done(struct fx *fx)
{
    cJSON *res = eff_result(fx);
    cJSON_AddStringToObject(res, "user", fx->s1);
    cJSON_AddStringToObject(res, "source", fx->s2);
    oncall_followups(fx);
    const char *sched = eff_str(fx->payload, "schedule");
    char *tl = strcmp(fx->s2, "pagerduty") == 0
                   ? xasprintf("on call now: %s (PagerDuty schedule %s)", fx->s1, sched ? sched : "?")
                   : xasprintf("on call now: %s (fallback user)", fx->s1);
    cJSON_AddStringToObject(res, "timeline", tl);
    free(tl);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "set_owner")))
        cJSON_AddStringToObject(eff_result_incident(fx), "owner", fx->s1);
    eff_done(fx);
}

/* The reply went out (or could not): the lookup's outcome stands either
 * way, a lost answer is not worth doing the lookup again. */
static void oncall_reply_posted(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        struct effect_result m;
        char err[128];
        eff_outcome_api(r, false, &m, err, sizeof(err));
        LOG_WARN("pd.oncall: reply not posted", "job:l error:s", (long long)fx->job_id, err);
        cJSON_AddStringToObject(eff_result(fx), "reply_error", err);
    }
    if (fx->s1)
        oncall_finish_done(fx);
    else
        eff_fail(fx, "nobody on call found");
}

static void oncall_reply_url_posted(struct fx *fx, const struct http_response *resp)
{
    if (!(resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299)) {
        LOG_WARN("pd.oncall: reply not posted", "job:l status:l", (long long)fx->job_id, (long long)resp->status);
        cJSON_AddStringToObject(eff_result(fx), "reply_error", "response_url");
    }
    if (fx->s1)
        oncall_finish_done(fx);
    else
        eff_fail(fx, "nobody on call found");
}

static char *oncall_text(const struct fx *fx)
{
    char *text;
    if (!fx->s1)
        text = xstrdup("I could not find who is on call: PagerDuty did not say and no secops fallback_user "
                       "is configured. Page the security on-call by hand.");
    else if (strcmp(fx->s2, "pagerduty") == 0)
        text = xasprintf("On call now: <@%s> (from the PagerDuty schedule).", fx->s1);
    else
        text = xasprintf("On call now: <@%s> (fallback: the configured secops user; PagerDuty could not tell).",
                         fx->s1);
    return text;
}

static void oncall_reply_checked(struct fx *fx, const char *found_ts)
{
    if (found_ts) {
        cJSON_AddStringToObject(eff_result(fx), "reply_ts", found_ts);
        if (fx->s1)
            oncall_finish_done(fx);
        else
            eff_fail(fx, "nobody on call found");
        return;
    }
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(fx->payload, "reply");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", eff_str(reply, "channel"));
    char *text = oncall_text(fx);
    cJSON_AddStringToObject(args, "text", text);
    free(text);
    const char *ts = eff_str(reply, "thread_ts");
    if (ts)
        cJSON_AddStringToObject(args, "thread_ts", ts);
    cJSON *md = eff_post_metadata(fx);
    if (md)
        cJSON_AddItemToObject(args, "metadata", md);
    eff_slack(fx, "chat.postMessage", args, false, true, oncall_reply_posted);
}

/* Posts the answer where the payload's "reply" says, then finishes. */
static void oncall_reply(struct fx *fx)
{
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(fx->payload, "reply");
    char *text = oncall_text(fx);
    const char *url = eff_str(reply, "url");
    const char *channel = eff_str(reply, "channel");
    if (url) {
        cJSON *body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "response_type", "ephemeral");
        cJSON_AddStringToObject(body, "text", text);
        free(text);
        eff_http_post(fx, url, body, true, oncall_reply_url_posted);
        return;
    }
    if (channel) {
        free(text);
        /* After a crash (maybe_sent) the reply may be there already. */
        eff_slack_find_posted(fx, channel, eff_str(reply, "thread_ts"), oncall_reply_checked);
        return;
    }
    free(text);
    if (fx->s1)
        oncall_finish_done(fx);
    else
        eff_fail(fx, "nobody on call found");
}

static void oncall_found(struct fx *fx, const char *user, const char *source)
{
    free(fx->s1);
    free(fx->s2);
    fx->s1 = user ? xstrdup(user) : NULL;
    fx->s2 = xstrdup(source);
    if (oncall_has_reply(fx)) {
        oncall_reply(fx);
        return;
    }
    if (fx->s1)
        oncall_finish_done(fx);
    else
        eff_fail(fx, "nobody on call found");
}

/* PagerDuty / Slack could not tell who: the fallback user, if any. */
static void oncall_fallback(struct fx *fx, const char *why)
{
    LOG_INFO("pd.oncall: using the fallback user", "job:l reason:s", (long long)fx->job_id, why);
    oncall_found(fx, eff_str(fx->payload, "fallback_user"), "fallback");
}

/* A transient failure (429, 5xx, network): retry when nobody waits and the
 * job is young, else fall back. */
static void oncall_transient(struct fx *fx, const struct effect_result *m, const char *why)
{
    int64_t age = fx->job_created_ms > 0 ? clock_now_ms() - fx->job_created_ms : 0;
    if (!oncall_has_reply(fx) && age < ONCALL_RETRY_WINDOW_MS) {
        /* A lookup changes nothing remotely: never maybe_sent. */
        eff_finish(fx, EFFECT_RETRY, m->retry_after_ms, false, "%s", why);
        return;
    }
    oncall_fallback(fx, why);
}

static void oncall_looked_up(struct fx *fx, const struct api_result *r)
{
    if (r->err == API_ECANCELED) {
        eff_finish(fx, EFFECT_RETRY, -1, false, "canceled");   /* shutting down */
        return;
    }
    if (r->err == API_OK) {
        const char *id = eff_str(cJSON_GetObjectItemCaseSensitive(r->json, "user"), "id");
        if (id) {
            oncall_found(fx, id, "pagerduty");
            return;
        }
        oncall_fallback(fx, "users.lookupByEmail: no user id");
        return;
    }
    struct effect_result m;
    char err[128];
    eff_outcome_api(r, false, &m, err, sizeof(err));
    if (m.outcome == EFFECT_RETRY)
        oncall_transient(fx, &m, err);
    else
        oncall_fallback(fx, err);   /* users_not_found and the like */
}

const char *eff_pd_first_email(const cJSON *j)
{
    const cJSON *oncalls = cJSON_GetObjectItemCaseSensitive(j, "oncalls");
    const cJSON *o;
    cJSON_ArrayForEach(o, oncalls) {
        const char *email = eff_str(cJSON_GetObjectItemCaseSensitive(o, "user"), "email");
        if (email)
            return email;
    }
    return NULL;
}

static void oncall_listed(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299) {
        cJSON *j = eff_parse(resp);
        const char *email = eff_pd_first_email(j);
        if (!email) {
            cJSON_Delete(j);
            oncall_fallback(fx, "pagerduty: nobody on call in the schedule");
            return;
        }
        cJSON *args = cJSON_CreateObject();
        cJSON_AddStringToObject(args, "email", email);
        cJSON_Delete(j);
        eff_slack(fx, "users.lookupByEmail", args, true, false, oncall_looked_up);
        return;
    }
    struct effect_result m;
    char err[256];
    eff_outcome_http(resp, false, "pagerduty", &m, err, sizeof(err));
    if (resp->err == HTTP_ECANCELED) {
        eff_finish(fx, EFFECT_RETRY, -1, false, "canceled");   /* shutting down */
        return;
    }
    if (m.outcome == EFFECT_RETRY)
        oncall_transient(fx, &m, err);
    else
        oncall_fallback(fx, err);   /* 401, 403, 400: PagerDuty will not tell */
}


void eff_pd_oncall(struct fx *fx)
{
    const char *schedule = eff_str(fx->payload, "schedule");
    if (!schedule) {
        oncall_fallback(fx, "no PagerDuty schedule configured");
        return;
    }
    const char *why;
    /* Someone waiting for a reply: fall back soon. */
    if (pd_rest_get(fx, "/oncalls?schedule_ids%5B%5D=", schedule, "&include%5B%5D=users&earliest=true",
                    oncall_has_reply(fx) ? 5000 : 15000, oncall_listed, &why) != 0)
        oncall_fallback(fx, why);
}

/* ---- pd.page_status ----
 * Was the page of dedup_key seen?  GET /incidents?incident_key=<key>
 * (date_range=all: an old key is found too), the newest incident of the
 * key.  Acknowledged: its first acknowledgement ({at, acknowledger.summary});
 * resolved in PagerDuty without one: last_status_change_{at,by}.  Either
 * goes into the result as "page_ack" (the outbox records it on the round)
 * with "wake" (the handler's timer, due now, so it is said at once).  A
 * lookup changes nothing remotely, so it is never maybe_sent; 429 waits for
 * Retry-After, 5xx and network errors take the outbox backoff. */

static int two(const char *p)
{
    return (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

int64_t eff_pd_parse_time(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM|+HHMM) */
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':'
        || s[16] != ':')
        return 0;
    int y1 = two(s), y2 = two(s + 2), mo = two(s + 5), d = two(s + 8), h = two(s + 11), mi = two(s + 14),
        se = two(s + 17);
    if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59
        || se < 0 || se > 60)
        return 0;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        for (; digits < 3 && digits > 0; digits++)
            ms *= 10;
    }
    long off = 0;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && two(p + 1) >= 0) {
        int oh = two(p + 1);
        const char *q = p + 3;
        if (*q == ':')
            q++;
        int om = two(q);
        if (om < 0 || q[2] != '\0' || oh > 23 || om > 59)
            return 0;
        off = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
    } else {
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y1 * 100 + y2 - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    return ((int64_t)t - off) * 1000 + ms;
}

/* The newest incident of the list (created_at, ISO 8601: the latest time). */
static const cJSON *newest_incident(const cJSON *incidents)
{
    const cJSON *best = NULL;
    int64_t best_t = -1;
    const cJSON *i;
    cJSON_ArrayForEach(i, incidents) {
        if (!cJSON_IsObject(i))
            continue;
        int64_t t = eff_pd_parse_time(eff_str(i, "created_at"));
        if (!best || t >= best_t) {
            best = i;
            best_t = t;
        }
    }
    return best;
}

int eff_pd_page_seen(const cJSON *j, int64_t *at_ms, const char **by, const char **how)
{
    *at_ms = 0;
    *by = *how = NULL;
    const cJSON *inc = newest_incident(cJSON_GetObjectItemCaseSensitive(j, "incidents"));
    if (!inc)
        return 0;
    const char *status = eff_str(inc, "status");
    if (status && strcmp(status, "acknowledged") == 0) {
        const cJSON *a, *first = NULL;
        int64_t first_t = 0;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(inc, "acknowledgements")) {
            int64_t t = eff_pd_parse_time(eff_str(a, "at"));
            if (t > 0 && (!first || t < first_t)) {
                first = a;
                first_t = t;
            }
        }
        if (!first) {   /* acknowledged, but no usable time: when the status changed */
            first_t = eff_pd_parse_time(eff_str(inc, "last_status_change_at"));
            *by = eff_str(cJSON_GetObjectItemCaseSensitive(inc, "last_status_change_by"), "summary");
        } else {
            *by = eff_str(cJSON_GetObjectItemCaseSensitive(first, "acknowledger"), "summary");
        }
        if (first_t <= 0)
            return 0;
        *at_ms = first_t;
        *how = "acknowledged";
        return 1;
    }
    if (status && strcmp(status, "resolved") == 0) {
        int64_t t = eff_pd_parse_time(eff_str(inc, "resolved_at"));
        if (t <= 0)
            t = eff_pd_parse_time(eff_str(inc, "last_status_change_at"));
        if (t <= 0)
            return 0;
        *at_ms = t;
        *by = eff_str(cJSON_GetObjectItemCaseSensitive(inc, "last_status_change_by"), "summary");
        *how = "resolved";
        return 1;
    }
    return 0;
}

static void page_status_read(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299) {
        cJSON *j = eff_parse(resp);
        if (!cJSON_IsObject(j) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "incidents"))) {
            cJSON_Delete(j);
            eff_finish(fx, EFFECT_RETRY, -1, false, "pagerduty: no incidents list in the answer");
            return;
        }
        int64_t at = 0;
        const char *by = NULL, *how = NULL;
        cJSON *res = eff_result(fx);
        if (eff_pd_page_seen(j, &at, &by, &how)) {
            cJSON *pa = cJSON_AddObjectToObject(res, "page_ack");
            cJSON_AddStringToObject(pa, "dedup_key", eff_str(fx->payload, "dedup_key"));
            cJSON_AddNumberToObject(pa, "at_ms", (double)at);
            char *name = mask_secrets(by ? by : "someone");
            cJSON_AddStringToObject(pa, "by", name);
            free(name);
            cJSON_AddStringToObject(pa, "how", how);
            const cJSON *wake = cJSON_GetObjectItemCaseSensitive(fx->payload, "wake");
            if (cJSON_IsObject(wake))
                cJSON_AddItemToObject(res, "wake", cJSON_Duplicate(wake, 1));
            cJSON_AddStringToObject(res, "status", how);
        } else {
            cJSON_AddStringToObject(res, "status",
                                    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "incidents")) > 0
                                        ? "triggered" : "not_found");
        }
        cJSON_Delete(j);
        eff_done(fx);
        return;
    }
    struct effect_result m;
    char err[256];
    eff_outcome_http(resp, false, "pagerduty", &m, err, sizeof(err));
    eff_finish(fx, m.outcome, m.retry_after_ms, false, "%s", err);
}

void eff_pd_page_status(struct fx *fx)
{
    const char *dedup = eff_str(fx->payload, "dedup_key");
    if (!dedup) {
        eff_fail(fx, "bad payload: no dedup_key");
        return;
    }
    const char *why;
    int rc = pd_rest_get(fx, "/incidents?incident_key=", dedup, "&date_range=all", 15000, page_status_read, &why);
    if (rc > 0)
        eff_fail(fx, "%s", why);
    else if (rc < 0)
        eff_finish(fx, EFFECT_RETRY, -1, false, "%s", why);
}
