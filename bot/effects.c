/* effects: dispatch by op name, the per-effect context (struct fx) and its
 * completion, the outcome rules, and the request plumbing the ops share
 * (Slack via slack_api with no_retry, GitLab and PagerDuty via http).  The
 * ops live in effects_slack.c, effects_gitlab.c and effects_pd.c; the one
 * op table here (ops[]) lists each with everything the outbox treats
 * differently by op: a new op is one line there.
 * A context is freed right after its done callback returns (or in its
 * timer's close callback when completion had to be deferred out of
 * effect_start); nothing touches it afterwards. */
#include "effects.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "mask.h"
#include "slack_api.h"
#include "store.h"
#include "util.h"

#define FX_HTTP_TIMEOUT_MS 15000L
#define FX_MAX_RESPONSE ((size_t)4 << 20)

/* ---- the op table ---- */

/* A trigger_id lives 3 s: a modal that could not open by then never will. */
#define VIEWS_OPEN_TTL_MS 2500

/* Alphabetical.  Quiet ops: notices themselves, a poll repeated every minute
 * while it matters (pd.page_status), or ops whose user sees Slack's own
 * error.  notice_dm: the op makes the incident channel usable, so its
 * failure notice goes to the reporter instead. */
static const struct effect_op ops[] = {
    /* name, start, what (failure notices), quiet, notice_dm, ttl_ms, retry */
    { "gitlab.add_members",    eff_gitlab_add_members,    "adding members to the GitLab project",    false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.create_issue",   eff_gitlab_create_issue,   "creating the confidential GitLab issue",  false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.create_project", eff_gitlab_create_project, "creating the private GitLab project",     false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.issue_state",    eff_gitlab_issue_state,    "closing or reopening the GitLab issue",   false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.link",           eff_gitlab_link,           "linking an existing GitLab issue",        false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.note",           eff_gitlab_note,           "adding a note to the GitLab issue",       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.update_issue",   eff_gitlab_update_issue,   "updating the GitLab issue's labels",      false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.oncall",             eff_pd_oncall,             "finding the secops on-call (PagerDuty)",  false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.page_status",        eff_pd_page_status,        "reading the page's status (PagerDuty)",   true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.resolve",            eff_pd_resolve,            "resolving the PagerDuty incident",        false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.trigger",            eff_pd_trigger,            "paging the security on-call (PagerDuty)", false, false, 0,                 EFFECT_CLASS_PAGE },
    { "slack.create_channel",  eff_slack_create_channel,  "creating the private Slack channel",      false, true,  0,                 EFFECT_CLASS_DEFAULT },
    { "slack.dm",              eff_slack_dm,              "sending a direct message",                false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.ephemeral",       eff_slack_ephemeral,       "showing a message only you can see",      true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_bytes",      eff_slack_file_bytes,      "uploading a file's content to Slack",     false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_complete",   eff_slack_file_complete,   "sharing an uploaded file in Slack",       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_upload",     eff_slack_file_upload,     "uploading a file to Slack",               false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.invite",          eff_slack_invite,          "inviting people to the incident channel", false, true,  0,                 EFFECT_CLASS_DEFAULT },
    { "slack.post",            eff_slack_post,            "posting a message",                       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.response_url",    eff_slack_response_url,    "answering a slash command",               true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.views_open",      eff_slack_views_open,      "opening a form",                          true,  false, VIEWS_OPEN_TTL_MS, EFFECT_CLASS_DEFAULT },
};

const struct effect_op *effect_op_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(ops); i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

const struct effect_op *effect_op_at(size_t i)
{
    return i < ARRAY_LEN(ops) ? &ops[i] : NULL;
}

bool effect_known(const char *op)
{
    return effect_op_find(op) != NULL;
}

enum effect_retry_class effect_retry_class(const char *op)
{
    const struct effect_op *e = effect_op_find(op);
    return e ? e->retry : EFFECT_CLASS_DEFAULT;
}

char *effect_channel_url(const struct sirt_app *app, const char *channel_id)
{
    if (!app || !app->team_url[0] || !channel_id || !channel_id[0])
        return NULL;
    size_t n = strlen(app->team_url);
    return xasprintf("%s%sarchives/%s", app->team_url, app->team_url[n - 1] == '/' ? "" : "/",
                     channel_id);
}

/* ---- context lifetime and completion ---- */

static void eff_free(struct fx *fx)
{
    cJSON_Delete(fx->payload);
    cJSON_Delete(fx->result);
    cJSON_Delete(fx->work);
    free(fx->inc_channel_id);
    free(fx->inc_issue_url);
    free(fx->s1);
    free(fx->s2);
    free(fx->idem_key);
    free(fx->scan.channel);
    free(fx->scan.thread_ts);
    free(fx->scan.cursor);
    cJSON_Delete(fx->names.ids);
    cJSON_Delete(fx->names.map);
    free(fx);
}

static void on_timer_closed(uv_handle_t *h)
{
    eff_free(container_of((uv_timer_t *)h, struct fx, timer));
}

static const char *outcome_name(enum effect_outcome o)
{
    return o == EFFECT_DONE ? "done" : o == EFFECT_RETRY ? "retry" : "fail";
}

static void deliver(struct fx *fx)
{
    const struct effect_result *r = &fx->res;
    if (r->outcome == EFFECT_DONE)
        LOG_DEBUG("effect done", "op:s job:l incident:l", fx->op, (long long)fx->job_id,
                  (long long)fx->incident_id);
    else
        LOG_INFO("effect not done", "op:s job:l incident:l outcome:s error:s retry_after_ms:l maybe_sent:b",
                 fx->op, (long long)fx->job_id, (long long)fx->incident_id,
                 outcome_name(r->outcome), r->error, (long long)r->retry_after_ms, (int)r->maybe_sent);
    fx->done(fx->ud, r);
    if (fx->timer_used)
        uv_close((uv_handle_t *)&fx->timer, on_timer_closed);
    else
        eff_free(fx);
}

static void on_defer(uv_timer_t *t)
{
    deliver(container_of(t, struct fx, timer));
}

static void finish_v(struct fx *fx, enum effect_outcome outcome, long retry_after_ms, bool maybe_sent,
                     const char *fmt, va_list ap)
{
    if (fx->finished || fx->pending) {
        LOG_ERROR("effect finished twice or with a request in flight", "op:s job:l",
                  fx->op, (long long)fx->job_id);
        return;
    }
    fx->finished = true;
    if (fmt)
        vsnprintf(fx->error, sizeof(fx->error), fmt, ap);
    else
        fx->error[0] = '\0';
    memset(&fx->res, 0, sizeof(fx->res));
    fx->res.outcome = outcome;
    fx->res.error = outcome == EFFECT_DONE ? "" : fx->error;
    fx->res.retry_after_ms = outcome == EFFECT_RETRY ? retry_after_ms : -1;
    fx->res.maybe_sent = outcome == EFFECT_RETRY && maybe_sent;
    fx->res.result = fx->result;
    if (fx->in_start) {
        /* done must never run inside effect_start. */
        uv_timer_init(fx->app->loop, &fx->timer);
        fx->timer_used = true;
        uv_timer_start(&fx->timer, on_defer, 0, 0);
        return;
    }
    deliver(fx);
}

void eff_finish(struct fx *fx, enum effect_outcome outcome, long retry_after_ms, bool maybe_sent,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish_v(fx, outcome, retry_after_ms, maybe_sent, fmt, ap);
    va_end(ap);
}

void eff_done(struct fx *fx)
{
    /* An optional "timeline" in the payload names the entry for ops that
     * have none of their own (e.g. a hand-off DM). */
    const char *tl = eff_str(fx->payload, "timeline");
    if (tl && !cJSON_GetObjectItemCaseSensitive(fx->result, "timeline"))
        cJSON_AddStringToObject(eff_result(fx), "timeline", tl);
    eff_finish(fx, EFFECT_DONE, -1, false, NULL);
}

void eff_fail(struct fx *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish_v(fx, EFFECT_FAIL, -1, false, fmt, ap);
    va_end(ap);
}

void eff_wait(struct fx *fx, const char *what)
{
    eff_finish(fx, EFFECT_RETRY, -1, false, "waiting for %s", what);
}

static void finish_mapped(struct fx *fx, struct effect_result *m)
{
    if (m->outcome == EFFECT_DONE) {   /* callers only pass failures; be safe */
        eff_done(fx);
        return;
    }
    bool maybe = m->maybe_sent || fx->job_maybe_sent;
    char err[sizeof(fx->error)];
    str_lcpy(err, m->error, sizeof(err));
    eff_finish(fx, m->outcome, m->retry_after_ms, maybe, "%s", err);
}

void eff_finish_api(struct fx *fx, const struct api_result *r)
{
    struct effect_result m;
    char err[sizeof(fx->error)];
    eff_outcome_api(r, fx->mutating, &m, err, sizeof(err));
    finish_mapped(fx, &m);
}

void eff_finish_http(struct fx *fx, const struct http_response *resp, const char *service)
{
    struct effect_result m;
    char err[sizeof(fx->error)];
    eff_outcome_http(resp, fx->mutating, service, &m, err, sizeof(err));
    finish_mapped(fx, &m);
}

/* ---- outcome rules ---- */

bool eff_slack_error_retryable(const char *code)
{
    /* Slack's documented transient errors; every other ok:false code
     * (channel_not_found, invalid_blocks, missing_scope, ...) is the same
     * on the next try. */
    static const char *const retry[] = {
        "ratelimited", "rate_limited", "internal_error", "fatal_error",
        "service_unavailable", "request_timeout", "team_added_to_org",
    };
    for (size_t i = 0; code && i < ARRAY_LEN(retry); i++)
        if (strcmp(code, retry[i]) == 0)
            return true;
    return false;
}

static long secs_to_ms(long s)
{
    if (s < 0)
        return -1;
    if (s > 86400)
        s = 86400;
    return s * 1000;
}

static void set_out(struct effect_result *out, enum effect_outcome o, long retry_after_ms,
                    bool maybe_sent, char *errbuf)
{
    memset(out, 0, sizeof(*out));
    out->outcome = o;
    out->retry_after_ms = o == EFFECT_RETRY ? retry_after_ms : -1;
    out->maybe_sent = o == EFFECT_RETRY && maybe_sent;
    out->error = o == EFFECT_DONE ? "" : errbuf;
}

void eff_outcome_api(const struct api_result *r, bool mutating, struct effect_result *out,
                    char *errbuf, size_t errlen)
{
    const char *code = r->error && r->error[0] ? r->error : api_strerror(r->err);
    errbuf[0] = '\0';
    switch (r->err) {
    case API_OK:
        set_out(out, EFFECT_DONE, -1, false, errbuf);
        return;
    case API_ESLACK:
        /* Slack's code comes from the response: cut whole characters only. */
        snprintf(errbuf, errlen, "%.*s", (int)str_utf8_prefix(code, errlen - 1), code);
        if (!eff_slack_error_retryable(code)) {
            set_out(out, EFFECT_FAIL, -1, false, errbuf);
        } else {
            /* internal_error / fatal_error: Slack may have done part of it. */
            bool maybe = mutating && (strcmp(code, "internal_error") == 0 ||
                                      strcmp(code, "fatal_error") == 0);
            long after = strstr(code, "rate") ? secs_to_ms(r->retry_after_s) : -1;
            set_out(out, EFFECT_RETRY, after, maybe, errbuf);
        }
        return;
    case API_ERATELIMITED:
        snprintf(errbuf, errlen, "ratelimited");
        set_out(out, EFFECT_RETRY, secs_to_ms(r->retry_after_s), false, errbuf);
        return;
    case API_EHTTP:
        snprintf(errbuf, errlen, "http_%ld", r->http_status);
        if (r->http_status == 429)
            set_out(out, EFFECT_RETRY, secs_to_ms(r->retry_after_s), false, errbuf);
        else if (r->http_status == 408)
            set_out(out, EFFECT_RETRY, -1, false, errbuf);
        else if (r->http_status >= 500 && r->http_status <= 599)   /* a 503 may say when */
            set_out(out, EFFECT_RETRY, secs_to_ms(r->retry_after_s), mutating, errbuf);
        else
            set_out(out, EFFECT_FAIL, -1, false, errbuf);
        return;
    case API_ENET:
        snprintf(errbuf, errlen, "%s", code);
        if (strcmp(code, "invalid_request") == 0)
            set_out(out, EFFECT_FAIL, -1, false, errbuf);
        else
            set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    case API_EBADJSON:
        snprintf(errbuf, errlen, "bad_json");
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    case API_ECANCELED:
    default:
        snprintf(errbuf, errlen, "canceled");
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    }
}

/* A short, masked summary of an error body: GitLab's "message"/"error",
 * PagerDuty's "message" + first of "errors". */
static void body_summary(const struct http_response *resp, char *out, size_t outlen)
{
    out[0] = '\0';
    cJSON *j = resp->body_len ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    const char *keys[] = { "message", "error", "errors" };
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!v)
            continue;
        if (cJSON_IsArray(v))
            v = cJSON_GetArrayItem(v, 0);
        if (b.len)
            buf_puts(&b, "; ");
        if (cJSON_IsString(v)) {
            buf_puts(&b, v->valuestring);
        } else if (v) {
            char *s = cJSON_PrintUnformatted(v);
            if (s)
                buf_puts(&b, s);
            cJSON_free(s);
        }
    }
    cJSON_Delete(j);
    if (b.len) {
        char *m = mask_secrets(b.data);
        snprintf(out, outlen, "%.*s", (int)str_utf8_prefix(m, outlen - 1 < 160 ? outlen - 1 : 160), m);
        free(m);
    }
    buf_finish(&b);
}

