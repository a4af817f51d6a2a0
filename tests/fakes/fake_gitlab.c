/* fake_gitlab: see fake_gitlab.h.  State is kept as the JSON GitLab would
 * answer, in cJSON arrays owned by struct fake_gitlab (projects, issues,
 * members, notes; the last two carry internal keys stripped on the wire).
 * HTTP goes through a fake_http whose one handler dispatches on the
 * canonical path (project paths already turned into ids by match_path).
 * fake_gitlab_destroy() frees the state at once and starts the fake_http's
 * async close (no handler runs once destroy has begun). */
#include "fake_gitlab.h"
#include "fake_gitlab_links.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../bot/util.h"

#define GL_PREFIX    "/api/v4"
#define GL_BOT_ID    1
#define GL_BOT_USER  "sirtbot"
#define GL_MAX_SEGS  8

struct gl_ns {
    int id;
    char *full_path;
    const char *kind;
};

struct gl_user {
    int id;
    char *username;
};

struct fake_gitlab {
    struct fake_http *http;
    char *token;
    struct gl_ns *ns;
    size_t n_ns;
    struct gl_user *users;
    size_t n_users;
    cJSON *projects, *issues, *members, *notes;
    int project_seq, issue_seq, note_seq;
    struct fgl_links *links;       /* issue links, unreadable issues (fake_gitlab_links.c) */
};

/* ------------------------------------------------------------------ */
/* small helpers */

static int jint(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v))
        return v->valueint;
    if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end = NULL;
        long n = strtol(v->valuestring, &end, 10);
        if (end && *end == '\0' && n >= -1000000000L && n <= 1000000000L)
            return (int)n;
    }
    return dflt;
}

/* true/false from a JSON bool or a "true"/"false"/"1"/"0" string; -1 absent */
static int jbool(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0;
    return -1;
}

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

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static const struct gl_ns *ns_find(const struct fake_gitlab *g, int id)
{
    for (size_t i = 0; i < g->n_ns; i++)
        if (g->ns[i].id == id)
            return &g->ns[i];
    return NULL;
}

static const struct gl_user *user_find(const struct fake_gitlab *g, int id)
{
    for (size_t i = 0; i < g->n_users; i++)
        if (g->users[i].id == id)
            return &g->users[i];
    return NULL;
}

static cJSON *project_find(const struct fake_gitlab *g, int id)
{
    cJSON *p;
    cJSON_ArrayForEach(p, g->projects)
        if (jint(p, "id", -1) == id)
            return p;
    return NULL;
}

static cJSON *issue_find(const struct fake_gitlab *g, int project_id, int iid)
{
    cJSON *i;
    cJSON_ArrayForEach(i, g->issues)
        if (jint(i, "project_id", -1) == project_id && jint(i, "iid", -1) == iid)
            return i;
    return NULL;
}

/* A copy for the wire without the internal keys. */
static cJSON *wire_copy(const cJSON *o)
{
    cJSON *c = cJSON_Duplicate(o, 1);
    if (cJSON_GetObjectItemCaseSensitive(c, "_internal_project_id"))
        cJSON_DeleteItemFromObjectCaseSensitive(c, "_internal_project_id");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "issue_iid");
    return c;
}

/* The replies take resp NULL (a resource made by a setup call): nothing is sent. */
static void reply_msg(struct fake_http_resp *resp, int status, const char *msg)
{
    if (resp)
        fake_http_reply_msg(resp, status, "message", msg);
}

static void reply_err(struct fake_http_resp *resp, int status, const char *msg)
{
    if (resp)
        fake_http_reply_msg(resp, status, "error", msg);
}

static void reply_obj(struct fake_http_resp *resp, int status, const cJSON *o)
{
    if (!resp)
        return;
    cJSON *c = wire_copy(o);
    fake_http_reply_json(resp, status, c);
    cJSON_Delete(c);
}

/* ------------------------------------------------------------------ */
/* path canonicalisation: "/api/v4/projects/a/b/c/issues" -> "/projects/7/issues" */

