/* fake_gitlab: a loopback GitLab REST v4 on the caller's libuv loop (built
 * on fake_http), under /api/v4.  Auth: "PRIVATE-TOKEN: <token>" (or
 * "Authorization: Bearer <token>"); missing or wrong -> 401
 * {"message":"401 Unauthorized"}.  Bodies: JSON, or form-encoded; query
 * args fill in.  :id is a number or the URL-encoded path
 * ("security%2Fincidents%2Fsirt-1-abc").  Served:
 *   POST /projects                     201 project; path taken in the
 *                                      namespace -> 400 {"message":{"path":
 *                                      [...],"name":[...]}}
 *   GET  /projects/:id                 project
 *   GET  /namespaces/:id               {"id","name","path","kind":"group","full_path"}
 *   POST /projects/:id/issues          201 issue (iid per project from 1)
 *   GET  /projects/:id/issues          ?search= (title or description,
 *                                      case-insensitive), ?state=, newest first
 *   GET|PUT /projects/:id/issues/:iid  issue; PUT: title, description,
 *                                      labels, add_labels, remove_labels,
 *                                      confidential, state_event close|reopen
 *                                      (the documented parameters only: any
 *                                      other, a bad state_event or labels
 *                                      value, or none at all -> 400 {"error"})
 *   GET  /users?username=u             [] or [user]
 *   POST /projects/:id/members         201 member; 409 "Member already
 *                                      exists"; 404 "404 User Not Found"
 *   GET  /projects/:id/members[/all]   array
 *   POST /projects/:id/issues/:iid/notes  201 note (author "sirtbot")
 *   GET  /projects/:id/issues/:iid/notes  array (sort=asc|desc, default desc)
 *   POST /projects/:id/issues/:iid/links  target_project_id (id or full
 *                                      path), target_issue_iid, link_type
 *                                      relates_to|blocks|is_blocked_by: 201
 *                                      {source_issue,target_issue,link_type};
 *                                      409 "Issue(s) already assigned" (either
 *                                      direction); 404 "No Issue found for
 *                                      given params" (missing or unreadable)
 *   GET  /projects/:id/issues/:iid/links  the linked issues, from either side,
 *                                      with issue_link_id, link_type (seen
 *                                      from this issue), link_created_at,
 *                                      link_updated_at
 *   GET  /projects/:id/issues/:iid/links/:issue_link_id  as the POST answers
 * Notes take "internal" (or the deprecated "confidential"): both echo it.
 * An issue hidden with fake_gitlab_hide_issue answers 404 to everything
 * (issue, notes, links, and as a link target) and drops out of lists.
 * Unknown project -> 404 {"message":"404 Project Not Found"}, unknown issue
 * -> 404 {"message":"404 Not found"}, unknown route -> 404 {"error":"404 Not
 * Found"}.  The token's user is id 1 "sirtbot" (namespace 1 "sirtbot");
 * namespace 42 "security/incidents" exists by default.
 * Every call is recorded by the underlying fake_http; patterns are matched
 * against the path without "/api/v4", with project paths replaced by the
 * project's numeric id: "POST /projects/ * /issues" (no spaces) matches an
 * issue created under either form of :id.
 * Loop thread only; every cJSON returned is owned by the fake (do not
 * modify or free) and lives until fake_gitlab_destroy(). */
#ifndef SIRT_FAKE_GITLAB_H
#define SIRT_FAKE_GITLAB_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fake_http.h"

#define FAKE_GITLAB_TOKEN "glpat-sirtbotfaketoken0001"

struct fake_gitlab;

/* port 0 picks a free one.  NULL on failure. */
struct fake_gitlab *fake_gitlab_create(uv_loop_t *loop, int port);
/* Async, as fake_http_destroy; NULL is a no-op. */
void fake_gitlab_destroy(struct fake_gitlab *g);
int fake_gitlab_port(const struct fake_gitlab *g);
const char *fake_gitlab_url(const struct fake_gitlab *g);     /* "http://127.0.0.1:G" (no /api/v4) */
struct fake_http *fake_gitlab_http(const struct fake_gitlab *g);
void fake_gitlab_set_token(struct fake_gitlab *g, const char *token);   /* default FAKE_GITLAB_TOKEN */