void eff_outcome_http(const struct http_response *resp, bool mutating, const char *service,
                     struct effect_result *out, char *errbuf, size_t errlen)
{
    errbuf[0] = '\0';
    switch (resp->err) {
    case HTTP_OK:
        break;
    case HTTP_ECANCELED:
        snprintf(errbuf, errlen, "canceled");
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    case HTTP_EINVAL:
        snprintf(errbuf, errlen, "%s: invalid request", service);
        set_out(out, EFFECT_FAIL, -1, false, errbuf);
        return;
    case HTTP_ETIMEDOUT:
        snprintf(errbuf, errlen, "%s: timeout", service);
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    case HTTP_ETOOBIG:
        snprintf(errbuf, errlen, "%s: response too large", service);
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    default:
        snprintf(errbuf, errlen, "%s: network error", service);
        set_out(out, EFFECT_RETRY, -1, mutating, errbuf);
        return;
    }
    long st = resp->status;
    if (st >= 200 && st <= 299) {
        set_out(out, EFFECT_DONE, -1, false, errbuf);
        return;
    }
    char msg[200];
    body_summary(resp, msg, sizeof(msg));
    char full[sizeof(msg) + 64];
    snprintf(full, sizeof(full), "%s http_%ld%s%s", service, st, msg[0] ? ": " : "", msg);
    snprintf(errbuf, errlen, "%.*s", (int)str_utf8_prefix(full, errlen - 1), full);
    if (st == 429)
        set_out(out, EFFECT_RETRY, secs_to_ms(resp->retry_after_s), false, errbuf);
    else if (st == 408)   /* the server timed out reading the request: not applied */
        set_out(out, EFFECT_RETRY, -1, false, errbuf);
    else if (st >= 500 && st <= 599)   /* a 503 may say when */
        set_out(out, EFFECT_RETRY, secs_to_ms(resp->retry_after_s), mutating, errbuf);
    else
        set_out(out, EFFECT_FAIL, -1, false, errbuf);
}

