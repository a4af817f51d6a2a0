/* test_fake_gitlab: self-tests of tests/fakes/fake_gitlab.c (auth,
 * projects and namespaces, issues, members, notes, links, the knobs), run
 * on the test thread's loop with requests from a helper thread
 * (fake_clients). */
#include <curl/curl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_clients.h"
#include "fakes/fake_http.h"
#include "test.h"

#define GLTOK "PRIVATE-TOKEN: " FAKE_GITLAB_TOKEN

static cJSON *gl(struct fx *fx, const char *method, const char *path, const char *body, long *st)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/api/v4%s", fake_gitlab_url(fx->gitlab), path);
    return fc_call(fx, method, url, GLTOK, body ? HDR_JSON : NULL, body, st);
}

/* A project "p" at path in namespace 42: its id. */
static int gl_project(struct fx *fx, const char *path)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"name\":\"p\",\"path\":\"%s\",\"namespace_id\":42}", path);
    long st;
    cJSON *j = gl(fx, "POST", "/projects", body, &st);
    ASSERT_EQ(st, 201);
    int id = (int)fc_jnum(j, "id");
    cJSON_Delete(j);
    return id;
}

static long gl_status(struct fx *fx, const char *method, const char *path, const char *body)
{
    long st;
    cJSON_Delete(gl(fx, method, path, body, &st));
    return st;
}

/* One call whose answer must have status and a string field equal to
 * (exact) or containing want. */
static void gl_expect(struct fx *fx, const char *method, const char *path, const char *body, long status,
                      const char *field, const char *want, bool exact)
{
    long st;
    cJSON *j = gl(fx, method, path, body, &st);
    const char *got = fc_jstr(j, field);
    bool ok = got && (exact ? strcmp(got, want) == 0 : strstr(got, want) != NULL);
    if (st != status || !ok)
        TEST_FAIL("%s %s: status %ld (want %ld), %s \"%s\" (want %s \"%s\")", method, path, st, status, field,
                  got ? got : "(null)", exact ? "equal to" : "containing", want);
    cJSON_Delete(j);
}

