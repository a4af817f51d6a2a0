/* effects_gitlab_link: the gitlab.link op (see effects.h), which attaches
 * an existing GitLab issue to the incident's own.  One request at a time:
 * the project by path, the issue (can the token read it?), an internal note
 * with the incident's summarized reproduction steps (found again by its
 * marker when the job comes back maybe_sent), then the issue link from the
 * incident's issue (409 = linked already).  A 403 or 404 on the way is the
 * answer, not a fault to retry: the result says so and a follow-up post
 * tells the channel.  Scratch state lives in fx->work (an object) and dies
 * with fx. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define NOTES_PAGE 100

static const char *url_of(const struct fx *fx)
{
    return eff_str(fx->payload, "url");
}

static int64_t target_pid(const struct fx *fx)
{
    return eff_int(fx->work, "tpid");
}

/* The channel notice as a follow-up job of this result. */
static void add_notice(struct fx *fx, const char *text)
{
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(eff_result(fx), "jobs");
    if (!jobs)
        jobs = cJSON_AddArrayToObject(fx->result, "jobs");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "key", "notice");
    cJSON_AddStringToObject(j, "op", "slack.post");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(j, "payload"), "text", text);
    cJSON_AddItemToArray(jobs, j);
}

/* Done without a link: what GitLab refused (404: the token may not see it;
 * 403: it may see but not change it; neither gets better by retrying), on
 * the timeline and in the channel.  An eff_gitlab_refused_fn. */
static void give_up(struct fx *fx, const struct http_response *resp, const char *what)
{
    struct effect_result m;
    char err[200];
    eff_outcome_http(resp, false, "gitlab", &m, err, sizeof(err));
    const char *url = url_of(fx);
    cJSON *r = eff_result(fx);
    cJSON_AddFalseToObject(r, "linked");
    cJSON_AddStringToObject(r, "error", err);
    char *tl = xasprintf("could not %s %s: %s", what, url, err);
    cJSON_AddStringToObject(r, "timeline", tl);
    cJSON_AddStringToObject(r, "timeline_kind", "issue_link_failed");
    free(tl);
    char *text = xasprintf(":warning: SIRT-%" PRId64 ": could not %s %s: %s. The incident goes on without it. "
                           "Check that sirtbot's GitLab token can see and comment on that issue, then run "
                           "`/sirt link SIRT-%" PRId64 " %s` again.",
                           fx->incident_id, what, url, err, fx->incident_id, url);
    add_notice(fx, text);
    free(text);
    LOG_WARN("gitlab.link: not linked", "job:l incident:l error:s", (long long)fx->job_id,
             (long long)fx->incident_id, err);
    eff_done(fx);
}

/* ---- 4. the link, and the end ---- */

static void linked_ok(struct fx *fx)
{
    const char *url = url_of(fx);
    const char *actor = eff_str(fx->payload, "actor");
    bool internal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->work, "internal"));
    bool confidential = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->work, "confidential"));
    cJSON *r = eff_result(fx);
    cJSON_AddTrueToObject(r, "linked");
    cJSON_AddNumberToObject(r, "target_project_id", (double)target_pid(fx));
    cJSON_AddNumberToObject(r, "target_issue_iid", (double)eff_int(fx->payload, "iid"));
    if (eff_int(fx->work, "note_id") > 0)
        cJSON_AddNumberToObject(r, "note_id", (double)eff_int(fx->work, "note_id"));
    cJSON_AddBoolToObject(r, "internal", internal);
    cJSON_AddStringToObject(r, "timeline", url);
    cJSON_AddStringToObject(r, "timeline_kind", "issue_linked");
    if (actor)
        cJSON_AddStringToObject(r, "timeline_actor", actor);
    const char *how = internal ? "as an internal comment"
                      : confidential ? "as a comment (the issue is confidential)"
                                     : "as a comment that GitLab did not make internal, on an issue that is not "
                                       "confidential: check who can see it";
    char *by = actor ? xasprintf("<@%s> linked", actor) : xstrdup("Linked");
    char *text = xasprintf(":link: %s <%s|%s#%" PRId64 "> to SIRT-%" PRId64 ": the summarized reproduction steps "
                           "are on it %s, and it and {{incident.issue_link}} link each other.",
                           by, url, eff_str(fx->payload, "project_path"), eff_int(fx->payload, "iid"),
                           fx->incident_id, how);
    add_notice(fx, text);
    free(text);
    free(by);
    eff_done(fx);
}

static void link_created(struct fx *fx, const struct http_response *resp)
{
    bool linked = resp->err == HTTP_OK && resp->status == 409;   /* "Issue(s) already assigned" */
    if (!linked && !eff_gitlab_answer_ok(fx, resp, give_up, "link the incident's issue to"))
        return;
    linked_ok(fx);
}