/* ---- requests ---- */

static void on_api(void *ud, const struct api_result *r)
{
    struct fx *fx = ud;
    fx->pending = false;
    eff_api_fn cb = fx->api_cb;
    fx->api_cb = NULL;
    cb(fx, r);
}

static void slack_call(struct fx *fx, const char *method, cJSON *args, bool get, bool form, bool mutating,
                       eff_api_fn cb)
{
    struct api_opts o;
    memset(&o, 0, sizeof(o));
    o.no_retry = true;
    o.get = get;
    o.form = form;
    fx->api_cb = cb;
    fx->mutating = mutating;
    fx->pending = true;
    int rc = fx->app->api ? api_call_opts(fx->app->api, method, args, &o, on_api, fx) : API_ECANCELED;
    cJSON_Delete(args);
    if (rc != 0) {
        fx->pending = false;
        fx->api_cb = NULL;
        eff_finish(fx, EFFECT_RETRY, -1, fx->job_maybe_sent, "canceled");
    }
}

void eff_slack(struct fx *fx, const char *method, cJSON *args, bool get, bool mutating, eff_api_fn cb)
{
    slack_call(fx, method, args, get, false, mutating, cb);
}

void eff_slack_form(struct fx *fx, const char *method, cJSON *args, bool mutating, eff_api_fn cb)
{
    slack_call(fx, method, args, false, true, mutating, cb);
}