static char *gl_match_path(void *ud, const char *path)
{
    struct fake_gitlab *g = ud;
    if (!str_starts(path, GL_PREFIX "/") && strcmp(path, GL_PREFIX) != 0)
        return NULL;
    const char *rest = path + strlen(GL_PREFIX);
    const char *kinds[] = { "/projects/", "/namespaces/" };
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        if (!str_starts(rest, kinds[k]))
            continue;
        const char *idp = rest + strlen(kinds[k]);
        size_t seg = strcspn(idp, "/");
        if (all_digits(idp, seg))
            break;
        /* the longest known full path that idp starts with, on a '/' boundary */
        int best = -1;
        size_t best_len = 0;
        if (k == 0) {
            const cJSON *p;
            cJSON_ArrayForEach(p, g->projects) {
                const char *pwn = util_jstr(p, "path_with_namespace");
                size_t n = strlen(pwn);
                if (n > best_len && strncmp(idp, pwn, n) == 0 && (idp[n] == '\0' || idp[n] == '/')) {
                    best = jint(p, "id", -1);
                    best_len = n;
                }
            }
        } else {
            for (size_t i = 0; i < g->n_ns; i++) {
                size_t n = strlen(g->ns[i].full_path);
                if (n > best_len && strncmp(idp, g->ns[i].full_path, n) == 0 && (idp[n] == '\0' || idp[n] == '/')) {
                    best = g->ns[i].id;
                    best_len = n;
                }
            }
        }
        if (best >= 0)
            return xasprintf("%.*s%d%s", (int)strlen(kinds[k]), kinds[k], best, idp + best_len);
        break;
    }
    return xstrdup(rest[0] ? rest : "/");
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

static void create_project(struct fake_gitlab *g, const cJSON *args, struct fake_http_resp *resp)
{
    const char *name = util_jstr(args, "name");
    const char *path = util_jstr(args, "path");
    if ((!name || !name[0]) && (!path || !path[0])) {
        reply_err(resp, 400, "name, path are missing, at least one parameter must be provided");
        return;
    }
    char slug[256];
    if (!path || !path[0]) {
        slugify(name, slug, sizeof(slug));
        path = slug;
    }
    if (!name || !name[0])
        name = path;
    int ns_id = jint(args, "namespace_id", GL_BOT_ID);
    const struct gl_ns *ns = ns_find(g, ns_id);
    if (!ns) {
        reply_msg(resp, 404, "404 Namespace Not Found");
        return;
    }
    const char *vis = util_jstr(args, "visibility");
    if (!vis)
        vis = "private";
    if (strcmp(vis, "private") != 0 && strcmp(vis, "internal") != 0 && strcmp(vis, "public") != 0) {
        reply_err(resp, 400, "visibility does not have a valid value");
        return;
    }
    bool path_taken = false, name_taken = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, g->projects) {
        if (jint(cJSON_GetObjectItemCaseSensitive(p, "namespace"), "id", -1) != ns_id)
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
    now_iso(ts);
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
    reply_obj(resp, 201, o);
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

static void create_issue(struct fake_gitlab *g, cJSON *proj, const cJSON *args, struct fake_http_resp *resp)
{
    const char *title = util_jstr(args, "title");
    if (!title || !title[0]) {
        reply_err(resp, 400, "title is missing");
        return;
    }
    int pid = jint(proj, "id", -1);
    int iid = 1;
    const cJSON *x;
    cJSON_ArrayForEach(x, g->issues)
        if (jint(x, "project_id", -1) == pid)
            iid++;
    char ts[32];
    now_iso(ts);
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
    cJSON_AddBoolToObject(o, "confidential", jbool(args, "confidential") == 1);
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
    reply_obj(resp, 201, o);
}

static void list_issues(struct fake_gitlab *g, int pid, const struct fake_http_request *rq,
                        struct fake_http_resp *resp)
{
    const char *search = fake_http_arg(rq, "search", 0);
    const char *state = fake_http_arg(rq, "state", 0);
    cJSON *arr = cJSON_CreateArray();
    int n = cJSON_GetArraySize(g->issues);
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *x = cJSON_GetArrayItem(g->issues, i);
        if (jint(x, "project_id", -1) != pid || fgl_links_hidden(g->links, pid, jint(x, "iid", -1)))
            continue;
        if (state && strcmp(state, "all") != 0 && strcmp(state, util_jstr(x, "state")) != 0)
            continue;
        if (search && search[0] && !ci_contains(util_jstr(x, "title"), search) &&
            !ci_contains(util_jstr(x, "description"), search))
            continue;
        cJSON_AddItemToArray(arr, wire_copy(x));
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
static bool issue_put_valid(const cJSON *args, struct fake_http_resp *resp)
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
            reply_err(resp, 400, m);
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
            reply_err(resp, 400, m);
            free(m);
            return false;
        }
    }
    if (n == 0) {
        reply_err(resp, 400, "assignee_id, assignee_ids, confidential, created_at, description, discussion_locked, "
                             "due_date, labels, add_labels, remove_labels, milestone_id, state_event, title, "
                             "issue_type, weight, epic_id, epic_iid are missing, at least one parameter must be "
                             "provided");
        return false;
    }
    return true;
}