TEST(fake_gitlab_auth_projects_namespaces)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    ASSERT_NULL(fx.pd);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/namespaces/42", fake_gitlab_url(fx.gitlab));
    long st;
    cJSON *j = fc_call(&fx, "GET", url, NULL, NULL, NULL, &st);
    ASSERT_EQ(st, 401);
    ASSERT_STR_EQ(fc_jstr(j, "message"), "401 Unauthorized");
    cJSON_Delete(j);
    ASSERT_EQ(fc_call_status(&fx, "GET", url, "PRIVATE-TOKEN: glpat-wrong", NULL, NULL), 401);
    j = fc_call(&fx, "GET", url, "Authorization: Bearer " FAKE_GITLAB_TOKEN, NULL, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "full_path"), "security/incidents");
    ASSERT_STR_EQ(fc_jstr(j, "path"), "incidents");
    ASSERT_STR_EQ(fc_jstr(j, "kind"), "group");
    ASSERT_EQ(fc_jnum(j, "id"), 42);
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/namespaces/security%2Fincidents", NULL, &st);
    ASSERT_EQ(fc_jnum(j, "id"), 42);
    cJSON_Delete(j);
    ASSERT_EQ(gl_status(&fx, "GET", "/namespaces/7", NULL), 404);

    j = gl(&fx, "POST", "/projects", "{\"name\":\"SIRT-1 abc\",\"path\":\"sirt-1-abc\",\"namespace_id\":42,"
                                     "\"visibility\":\"private\",\"description\":\"d\"}", &st);
    ASSERT_EQ(st, 201);
    int pid = (int)fc_jnum(j, "id");
    ASSERT(pid > 0);
    ASSERT_STR_EQ(fc_jstr(j, "path_with_namespace"), "security/incidents/sirt-1-abc");
    char want[256];
    snprintf(want, sizeof(want), "%s/security/incidents/sirt-1-abc", fake_gitlab_url(fx.gitlab));
    ASSERT_STR_EQ(fc_jstr(j, "web_url"), want);
    ASSERT_STR_EQ(fc_jstr(j, "visibility"), "private");
    ASSERT_STR_EQ(fc_jstr(j, "namespace.full_path"), "security/incidents");
    ASSERT_EQ(fc_jnum(j, "namespace.id"), 42);
    cJSON_Delete(j);
    j = gl(&fx, "POST", "/projects", "{\"name\":\"other\",\"path\":\"sirt-1-abc\",\"namespace_id\":42}", &st);
    ASSERT_EQ(st, 400);
    ASSERT_STR_EQ(fc_jstr(j, "message.path.0"), "has already been taken");
    ASSERT_STR_EQ(fc_jstr(j, "message.name.0"), "has already been taken");
    cJSON_Delete(j);
    /* form-encoded, and the same path in another namespace is fine */
    fake_gitlab_add_namespace(fx.gitlab, 43, "security/other");
    char url2[256];
    snprintf(url2, sizeof(url2), "%s/api/v4/projects", fake_gitlab_url(fx.gitlab));
    j = fc_call(&fx, "POST", url2, GLTOK, HDR_FORM, "name=SIRT-1%20abc&path=sirt-1-abc&namespace_id=43", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "path_with_namespace"), "security/other/sirt-1-abc");
    ASSERT_STR_EQ(fc_jstr(j, "visibility"), "private");
    cJSON_Delete(j);
    ASSERT_EQ(gl_status(&fx, "POST", "/projects", "{\"namespace_id\":42}"), 400);
    ASSERT_EQ(gl_status(&fx, "POST", "/projects", "{\"name\":\"x\",\"visibility\":\"secret\",\"namespace_id\":42}"), 400);

    char path[128];
    snprintf(path, sizeof(path), "/projects/%d", pid);
    gl_expect(&fx, "GET", path, NULL, 200, "path", "sirt-1-abc", true);
    j = gl(&fx, "GET", "/projects/security%2Fincidents%2Fsirt-1-abc", NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "id"), pid);
    cJSON_Delete(j);
    gl_expect(&fx, "GET", "/projects/security%2Fincidents%2Fnope", NULL, 404, "message", "404 Project Not Found", true);
    ASSERT_EQ(gl_status(&fx, "GET", "/projects/999", NULL), 404);
    ASSERT_EQ(gl_status(&fx, "GET", "/nothing/here", NULL), 404);

    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_project(fx.gitlab, 0), "description"), "d");
    ASSERT_EQ(fc_jnum(fake_gitlab_project_by_path(fx.gitlab, "security/other/sirt-1-abc"), "namespace.id"), 43);
    ASSERT_NOT_NULL(fake_gitlab_project_by_id(fx.gitlab, pid));
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects"), 5);
    /* the path form of :id is recorded under the numeric id */
    snprintf(want, sizeof(want), "GET /projects/%d", pid);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, want), 2);
    const struct fake_http_request *c = fake_gitlab_call(fx.gitlab, "POST /projects", 0);
    ASSERT_STR_EQ(fake_http_header(c, "private-token"), FAKE_GITLAB_TOKEN);
    ASSERT_EQ(c->status, 201);
    ASSERT_CONTAINS(c->body, "sirt-1-abc");
    fc_end(&fx);
}