static void on_http(void *ud, const struct http_response *resp)
{
    struct fx *fx = ud;
    fx->pending = false;
    eff_http_fn cb = fx->http_cb;
    fx->http_cb = NULL;
    cb(fx, resp);
}

bool eff_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int eff_http_send_raw(struct fx *fx, const char *method, const char *url, const char *const *headers,
                      const char *body, size_t body_len, bool mutating, long timeout_ms, eff_http_fn cb)
{
    struct http_request req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? body_len : 0;
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : FX_HTTP_TIMEOUT_MS;
    req.max_response = FX_MAX_RESPONSE;
    fx->http_cb = cb;
    fx->mutating = mutating;
    fx->pending = true;
    int rc = fx->app->http ? http_send(fx->app->http, &req, on_http, fx) : HTTP_EINVAL;
    if (rc != 0) {
        fx->pending = false;
        fx->http_cb = NULL;
    }
    return rc;
}

int eff_http_send(struct fx *fx, const char *method, const char *url, const char *const *headers, cJSON *body,
                  bool mutating, long timeout_ms, eff_http_fn cb)
{
    char *text = NULL;
    if (body) {
        text = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
    }
    int rc = eff_http_send_raw(fx, method, url, headers, text, text ? strlen(text) : 0, mutating, timeout_ms, cb);
    if (text)
        cJSON_free(text);
    return rc;
}

