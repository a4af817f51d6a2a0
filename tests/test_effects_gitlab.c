/* test_effects_gitlab: the GitLab ops against the scripted peer: the
 * headers and bodies of project, issue, member and note requests, what
 * they capture, adopting a taken project, the outcome of each status, and
 * that every op is skipped when GitLab is not configured. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/effects_internal.h"
#include "../bot/util.h"
#include "effects_env.h"
#include "test.h"

/* ================================================================== */
/* GitLab */

static void assert_gitlab_headers(const struct http_peer_request *r)
{
    char *tok = http_peer_header(r, "PRIVATE-TOKEN");
    ASSERT_STR_EQ(tok, EFX_GL_TOKEN);
    free(tok);
    char *acc = http_peer_header(r, "Accept");
    ASSERT_STR_EQ(acc, "application/json");
    free(acc);
    char *auth = http_peer_header(r, "Authorization");
    ASSERT_NULL(auth);
    if (strcmp(r->method, "POST") == 0) {
        char *ct = http_peer_header(r, "Content-Type");
        ASSERT_STR_EQ(ct, "application/json");
        free(ct);
    }
}

#define PROJECT_JSON "{\"id\":77,\"path_with_namespace\":\"sec/incidents/sirt-8-leak\"," \
                     "\"web_url\":\"https://gitlab.example/sec/incidents/sirt-8-leak\"}"

TEST(eff_gitlab_create_project)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 8);
    efx_push_json(&e, 201, PROJECT_JSON);
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_project", .incident_id = 8,
                                   .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\",\"description\":\"d\"}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "incident", "gitlab_project_id"), 77);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "gitlab_project_path"), "sec/incidents/sirt-8-leak");
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "gitlab_project_url"), "https://gitlab.example/sec/incidents/sirt-8-leak");
    ASSERT_NOT_NULL(efx_res_str(&g, "timeline", NULL));
    const struct http_peer_request *r = efx_req(&e, 0);
    ASSERT_STR_EQ(r->method, "POST");
    ASSERT_STR_EQ(r->target, "/api/v4/projects");
    assert_gitlab_headers(r);
    cJSON *b = efx_req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "name"), "SIRT-8 leak");
    ASSERT_STR_EQ(eff_str(b, "path"), "sirt-8-leak");
    ASSERT_STR_EQ(eff_str(b, "visibility"), "private");
    ASSERT_STR_EQ(eff_str(b, "description"), "d");
    ASSERT_EQ(eff_int(b, "namespace_id"), 42);
    cJSON_Delete(b);
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_gitlab_create_project_taken_adopts)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 8);
    efx_push_json(&e, 400, "{\"message\":{\"name\":[\"has already been taken\"],\"path\":[\"has already been taken\"]}}");
    efx_push_json(&e, 200, "{\"id\":42,\"name\":\"incidents\",\"path\":\"incidents\",\"kind\":\"group\",\"full_path\":\"sec/incidents\"}");
    efx_push_json(&e, 200, PROJECT_JSON);
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_project", .incident_id = 8, .maybe_sent = true,
                                   .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "incident", "gitlab_project_id"), 77);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "gitlab_project_path"), "sec/incidents/sirt-8-leak");
    ASSERT_EQ(http_peer_count(e.peer), 3);
    ASSERT_STR_EQ(efx_req(&e, 1)->method, "GET");
    ASSERT_STR_EQ(efx_req(&e, 1)->target, "/api/v4/namespaces/42");
    assert_gitlab_headers(efx_req(&e, 1));
    ASSERT_STR_EQ(efx_req(&e, 2)->target, "/api/v4/projects/sec%2Fincidents%2Fsirt-8-leak");
    efx_got_free(&g);

    /* taken by something we cannot find: fail, do not loop */
    efx_push_json(&e, 400, "{\"message\":{\"name\":[\"has already been taken\"]}}");
    efx_push_json(&e, 200, "{\"id\":42,\"full_path\":\"sec/incidents\"}");
    efx_push_json(&e, 404, "{\"message\":\"404 Project Not Found\"}");
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.create_project", .incident_id = 8,
                                   .payload = "{\"name\":\"SIRT-8 leak\",\"path\":\"sirt-8-leak\"}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_FAIL });

    /* already captured: no request */
    size_t n = http_peer_count(e.peer);
    inc.gitlab_project_id = 77;
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_project", .incident_id = 8,
                                   .payload = "{\"name\":\"x\",\"path\":\"x\"}" }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), n);
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_gitlab_outcomes_and_disabled)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct efx_got g;
    const struct efx_job js = { .op = "gitlab.create_project", .incident_id = 9,
                                 .payload = "{\"name\":\"n\",\"path\":\"p\"}" };
    http_peer_push_simple(e.peer, 429, EFX_JSON_HDR "Retry-After: 7\r\n", "{\"message\":\"Retry later\"}");
    efx_expect(&e, &js, NULL,
               (struct efx_want){ .outcome = EFFECT_RETRY, .retry_after_ms = 7000, .sent = EFX_NOT_SENT });
    efx_push_json(&e, 500, "{\"message\":\"500 Internal Server Error\"}");
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });
    efx_push_json(&e, 403, "{\"message\":\"403 Forbidden\"}");
    efx_run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "gitlab http_403: 403 Forbidden");
    efx_got_free(&g);
    efx_push_json(&e, 400, "{\"message\":{\"path\":[\"is invalid\"]}}");
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_FAIL });

    /* GitLab not configured */
    size_t n = http_peer_count(e.peer);
    free(e.cfg.gitlab_url);
    e.cfg.gitlab_url = NULL;
    efx_run(&e, &js, NULL, &g);
    ASSERT_EQ(g.outcome, EFFECT_FAIL);
    ASSERT_CONTAINS(g.error, "GITLAB_URL");
    ASSERT_EQ(http_peer_count(e.peer), n);
    efx_got_free(&g);

    /* nobody listening: network error, maybe sent */
    e.cfg.gitlab_url = xstrdup("http://127.0.0.1:1");
    efx_expect(&e, &js, NULL, (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });
    efx_finish(&e);
}