static void update_issue(cJSON *issue, const cJSON *args, struct fake_http_resp *resp)
{
    if (!issue_put_valid(args, resp))
        return;
    char ts[32];
    now_iso(ts);
    const char *v;
    /* GitLab's Grape validation: a known state_event, and at least one
     * attribute to change (doc/api/issues.md "Edit an issue"). */
    const char *ev = util_jstr(args, "state_event");
    if (ev && strcmp(ev, "close") != 0 && strcmp(ev, "reopen") != 0) {
        reply_err(resp, 400, "state_event does not have a valid value");
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
        reply_err(resp, 400, "title, description, assignee_ids, confidential, labels, add_labels, remove_labels, "
                             "state_event, ... are missing, at least one parameter must be provided");
        return;
    }
    if ((v = util_jstr(args, "title")) && v[0])
        set_str(issue, "title", v);
    if ((v = util_jstr(args, "description")))
        set_str(issue, "description", v);
    int conf = jbool(args, "confidential");
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
    reply_obj(resp, 200, issue);
}

static bool valid_access(int a)
{
    return a == 0 || a == 5 || a == 10 || a == 15 || a == 20 || a == 30 || a == 40 || a == 50;
}

static void add_member(struct fake_gitlab *g, int pid, const cJSON *args, struct fake_http_resp *resp)
{
    int uid = jint(args, "user_id", -1);
    if (uid < 0 && !cJSON_GetObjectItemCaseSensitive(args, "user_id") &&
        !cJSON_GetObjectItemCaseSensitive(args, "username")) {
        reply_err(resp, 400, "user_id, username are missing, exactly one parameter must be provided");
        return;
    }
    const char *uname = util_jstr(args, "username");
    if (uid < 0 && uname) {
        for (size_t i = 0; i < g->n_users; i++)
            if (strcmp(g->users[i].username, uname) == 0)
                uid = g->users[i].id;
    }
    if (!cJSON_GetObjectItemCaseSensitive(args, "access_level")) {
        reply_err(resp, 400, "access_level is missing");
        return;
    }
    int level = jint(args, "access_level", -1);
    if (!valid_access(level)) {
        reply_err(resp, 400, "access_level does not have a valid value");
        return;
    }
    const struct gl_user *u = user_find(g, uid);
    if (!u) {
        reply_msg(resp, 404, "404 User Not Found");
        return;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, g->members)
        if (jint(m, "_internal_project_id", -1) == pid && jint(m, "id", -1) == uid) {
            reply_msg(resp, 409, "Member already exists");
            return;
        }
    char ts[32];
    now_iso(ts);
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
    reply_obj(resp, 201, o);
}

static void list_members(struct fake_gitlab *g, int pid, struct fake_http_resp *resp)
{
    cJSON *arr = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach(m, g->members)
        if (jint(m, "_internal_project_id", -1) == pid)
            cJSON_AddItemToArray(arr, wire_copy(m));
    fake_http_reply_json(resp, 200, arr);
    cJSON_Delete(arr);
}

