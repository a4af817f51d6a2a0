/* effects_gitlab: the gitlab.* ops (see effects.h), over GitLab REST v4
 * with PRIVATE-TOKEN.  Creation ops reconcile instead of duplicating: a
 * taken project name adopts the existing project; with maybe_sent an issue
 * or note carrying the job's marker is taken as already created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "config.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define GITLAB_DEFAULT_ACCESS 30     /* Developer */
#define RECONCILE_PAGE 100

bool eff_gitlab_answer_ok(struct fx *fx, const struct http_response *resp, eff_gitlab_refused_fn refused,
                          const char *what)
{
    if (resp->err == HTTP_OK && resp->status >= 200 && resp->status <= 299)
        return true;
    if (refused && resp->err == HTTP_OK && (resp->status == 403 || resp->status == 404))
        refused(fx, resp, what);
    else
        eff_finish_http(fx, resp, "gitlab");
    return false;
}

const cJSON *eff_find_marker(const cJSON *items, const char *field, const char *marker)
{
    if (!marker || !marker[0])
        return NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        const char *text = eff_str(it, field);
        if (text && strstr(text, marker))
            return it;
    }
    return NULL;
}

void eff_gitlab_reconcile(struct fx *fx, const struct http_response *resp, const char *field,
                          bool (*found)(struct fx *fx, const cJSON *item), void (*post)(struct fx *fx))
{
    cJSON *j = eff_parse(resp);
    const cJSON *hit = eff_find_marker(j, field, eff_str(fx->payload, "marker"));
    bool taken = hit && found(fx, hit);
    cJSON_Delete(j);    /* ours, not fx's: fx may be gone by now */
    if (!taken)
        post(fx);
}

char *eff_with_marker(const char *text, const char *marker)
{
    if (!text)
        text = "";
    if (!marker || !marker[0] || strstr(text, marker))
        return xstrdup(text);
    return xasprintf("%s%s<!-- %s -->", text, text[0] ? "\n\n" : "", marker);
}

/* A label list as GitLab takes it: "a,b,c"; NULL when empty. */
static char *label_list(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring[0] ? xstrdup(v->valuestring) : NULL;
    if (!cJSON_IsArray(v))
        return NULL;
    struct buf l;
    buf_init(&l, 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
        if (cJSON_IsString(it) && it->valuestring[0])
            buf_printf(&l, "%s%s", l.len ? "," : "", it->valuestring);
    char *out = l.len ? xstrdup(l.data) : NULL;
    buf_finish(&l);
    return out;
}

/* A 2xx answer to a creating POST: capture (capture_project, capture_issue)
 * takes the thing into the result with timeline, and the job is done; an
 * answer without its id is retried, maybe_sent (the thing may exist). */
static void take_created(struct fx *fx, const struct http_response *resp,
                         bool (*capture)(struct fx *fx, const cJSON *item, const char *timeline),
                         const char *timeline, const char *bad)
{
    cJSON *j = eff_parse(resp);
    bool ok = capture(fx, j, timeline);
    cJSON_Delete(j);
    if (!ok) {
        eff_finish(fx, EFFECT_RETRY, -1, true, "%s", bad);
        return;
    }
    eff_done(fx);
}

/* ---- gitlab.create_project ---- */

static bool capture_project(struct fx *fx, const cJSON *p, const char *timeline)
{
    int64_t id = eff_int(p, "id");
    const char *path = eff_str(p, "path_with_namespace");
    const char *url = eff_str(p, "web_url");
    if (id <= 0)
        return false;
    cJSON *inc = eff_result_incident(fx);
    cJSON_AddNumberToObject(inc, "gitlab_project_id", (double)id);
    if (path)
        cJSON_AddStringToObject(inc, "gitlab_project_path", path);
    if (url)
        cJSON_AddStringToObject(inc, "gitlab_project_url", url);
    cJSON_AddStringToObject(eff_result(fx), "timeline", timeline);
    return true;
}

static const char *project_path(const struct fx *fx)
{
    const char *path = eff_str(fx->payload, "path");
    return path ? path : eff_str(fx->payload, "name");
}

static void adopt_found(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status == 404) {
        eff_fail(fx, "gitlab: project name already taken by a project not at the expected path");
        return;
    }
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    cJSON *j = eff_parse(resp);
    bool ok = capture_project(fx, j, "private GitLab project created (adopted)");
    cJSON_Delete(j);
    if (!ok) {
        eff_finish(fx, EFFECT_RETRY, -1, fx->job_maybe_sent, "gitlab: bad project response");
        return;
    }
    LOG_INFO("adopted existing GitLab project", "job:l incident:l", (long long)fx->job_id,
             (long long)fx->incident_id);
    eff_done(fx);
}

