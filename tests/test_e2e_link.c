/* End-to-end tests of attaching an existing security issue (handlers/link.c,
 * the gitlab.link op): the real bot against fake Slack and GitLab.  An issue
 * "filed from HackerOne" is seeded in the fake GitLab; the report form's
 * Issue link names it, or `/sirt link` / `@sirt link` does later.  Checked
 * at the fakes: the masked reproduction steps as an internal note on that
 * issue, one issue link listed from both sides, the channel told, the
 * timeline (issue_linked, text = URL) in the database; an issue the token
 * cannot read is reported once and the incident goes on; a URL not on
 * GITLAB_URL and an outsider are refused. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define SECRET_GL "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"
#define WED_1000 1795600800000LL   /* Wednesday 2026-11-25 10:00 UTC */
#define OUTSIDER "U0OUTSID1"

/* ---- helpers ---- */

/* Ok posts to channel whose text holds part. */
static size_t posts_with(struct fx *fx, const char *channel, const char *part)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel, .text = part, .ok = FX_HTTP_OK });
}

/* The text of the first post to channel holding part (answered or not), NULL if none. */
static const char *post_with(struct fx *fx, const char *channel, const char *part)
{
    const struct fake_call *c = fx_nth(fx, &(struct fx_q){ .channel = channel, .text = part }, 0);
    return c ? util_jstr(c->json, "text") : NULL;
}

static bool wait_post(struct fx *fx, const char *channel, const char *part, size_t n, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .text = part, .ok = FX_HTTP_OK }, n, ms);
}

/* Submits the report form as U0REPORT1; waits for the pinned summary;
 * returns the incident channel's id. */
static const char *report(struct fx *fx, const char *view_id, const char *link)
{
    struct report_fields f = {
        .title = "SSRF in webhook delivery",
        .what = "Webhooks can reach the internal metadata service.",
        .severity = "3",
        .priority = "3",
        .component = "gitaly",
        .repro = "POST /api/v4/hooks HTTP/1.1\nPRIVATE-TOKEN: " SECRET_GL "\n\nurl=http://169.254.169.254/latest",
        .link = link,
    };
    ASSERT(fx_wait_calls(fx, "auth.test", 1, 5000));
    const char *eid = fx_submit_report(fx, view_id, "U0REPORT1", &f);
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(fake_slack_ack(fx->slack, eid)->json, "payload");
    if (ack) {
        char *s = cJSON_PrintUnformatted(ack);
        TEST_FAIL("the form was refused: %s", s);
    }
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 15000));
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    ASSERT_NOT_NULL(ch);
    return ch->id;
}

static int jint(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* The incident's own confidential issue in the fake GitLab. */
static const cJSON *own_issue(struct fx *fx)
{
    for (size_t i = 0; i < fake_gitlab_issue_count(fx->gitlab); i++) {
        const cJSON *x = fake_gitlab_issue(fx->gitlab, i);
        if (strncmp(util_jstr(x, "title"), "SIRT-1:", 7) == 0)
            return x;
    }
    TEST_FAIL("no issue for SIRT-1");
    return NULL;
}

struct link_want {
    size_t n;
};

static bool pred_links(struct fx *fx, void *ud)
{
    return fake_gitlab_link_count(fx->gitlab) >= ((struct link_want *)ud)->n;
}

/* The issue (pid, iid) and the incident's issue (ipid, 1) are linked once,
 * seen from both sides as GET …/links answers. */
static void assert_linked_both_ways(struct fx *fx, int pid, int iid, int ipid)
{
    cJSON *a = fake_gitlab_issue_links(fx->gitlab, pid, iid);
    cJSON *b = fake_gitlab_issue_links(fx->gitlab, ipid, 1);
    ASSERT_EQ(cJSON_GetArraySize(a), 1);
    ASSERT_EQ(cJSON_GetArraySize(b), 1);
    ASSERT_EQ(jint(cJSON_GetArrayItem(a, 0), "project_id"), ipid);
    ASSERT_EQ(jint(cJSON_GetArrayItem(a, 0), "iid"), 1);
    ASSERT_EQ(jint(cJSON_GetArrayItem(b, 0), "project_id"), pid);
    ASSERT_EQ(jint(cJSON_GetArrayItem(b, 0), "iid"), iid);
    ASSERT_STR_EQ(util_jstr(cJSON_GetArrayItem(b, 0), "link_type"), "relates_to");
    ASSERT_EQ(jint(cJSON_GetArrayItem(a, 0), "issue_link_id"), jint(cJSON_GetArrayItem(b, 0), "issue_link_id"));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* The note the bot posted on (pid, iid): internal, the masked repro. */
static void assert_repro_note(struct fx *fx, int pid, int iid)
{
    ASSERT_EQ(fake_gitlab_issue_note_count(fx->gitlab, pid, iid), 1);
    const cJSON *note = fake_gitlab_issue_note(fx->gitlab, pid, iid, 0);
    const char *body = util_jstr(note, "body");
    ASSERT_CONTAINS(body, "SIRT-1");
    ASSERT_CONTAINS(body, "PRIVATE-TOKEN: glpat-[MASKED]");
    ASSERT_CONTAINS(body, "169.254.169.254");
    ASSERT_NOT_CONTAINS(body, SECRET_GL);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(note, "internal")));
    char pat[96];
    snprintf(pat, sizeof(pat), "POST /projects/%d/issues/%d/notes", pid, iid);
    ASSERT_EQ(fake_gitlab_call_count(fx->gitlab, pat), 1);
    cJSON *req = cJSON_Parse(fake_gitlab_call(fx->gitlab, pat, 0)->body);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "internal")));
    cJSON_Delete(req);
}