static void add_note(struct fake_gitlab *g, const cJSON *issue, const cJSON *args, struct fake_http_resp *resp)
{
    const char *body = util_jstr(args, "body");
    if (!body || !body[0]) {
        reply_err(resp, 400, "body is missing");
        return;
    }
    bool internal = jbool(args, "internal") == 1 || jbool(args, "confidential") == 1;
    char ts[32];
    now_iso(ts);
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
    cJSON_AddNumberToObject(o, "noteable_id", jint(issue, "id", -1));
    cJSON_AddStringToObject(o, "noteable_type", "Issue");
    cJSON_AddNumberToObject(o, "noteable_iid", jint(issue, "iid", -1));
    cJSON_AddNumberToObject(o, "project_id", jint(issue, "project_id", -1));
    cJSON_AddBoolToObject(o, "internal", internal);
    cJSON_AddBoolToObject(o, "confidential", internal);
    cJSON_AddFalseToObject(o, "resolvable");
    cJSON_AddNumberToObject(o, "issue_iid", jint(issue, "iid", -1));
    cJSON_AddItemToArray(g->notes, o);
    reply_obj(resp, 201, o);
}

static void list_notes(struct fake_gitlab *g, const cJSON *issue, const struct fake_http_request *rq,
                       struct fake_http_resp *resp)
{
    int pid = jint(issue, "project_id", -1), iid = jint(issue, "iid", -1);
    const char *sort = fake_http_arg(rq, "sort", 0);
    bool asc = sort && strcmp(sort, "asc") == 0;
    cJSON *arr = cJSON_CreateArray();
    int n = cJSON_GetArraySize(g->notes);
    for (int k = 0; k < n; k++) {
        const cJSON *x = cJSON_GetArrayItem(g->notes, asc ? k : n - 1 - k);
        if (jint(x, "project_id", -1) == pid && jint(x, "issue_iid", -1) == iid)
            cJSON_AddItemToArray(arr, wire_copy(x));
    }
    fake_http_reply_json(resp, 200, arr);
    cJSON_Delete(arr);
}

static void user_json(const struct gl_user *u, cJSON *arr, const char *base)
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

/* ------------------------------------------------------------------ */
/* dispatch */

static bool authorized(const struct fake_gitlab *g, const struct fake_http_request *rq)
{
    const char *t = fake_http_header(rq, "private-token");
    if (t)
        return strcmp(t, g->token) == 0;
    const char *a = fake_http_header(rq, "authorization");
    return a && str_starts(a, "Bearer ") && strcmp(a + 7, g->token) == 0;
}

static int seg_int(const char *s)
{
    if (!all_digits(s, strlen(s)) || strlen(s) > 9)
        return -1;
    return atoi(s);
}