static void adopt_namespace(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    cJSON *j = eff_parse(resp);
    const char *ns = eff_str(j, "full_path");
    if (!ns)
        ns = eff_str(j, "username");     /* GET /user: the personal namespace */
    if (!ns) {
        cJSON_Delete(j);
        eff_fail(fx, "gitlab: namespace without full_path");
        return;
    }
    char *full = xasprintf("%s/%s", ns, project_path(fx));
    cJSON_Delete(j);
    char *path = eff_urlenc_cat("/projects/", full);
    free(full);
    eff_gitlab(fx, "GET", path, NULL, false, adopt_found);
    free(path);
}

static void project_created(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status == 400 && resp->body &&
        strstr(resp->body, "has already been taken")) {
        /* Ours from an earlier attempt (the path is per incident): adopt it. */
        long long ns = fx->app->cfg ? fx->app->cfg->gitlab_namespace_id : 0;
        char path[64];
        if (ns > 0)
            snprintf(path, sizeof(path), "/namespaces/%lld", ns);
        else
            snprintf(path, sizeof(path), "/user");
        eff_gitlab(fx, "GET", path, NULL, false, adopt_namespace);
        return;
    }
    if (eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        take_created(fx, resp, capture_project, "private GitLab project created", "gitlab: bad project response");
}

void eff_gitlab_create_project(struct fx *fx)
{
    if (fx->inc_project_id > 0) {
        cJSON_AddNumberToObject(eff_result(fx), "gitlab_project_id", (double)fx->inc_project_id);
        eff_done(fx);
        return;
    }
    const char *name = eff_str(fx->payload, "name");
    const char *path = eff_str(fx->payload, "path");
    if (!name && !path) {
        eff_fail(fx, "bad payload: name or path missing");
        return;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "name", name ? name : path);
    if (path)
        cJSON_AddStringToObject(b, "path", path);
    long long ns = fx->app->cfg ? fx->app->cfg->gitlab_namespace_id : 0;
    if (ns > 0)
        cJSON_AddNumberToObject(b, "namespace_id", (double)ns);
    cJSON_AddStringToObject(b, "visibility", "private");
    const char *desc = eff_str(fx->payload, "description");
    if (desc)
        cJSON_AddStringToObject(b, "description", desc);
    cJSON_AddFalseToObject(b, "initialize_with_readme");
    eff_gitlab(fx, "POST", "/projects", b, true, project_created);
}

/* ---- gitlab.create_issue ---- */

static bool capture_issue(struct fx *fx, const cJSON *issue, const char *timeline)
{
    int64_t iid = eff_int(issue, "iid");
    const char *url = eff_str(issue, "web_url");
    if (iid <= 0)
        return false;
    cJSON *inc = eff_result_incident(fx);
    cJSON_AddNumberToObject(inc, "gitlab_issue_iid", (double)iid);
    if (url)
        cJSON_AddStringToObject(inc, "gitlab_issue_url", url);
    cJSON_AddStringToObject(eff_result(fx), "timeline", timeline);
    return true;
}

static void issue_created(struct fx *fx, const struct http_response *resp)
{
    if (eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        take_created(fx, resp, capture_issue, "confidential GitLab issue created", "gitlab: bad issue response");
}

static void post_issue(struct fx *fx)
{
    const char *marker = eff_str(fx->payload, "marker");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "title", eff_str(fx->payload, "title"));
    char *desc = eff_with_marker(eff_str(fx->payload, "description"), marker);
    cJSON_AddStringToObject(b, "description", desc);
    free(desc);
    char *labels = label_list(cJSON_GetObjectItemCaseSensitive(fx->payload, "labels"));
    if (labels)
        cJSON_AddStringToObject(b, "labels", labels);
    free(labels);
    cJSON_AddTrueToObject(b, "confidential");
    char path[64];
    snprintf(path, sizeof(path), "/projects/%lld/issues", (long long)fx->inc_project_id);
    eff_gitlab(fx, "POST", path, b, true, issue_created);
}