/* Timeline rows of kind for SIRT-1 (after the bot stopped): how many, and
 * the text and actor of the last. */
static int timeline_rows(struct fx *fx, const char *kind, char *text, size_t tlen, char *actor, size_t alen)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sirt.db", fx->dir);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT text, actor FROM timeline WHERE incident_id = 1 AND kind = ? ORDER BY id",
                                 -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        str_lcpy(text, (const char *)sqlite3_column_text(st, 0), tlen);
        str_lcpy(actor, (const char *)sqlite3_column_text(st, 1), alen);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- tests ---- */

TEST_T(e2e_link_report_names_existing_issue, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    const cJSON *h1 = fake_gitlab_add_issue(fx.gitlab, "hackerone/reports", "H1 #2041: SSRF via webhooks", true);
    int hp = jint(h1, "project_id");
    fx_start(&fx, NULL);
    /* Plain http: GITLAB_URL is the fake's; a link on it passes the form. */
    char url[256];
    snprintf(url, sizeof(url), "%s/hackerone/reports/-/issues/1#note_3", fake_gitlab_url(fx.gitlab));
    const char *chan = report(&fx, "V0LINK0001", url);
    struct link_want lw = { 1 };
    ASSERT(fx_wait(&fx, pred_links, &lw, 20000));
    ASSERT(wait_post(&fx, chan, ":link:", 1, 10000));

    /* The incident's own issue is the link's source. */
    int ipid = jint(own_issue(&fx), "project_id");
    ASSERT(ipid != hp);
    char pat[96];
    snprintf(pat, sizeof(pat), "POST /projects/%d/issues/1/links", ipid);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 1);
    cJSON *lb = cJSON_Parse(fake_gitlab_call(fx.gitlab, pat, 0)->body);
    ASSERT_EQ(jint(lb, "target_project_id"), hp);
    ASSERT_EQ(jint(lb, "target_issue_iid"), 1);
    cJSON_Delete(lb);
    /* The project was found by its path, URL-encoded. */
    bool by_path = false;
    for (size_t i = 0; i < fake_gitlab_call_count(fx.gitlab, NULL); i++) {
        const struct fake_http_request *r = fake_gitlab_call(fx.gitlab, NULL, i);
        by_path |= strcmp(r->method, "GET") == 0 && strcmp(r->path, "/api/v4/projects/hackerone/reports") == 0;
    }
    ASSERT(by_path);

    assert_repro_note(&fx, hp, 1);
    assert_linked_both_ways(&fx, hp, 1, ipid);

    /* The channel is told, with the canonical URL (no fragment). */
    char canon[256];
    snprintf(canon, sizeof(canon), "%s/hackerone/reports/-/issues/1", fake_gitlab_url(fx.gitlab));
    const char *t = post_with(&fx, chan, ":link:");
    ASSERT_CONTAINS(t, canon);
    ASSERT_CONTAINS(t, "internal comment");
    ASSERT_CONTAINS(t, "<@U0REPORT1>");
    ASSERT_NOT_CONTAINS(t, "#note_3");

    /* Linking it again by command: already linked, nothing sent. */
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "link %s", url);
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", chan, cmd), "already linked");
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 1);
    ASSERT_EQ(fake_gitlab_issue_note_count(fx.gitlab, hp, 1), 1);

    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    char text[400], actor[64];
    ASSERT_EQ(timeline_rows(&fx, "issue_linked", text, sizeof(text), actor, sizeof(actor)), 1);
    ASSERT_STR_EQ(text, canon);
    ASSERT_STR_EQ(actor, "U0REPORT1");
    ASSERT(!fx_stderr_has(&fx, SECRET_GL));
    fx_finish(&fx);
}