TEST(eff_gitlab_create_issue)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 10);
    struct efx_got g;
    const char *pl = "{\"title\":\"SIRT-10: leak\",\"description\":\"what happened\","
                     "\"labels\":\"severity::1,priority::2\",\"marker\":\"sirt:SIRT-10:issue\"}";
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 10, .payload = pl }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_NOT_SENT, .error = "waiting for gitlab project" });

    inc.gitlab_project_id = 77;
    efx_push_json(&e, 201, "{\"id\":900,\"iid\":1,\"web_url\":\"https://gitlab.example/sec/p/-/issues/1\"}");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 10, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "incident", "gitlab_issue_iid"), 1);
    ASSERT_STR_EQ(efx_res_str(&g, "incident", "gitlab_issue_url"), "https://gitlab.example/sec/p/-/issues/1");
    ASSERT_EQ(http_peer_count(e.peer), 1);
    ASSERT_STR_EQ(efx_req(&e, 0)->target, "/api/v4/projects/77/issues");
    assert_gitlab_headers(efx_req(&e, 0));
    cJSON *b = efx_req_body(&e, 0);
    ASSERT_STR_EQ(eff_str(b, "title"), "SIRT-10: leak");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "confidential")));
    ASSERT_STR_EQ(eff_str(b, "labels"), "severity::1,priority::2");
    ASSERT_CONTAINS(eff_str(b, "description"), "what happened");
    ASSERT_CONTAINS(eff_str(b, "description"), "sirt:SIRT-10:issue");
    cJSON_Delete(b);
    efx_got_free(&g);

    /* maybe_sent, found by marker: no second issue */
    efx_push_json(&e, 200, "[{\"iid\":3,\"description\":\"unrelated\"},"
                       "{\"iid\":2,\"web_url\":\"https://gitlab.example/sec/p/-/issues/2\","
                       "\"description\":\"what happened\\n\\n<!-- sirt:SIRT-10:issue -->\"}]");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 10, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "incident", "gitlab_issue_iid"), 2);
    ASSERT_EQ(http_peer_count(e.peer), 2);
    ASSERT_STR_EQ(efx_req(&e, 1)->method, "GET");
    ASSERT(str_starts(efx_req(&e, 1)->target, "/api/v4/projects/77/issues?"));
    efx_got_free(&g);

    /* maybe_sent, not found: created */
    efx_push_json(&e, 200, "[]");
    efx_push_json(&e, 201, "{\"iid\":4,\"web_url\":\"u4\"}");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 10, .maybe_sent = true, .payload = pl },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "incident", "gitlab_issue_iid"), 4);
    ASSERT_STR_EQ(efx_req(&e, 3)->method, "POST");
    efx_got_free(&g);

    /* labels as an array */
    efx_push_json(&e, 201, "{\"iid\":5,\"web_url\":\"u5\"}");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.create_issue", .incident_id = 10,
                                   .payload = "{\"title\":\"t\",\"labels\":[\"severity::2\",\"priority::1\"]}" }, &inc, &g);
    b = efx_req_body(&e, 4);
    ASSERT_STR_EQ(eff_str(b, "labels"), "severity::2,priority::1");
    cJSON_Delete(b);
    efx_got_free(&g);
    efx_finish(&e);
}