static bool issue_found(struct fx *fx, const cJSON *issue)
{
    if (!capture_issue(fx, issue, "confidential GitLab issue created (found after retry)"))
        return false;
    LOG_INFO("issue found by marker, not creating another", "job:l incident:l", (long long)fx->job_id,
             (long long)fx->incident_id);
    eff_done(fx);
    return true;
}

static void issues_listed(struct fx *fx, const struct http_response *resp)
{
    if (eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        eff_gitlab_reconcile(fx, resp, "description", issue_found, post_issue);
}

void eff_gitlab_create_issue(struct fx *fx)
{
    if (fx->inc_project_id <= 0) {
        eff_wait(fx, "gitlab project");
        return;
    }
    if (fx->inc_issue_iid > 0) {
        cJSON_AddNumberToObject(eff_result(fx), "gitlab_issue_iid", (double)fx->inc_issue_iid);
        eff_done(fx);
        return;
    }
    if (!eff_str(fx->payload, "title")) {
        eff_fail(fx, "bad payload: title missing");
        return;
    }
    if (fx->job_maybe_sent && eff_str(fx->payload, "marker")) {
        char path[160];
        snprintf(path, sizeof(path),
                 "/projects/%lld/issues?scope=all&order_by=created_at&sort=desc&per_page=%d",
                 (long long)fx->inc_project_id, RECONCILE_PAGE);
        eff_gitlab(fx, "GET", path, NULL, false, issues_listed);
        return;
    }
    post_issue(fx);
}

/* ---- gitlab.add_members ---- */

static void next_member(struct fx *fx);

static void add_name(struct fx *fx, const char *list, const char *username)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(fx->result, list);
    cJSON_AddItemToArray(a, cJSON_CreateString(username));
}

static const char *current_user(const struct fx *fx)
{
    const cJSON *u = cJSON_GetArrayItem(fx->work, fx->n2);
    return u ? u->valuestring : NULL;
}

static void member_added(struct fx *fx, const struct http_response *resp)
{
    bool member = resp->err == HTTP_OK && resp->status == 409;   /* already a member */
    if (!member && !eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    add_name(fx, member ? "already_member" : "added", current_user(fx));
    fx->n2++;
    next_member(fx);
}

int64_t eff_gitlab_user_id(const cJSON *users, const char *username)
{
    const cJSON *u;
    const cJSON *arr = cJSON_IsArray(users) ? users : NULL;
    if (!username)
        return 0;
    cJSON_ArrayForEach(u, arr) {
        const char *name = eff_str(u, "username");
        if (name && strcasecmp(name, username) == 0 && eff_int(u, "id") > 0)
            return eff_int(u, "id");
    }
    return 0;
}

static void user_found(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    const char *want = current_user(fx);
    cJSON *j = eff_parse(resp);
    int64_t id = eff_gitlab_user_id(j, want);
    cJSON_Delete(j);
    if (id <= 0) {
        LOG_WARN("gitlab user not found, skipped", "job:l incident:l", (long long)fx->job_id,
                 (long long)fx->incident_id);
        add_name(fx, "unknown", want);
        fx->n2++;
        next_member(fx);
        return;
    }
    int64_t level = eff_int(fx->payload, "access_level");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "user_id", (double)id);
    cJSON_AddNumberToObject(b, "access_level", (double)(level > 0 ? level : GITLAB_DEFAULT_ACCESS));
    char path[64];
    snprintf(path, sizeof(path), "/projects/%lld/members", (long long)fx->inc_project_id);
    eff_gitlab(fx, "POST", path, b, true, member_added);
}