TEST_T(e2e_link_command_later_and_refusals, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    fx_start(&fx, NULL);
    const char *chan = report(&fx, "V0LINK0002", NULL);
    ASSERT(fx_wait_calls(&fx, "pins.add", 1, 15000));
    /* The issue is a job of its own, not behind the pin: waited for too. */
    ASSERT(fx_wait_n(&fx, fx_gitlab_issues, 1, 15000));
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    int ipid = jint(own_issue(&fx), "project_id");
    /* Filed later, from HackerOne, in a subgroup. */
    const cJSON *h1 = fake_gitlab_add_issue(fx.gitlab, "security/hackerone/inbox", "H1 #3100: SSRF", true);
    int hp = jint(h1, "project_id");
    char url[256], cmd[400];
    snprintf(url, sizeof(url), "%s/security/hackerone/inbox/-/issues/1", fake_gitlab_url(fx.gitlab));

    /* Refused: an outsider, a URL not on GitLab, a GitLab URL that is no issue, no URL. */
    snprintf(cmd, sizeof(cmd), "link SIRT-1 %s", url);
    const char *r = fx_slash_text(&fx, OUTSIDER, "C0PUBLIC1", cmd);
    ASSERT_CONTAINS(r, "only the SIRT team and the people on SIRT-1");
    r = fx_slash_text(&fx, "U0REPORT1", "C0PUBLIC1", "link SIRT-1 https://hackerone.com/reports/3100");
    ASSERT_CONTAINS(r, "I can only link issues on");
    ASSERT_CONTAINS(r, fake_gitlab_url(fx.gitlab));
    ASSERT_CONTAINS(r, "hackerone.com/reports/3100");
    snprintf(cmd, sizeof(cmd), "link SIRT-1 %s/security/hackerone/inbox/-/merge_requests/1", fake_gitlab_url(fx.gitlab));
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0REPORT1", "C0PUBLIC1", cmd), "not a GitLab issue URL");
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0REPORT1", chan, "link"), "Usage");
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_gitlab_link_count(fx.gitlab), 0);
    ASSERT_EQ(fake_gitlab_issue_note_count(fx.gitlab, hp, 1), 0);

    /* In the incident channel the incident is implied; Slack's <url> form.
     * The first link request fails with a 502 (maybe applied): the retry
     * finds its note by the marker instead of posting a second one. */
    char lpat[96];
    snprintf(lpat, sizeof(lpat), "POST /projects/%d/issues/1/links", ipid);
    fake_gitlab_fail(fx.gitlab, lpat, 1, 502, NULL, 0);
    snprintf(cmd, sizeof(cmd), "link <%s>", url);
    r = fx_slash_text(&fx, "U0SIRT001", chan, cmd);
    ASSERT_CONTAINS(r, "Linking");
    ASSERT_CONTAINS(r, url);
    struct link_want lw = { 1 };
    ASSERT(fx_wait(&fx, pred_links, &lw, 20000));
    ASSERT(wait_post(&fx, chan, ":link:", 1, 10000));
    assert_repro_note(&fx, hp, 1);
    assert_linked_both_ways(&fx, hp, 1, ipid);
    ASSERT_CONTAINS(post_with(&fx, chan, ":link:"), "<@U0SIRT001> linked");
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, lpat), 2);
    char npat[96];
    snprintf(npat, sizeof(npat), "GET /projects/%d/issues/1/notes", hp);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, npat), 1);
    /* The outsider's and the refused requests left nothing behind. */
    ASSERT_EQ(fake_gitlab_link_count(fx.gitlab), 1);

    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    char text[400], actor[64];
    ASSERT_EQ(timeline_rows(&fx, "issue_linked", text, sizeof(text), actor, sizeof(actor)), 1);
    ASSERT_STR_EQ(text, url);
    ASSERT_STR_EQ(actor, "U0SIRT001");
    fx_finish(&fx);
}