static void gl_handler(void *ud, const struct fake_http_request *rq, struct fake_http_resp *resp)
{
    struct fake_gitlab *g = ud;
    if (!authorized(g, rq)) {
        reply_msg(resp, 401, "401 Unauthorized");
        return;
    }
    cJSON *args = fake_http_args_json(rq);
    if (!args) {
        reply_err(resp, 400, "400 Bad request - JSON body does not parse");
        return;
    }
    char tmp[512];
    str_lcpy(tmp, rq->match_path, sizeof(tmp));
    const char *seg[GL_MAX_SEGS];
    int ns = 0;
    char *save = NULL;
    for (char *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (ns == GL_MAX_SEGS) {
            ns = -1;
            break;
        }
        seg[ns++] = t;
    }
    const char *m = rq->method;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, put = strcmp(m, "PUT") == 0;

    if (ns >= 1 && strcmp(seg[0], "projects") == 0) {
        if (ns == 1) {
            if (post) {
                create_project(g, args, resp);
            } else if (get) {
                cJSON *arr = cJSON_CreateArray();
                const cJSON *p;
                cJSON_ArrayForEach(p, g->projects)
                    cJSON_AddItemToArray(arr, wire_copy(p));
                fake_http_reply_json(resp, 200, arr);
                cJSON_Delete(arr);
            } else {
                reply_err(resp, 405, "405 Method Not Allowed");
            }
            goto out;
        }
        cJSON *proj = project_find(g, seg_int(seg[1]));
        if (!proj) {
            reply_msg(resp, 404, "404 Project Not Found");
            goto out;
        }
        int pid = jint(proj, "id", -1);
        if (ns == 2 && get) {
            reply_obj(resp, 200, proj);
        } else if (ns == 3 && strcmp(seg[2], "issues") == 0 && (post || get)) {
            if (post)
                create_issue(g, proj, args, resp);
            else
                list_issues(g, pid, rq, resp);
        } else if (ns >= 4 && strcmp(seg[2], "issues") == 0) {
            cJSON *issue = issue_find(g, pid, seg_int(seg[3]));
            if (!issue || fgl_links_hidden(g->links, pid, seg_int(seg[3])))
                reply_msg(resp, 404, "404 Not found");
            else if (ns == 4 && get)
                reply_obj(resp, 200, issue);
            else if (ns == 4 && put)
                update_issue(issue, args, resp);
            else if (ns == 5 && strcmp(seg[4], "notes") == 0 && post)
                add_note(g, issue, args, resp);
            else if (ns == 5 && strcmp(seg[4], "notes") == 0 && get)
                list_notes(g, issue, rq, resp);
            else if (ns >= 5 && strcmp(seg[4], "links") == 0)
                fgl_links_serve(g, issue, m, seg, ns, args, resp);
            else
                reply_err(resp, 404, "404 Not Found");
        } else if (ns == 3 && strcmp(seg[2], "members") == 0 && post) {
            add_member(g, pid, args, resp);
        } else if ((ns == 3 || (ns == 4 && strcmp(seg[3], "all") == 0)) && strcmp(seg[2], "members") == 0 && get) {
            list_members(g, pid, resp);
        } else {
            reply_err(resp, 404, "404 Not Found");
        }
    } else if (ns == 2 && strcmp(seg[0], "namespaces") == 0 && get) {
        const struct gl_ns *n = ns_find(g, seg_int(seg[1]));
        if (!n) {
            reply_msg(resp, 404, "404 Namespace Not Found");
            goto out;
        }
        cJSON *o = cJSON_CreateObject();
        const char *last = strrchr(n->full_path, '/');
        cJSON_AddNumberToObject(o, "id", n->id);
        cJSON_AddStringToObject(o, "name", last ? last + 1 : n->full_path);
        cJSON_AddStringToObject(o, "path", last ? last + 1 : n->full_path);
        cJSON_AddStringToObject(o, "kind", n->kind);
        cJSON_AddStringToObject(o, "full_path", n->full_path);
        cJSON_AddNullToObject(o, "parent_id");
        char *url = xasprintf("%s/%s", fake_http_url(g->http), n->full_path);
        cJSON_AddStringToObject(o, "web_url", url);
        free(url);
        fake_http_reply_json(resp, 200, o);
        cJSON_Delete(o);
    } else if (ns == 1 && strcmp(seg[0], "users") == 0 && get) {
        const char *u = fake_http_arg(rq, "username", 0);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < g->n_users; i++)
            if (!u || strcasecmp(u, g->users[i].username) == 0)
                user_json(&g->users[i], arr, fake_http_url(g->http));
        fake_http_reply_json(resp, 200, arr);
        cJSON_Delete(arr);
    } else {
        reply_err(resp, 404, "404 Not Found");
    }
out:
    cJSON_Delete(args);
}

/* ------------------------------------------------------------------ */
/* life cycle, setup, accessors */

struct fake_gitlab *fake_gitlab_create(uv_loop_t *loop, int port)
{
    struct fake_http *h = fake_http_create(loop, port, "fake-gitlab");
    if (!h)
        return NULL;
    struct fake_gitlab *g = xcalloc(1, sizeof(*g));
    g->http = h;
    g->token = xstrdup(FAKE_GITLAB_TOKEN);
    g->projects = cJSON_CreateArray();
    g->issues = cJSON_CreateArray();
    g->members = cJSON_CreateArray();
    g->notes = cJSON_CreateArray();
    g->project_seq = 100;
    g->issue_seq = 1000;
    g->note_seq = 5000;
    g->links = fgl_links_create();
    fake_gitlab_add_user(g, GL_BOT_ID, GL_BOT_USER);
    fake_gitlab_add_namespace(g, GL_BOT_ID, GL_BOT_USER);
    g->ns[g->n_ns - 1].kind = "user";
    fake_gitlab_add_namespace(g, 42, "security/incidents");
    fake_http_capture_header(h, "private-token");
    fake_http_set_match_path(h, gl_match_path, g);
    fake_http_route(h, NULL, GL_PREFIX "/", gl_handler, g);
    return g;
}

