/* fake_gitlab_links: issue links and unreadable issues for the fake GitLab
 * (see fake_gitlab_links.h).  Links are kept as GitLab's issue_links rows
 * (id, source, target, type, time) in a cJSON array owned by struct
 * fgl_links; the issues they name are looked up at answer time, so the
 * answers always show the issues as they are now.  Shapes follow
 * doc/api/issue_links.md: POST and GET …/links/:id answer {source_issue,
 * target_issue, link_type}; GET …/links answers the linked issues with
 * issue_link_id, link_type, link_created_at and link_updated_at, from
 * either side of the link. */
#include "fake_gitlab_links.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bot/util.h"

struct fgl_links {
    cJSON *links;     /* [{"id","src_pid","src_iid","dst_pid","dst_iid","link_type","created_at"}] */
    cJSON *hidden;    /* [[pid, iid], ...] */
    int seq;
};

struct fgl_links *fgl_links_create(void)
{
    struct fgl_links *l = xcalloc(1, sizeof(*l));
    l->links = cJSON_CreateArray();
    l->hidden = cJSON_CreateArray();
    l->seq = 0;
    return l;
}

void fgl_links_destroy(struct fgl_links *l)
{
    if (!l)
        return;
    cJSON_Delete(l->links);
    cJSON_Delete(l->hidden);
    free(l);
}

static int num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

bool fgl_links_hidden(const struct fgl_links *l, int pid, int iid)
{
    if (!l)
        return false;
    const cJSON *h;
    cJSON_ArrayForEach(h, l->hidden)
        if (cJSON_GetArrayItem(h, 0)->valueint == pid && cJSON_GetArrayItem(h, 1)->valueint == iid)
            return true;
    return false;
}

/* An issue the token can read, or NULL. */
static const cJSON *visible_issue(const struct fake_gitlab *g, int pid, int iid)
{
    if (fgl_links_hidden(fake_gitlab_links_state(g), pid, iid))
        return NULL;
    return fake_gitlab_issue_by_iid(g, pid, iid);
}

static const char *reverse_type(const char *t)
{
    if (strcmp(t, "blocks") == 0)
        return "is_blocked_by";
    if (strcmp(t, "is_blocked_by") == 0)
        return "blocks";
    return t;
}

/* An integer argument: a JSON number or a string of digits; -1 otherwise. */
static int int_arg(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valueint;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 9)
        return -1;
    for (const char *p = v->valuestring; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    return atoi(v->valuestring);
}

static const cJSON *find_link(const struct fgl_links *l, int id)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, l->links)
        if (num(k, "id") == id)
            return k;
    return NULL;
}

static bool involves(const cJSON *k, int pid, int iid)
{
    return (num(k, "src_pid") == pid && num(k, "src_iid") == iid) ||
           (num(k, "dst_pid") == pid && num(k, "dst_iid") == iid);
}

/* {source_issue, target_issue, link_type} of a link row (NULL when one of
 * them cannot be read). */
static cJSON *link_json(const struct fake_gitlab *g, const cJSON *k)
{
    const cJSON *s = visible_issue(g, num(k, "src_pid"), num(k, "src_iid"));
    const cJSON *t = visible_issue(g, num(k, "dst_pid"), num(k, "dst_iid"));
    if (!s || !t)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "source_issue", cJSON_Duplicate(s, 1));
    cJSON_AddItemToObject(o, "target_issue", cJSON_Duplicate(t, 1));
    cJSON_AddStringToObject(o, "link_type", util_jstr(k, "link_type"));
    return o;
}

