/* fake_gitlab_api: the resources of fake_gitlab as the REST calls change
 * them: projects (POST /projects), issues (create, list, PUT), members
 * and notes, with GitLab's validation and answers.  The JSON lives in the
 * fake's arrays (fake_gitlab_state.h); these functions answer into resp. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../bot/util.h"
#include "fake_gitlab_links.h"
#include "fake_gitlab_state.h"

static bool ci_contains(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t hn = strlen(hay), nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t k = 0;
        while (k < nn && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == nn)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* resources */

static void slugify(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *c = name; *c && o + 1 < cap; c++) {
        unsigned char ch = (unsigned char)*c;
        if (isalnum(ch) || ch == '_' || ch == '.' || ch == '-')
            out[o++] = (char)tolower(ch);
        else if (o && out[o - 1] != '-')
            out[o++] = '-';
    }
    out[o] = '\0';
}

void fake_gitlab__create_project(struct fake_gitlab *g, const cJSON *args, struct fake_http_resp *resp)
{
    const char *name = util_jstr(args, "name");
    const char *path = util_jstr(args, "path");
    if ((!name || !name[0]) && (!path || !path[0])) {
        fake_gitlab__reply_err(resp, 400, "name, path are missing, at least one parameter must be provided");
        return;
    }
    char slug[256];
    if (!path || !path[0]) {
        slugify(name, slug, sizeof(slug));
        path = slug;
    }
    if (!name || !name[0])
        name = path;
    int ns_id = fake_gitlab__jint(args, "namespace_id", GL_BOT_ID);
    const struct gl_ns *ns = fake_gitlab__ns_find(g, ns_id);
    if (!ns) {
        fake_gitlab__reply_msg(resp, 404, "404 Namespace Not Found");
        return;
    }
    const char *vis = util_jstr(args, "visibility");
    if (!vis)
        vis = "private";
    if (strcmp(vis, "private") != 0 && strcmp(vis, "internal") != 0 && strcmp(vis, "public") != 0) {
        fake_gitlab__reply_err(resp, 400, "visibility does not have a valid value");
        return;
    }
    bool path_taken = false, name_taken = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, g->projects) {
        if (fake_gitlab__jint(cJSON_GetObjectItemCaseSensitive(p, "namespace"), "id", -1) != ns_id)
            continue;
        if (strcasecmp(util_jstr(p, "path"), path) == 0)
            path_taken = true;
        if (strcasecmp(util_jstr(p, "name"), name) == 0)
            name_taken = true;
    }
    if (path_taken || name_taken) {
        cJSON *o = cJSON_CreateObject();
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        if (path_taken) {
            cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "path"), cJSON_CreateString("has already been taken"));
            cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "name"), cJSON_CreateString("has already been taken"));
        } else {
            cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "name"), cJSON_CreateString("has already been taken"));
        }
        if (resp)
            fake_http_reply_json(resp, 400, o);
        cJSON_Delete(o);
        return;
    }
    char ts[32];
    fake_gitlab__now_iso(ts);
    int id = ++g->project_seq;
    const char *base = fake_http_url(g->http);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "path", path);
    char *pwn = xasprintf("%s/%s", ns->full_path, path);
    char *nwn = xasprintf("%s / %s", ns->full_path, name);
    cJSON_AddStringToObject(o, "path_with_namespace", pwn);
    cJSON_AddStringToObject(o, "name_with_namespace", nwn);
    char *url = xasprintf("%s/%s", base, pwn);
    cJSON_AddStringToObject(o, "web_url", url);
    free(url);
    url = xasprintf("%s/%s.git", base, pwn);
    cJSON_AddStringToObject(o, "http_url_to_repo", url);
    free(url);
    free(pwn);
    free(nwn);
    const char *desc = util_jstr(args, "description");
    if (desc)
        cJSON_AddStringToObject(o, "description", desc);
    else
        cJSON_AddNullToObject(o, "description");
    cJSON_AddStringToObject(o, "visibility", vis);
    cJSON_AddNullToObject(o, "default_branch");
    cJSON_AddStringToObject(o, "created_at", ts);
    cJSON *n = cJSON_AddObjectToObject(o, "namespace");
    cJSON_AddNumberToObject(n, "id", ns->id);
    const char *last = strrchr(ns->full_path, '/');
    cJSON_AddStringToObject(n, "name", last ? last + 1 : ns->full_path);
    cJSON_AddStringToObject(n, "path", last ? last + 1 : ns->full_path);
    cJSON_AddStringToObject(n, "kind", ns->kind);
    cJSON_AddStringToObject(n, "full_path", ns->full_path);
    cJSON_AddNumberToObject(o, "creator_id", GL_BOT_ID);
    cJSON_AddItemToArray(g->projects, o);
    fake_gitlab__reply_obj(resp, 201, o);
}