void fake_gitlab_destroy(struct fake_gitlab *g)
{
    if (!g)
        return;
    fake_http_destroy(g->http);
    for (size_t i = 0; i < g->n_ns; i++)
        free(g->ns[i].full_path);
    free(g->ns);
    for (size_t i = 0; i < g->n_users; i++)
        free(g->users[i].username);
    free(g->users);
    cJSON_Delete(g->projects);
    cJSON_Delete(g->issues);
    cJSON_Delete(g->members);
    cJSON_Delete(g->notes);
    fgl_links_destroy(g->links);
    free(g->token);
    free(g);
}

int fake_gitlab_port(const struct fake_gitlab *g)
{
    return fake_http_port(g->http);
}

const char *fake_gitlab_url(const struct fake_gitlab *g)
{
    return fake_http_url(g->http);
}

struct fake_http *fake_gitlab_http(const struct fake_gitlab *g)
{
    return g->http;
}

void fake_gitlab_set_token(struct fake_gitlab *g, const char *token)
{
    free(g->token);
    g->token = xstrdup(token ? token : "");
}

void fake_gitlab_add_namespace(struct fake_gitlab *g, int id, const char *full_path)
{
    for (size_t i = 0; i < g->n_ns; i++) {
        if (g->ns[i].id == id) {
            free(g->ns[i].full_path);
            g->ns[i].full_path = xstrdup(full_path);
            return;
        }
    }
    g->ns = xrealloc(g->ns, (g->n_ns + 1) * sizeof(*g->ns));
    g->ns[g->n_ns].id = id;
    g->ns[g->n_ns].full_path = xstrdup(full_path);
    g->ns[g->n_ns].kind = "group";
    g->n_ns++;
}

void fake_gitlab_add_user(struct fake_gitlab *g, int id, const char *username)
{
    for (size_t i = 0; i < g->n_users; i++) {
        if (g->users[i].id == id) {
            free(g->users[i].username);
            g->users[i].username = xstrdup(username);
            return;
        }
    }
    g->users = xrealloc(g->users, (g->n_users + 1) * sizeof(*g->users));
    g->users[g->n_users].id = id;
    g->users[g->n_users].username = xstrdup(username);
    g->n_users++;
}

struct fgl_links *fake_gitlab_links_state(const struct fake_gitlab *g)
{
    return g->links;
}

const cJSON *fake_gitlab_add_issue(struct fake_gitlab *g, const char *project_path, const char *title,
                                   bool confidential)
{
    const cJSON *proj = fake_gitlab_project_by_path(g, project_path);
    if (!proj) {
        const char *slash = strrchr(project_path, '/');
        if (!slash || slash == project_path || !slash[1])
            return NULL;
        char *ns_path = xstrndup(project_path, (size_t)(slash - project_path));
        int ns_id = 0;
        for (size_t i = 0; i < g->n_ns; i++)
            if (strcmp(g->ns[i].full_path, ns_path) == 0)
                ns_id = g->ns[i].id;
        if (!ns_id) {
            ns_id = 900 + (int)g->n_ns;
            fake_gitlab_add_namespace(g, ns_id, ns_path);
        }
        free(ns_path);
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", slash + 1);
        cJSON_AddStringToObject(a, "path", slash + 1);
        cJSON_AddNumberToObject(a, "namespace_id", ns_id);
        create_project(g, a, NULL);
        cJSON_Delete(a);
        proj = fake_gitlab_project_by_path(g, project_path);
        if (!proj)
            return NULL;
    }
    size_t before = fake_gitlab_issue_count(g);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "title", title);
    cJSON_AddBoolToObject(a, "confidential", confidential);
    create_issue(g, (cJSON *)proj, a, NULL);
    cJSON_Delete(a);
    return fake_gitlab_issue_count(g) > before ? fake_gitlab_issue(g, before) : NULL;
}