static void post_link(struct fx *fx)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "target_project_id", (double)target_pid(fx));
    cJSON_AddNumberToObject(b, "target_issue_iid", (double)eff_int(fx->payload, "iid"));
    cJSON_AddStringToObject(b, "link_type", "relates_to");
    char path[96];
    snprintf(path, sizeof(path), "/projects/%" PRId64 "/issues/%" PRId64 "/links", fx->inc_project_id,
             fx->inc_issue_iid);
    eff_gitlab(fx, "POST", path, b, true, link_created);
}

/* ---- 3. the internal note with the reproduction steps ---- */

static void keep_note(struct fx *fx, const cJSON *note)
{
    int64_t id = eff_int(note, "id");
    if (id > 0)
        cJSON_AddNumberToObject(fx->work, "note_id", (double)id);
    cJSON_AddBoolToObject(fx->work, "internal", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(note, "internal")));
}

static void note_posted(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, give_up, "comment on"))
        return;
    cJSON *j = eff_parse(resp);
    keep_note(fx, j);
    cJSON_Delete(j);
    post_link(fx);
}

static void post_note(struct fx *fx)
{
    char *body = eff_with_marker(eff_str(fx->payload, "body"), eff_str(fx->payload, "marker"));
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "body", body);
    cJSON_AddTrueToObject(b, "internal");   /* GitLab >= 15.0; older ones ignore it (see the notice) */
    free(body);
    char path[96];
    snprintf(path, sizeof(path), "/projects/%" PRId64 "/issues/%" PRId64 "/notes", target_pid(fx),
             eff_int(fx->payload, "iid"));
    eff_gitlab(fx, "POST", path, b, true, note_posted);
}

static bool note_found(struct fx *fx, const cJSON *note)
{
    keep_note(fx, note);
    LOG_INFO("gitlab.link: note found by marker, not posting another", "job:l incident:l",
             (long long)fx->job_id, (long long)fx->incident_id);
    post_link(fx);
    return true;
}

static void notes_listed(struct fx *fx, const struct http_response *resp)
{
    if (eff_gitlab_answer_ok(fx, resp, give_up, "read"))
        eff_gitlab_reconcile(fx, resp, "body", note_found, post_note);
}

/* ---- 2. the issue: readable? ---- */

static void issue_read(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, give_up, "read"))
        return;
    cJSON *j = eff_parse(resp);
    bool conf = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "confidential"));
    int64_t iid = eff_int(j, "iid");
    cJSON_Delete(j);
    if (iid != eff_int(fx->payload, "iid")) {
        eff_finish(fx, EFFECT_RETRY, -1, false, "gitlab: bad issue response");
        return;
    }
    cJSON_AddBoolToObject(fx->work, "confidential", conf);
    if (fx->job_maybe_sent && eff_str(fx->payload, "marker")) {
        char path[160];
        snprintf(path, sizeof(path), "/projects/%" PRId64 "/issues/%" PRId64 "/notes?sort=desc&per_page=%d",
                 target_pid(fx), iid, NOTES_PAGE);
        eff_gitlab(fx, "GET", path, NULL, false, notes_listed);
        return;
    }
    post_note(fx);
}

/* ---- 1. the project by its path ---- */

static void project_read(struct fx *fx, const struct http_response *resp)
{
    if (!eff_gitlab_answer_ok(fx, resp, give_up, "read"))
        return;
    cJSON *j = eff_parse(resp);
    int64_t id = eff_int(j, "id");
    cJSON_Delete(j);
    if (id <= 0) {
        eff_finish(fx, EFFECT_RETRY, -1, false, "gitlab: bad project response");
        return;
    }
    cJSON_AddNumberToObject(fx->work, "tpid", (double)id);
    int64_t iid = eff_int(fx->payload, "iid");
    if (id == fx->inc_project_id && iid == fx->inc_issue_iid) {
        cJSON_AddFalseToObject(eff_result(fx), "linked");
        char *text = xasprintf(":information_source: %s is SIRT-%" PRId64 "'s own issue: nothing to link.",
                               url_of(fx), fx->incident_id);
        add_notice(fx, text);
        free(text);
        eff_done(fx);
        return;
    }
    char path[96];
    snprintf(path, sizeof(path), "/projects/%" PRId64 "/issues/%" PRId64, id, iid);
    eff_gitlab(fx, "GET", path, NULL, false, issue_read);
}

void eff_gitlab_link(struct fx *fx)
{
    if (fx->inc_project_id <= 0) {
        eff_wait(fx, "gitlab project");
        return;
    }
    if (fx->inc_issue_iid <= 0) {
        eff_wait(fx, "gitlab issue");
        return;
    }
    const char *path = eff_str(fx->payload, "project_path");
    if (!url_of(fx) || !path || eff_int(fx->payload, "iid") <= 0 || !eff_str(fx->payload, "body")) {
        eff_fail(fx, "bad payload: url, project_path, iid or body missing");
        return;
    }
    fx->work = cJSON_CreateObject();
    char *p = eff_urlenc_cat("/projects/", path);
    eff_gitlab(fx, "GET", p, NULL, false, project_read);
    free(p);
}