static void add_labels(cJSON *arr, const cJSON *v)
{
    if (cJSON_IsArray(v)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, v)
            if (cJSON_IsString(x) && x->valuestring[0])
                cJSON_AddItemToArray(arr, cJSON_CreateString(x->valuestring));
        return;
    }
    if (!cJSON_IsString(v))
        return;
    const char *s = v->valuestring;
    for (int guard = 0; *s && guard < 1000; guard++) {
        size_t n = strcspn(s, ",");
        const char *a = s, *b = s + n;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            char *l = xstrndup(a, (size_t)(b - a));
            bool dup = false;
            const cJSON *x;
            cJSON_ArrayForEach(x, arr)
                if (strcmp(x->valuestring, l) == 0)
                    dup = true;
            if (!dup)
                cJSON_AddItemToArray(arr, cJSON_CreateString(l));
            free(l);
        }
        s += n;
        if (*s == ',')
            s++;
    }
}

void fake_gitlab__create_issue(struct fake_gitlab *g, cJSON *proj, const cJSON *args, struct fake_http_resp *resp)
{
    const char *title = util_jstr(args, "title");
    if (!title || !title[0]) {
        fake_gitlab__reply_err(resp, 400, "title is missing");
        return;
    }
    int pid = fake_gitlab__jint(proj, "id", -1);
    int iid = 1;
    const cJSON *x;
    cJSON_ArrayForEach(x, g->issues)
        if (fake_gitlab__jint(x, "project_id", -1) == pid)
            iid++;
    char ts[32];
    fake_gitlab__now_iso(ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", ++g->issue_seq);
    cJSON_AddNumberToObject(o, "iid", iid);
    cJSON_AddNumberToObject(o, "project_id", pid);
    cJSON_AddStringToObject(o, "title", title);
    const char *desc = util_jstr(args, "description");
    if (desc)
        cJSON_AddStringToObject(o, "description", desc);
    else
        cJSON_AddNullToObject(o, "description");
    cJSON_AddStringToObject(o, "state", "opened");
    cJSON_AddStringToObject(o, "created_at", ts);
    cJSON_AddStringToObject(o, "updated_at", ts);
    cJSON_AddNullToObject(o, "closed_at");
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    add_labels(labels, cJSON_GetObjectItemCaseSensitive(args, "labels"));
    cJSON *author = cJSON_AddObjectToObject(o, "author");
    cJSON_AddNumberToObject(author, "id", GL_BOT_ID);
    cJSON_AddStringToObject(author, "username", GL_BOT_USER);
    cJSON_AddStringToObject(author, "name", "SIRT bot");
    cJSON_AddArrayToObject(o, "assignees");
    cJSON_AddBoolToObject(o, "confidential", fake_gitlab__jbool(args, "confidential") == 1);
    char *url = xasprintf("%s/-/issues/%d", util_jstr(proj, "web_url"), iid);
    cJSON_AddStringToObject(o, "web_url", url);
    free(url);
    cJSON *refs = cJSON_AddObjectToObject(o, "references");
    char *r = xasprintf("#%d", iid);
    cJSON_AddStringToObject(refs, "short", r);
    free(r);
    r = xasprintf("%s#%d", util_jstr(proj, "path_with_namespace"), iid);
    cJSON_AddStringToObject(refs, "full", r);
    free(r);
    cJSON_AddItemToArray(g->issues, o);
    fake_gitlab__reply_obj(resp, 201, o);
}

void fake_gitlab__list_issues(struct fake_gitlab *g, int pid, const struct fake_http_request *rq,
                        struct fake_http_resp *resp)
{
    const char *search = fake_http_arg(rq, "search", 0);
    const char *state = fake_http_arg(rq, "state", 0);
    cJSON *arr = cJSON_CreateArray();
    int n = cJSON_GetArraySize(g->issues);
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *x = cJSON_GetArrayItem(g->issues, i);
        if (fake_gitlab__jint(x, "project_id", -1) != pid || fgl_links_hidden(g->links, pid, fake_gitlab__jint(x, "iid", -1)))
            continue;
        if (state && strcmp(state, "all") != 0 && strcmp(state, util_jstr(x, "state")) != 0)
            continue;
        if (search && search[0] && !ci_contains(util_jstr(x, "title"), search) &&
            !ci_contains(util_jstr(x, "description"), search))
            continue;
        cJSON_AddItemToArray(arr, fake_gitlab__wire_copy(x));
    }
    fake_http_reply_json(resp, 200, arr);
    cJSON_Delete(arr);
}