static void send_http(struct fx *fx, const char *method, const char *url, const char *const *headers,
                      cJSON *body, bool mutating, eff_http_fn cb)
{
    if (eff_http_send(fx, method, url, headers, body, mutating, 0, cb) != 0)
        eff_finish(fx, EFFECT_RETRY, -1, fx->job_maybe_sent, "canceled");
}

static bool url_ok(const char *url)
{
    return url && (str_starts(url, "http://") || str_starts(url, "https://")) && !eff_has_ctl(url);
}

void eff_gitlab(struct fx *fx, const char *method, const char *path, cJSON *body, bool mutating,
               eff_http_fn cb)
{
    const struct cfg *cfg = fx->app->cfg;
    const char *base = cfg ? cfg->gitlab_url : NULL;
    const char *token = cfg ? cfg->gitlab_token : NULL;
    if (!base || !base[0]) {
        cJSON_Delete(body);
        eff_fail(fx, "gitlab disabled: GITLAB_URL is not set");
        return;
    }
    if (!token || !token[0] || eff_has_ctl(token)) {
        cJSON_Delete(body);
        eff_fail(fx, "gitlab disabled: GITLAB_TOKEN is not set or invalid");
        return;
    }
    if (!url_ok(base)) {
        cJSON_Delete(body);
        eff_fail(fx, "gitlab: GITLAB_URL is not an http(s) URL");
        return;
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = xasprintf("%.*s/api/v4%s", (int)n, base, path);
    char *auth = xasprintf("PRIVATE-TOKEN: %s", token);
    const char *hdrs[] = { auth, "Content-Type: application/json", "Accept: application/json", NULL };
    send_http(fx, method, url, hdrs, body, mutating, cb);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
}

void eff_http_post(struct fx *fx, const char *url, cJSON *body, bool mutating, eff_http_fn cb)
{
    if (!url_ok(url)) {
        cJSON_Delete(body);
        eff_fail(fx, "invalid url");
        return;
    }
    const char *hdrs[] = { "Content-Type: application/json", "Accept: application/json", NULL };
    send_http(fx, "POST", url, hdrs, body ? body : cJSON_CreateObject(), mutating, cb);
}

/* ---- helpers ---- */

const char *eff_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int64_t eff_int(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble)
        return 0;
    if (v->valuedouble > 9.0e15 || v->valuedouble < -9.0e15)
        return 0;
    return (int64_t)v->valuedouble;
}