static void members_timeline(struct fx *fx)
{
    static const char *const lists[] = { "added", "already_member", "unknown" };
    static const char *const label[] = { "added", "already members", "unknown GitLab users skipped" };
    struct buf tl;
    buf_init(&tl, 0);
    buf_puts(&tl, "GitLab project access:");
    bool any = false;
    for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(fx->result, lists[i]);
        if (cJSON_GetArraySize(a) == 0)
            continue;
        buf_printf(&tl, "%s %s", any ? ";" : "", label[i]);
        const cJSON *it;
        int k = 0;
        cJSON_ArrayForEach(it, a)
            buf_printf(&tl, "%s %s", k++ ? "," : "", it->valuestring);
        any = true;
    }
    if (any)
        cJSON_AddStringToObject(fx->result, "timeline", tl.data);
    buf_finish(&tl);
}

static void next_member(struct fx *fx)
{
    const char *user = current_user(fx);
    if (!user) {
        members_timeline(fx);
        eff_done(fx);
        return;
    }
    char *path = eff_urlenc_cat("/users?username=", user);
    eff_gitlab(fx, "GET", path, NULL, false, user_found);
    free(path);
}

void eff_gitlab_add_members(struct fx *fx)
{
    if (fx->inc_project_id <= 0) {
        eff_wait(fx, "gitlab project");
        return;
    }
    fx->work = cJSON_CreateArray();
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(fx->payload, "usernames")) {
        if (!cJSON_IsString(u))
            continue;
        const char *name = u->valuestring[0] == '@' ? u->valuestring + 1 : u->valuestring;
        if (!name[0])
            continue;
        bool dup = false;
        const cJSON *w;
        cJSON_ArrayForEach(w, fx->work)
            dup = dup || strcasecmp(w->valuestring, name) == 0;
        if (!dup)
            cJSON_AddItemToArray(fx->work, cJSON_CreateString(name));
    }
    cJSON *r = eff_result(fx);
    cJSON_AddArrayToObject(r, "added");
    cJSON_AddArrayToObject(r, "already_member");
    cJSON_AddArrayToObject(r, "unknown");
    fx->n2 = 0;
    next_member(fx);
}

/* ---- gitlab.note ---- */

static void note_created(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    cJSON *j = eff_parse(resp);
    int64_t id = eff_int(j, "id");
    cJSON_Delete(j);
    if (id > 0)
        cJSON_AddNumberToObject(eff_result(fx), "note_id", (double)id);
    eff_done(fx);
}

static void post_note(struct fx *fx)
{
    char *body = eff_with_marker(eff_str(fx->payload, "body"), eff_str(fx->payload, "marker"));
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "body", body);
    free(body);
    char path[96];
    snprintf(path, sizeof(path), "/projects/%lld/issues/%lld/notes", (long long)fx->inc_project_id,
             (long long)fx->inc_issue_iid);
    eff_gitlab(fx, "POST", path, b, true, note_created);
}

static bool note_found(struct fx *fx, const cJSON *note)
{
    int64_t id = eff_int(note, "id");
    if (id > 0)
        cJSON_AddNumberToObject(eff_result(fx), "note_id", (double)id);
    cJSON_AddTrueToObject(eff_result(fx), "found");
    eff_done(fx);
    return true;
}