TEST(fake_gitlab_issues_members_notes)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    long st;
    int pid = gl_project(&fx, "sirt-2-x");
    cJSON *j;
    char p[160];
    snprintf(p, sizeof(p), "/projects/%d/issues", pid);
    j = gl(&fx, "POST", p, "{\"title\":\"SIRT-2: token leak\",\"description\":\"Found a glpat token\","
                           "\"confidential\":true,\"labels\":\"severity::1, priority::2\"}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "iid"), 1);
    ASSERT_EQ(fc_jnum(j, "project_id"), pid);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "confidential")));
    ASSERT_STR_EQ(fc_jstr(j, "labels.0"), "severity::1");
    ASSERT_STR_EQ(fc_jstr(j, "labels.1"), "priority::2");
    ASSERT_STR_EQ(fc_jstr(j, "state"), "opened");
    char want[256];
    snprintf(want, sizeof(want), "%s/security/incidents/sirt-2-x/-/issues/1", fake_gitlab_url(fx.gitlab));
    ASSERT_STR_EQ(fc_jstr(j, "web_url"), want);
    cJSON_Delete(j);
    /* by path, form-encoded */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/projects/security%%2Fincidents%%2Fsirt-2-x/issues", fake_gitlab_url(fx.gitlab));
    j = fc_call(&fx, "POST", url, GLTOK, HDR_FORM, "title=second&confidential=false&labels=a,b", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "iid"), 2);
    ASSERT(cJSON_IsFalse(fc_jpath(j, "confidential")));
    ASSERT(cJSON_IsNull(fc_jpath(j, "description")));
    cJSON_Delete(j);
    ASSERT_EQ(gl_status(&fx, "POST", p, "{\"description\":\"no title\"}"), 400);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects/*/issues"), 3);

    char q[200];
    snprintf(q, sizeof(q), "%s?search=GLPAT", p);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.iid"), 1);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "%s?search=SIRT-2%%3A", p);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    ASSERT_EQ(fc_jnum(j, "0.iid"), 2);     /* newest first */
    cJSON_Delete(j);
    ASSERT_EQ(gl_status(&fx, "GET", "/projects/9999/issues", NULL), 404);

    snprintf(q, sizeof(q), "%s/1", p);
    j = gl(&fx, "PUT", q, "{\"state_event\":\"close\",\"add_labels\":\"resolved\",\"remove_labels\":\"priority::2\"}",
           &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(fc_jstr(j, "state"), "closed");
    ASSERT_STR_EQ(fc_jstr(j, "labels.1"), "resolved");
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "labels")), 2);
    cJSON_Delete(j);
    /* Edit an issue takes its documented parameters only, and at least one. */
    gl_expect(&fx, "PUT", q, "{\"add_labels\":\"severity::1\",\"severity\":1}",
              400, "error", "severity does not have a valid value", false);
    gl_expect(&fx, "PUT", q, "{}", 400, "error", "at least one parameter must be provided", false);
    ASSERT_EQ(gl_status(&fx, "PUT", q, "{\"state_event\":\"shut\"}"), 400);
    j = gl(&fx, "PUT", q, "{\"remove_labels\":[\"resolved\"],\"add_labels\":[\"severity::1\",\"priority::2\"]}", &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(fc_jpath(j, "labels")), 3);
    ASSERT_STR_EQ(fc_jstr(j, "labels.2"), "priority::2");
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "%s/7", p);
    gl_expect(&fx, "GET", q, NULL, 404, "message", "404 Not found", true);

    /* users and members */
    j = gl(&fx, "GET", "/users?username=alice", NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.id"), 201);
    ASSERT_STR_EQ(fc_jstr(j, "0.state"), "active");
    cJSON_Delete(j);
    j = gl(&fx, "GET", "/users?username=mallory", NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 0);
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "/projects/%d/members", pid);
    j = gl(&fx, "POST", q, "{\"user_id\":201,\"access_level\":30}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "username"), "alice");
    ASSERT_EQ(fc_jnum(j, "access_level"), 30);
    ASSERT_NULL(fc_jpath(j, "_internal_project_id"));
    cJSON_Delete(j);
    gl_expect(&fx, "POST", q, "{\"user_id\":\"201\",\"access_level\":\"40\"}",
              409, "message", "Member already exists", true);
    gl_expect(&fx, "POST", q, "{\"user_id\":777,\"access_level\":30}", 404, "message", "404 User Not Found", true);
    snprintf(url, sizeof(url), "%s/api/v4/projects/%d/members", fake_gitlab_url(fx.gitlab), pid);
    ASSERT_EQ(fc_call_status(&fx, "POST", url, GLTOK, HDR_FORM, "user_id=202&access_level=20"), 201);
    snprintf(q, sizeof(q), "/projects/%d/members/all", pid);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    cJSON_Delete(j);
    ASSERT_EQ(fake_gitlab_member_count(fx.gitlab), 2);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 201), 30);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 203), 0);

    /* notes */
    snprintf(q, sizeof(q), "/projects/%d/issues/1/notes", pid);
    j = gl(&fx, "POST", q, "{\"body\":\"cc @em-gitaly\",\"internal\":true}", &st);
    ASSERT_EQ(st, 201);
    ASSERT_STR_EQ(fc_jstr(j, "body"), "cc @em-gitaly");
    ASSERT_STR_EQ(fc_jstr(j, "author.username"), "sirtbot");
    ASSERT_EQ(fc_jnum(j, "noteable_iid"), 1);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "internal")));
    ASSERT_NOT_NULL(fc_jstr(j, "created_at"));
    cJSON_Delete(j);
    cJSON_Delete(gl(&fx, "POST", q, "{\"body\":\"second\"}", &st));
    ASSERT_EQ(gl_status(&fx, "POST", q, "{}"), 400);
    j = gl(&fx, "GET", q, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 2);
    ASSERT_STR_EQ(fc_jstr(j, "0.body"), "second");   /* desc by default */
    cJSON_Delete(j);
    snprintf(q, sizeof(q), "/projects/%d/issues/5/notes", pid);
    ASSERT_EQ(gl_status(&fx, "POST", q, "{\"body\":\"x\"}"), 404);

    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue(fx.gitlab, 0), "title"), "SIRT-2: token leak");
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue_by_iid(fx.gitlab, pid, 2), "title"), "second");
    ASSERT_EQ(fake_gitlab_note_count(fx.gitlab), 2);
    ASSERT_EQ(fake_gitlab_issue_note_count(fx.gitlab, pid, 1), 2);
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_issue_note(fx.gitlab, pid, 1, 0), "body"), "cc @em-gitaly");
    ASSERT_STR_EQ(fc_jstr(fake_gitlab_note(fx.gitlab, 1), "body"), "second");
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects/*/issues/*/notes"), 4);
    fc_end(&fx);
}

