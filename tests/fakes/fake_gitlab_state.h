/* fake_gitlab_state: what fake_gitlab.c (state, the path canonicaliser,
 * dispatch, life cycle, what tests read) shares with fake_gitlab_api.c
 * (projects, issues, members, notes as the REST calls change them).  Not
 * for tests: they use fake_gitlab.h. */
#ifndef SIRT_FAKE_GITLAB_STATE_H
#define SIRT_FAKE_GITLAB_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "fake_gitlab.h"
#include "fake_http.h"

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

/* o[k] as an int (number or digits string), else dflt. */
int fake_gitlab__jint(const cJSON *o, const char *k, int dflt);
/* o[k] as a bool: 1, 0, or -1 when absent or not one. */
int fake_gitlab__jbool(const cJSON *o, const char *k);
void fake_gitlab__now_iso(char out[32]);
const struct gl_ns *fake_gitlab__ns_find(const struct fake_gitlab *g, int id);
const struct gl_user *fake_gitlab__user_find(const struct fake_gitlab *g, int id);
/* o without the internal "_" keys (the caller deletes it). */
cJSON *fake_gitlab__wire_copy(const cJSON *o);
/* GitLab's error shapes: {"message": msg} and {"error": msg}. */
void fake_gitlab__reply_msg(struct fake_http_resp *resp, int status, const char *msg);
void fake_gitlab__reply_err(struct fake_http_resp *resp, int status, const char *msg);
void fake_gitlab__reply_obj(struct fake_http_resp *resp, int status, const cJSON *o);

/* fake_gitlab_api.c: the resources, answering into resp */
void fake_gitlab__create_project(struct fake_gitlab *g, const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__create_issue(struct fake_gitlab *g, cJSON *proj, const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__list_issues(struct fake_gitlab *g, int pid, const struct fake_http_request *rq,
                              struct fake_http_resp *resp);
bool fake_gitlab__issue_put_valid(const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__update_issue(cJSON *issue, const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__add_member(struct fake_gitlab *g, int pid, const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__list_members(struct fake_gitlab *g, int pid, struct fake_http_resp *resp);
void fake_gitlab__add_note(struct fake_gitlab *g, const cJSON *issue, const cJSON *args, struct fake_http_resp *resp);
void fake_gitlab__list_notes(struct fake_gitlab *g, const cJSON *issue, const struct fake_http_request *rq,
                             struct fake_http_resp *resp);
void fake_gitlab__user_json(const struct gl_user *u, cJSON *arr, const char *base);

#endif