static void notes_listed(struct fx *fx, const struct http_response *resp)
{
    if (eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        eff_gitlab_reconcile(fx, resp, "body", note_found, post_note);
}

/* The incident's project and issue exist (else the job waits for them). */
static bool issue_ready(struct fx *fx)
{
    if (fx->inc_project_id <= 0) {
        eff_wait(fx, "gitlab project");
        return false;
    }
    if (fx->inc_issue_iid <= 0) {
        eff_wait(fx, "gitlab issue");
        return false;
    }
    return true;
}

void eff_gitlab_note(struct fx *fx)
{
    if (!issue_ready(fx))
        return;
    if (!eff_str(fx->payload, "body")) {
        eff_fail(fx, "bad payload: body missing");
        return;
    }
    if (fx->job_maybe_sent && eff_str(fx->payload, "marker")) {
        char path[160];
        snprintf(path, sizeof(path),
                 "/projects/%lld/issues/%lld/notes?order_by=created_at&sort=desc&per_page=%d",
                 (long long)fx->inc_project_id, (long long)fx->inc_issue_iid, RECONCILE_PAGE);
        eff_gitlab(fx, "GET", path, NULL, false, notes_listed);
        return;
    }
    post_note(fx);
}

/* ---- the PUT of gitlab.update_issue and gitlab.issue_state ---- */

cJSON *eff_gitlab_issue_body(const cJSON *payload, const char *state_event)
{
    char *add = label_list(cJSON_GetObjectItemCaseSensitive(payload, "add_labels"));
    char *rm = label_list(cJSON_GetObjectItemCaseSensitive(payload, "remove_labels"));
    cJSON *b = NULL;
    if (state_event || add || rm) {
        b = cJSON_CreateObject();
        if (state_event)
            cJSON_AddStringToObject(b, "state_event", state_event);
        if (add)
            cJSON_AddStringToObject(b, "add_labels", add);
        if (rm)
            cJSON_AddStringToObject(b, "remove_labels", rm);
    }
    free(add);
    free(rm);
    return b;
}

/* ---- gitlab.update_issue ---- */

static void issue_updated(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    cJSON *j = eff_parse(resp);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    if (cJSON_IsArray(labels))
        cJSON_AddItemToObject(eff_result(fx), "labels", cJSON_Duplicate(labels, 1));
    cJSON_Delete(j);
    char *add = label_list(cJSON_GetObjectItemCaseSensitive(fx->payload, "add_labels"));
    if (add) {
        char *t = xasprintf("GitLab issue relabelled: %s", add);
        cJSON_AddStringToObject(eff_result(fx), "timeline", t);
        free(t);
        free(add);
    }
    eff_done(fx);
}

void eff_gitlab_update_issue(struct fx *fx)
{
    if (!issue_ready(fx))
        return;
    int64_t sev = eff_int(fx->payload, "severity"), pri = eff_int(fx->payload, "priority");
    if ((sev > 0 && fx->inc_severity > 0 && sev != fx->inc_severity) ||
        (pri > 0 && fx->inc_priority > 0 && pri != fx->inc_priority)) {
        LOG_INFO("gitlab relabel superseded by a later change, not sent", "job:l incident:l",
                 (long long)fx->job_id, (long long)fx->incident_id);
        cJSON_AddTrueToObject(eff_result(fx), "superseded");
        eff_done(fx);
        return;
    }
    cJSON *b = eff_gitlab_issue_body(fx->payload, NULL);
    if (!b) {
        eff_fail(fx, "bad payload: no labels to change");
        return;
    }
    char path[96];
    snprintf(path, sizeof(path), "/projects/%lld/issues/%lld", (long long)fx->inc_project_id,
             (long long)fx->inc_issue_iid);
    eff_gitlab(fx, "PUT", path, b, true, issue_updated);
}

/* ---- gitlab.issue_state: close or reopen the incident's issue ---- */

static void issue_state_done(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, NULL, NULL))
        return;
    cJSON *j = eff_parse(resp);
    const char *state = eff_str(j, "state");
    if (state)
        cJSON_AddStringToObject(eff_result(fx), "state", state);
    cJSON_Delete(j);
    eff_done(fx);
}

void eff_gitlab_issue_state(struct fx *fx)
{
    if (!issue_ready(fx))
        return;
    const char *ev = eff_str(fx->payload, "state_event");
    if (!ev || (strcmp(ev, "close") != 0 && strcmp(ev, "reopen") != 0)) {
        eff_fail(fx, "bad payload: state_event must be close or reopen");
        return;
    }
    /* state_event rides along with the label change: older GitLab refuses a
     * PUT that carries only add_labels/remove_labels (protocol-facts-2 §8.3).
     * Closing a closed issue again is a no-op, so a replay is harmless. */
    cJSON *body = eff_gitlab_issue_body(fx->payload, ev);
    char path[96];
    snprintf(path, sizeof(path), "/projects/%lld/issues/%lld", (long long)fx->inc_project_id,
             (long long)fx->inc_issue_iid);
    eff_gitlab(fx, "PUT", path, body, true, issue_state_done);
}