TEST(fake_gitlab_knobs)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    int pid = gl_project(&fx, "sirt-3-x");
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 429, NULL, 4);
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 502, NULL, 0);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4/projects/security%%2Fincidents%%2Fsirt-3-x/issues", fake_gitlab_url(fx.gitlab));
    struct fc_http r = { .method = "POST", .url = url, .hdrs = { GLTOK, HDR_JSON }, .body = "{\"title\":\"t\"}" };
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 429);
    ASSERT_STR_EQ(r.retry_after, "4");
    fc_http_done(&r);
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.resp.data, "502 Bad Gateway");
    fc_http_done(&r);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 0);
    fake_gitlab_delay(fx.gitlab, "POST /projects/*/issues", 1, 600);
    fc_http_raw(&fx, &r);
    ASSERT_EQ(r.status, 201);
    ASSERT_GE(r.ms, 550);
    fc_http_done(&r);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    char pat[64];
    snprintf(pat, sizeof(pat), "POST /projects/%d/issues", pid);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 3);
    ASSERT(fake_gitlab_call(fx.gitlab, pat, 0)->failed);
    ASSERT_EQ(fake_gitlab_call(fx.gitlab, pat, 2)->delay_ms, 600);
    fc_end(&fx);
}

/* Issue links in GitLab's documented shapes, internal notes, an issue the
 * token cannot read (fake_gitlab_links.c). */