size_t fake_gitlab_project_count(const struct fake_gitlab *g)
{
    return (size_t)cJSON_GetArraySize(g->projects);
}

const cJSON *fake_gitlab_project(const struct fake_gitlab *g, size_t idx)
{
    return cJSON_GetArrayItem(g->projects, (int)idx);
}

const cJSON *fake_gitlab_project_by_id(const struct fake_gitlab *g, int id)
{
    return project_find(g, id);
}

const cJSON *fake_gitlab_project_by_path(const struct fake_gitlab *g, const char *path_with_namespace)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, g->projects)
        if (strcmp(util_jstr(p, "path_with_namespace"), path_with_namespace) == 0)
            return p;
    return NULL;
}

size_t fake_gitlab_issue_count(const struct fake_gitlab *g)
{
    return (size_t)cJSON_GetArraySize(g->issues);
}

const cJSON *fake_gitlab_issue(const struct fake_gitlab *g, size_t idx)
{
    return cJSON_GetArrayItem(g->issues, (int)idx);
}

const cJSON *fake_gitlab_issue_by_iid(const struct fake_gitlab *g, int project_id, int iid)
{
    return issue_find(g, project_id, iid);
}

size_t fake_gitlab_member_count(const struct fake_gitlab *g)
{
    return (size_t)cJSON_GetArraySize(g->members);
}

const cJSON *fake_gitlab_member(const struct fake_gitlab *g, size_t idx)
{
    return cJSON_GetArrayItem(g->members, (int)idx);
}

int fake_gitlab_member_access(const struct fake_gitlab *g, int project_id, int user_id)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, g->members)
        if (jint(m, "_internal_project_id", -1) == project_id && jint(m, "id", -1) == user_id)
            return jint(m, "access_level", 0);
    return 0;
}

size_t fake_gitlab_note_count(const struct fake_gitlab *g)
{
    return (size_t)cJSON_GetArraySize(g->notes);
}

const cJSON *fake_gitlab_note(const struct fake_gitlab *g, size_t idx)
{
    return cJSON_GetArrayItem(g->notes, (int)idx);
}

size_t fake_gitlab_issue_note_count(const struct fake_gitlab *g, int project_id, int iid)
{
    size_t n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, g->notes)
        if (jint(x, "project_id", -1) == project_id && jint(x, "issue_iid", -1) == iid)
            n++;
    return n;
}

const cJSON *fake_gitlab_issue_note(const struct fake_gitlab *g, int project_id, int iid, size_t idx)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, g->notes)
        if (jint(x, "project_id", -1) == project_id && jint(x, "issue_iid", -1) == iid && idx-- == 0)
            return x;
    return NULL;
}

size_t fake_gitlab_call_count(const struct fake_gitlab *g, const char *pattern)
{
    return fake_http_count(g->http, pattern);
}

const struct fake_http_request *fake_gitlab_call(const struct fake_gitlab *g, const char *pattern, size_t idx)
{
    return fake_http_request(g->http, pattern, idx);
}

static const char *reason(int status)
{
    switch (status) {
    case 400: return "Bad request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void fake_gitlab_fail(struct fake_gitlab *g, const char *pattern, int times, int status, const char *body,
                      int retry_after)
{
    char dflt[96];
    if (!body) {
        if (status == 429)
            snprintf(dflt, sizeof(dflt), "Retry later\n");
        else
            snprintf(dflt, sizeof(dflt), "{\"message\":\"%d %s\"}", status, reason(status));
        body = dflt;
    }
    fake_http_fail(g->http, pattern, times, status, status == 429 && body == dflt ? "text/plain" : "application/json",
                   body, retry_after);
}

void fake_gitlab_outage(struct fake_gitlab *g, const char *pattern, int status, int ms)
{
    fake_http_outage(g->http, pattern, status, ms);
}

void fake_gitlab_outage_end(struct fake_gitlab *g)
{
    fake_http_outage_end(g->http);
}

void fake_gitlab_delay(struct fake_gitlab *g, const char *pattern, int times, int ms)
{
    fake_http_delay(g->http, pattern, times, ms);
}