cJSON *fake_gitlab_issue_links(const struct fake_gitlab *g, int project_id, int iid)
{
    const struct fgl_links *l = fake_gitlab_links_state(g);
    cJSON *arr = cJSON_CreateArray();
    const cJSON *k;
    cJSON_ArrayForEach(k, l->links) {
        if (!involves(k, project_id, iid))
            continue;
        bool from = num(k, "src_pid") == project_id && num(k, "src_iid") == iid;
        const cJSON *other = from ? visible_issue(g, num(k, "dst_pid"), num(k, "dst_iid"))
                                  : visible_issue(g, num(k, "src_pid"), num(k, "src_iid"));
        if (!other)
            continue;   /* "filtered according to the user authorizations" */
        cJSON *o = cJSON_Duplicate(other, 1);
        const char *type = util_jstr(k, "link_type");
        cJSON_AddNumberToObject(o, "issue_link_id", num(k, "id"));
        cJSON_AddStringToObject(o, "link_type", from ? type : reverse_type(type));
        cJSON_AddStringToObject(o, "link_created_at", util_jstr(k, "created_at"));
        cJSON_AddStringToObject(o, "link_updated_at", util_jstr(k, "created_at"));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

size_t fake_gitlab_link_count(const struct fake_gitlab *g)
{
    return (size_t)cJSON_GetArraySize(fake_gitlab_links_state(g)->links);
}

void fake_gitlab_hide_issue(struct fake_gitlab *g, int project_id, int iid, bool hidden)
{
    struct fgl_links *l = fake_gitlab_links_state(g);
    for (int i = cJSON_GetArraySize(l->hidden) - 1; i >= 0; i--) {
        const cJSON *h = cJSON_GetArrayItem(l->hidden, i);
        if (cJSON_GetArrayItem(h, 0)->valueint == project_id && cJSON_GetArrayItem(h, 1)->valueint == iid)
            cJSON_DeleteItemFromArray(l->hidden, i);
    }
    if (!hidden)
        return;
    cJSON *h = cJSON_CreateArray();
    cJSON_AddItemToArray(h, cJSON_CreateNumber(project_id));
    cJSON_AddItemToArray(h, cJSON_CreateNumber(iid));
    cJSON_AddItemToArray(l->hidden, h);
}

static void create_link(struct fake_gitlab *g, struct fgl_links *l, const cJSON *issue, const cJSON *args,
                        struct fake_http_resp *resp)
{
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(args, "target_project_id");
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(args, "target_issue_iid");
    if (!tp || !ti) {
        fake_http_reply_msg(resp, 400, "error", !tp ? "target_project_id is missing" : "target_issue_iid is missing");
        return;
    }
    const char *type = util_jstr(args, "link_type");
    if (!type)
        type = "relates_to";
    if (strcmp(type, "relates_to") != 0 && strcmp(type, "blocks") != 0 && strcmp(type, "is_blocked_by") != 0) {
        fake_http_reply_msg(resp, 400, "error", "link_type does not have a valid value");
        return;
    }
    /* target_project_id: an id, or the project's full path */
    const cJSON *proj = int_arg(tp) > 0 ? fake_gitlab_project_by_id(g, int_arg(tp))
                        : cJSON_IsString(tp) ? fake_gitlab_project_by_path(g, tp->valuestring) : NULL;
    int tiid = int_arg(ti);
    if (!proj) {
        fake_http_reply_msg(resp, 404, "message", "404 Project Not Found");
        return;
    }
    int tpid = num(proj, "id");
    const cJSON *target = tiid > 0 ? visible_issue(g, tpid, tiid) : NULL;
    if (!target) {
        fake_http_reply_msg(resp, 404, "message", "No Issue found for given params");
        return;
    }
    int spid = num(issue, "project_id"), siid = num(issue, "iid");
    if (spid == tpid && siid == tiid) {
        fake_http_reply_msg(resp, 400, "message", "Issue cannot be related to itself");
        return;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, l->links)
        if (involves(k, spid, siid) && involves(k, tpid, tiid)) {
            fake_http_reply_msg(resp, 409, "message", "Issue(s) already assigned");
            return;
        }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "id", ++l->seq);
    cJSON_AddNumberToObject(row, "src_pid", spid);
    cJSON_AddNumberToObject(row, "src_iid", siid);
    cJSON_AddNumberToObject(row, "dst_pid", tpid);
    cJSON_AddNumberToObject(row, "dst_iid", tiid);
    cJSON_AddStringToObject(row, "link_type", type);
    cJSON_AddStringToObject(row, "created_at", ts);
    cJSON_AddItemToArray(l->links, row);
    cJSON *o = link_json(g, row);
    fake_http_reply_json(resp, 201, o);
    cJSON_Delete(o);
}

void fgl_links_serve(struct fake_gitlab *g, const cJSON *issue, const char *method, const char *const *seg, int ns,
                     const cJSON *args, struct fake_http_resp *resp)
{
    struct fgl_links *l = fake_gitlab_links_state(g);
    int pid = num(issue, "project_id"), iid = num(issue, "iid");
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (ns == 5 && post) {
        create_link(g, l, issue, args, resp);
    } else if (ns == 5 && get) {
        cJSON *arr = fake_gitlab_issue_links(g, pid, iid);
        fake_http_reply_json(resp, 200, arr);
        cJSON_Delete(arr);
    } else if (ns == 6 && get) {
        const cJSON *k = find_link(l, atoi(seg[5]));
        cJSON *o = k && involves(k, pid, iid) ? link_json(g, k) : NULL;
        if (o)
            fake_http_reply_json(resp, 200, o);
        else
            fake_http_reply_msg(resp, 404, "message", "404 Not found");
        cJSON_Delete(o);
    } else {
        fake_http_reply_msg(resp, 404, "error", "404 Not Found");
    }
}