static void set_str(cJSON *o, const char *k, const char *v)
{
    cJSON_ReplaceItemInObjectCaseSensitive(o, k, cJSON_CreateString(v));
}

/* The parameters GitLab documents for PUT /projects/:id/issues/:iid
 * ("Edit an issue"); anything else is refused, so a bot that sends a field
 * GitLab would silently ignore is caught here. */
static const char *const issue_put_params[] = {
    "add_labels", "assignee_ids", "confidential", "description", "discussion_locked", "due_date",
    "epic_id", "epic_iid", "issue_type", "labels", "milestone_id", "remove_labels", "state_event",
    "title", "updated_at", "weight", NULL,
};

/* Refuses what GitLab would (400): an unknown parameter, labels that are
 * neither a comma-separated string nor an array of strings, a bad
 * state_event, or no parameter at all.  True when the request may go on. */
bool fake_gitlab__issue_put_valid(const cJSON *args, struct fake_http_resp *resp)
{
    const cJSON *a;
    int n = 0;
    cJSON_ArrayForEach(a, args) {
        bool known = false;
        for (size_t i = 0; issue_put_params[i]; i++)
            known = known || strcmp(a->string, issue_put_params[i]) == 0;
        if (strcmp(a->string, "id") == 0 || strcmp(a->string, "issue_iid") == 0)
            continue;   /* the path's own parameters */
        if (!known) {
            char *m = xasprintf("%s does not have a valid value (not a parameter of Edit an issue)", a->string);
            fake_gitlab__reply_err(resp, 400, m);
            free(m);
            return false;
        }
        n++;
        bool labels = strcmp(a->string, "labels") == 0 || strcmp(a->string, "add_labels") == 0 ||
                      strcmp(a->string, "remove_labels") == 0;
        bool ok = true;
        if (labels && cJSON_IsArray(a)) {
            const cJSON *x;
            cJSON_ArrayForEach(x, a)
                ok = ok && cJSON_IsString(x);
        } else if (labels) {
            ok = cJSON_IsString(a);
        } else if (strcmp(a->string, "state_event") == 0) {
            ok = cJSON_IsString(a) && (strcmp(a->valuestring, "close") == 0 || strcmp(a->valuestring, "reopen") == 0);
        }
        if (!ok) {
            char *m = xasprintf("%s is invalid", a->string);
            fake_gitlab__reply_err(resp, 400, m);
            free(m);
            return false;
        }
    }
    if (n == 0) {
        fake_gitlab__reply_err(resp, 400, "assignee_id, assignee_ids, confidential, created_at, description, discussion_locked, "
                             "due_date, labels, add_labels, remove_labels, milestone_id, state_event, title, "
                             "issue_type, weight, epic_id, epic_iid are missing, at least one parameter must be "
                             "provided");
        return false;
    }
    return true;
}