/* --- setup --- */
void fake_gitlab_add_namespace(struct fake_gitlab *g, int id, const char *full_path);
/* A user for /users?username= and members (adding an id again renames it). */
void fake_gitlab_add_user(struct fake_gitlab *g, int id, const char *username);

/* --- state --- */
size_t fake_gitlab_project_count(const struct fake_gitlab *g);
const cJSON *fake_gitlab_project(const struct fake_gitlab *g, size_t idx);           /* creation order */
const cJSON *fake_gitlab_project_by_id(const struct fake_gitlab *g, int id);
const cJSON *fake_gitlab_project_by_path(const struct fake_gitlab *g, const char *path_with_namespace);
size_t fake_gitlab_issue_count(const struct fake_gitlab *g);                         /* all projects */
const cJSON *fake_gitlab_issue(const struct fake_gitlab *g, size_t idx);             /* creation order */
const cJSON *fake_gitlab_issue_by_iid(const struct fake_gitlab *g, int project_id, int iid);
size_t fake_gitlab_member_count(const struct fake_gitlab *g);                        /* all projects */
/* Member entries carry an extra "project_id" field (not sent on the wire). */
const cJSON *fake_gitlab_member(const struct fake_gitlab *g, size_t idx);
/* Access level of user in project, 0 if not a member. */
int fake_gitlab_member_access(const struct fake_gitlab *g, int project_id, int user_id);
size_t fake_gitlab_note_count(const struct fake_gitlab *g);                          /* all issues */
/* Note entries carry extra "project_id" and "issue_iid" fields. */
const cJSON *fake_gitlab_note(const struct fake_gitlab *g, size_t idx);              /* creation order */
size_t fake_gitlab_issue_note_count(const struct fake_gitlab *g, int project_id, int iid);
const cJSON *fake_gitlab_issue_note(const struct fake_gitlab *g, int project_id, int iid, size_t idx);

/* --- existing issues, links (fake_gitlab_links.c) --- */
/* An issue in project project_path ("group/sub/project"), which is made
 * (with its namespace) when it does not exist; as if a person had filed
 * it.  Returns the issue (owned by the fake), NULL for a bad path. */
const cJSON *fake_gitlab_add_issue(struct fake_gitlab *g, const char *project_path, const char *title,
                                   bool confidential);
/* hidden: the token loses access to that issue (404 on every request
 * about it); false: it can read it again. */
void fake_gitlab_hide_issue(struct fake_gitlab *g, int project_id, int iid, bool hidden);
size_t fake_gitlab_link_count(const struct fake_gitlab *g);
/* What GET /projects/:id/issues/:iid/links answers now (caller frees). */
cJSON *fake_gitlab_issue_links(const struct fake_gitlab *g, int project_id, int iid);

/* --- calls (see fake_http: method, path, headers, body, status, times) --- */
size_t fake_gitlab_call_count(const struct fake_gitlab *g, const char *pattern);     /* "POST /projects" */
const struct fake_http_request *fake_gitlab_call(const struct fake_gitlab *g, const char *pattern, size_t idx);

/* --- knobs: pattern as above, e.g. "POST /projects/ * /issues" without
 * spaces.  fail: body NULL gives GitLab's {"message":"<status> <reason>"};
 * Retry-After when retry_after > 0; status 0 drops the connection. --- */
void fake_gitlab_fail(struct fake_gitlab *g, const char *pattern, int times, int status, const char *body,
                      int retry_after);
/* Outage: every request matching pattern (NULL = all) fails with status
 * (0 drops the connection) for ms from now, or until fake_gitlab_outage_end
 * when ms <= 0. */
void fake_gitlab_outage(struct fake_gitlab *g, const char *pattern, int status, int ms);
void fake_gitlab_outage_end(struct fake_gitlab *g);
void fake_gitlab_delay(struct fake_gitlab *g, const char *pattern, int times, int ms);

#endif