TEST(eff_gitlab_add_members)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 11);
    inc.gitlab_project_id = 77;
    efx_push_json(&e, 200, "[{\"id\":5,\"username\":\"alice\",\"state\":\"active\"}]");
    efx_push_json(&e, 201, "{\"id\":5,\"username\":\"alice\",\"access_level\":30}");
    efx_push_json(&e, 200, "[]");
    efx_push_json(&e, 200, "[{\"id\":6,\"username\":\"em-gitaly\"}]");
    efx_push_json(&e, 409, "{\"message\":\"Member already exists\"}");
    struct efx_got g;
    efx_run(&e, &(struct efx_job){ .op = "gitlab.add_members", .incident_id = 11,
                                   .payload = "{\"usernames\":[\"alice\",\"ghost\",\"@em-gitaly\",\"alice\"],\"access_level\":30}" },
        &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 5);
    ASSERT_STR_EQ(efx_req(&e, 0)->target, "/api/v4/users?username=alice");
    assert_gitlab_headers(efx_req(&e, 0));
    ASSERT_STR_EQ(efx_req(&e, 1)->target, "/api/v4/projects/77/members");
    assert_gitlab_headers(efx_req(&e, 1));
    cJSON *b = efx_req_body(&e, 1);
    ASSERT_EQ(eff_int(b, "user_id"), 5);
    ASSERT_EQ(eff_int(b, "access_level"), 30);
    cJSON_Delete(b);
    ASSERT_STR_EQ(efx_req(&e, 2)->target, "/api/v4/users?username=ghost");
    ASSERT_STR_EQ(efx_req(&e, 3)->target, "/api/v4/users?username=em-gitaly");
    char *r = cJSON_PrintUnformatted(g.result);
    ASSERT_CONTAINS(r, "\"added\":[\"alice\"]");
    ASSERT_CONTAINS(r, "\"already_member\":[\"em-gitaly\"]");
    ASSERT_CONTAINS(r, "\"unknown\":[\"ghost\"]");
    cJSON_free(r);
    ASSERT_CONTAINS(efx_res_str(&g, "timeline", NULL), "alice");
    efx_got_free(&g);

    /* a server error midway retries the whole job (409 makes the redo harmless) */
    efx_push_json(&e, 200, "[{\"id\":5,\"username\":\"alice\"}]");
    efx_push_json(&e, 502, "bad gateway");
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.add_members", .incident_id = 11,
                                   .payload = "{\"usernames\":[\"alice\"]}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY, .sent = EFX_SENT });

    inc.gitlab_project_id = 0;
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.add_members", .incident_id = 11,
                                   .payload = "{\"usernames\":[\"alice\"]}" }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY, .error = "waiting for gitlab project" });
    efx_finish(&e);
}

TEST(eff_gitlab_note)
{
    struct efx e;
    efx_init(&e, EFX_SLACK_PEER);
    struct incident inc;
    efx_incident_init(&inc, 12);
    inc.gitlab_project_id = 77;
    struct efx_got g;
    const char *pl = "{\"body\":\"Decision: rotate keys\",\"marker\":\"sirt:SIRT-12:decision:1\"}";
    efx_expect(&e, &(struct efx_job){ .op = "gitlab.note", .incident_id = 12, .payload = pl }, &inc,
               (struct efx_want){ .outcome = EFFECT_RETRY, .error = "waiting for gitlab issue" });

    inc.gitlab_issue_iid = 3;
    efx_push_json(&e, 201, "{\"id\":555,\"body\":\"x\"}");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.note", .incident_id = 12, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(efx_res_num(&g, "note_id", NULL), 555);
    ASSERT_STR_EQ(efx_req(&e, 0)->target, "/api/v4/projects/77/issues/3/notes");
    assert_gitlab_headers(efx_req(&e, 0));
    cJSON *b = efx_req_body(&e, 0);
    ASSERT_CONTAINS(eff_str(b, "body"), "Decision: rotate keys");
    ASSERT_CONTAINS(eff_str(b, "body"), "sirt:SIRT-12:decision:1");
    cJSON_Delete(b);
    efx_got_free(&g);

    efx_push_json(&e, 200, "[{\"id\":556,\"body\":\"Decision: rotate keys\\n\\n<!-- sirt:SIRT-12:decision:1 -->\"}]");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.note", .incident_id = 12, .maybe_sent = true, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 2);
    ASSERT(str_starts(efx_req(&e, 1)->target, "/api/v4/projects/77/issues/3/notes?"));
    efx_got_free(&g);

    efx_push_json(&e, 200, "[{\"id\":1,\"body\":\"other\"}]");
    efx_push_json(&e, 201, "{\"id\":557}");
    efx_run(&e, &(struct efx_job){ .op = "gitlab.note", .incident_id = 12, .maybe_sent = true, .payload = pl }, &inc, &g);
    ASSERT_EQ(g.outcome, EFFECT_DONE);
    ASSERT_EQ(http_peer_count(e.peer), 4);
    ASSERT_STR_EQ(efx_req(&e, 3)->method, "POST");
    efx_got_free(&g);
    efx_finish(&e);
}