cJSON *eff_result(struct fx *fx)
{
    if (!fx->result)
        fx->result = cJSON_CreateObject();
    return fx->result;
}

cJSON *eff_result_incident(struct fx *fx)
{
    cJSON *r = eff_result(fx);
    cJSON *i = cJSON_GetObjectItemCaseSensitive(r, "incident");
    if (!cJSON_IsObject(i))
        i = cJSON_AddObjectToObject(r, "incident");
    return i;
}

char *eff_urlenc_cat(const char *prefix, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, prefix ? prefix : "");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf_append(&b, p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            buf_append(&b, e, 3);
        }
    }
    return buf_take(&b);
}

cJSON *eff_parse(const struct http_response *resp)
{
    if (!resp->body || !resp->body_len)
        return NULL;
    return cJSON_ParseWithLength(resp->body, resp->body_len);
}

/* ---- start ---- */

static char *masked(const char *s)
{
    return s && s[0] ? mask_secrets(s) : NULL;
}

void effect_start(struct sirt_app *app, const struct outbox_job *job, cJSON *payload,
                  const struct incident *inc, effect_done_fn done, void *ud)
{
    struct fx *fx = xcalloc(1, sizeof(*fx));
    fx->app = app;
    fx->done = done;
    fx->ud = ud;
    fx->op = "unknown";
    fx->job_id = job ? job->id : 0;
    fx->incident_id = job && job->incident_id ? job->incident_id : inc ? inc->id : 0;
    fx->job_created_ms = job ? job->created_ms : 0;
    fx->job_first_ms = job ? job->first_due_ms : 0;
    fx->job_maybe_sent = job && job->maybe_sent;
    fx->idem_key = xstrdup(job && job->idem_key ? job->idem_key : "");
    if (cJSON_IsObject(payload)) {
        fx->payload = payload;
    } else {
        cJSON_Delete(payload);
        fx->payload = cJSON_CreateObject();
    }
    if (inc) {
        fx->inc_channel_id = masked(inc->channel_id);
        fx->inc_project_id = inc->gitlab_project_id;
        fx->inc_issue_iid = inc->gitlab_issue_iid;
        fx->inc_issue_url = masked(inc->gitlab_issue_url);
        fx->inc_severity = inc->severity;
        fx->inc_priority = inc->priority;
    }
    fx->in_start = true;

    const struct effect_op *op = effect_op_find(job ? job->op : NULL);
    void (*start)(struct fx *) = op ? op->start : NULL;
    if (op)
        fx->op = op->name;
    LOG_DEBUG("effect start", "op:s job:l incident:l maybe_sent:b", fx->op, (long long)fx->job_id,
              (long long)fx->incident_id, (int)fx->job_maybe_sent);
    if (!app || !app->loop) {
        /* Nothing to defer on: a programming error, never a normal path. */
        LOG_ERROR("effect_start without a loop", "op:s", fx->op);
        eff_free(fx);
        return;
    }
    if (!start)
        eff_fail(fx, "unknown op");
    else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->payload, "names")))
        eff_names_then(fx, start);   /* {{user.<id>}} -> names first */
    else
        start(fx);
    /* fx is still alive here: anything finished inside start was deferred. */
    fx->in_start = false;
}
