/* fake_gitlab: see fake_gitlab.h.  State is kept as the JSON GitLab would
 * answer, in cJSON arrays owned by struct fake_gitlab (projects, issues,
 * members, notes; the last two carry internal keys stripped on the wire).
 * HTTP goes through a fake_http whose one handler dispatches on the
 * canonical path (project paths already turned into ids by match_path).
 * fake_gitlab_destroy() frees the state at once and starts the fake_http's
 * async close (no handler runs once destroy has begun).  The resources
 * and their REST calls are in fake_gitlab_api.c. */
#include "fake_gitlab.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../bot/util.h"
#include "fake_gitlab_links.h"
#include "fake_gitlab_state.h"

/* ------------------------------------------------------------------ */
/* small helpers */

int fake_gitlab__jint(const cJSON *o, const char *k, int dflt)
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
int fake_gitlab__jbool(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0;
    return -1;
}


void fake_gitlab__now_iso(char out[32])
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

const struct gl_ns *fake_gitlab__ns_find(const struct fake_gitlab *g, int id)
{
    for (size_t i = 0; i < g->n_ns; i++)
        if (g->ns[i].id == id)
            return &g->ns[i];
    return NULL;
}

const struct gl_user *fake_gitlab__user_find(const struct fake_gitlab *g, int id)
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
        if (fake_gitlab__jint(p, "id", -1) == id)
            return p;
    return NULL;
}

static cJSON *issue_find(const struct fake_gitlab *g, int project_id, int iid)
{
    cJSON *i;
    cJSON_ArrayForEach(i, g->issues)
        if (fake_gitlab__jint(i, "project_id", -1) == project_id && fake_gitlab__jint(i, "iid", -1) == iid)
            return i;
    return NULL;
}

/* A copy for the wire without the internal keys. */
cJSON *fake_gitlab__wire_copy(const cJSON *o)
{
    cJSON *c = cJSON_Duplicate(o, 1);
    if (cJSON_GetObjectItemCaseSensitive(c, "_internal_project_id"))
        cJSON_DeleteItemFromObjectCaseSensitive(c, "_internal_project_id");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "issue_iid");
    return c;
}

/* The replies take resp NULL (a resource made by a setup call): nothing is sent. */
void fake_gitlab__reply_msg(struct fake_http_resp *resp, int status, const char *msg)
{
    if (resp)
        fake_http_reply_msg(resp, status, "message", msg);
}

void fake_gitlab__reply_err(struct fake_http_resp *resp, int status, const char *msg)
{
    if (resp)
        fake_http_reply_msg(resp, status, "error", msg);
}

void fake_gitlab__reply_obj(struct fake_http_resp *resp, int status, const cJSON *o)
{
    if (!resp)
        return;
    cJSON *c = fake_gitlab__wire_copy(o);
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
                    best = fake_gitlab__jint(p, "id", -1);
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
        fake_gitlab__reply_msg(resp, 401, "401 Unauthorized");
        return;
    }
    cJSON *args = fake_http_args_json(rq);
    if (!args) {
        fake_gitlab__reply_err(resp, 400, "400 Bad request - JSON body does not parse");
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
                fake_gitlab__create_project(g, args, resp);
            } else if (get) {
                cJSON *arr = cJSON_CreateArray();
                const cJSON *p;
                cJSON_ArrayForEach(p, g->projects)
                    cJSON_AddItemToArray(arr, fake_gitlab__wire_copy(p));
                fake_http_reply_json(resp, 200, arr);
                cJSON_Delete(arr);
            } else {
                fake_gitlab__reply_err(resp, 405, "405 Method Not Allowed");
            }
            goto out;
        }
        cJSON *proj = project_find(g, seg_int(seg[1]));
        if (!proj) {
            fake_gitlab__reply_msg(resp, 404, "404 Project Not Found");
            goto out;
        }
        int pid = fake_gitlab__jint(proj, "id", -1);
        if (ns == 2 && get) {
            fake_gitlab__reply_obj(resp, 200, proj);
        } else if (ns == 3 && strcmp(seg[2], "issues") == 0 && (post || get)) {
            if (post)
                fake_gitlab__create_issue(g, proj, args, resp);
            else
                fake_gitlab__list_issues(g, pid, rq, resp);
        } else if (ns >= 4 && strcmp(seg[2], "issues") == 0) {
            cJSON *issue = issue_find(g, pid, seg_int(seg[3]));
            if (!issue || fgl_links_hidden(g->links, pid, seg_int(seg[3])))
                fake_gitlab__reply_msg(resp, 404, "404 Not found");
            else if (ns == 4 && get)
                fake_gitlab__reply_obj(resp, 200, issue);
            else if (ns == 4 && put)
                fake_gitlab__update_issue(issue, args, resp);
            else if (ns == 5 && strcmp(seg[4], "notes") == 0 && post)
                fake_gitlab__add_note(g, issue, args, resp);
            else if (ns == 5 && strcmp(seg[4], "notes") == 0 && get)
                fake_gitlab__list_notes(g, issue, rq, resp);
            else if (ns >= 5 && strcmp(seg[4], "links") == 0)
                fgl_links_serve(g, issue, m, seg, ns, args, resp);
            else
                fake_gitlab__reply_err(resp, 404, "404 Not Found");
        } else if (ns == 3 && strcmp(seg[2], "members") == 0 && post) {
            fake_gitlab__add_member(g, pid, args, resp);
        } else if ((ns == 3 || (ns == 4 && strcmp(seg[3], "all") == 0)) && strcmp(seg[2], "members") == 0 && get) {
            fake_gitlab__list_members(g, pid, resp);
        } else {
            fake_gitlab__reply_err(resp, 404, "404 Not Found");
        }
    } else if (ns == 2 && strcmp(seg[0], "namespaces") == 0 && get) {
        const struct gl_ns *n = fake_gitlab__ns_find(g, seg_int(seg[1]));
        if (!n) {
            fake_gitlab__reply_msg(resp, 404, "404 Namespace Not Found");
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
                fake_gitlab__user_json(&g->users[i], arr, fake_http_url(g->http));
        fake_http_reply_json(resp, 200, arr);
        cJSON_Delete(arr);
    } else {
        fake_gitlab__reply_err(resp, 404, "404 Not Found");
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
        fake_gitlab__create_project(g, a, NULL);
        cJSON_Delete(a);
        proj = fake_gitlab_project_by_path(g, project_path);
        if (!proj)
            return NULL;
    }
    size_t before = fake_gitlab_issue_count(g);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "title", title);
    cJSON_AddBoolToObject(a, "confidential", confidential);
    fake_gitlab__create_issue(g, (cJSON *)proj, a, NULL);
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
        if (fake_gitlab__jint(m, "_internal_project_id", -1) == project_id && fake_gitlab__jint(m, "id", -1) == user_id)
            return fake_gitlab__jint(m, "access_level", 0);
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
        if (fake_gitlab__jint(x, "project_id", -1) == project_id && fake_gitlab__jint(x, "issue_iid", -1) == iid)
            n++;
    return n;
}

const cJSON *fake_gitlab_issue_note(const struct fake_gitlab *g, int project_id, int iid, size_t idx)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, g->notes)
        if (fake_gitlab__jint(x, "project_id", -1) == project_id && fake_gitlab__jint(x, "issue_iid", -1) == iid && idx-- == 0)
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