TEST_T(e2e_link_unreadable_reported_incident_continues, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    const cJSON *h1 = fake_gitlab_add_issue(fx.gitlab, "hackerone/private", "H1 #4000", false);
    int hp = jint(h1, "project_id");
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, true);
    fx_start(&fx, NULL);
    char url[256];
    snprintf(url, sizeof(url), "%s/hackerone/private/-/issues/1", fake_gitlab_url(fx.gitlab));
    const char *chan = report(&fx, "V0LINK0003", url);
    ASSERT(wait_post(&fx, chan, "could not read", 1, 20000));
    const char *t = post_with(&fx, chan, "could not read");
    ASSERT_CONTAINS(t, url);
    ASSERT_CONTAINS(t, "404");
    ASSERT_CONTAINS(t, "goes on without it");
    /* A permanent answer: asked once, never again, nothing posted or linked. */
    char pat[96];
    snprintf(pat, sizeof(pat), "GET /projects/%d/issues/1", hp);
    fx_run_for(&fx, 3000);
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 1);
    ASSERT_EQ(fake_gitlab_link_count(fx.gitlab), 0);
    ASSERT_EQ(fake_gitlab_issue_note_count(fx.gitlab, hp, 1), 0);
    ASSERT_EQ(posts_with(&fx, chan, "could not read"), 1);
    ASSERT_EQ(posts_with(&fx, chan, "failed"), 0);   /* no generic failure notice */
    /* The incident goes on: its own issue exists, commands work. */
    int ipid = jint(own_issue(&fx), "project_id");
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0REPORT1", chan, "status"), "SIRT-1");

    /* Tried again by command while still unreadable: told again. */
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "link SIRT-1 %s", url);
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0REPORT1", chan, cmd), "Linking");
    ASSERT(wait_post(&fx, chan, "could not read", 2, 20000));
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, pat), 2);

    /* Access granted: the same link by mention works now. */
    fake_gitlab_hide_issue(fx.gitlab, hp, 1, false);
    char text[400];
    snprintf(text, sizeof(text), "<@U0BOT0001> link %s/hackerone/private/issues/1", fake_gitlab_url(fx.gitlab));
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", "U0REPORT1");
    cJSON_AddStringToObject(ev, "text", text);
    cJSON_AddStringToObject(ev, "channel", chan);
    cJSON_AddStringToObject(ev, "ts", "1795600900.000100");
    fake_slack_send_event(fx.slack, ev, "Ev0LINK0001", 0);
    cJSON_Delete(ev);
    struct link_want lw = { 1 };
    ASSERT(fx_wait(&fx, pred_links, &lw, 20000));
    ASSERT(wait_post(&fx, chan, ":link:", 1, 10000));
    assert_repro_note(&fx, hp, 1);
    assert_linked_both_ways(&fx, hp, 1, ipid);
    /* Not confidential, but the comment is internal: said so. */
    ASSERT_CONTAINS(post_with(&fx, chan, ":link:"), "internal comment");

    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    char tl[400], actor[64];
    ASSERT_EQ(timeline_rows(&fx, "issue_link_failed", tl, sizeof(tl), actor, sizeof(actor)), 2);
    ASSERT_CONTAINS(tl, url);
    ASSERT_EQ(timeline_rows(&fx, "issue_linked", tl, sizeof(tl), actor, sizeof(actor)), 1);
    ASSERT_STR_EQ(tl, url);
    fx_finish(&fx);
}