void fake_gitlab__update_issue(cJSON *issue, const cJSON *args, struct fake_http_resp *resp)
{
    if (!fake_gitlab__issue_put_valid(args, resp))
        return;
    char ts[32];
    fake_gitlab__now_iso(ts);
    const char *v;
    /* GitLab's Grape validation: a known state_event, and at least one
     * attribute to change (doc/api/issues.md "Edit an issue"). */
    const char *ev = util_jstr(args, "state_event");
    if (ev && strcmp(ev, "close") != 0 && strcmp(ev, "reopen") != 0) {
        fake_gitlab__reply_err(resp, 400, "state_event does not have a valid value");
        return;
    }
    static const char *const editable[] = { "title", "description", "labels", "add_labels", "remove_labels",
                                            "confidential", "state_event", "assignee_ids", "milestone_id",
                                            "due_date", "discussion_locked", "weight", "issue_type" };
    bool any = false;
    for (size_t i = 0; i < sizeof(editable) / sizeof(editable[0]); i++)
        if (cJSON_GetObjectItemCaseSensitive(args, editable[i]))
            any = true;
    if (!any) {
        fake_gitlab__reply_err(resp, 400, "title, description, assignee_ids, confidential, labels, add_labels, remove_labels, "
                             "state_event, ... are missing, at least one parameter must be provided");
        return;
    }
    if ((v = util_jstr(args, "title")) && v[0])
        set_str(issue, "title", v);
    if ((v = util_jstr(args, "description")))
        set_str(issue, "description", v);
    int conf = fake_gitlab__jbool(args, "confidential");
    if (conf >= 0)
        cJSON_ReplaceItemInObjectCaseSensitive(issue, "confidential", cJSON_CreateBool(conf));
    cJSON *labels = cJSON_GetObjectItemCaseSensitive(issue, "labels");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(args, "labels");
    if (l) {
        cJSON *fresh = cJSON_CreateArray();
        add_labels(fresh, l);
        cJSON_ReplaceItemInObjectCaseSensitive(issue, "labels", fresh);
        labels = fresh;
    }
    add_labels(labels, cJSON_GetObjectItemCaseSensitive(args, "add_labels"));
    cJSON *rm = cJSON_CreateArray();
    add_labels(rm, cJSON_GetObjectItemCaseSensitive(args, "remove_labels"));
    const cJSON *x;
    cJSON_ArrayForEach(x, rm) {
        for (int i = cJSON_GetArraySize(labels) - 1; i >= 0; i--)
            if (strcmp(cJSON_GetArrayItem(labels, i)->valuestring, x->valuestring) == 0)
                cJSON_DeleteItemFromArray(labels, i);
    }
    cJSON_Delete(rm);
    if ((v = util_jstr(args, "state_event"))) {
        if (strcmp(v, "close") == 0) {
            if (strcmp(util_jstr(issue, "state"), "closed") != 0)
                cJSON_ReplaceItemInObjectCaseSensitive(issue, "closed_at", cJSON_CreateString(ts));
            set_str(issue, "state", "closed");
        } else if (strcmp(v, "reopen") == 0) {
            set_str(issue, "state", "opened");
            cJSON_ReplaceItemInObjectCaseSensitive(issue, "closed_at", cJSON_CreateNull());
        }
    }
    set_str(issue, "updated_at", ts);
    fake_gitlab__reply_obj(resp, 200, issue);
}

static bool valid_access(int a)
{
    return a == 0 || a == 5 || a == 10 || a == 15 || a == 20 || a == 30 || a == 40 || a == 50;
}

void fake_gitlab__add_member(struct fake_gitlab *g, int pid, const cJSON *args, struct fake_http_resp *resp)
{
    int uid = fake_gitlab__jint(args, "user_id", -1);
    if (uid < 0 && !cJSON_GetObjectItemCaseSensitive(args, "user_id") &&
        !cJSON_GetObjectItemCaseSensitive(args, "username")) {
        fake_gitlab__reply_err(resp, 400, "user_id, username are missing, exactly one parameter must be provided");
        return;
    }
    const char *uname = util_jstr(args, "username");
    if (uid < 0 && uname) {
        for (size_t i = 0; i < g->n_users; i++)
            if (strcmp(g->users[i].username, uname) == 0)
                uid = g->users[i].id;
    }
    if (!cJSON_GetObjectItemCaseSensitive(args, "access_level")) {
        fake_gitlab__reply_err(resp, 400, "access_level is missing");
        return;
    }
    int level = fake_gitlab__jint(args, "access_level", -1);
    if (!valid_access(level)) {
        fake_gitlab__reply_err(resp, 400, "access_level does not have a valid value");
        return;
    }
    const struct gl_user *u = fake_gitlab__user_find(g, uid);
    if (!u) {
        fake_gitlab__reply_msg(resp, 404, "404 User Not Found");
        return;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, g->members)
        if (fake_gitlab__jint(m, "_internal_project_id", -1) == pid && fake_gitlab__jint(m, "id", -1) == uid) {
            fake_gitlab__reply_msg(resp, 409, "Member already exists");
            return;
        }
    char ts[32];
    fake_gitlab__now_iso(ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", u->id);
    cJSON_AddStringToObject(o, "username", u->username);
    cJSON_AddStringToObject(o, "name", u->username);
    cJSON_AddStringToObject(o, "state", "active");
    cJSON_AddNumberToObject(o, "access_level", level);
    cJSON_AddStringToObject(o, "created_at", ts);
    cJSON_AddNullToObject(o, "expires_at");
    char *url = xasprintf("%s/%s", fake_http_url(g->http), u->username);
    cJSON_AddStringToObject(o, "web_url", url);
    free(url);
    cJSON_AddNumberToObject(o, "_internal_project_id", pid);
    cJSON_AddItemToArray(g->members, o);
    fake_gitlab__reply_obj(resp, 201, o);
}

void fake_gitlab__list_members(struct fake_gitlab *g, int pid, struct fake_http_resp *resp)
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach(m, g->members)
        if (fake_gitlab__jint(m, "_internal_project_id", -1) == pid)
            cJSON_AddItemToArray(arr, fake_gitlab__wire_copy(m));
    fake_http_reply_json(resp, 200, arr);
    cJSON_Delete(arr);
}