TEST(fake_gitlab_issue_links_and_hidden)
{
    struct fx fx;
    fc_begin_opts(&fx, FX_GITLAB);
    long st;
    const cJSON *h1 = fake_gitlab_add_issue(fx.gitlab, "hackerone/reports", "H1 #1234: SSRF", true);
    ASSERT_NOT_NULL(h1);
    int hp = (int)fc_jnum(h1, "project_id");
    ASSERT_EQ(fc_jnum(h1, "iid"), 1);
    ASSERT_NOT_NULL(fake_gitlab_project_by_path(fx.gitlab, "hackerone/reports"));
    cJSON *j = gl(&fx, "GET", "/projects/hackerone%2Freports", NULL, &st);   /* project by path */
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "id"), hp);
    cJSON_Delete(j);
    int sp = gl_project(&fx, "sirt-4-x");
    char p[160], body[200];
    snprintf(p, sizeof(p), "/projects/%d/issues", sp);
    cJSON_Delete(gl(&fx, "POST", p, "{\"title\":\"SIRT-4\"}", &st));
    snprintf(p, sizeof(p), "/projects/%d/issues/1/links", sp);

    /* validation */
    gl_expect(&fx, "POST", p, "{\"target_issue_iid\":1}", 400, "error", "target_project_id is missing", true);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1,\"link_type\":\"duplicates\"}", hp);
    cJSON_Delete(gl(&fx, "POST", p, body, &st));
    ASSERT_EQ(st, 400);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":9}", hp);
    gl_expect(&fx, "POST", p, body, 404, "message", "No Issue found for given params", true);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", sp);
    cJSON_Delete(gl(&fx, "POST", p, body, &st));
    ASSERT_EQ(st, 400);   /* itself */

    /* created, by the target's path (form-encoded): {source_issue, target_issue, link_type} */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v4%s", fake_gitlab_url(fx.gitlab), p);
    j = fc_call(&fx, "POST", url, GLTOK, HDR_FORM, "target_project_id=hackerone%2Freports&target_issue_iid=1", &st);
    ASSERT_EQ(st, 201);
    ASSERT_EQ(fc_jnum(j, "source_issue.project_id"), sp);
    ASSERT_EQ(fc_jnum(j, "target_issue.project_id"), hp);
    ASSERT_EQ(fc_jnum(j, "target_issue.iid"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "link_type"), "relates_to");
    cJSON_Delete(j);
    ASSERT_EQ(fake_gitlab_link_count(fx.gitlab), 1);
    /* twice, from either side: 409 */
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", hp);
    gl_expect(&fx, "POST", p, body, 409, "message", "Issue(s) already assigned", true);
    char hpath[160];
    snprintf(hpath, sizeof(hpath), "/projects/%d/issues/1/links", hp);
    snprintf(body, sizeof(body), "{\"target_project_id\":%d,\"target_issue_iid\":1}", sp);
    cJSON_Delete(gl(&fx, "POST", hpath, body, &st));
    ASSERT_EQ(st, 409);

    /* listed from both sides */
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.project_id"), hp);
    ASSERT_EQ(fc_jnum(j, "0.issue_link_id"), 1);
    ASSERT_STR_EQ(fc_jstr(j, "0.link_type"), "relates_to");
    ASSERT_NOT_NULL(fc_jstr(j, "0.link_created_at"));
    cJSON_Delete(j);
    j = gl(&fx, "GET", hpath, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    ASSERT_EQ(fc_jnum(j, "0.project_id"), sp);
    cJSON_Delete(j);
    snprintf(url, sizeof(url), "%s/1", hpath);
    j = gl(&fx, "GET", url, NULL, &st);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(fc_jnum(j, "source_issue.project_id"), sp);
    cJSON_Delete(j);

    /* internal notes */
    snprintf(url, sizeof(url), "/projects/%d/issues/1/notes", hp);
    j = gl(&fx, "POST", url, "{\"body\":\"repro\",\"internal\":true}", &st);
    ASSERT_EQ(st, 201);
    ASSERT(cJSON_IsTrue(fc_jpath(j, "internal")));
    cJSON_Delete(j);

    /* hidden: 404 on the issue, its notes and links, as a target, and in the other side's list */
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, true);
    snprintf(url, sizeof(url), "/projects/%d/issues/1", hp);
    gl_expect(&fx, "GET", url, NULL, 404, "message", "404 Not found", true);
    snprintf(url, sizeof(url), "/projects/%d/issues/1/notes", hp);
    cJSON_Delete(gl(&fx, "POST", url, "{\"body\":\"x\"}", &st));
    ASSERT_EQ(st, 404);
    cJSON_Delete(gl(&fx, "GET", hpath, NULL, &st));
    ASSERT_EQ(st, 404);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, false);
    j = gl(&fx, "GET", p, NULL, &st);
    ASSERT_EQ(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    fc_end(&fx);
}