void fake_gitlab__add_note(struct fake_gitlab *g, const cJSON *issue, const cJSON *args, struct fake_http_resp *resp)
{
    const char *body = util_jstr(args, "body");
    if (!body || !body[0]) {
        fake_gitlab__reply_err(resp, 400, "body is missing");
        return;
    }
    bool internal = fake_gitlab__jbool(args, "internal") == 1 || fake_gitlab__jbool(args, "confidential") == 1;
    char ts[32];
    fake_gitlab__now_iso(ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", ++g->note_seq);
    cJSON_AddNullToObject(o, "type");
    cJSON_AddStringToObject(o, "body", body);
    cJSON *a = cJSON_AddObjectToObject(o, "author");
    cJSON_AddNumberToObject(a, "id", GL_BOT_ID);
    cJSON_AddStringToObject(a, "username", GL_BOT_USER);
    cJSON_AddStringToObject(a, "name", "SIRT bot");
    cJSON_AddStringToObject(a, "state", "active");
    cJSON_AddStringToObject(o, "created_at", ts);
    cJSON_AddStringToObject(o, "updated_at", ts);
    cJSON_AddFalseToObject(o, "system");
    cJSON_AddNumberToObject(o, "noteable_id", fake_gitlab__jint(issue, "id", -1));
    cJSON_AddStringToObject(o, "noteable_type", "Issue");
    cJSON_AddNumberToObject(o, "noteable_iid", fake_gitlab__jint(issue, "iid", -1));
    cJSON_AddNumberToObject(o, "project_id", fake_gitlab__jint(issue, "project_id", -1));
    cJSON_AddBoolToObject(o, "internal", internal);
    cJSON_AddBoolToObject(o, "confidential", internal);
    cJSON_AddFalseToObject(o, "resolvable");
    cJSON_AddNumberToObject(o, "issue_iid", fake_gitlab__jint(issue, "iid", -1));
    cJSON_AddItemToArray(g->notes, o);
    fake_gitlab__reply_obj(resp, 201, o);
}

void fake_gitlab__list_notes(struct fake_gitlab *g, const cJSON *issue, const struct fake_http_request *rq,
                       struct fake_http_resp *resp)
{
    int pid = fake_gitlab__jint(issue, "project_id", -1), iid = fake_gitlab__jint(issue, "iid", -1);
    const char *sort = fake_http_arg(rq, "sort", 0);
    bool asc = sort && strcmp(sort, "asc") == 0;
    cJSON *arr = cJSON_CreateArray();
    int n = cJSON_GetArraySize(g->notes);
    for (int k = 0; k < n; k++) {
        const cJSON *x = cJSON_GetArrayItem(g->notes, asc ? k : n - 1 - k);
        if (fake_gitlab__jint(x, "project_id", -1) == pid && fake_gitlab__jint(x, "issue_iid", -1) == iid)
            cJSON_AddItemToArray(arr, fake_gitlab__wire_copy(x));
    }
    fake_http_reply_json(resp, 200, arr);
    cJSON_Delete(arr);
}

void fake_gitlab__user_json(const struct gl_user *u, cJSON *arr, const char *base)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", u->id);
    cJSON_AddStringToObject(o, "username", u->username);
    cJSON_AddStringToObject(o, "name", u->username);
    cJSON_AddStringToObject(o, "state", "active");
    char *url = xasprintf("%s/%s", base, u->username);
    cJSON_AddStringToObject(o, "web_url", url);
    free(url);
    cJSON_AddItemToArray(arr, o);
}

