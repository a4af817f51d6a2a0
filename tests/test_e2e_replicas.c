/* End-to-end: three real bot processes on one PostgreSQL database against
 * one fake Slack that spreads envelopes over their connections (round
 * robin) and redelivers unacked events, with fake PagerDuty and GitLab.
 * 20 S1 reports and their follow-ups (a mention each, some delivered twice
 * to different replicas); replica 2 is SIGKILLed in the middle, with work
 * it claimed still in flight (slow answers from the fakes).  Checked: every
 * channel, project, issue, page and DM exactly once; incident numbers
 * never repeated (a gap is possible); the dead replica's work finished by
 * the others within the lease (SIRT_TEST_LEASE_MS: 5 s here, 30 s under
 * valgrind); each handoff prompt and the weekly review posted once.
 *
 * Real PostgreSQL (TEST_PG). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "pg_test.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"


#define N_REPORTS 20
/* The replicas' lease (SIRT_TEST_LEASE_MS): 5 s, so the takeover after the
 * kill is not 30 s of waiting; 30 s (the production lease) under a wrapper
 * (valgrind), where a replica can stall for seconds and lose a live lease. */
static int lease_ms(void)
{
    return getenv("SIRTBOT_WRAPPER") ? 30000 : 5000;
}
#define LEASE_MS lease_ms()
#define WED_10_UTC 1795600800000LL     /* Wednesday 2026-11-25 10:00 UTC */
#define MON_09_UTC 1796029200000LL     /* Monday 2026-11-30 09:00 UTC: the weekly review */
#define MIN_MS 60000LL

static const char *submit(struct fx *fx, int i)
{
    char view[32], title[64];
    snprintf(view, sizeof(view), "V0REPL%04d", i);
    snprintf(title, sizeof(title), "Replica report %02d token leaked", i);
    struct report_fields f = { .title = title, .what = "found by the replica test", .severity = "1",
                               .priority = "1", .component = "gitaly", .repro = "see the CI log" };
    cJSON *p = report_submission_payload(view, "U0REPORT1", &f);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

/* A follow-up mention in the public channel, with its own event id and a
 * verb of its own: the bot echoes an unknown verb in its reply, so each
 * follow-up's answer differs from the others' and fx_posts_once tells a
 * reply posted twice from two replies (`help N` answers every N alike). */
static const char *follow_up(struct fx *fx, int i, int retry)
{
    char eid[32], text[64], ts[32];
    snprintf(eid, sizeof(eid), "Ev0REPL%04d", i);
    snprintf(text, sizeof(text), "<@U0BOT0001> followup%d", i);
    snprintf(ts, sizeof(ts), "1700000%03d.000100", i);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", "U0REPORT1");
    cJSON_AddStringToObject(ev, "text", text);
    cJSON_AddStringToObject(ev, "channel", "C0PUBLIC1");
    cJSON_AddStringToObject(ev, "ts", ts);
    const char *id = fake_slack_send_event(fx->slack, ev, eid, retry);
    cJSON_Delete(ev);
    return id;
}

static bool pred_acked_all(struct fx *fx, void *ud)
{
    const char **ids = ud;
    for (int i = 0; ids[i]; i++)
        if (!fake_slack_ack(fx->slack, ids[i]))
            return false;
    return true;
}

/* Every report's plan has reached the fakes, and every follow-up was answered. */
static bool pred_settled(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_channel_count(fx->slack) >= N_REPORTS + 0 && fake_gitlab_issue_count(fx->gitlab) >= N_REPORTS
           && fake_pagerduty_incident_count(fx->pd) >= N_REPORTS && fake_gitlab_note_count(fx->gitlab) >= N_REPORTS
           && fake_slack_call_count(fx->slack, "pins.add") >= N_REPORTS
           && fx_slack_calls_where(fx, "chat.postMessage", "channel", "C0PUBLIC1") >= N_REPORTS;
}

/* The incident number of a channel named "sirt-<n>-...", or 0. */
static int channel_number(const char *name)
{
    int n = 0;
    return sscanf(name, "sirt-%d-", &n) == 1 ? n : 0;
}

static size_t posts_with(struct fx *fx, const char *channel, const char *part)
{
    size_t hits = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        if (c->error || !util_jstr(c->json, "channel") || strcmp(util_jstr(c->json, "channel"), channel) != 0)
            continue;
        if (strstr(c->body, part))
            hits++;
    }
    return hits;
}

struct want_posts {
    const char *channel, *part;
    size_t n;
};

static bool pred_posts_with(struct fx *fx, void *ud)
{
    const struct want_posts *w = ud;
    return posts_with(fx, w->channel, w->part) >= w->n;
}

/* On a failure, the replicas' log lines that mention what went wrong. */
static void dump_log_lines(const struct fx *fx, int r, const char *needle)
{
    char *log = fx_replica_log(fx, r);
    for (char *line = log, *end; line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, needle))
            fprintf(stderr, "r%d: %s\n", r, line);
        if (!end)
            break;
    }
    free(log);
}

static void assert_once(struct fx *fx)
{
    char why[1024];
    if (fx_channels_once(fx, why, sizeof(why)))
        TEST_FAIL("channels: %s", why);
    if (fx_gitlab_once(fx, why, sizeof(why)))
        TEST_FAIL("gitlab: %s", why);
    if (fx_pd_triggers_once(fx, N_REPORTS, why, sizeof(why)))
        TEST_FAIL("pagerduty: %s", why);
    if (fx_dms_once(fx, why, sizeof(why)))
        TEST_FAIL("DMs: %s", why);
    if (fx_posts_once(fx, why, sizeof(why)))
        TEST_FAIL("posts: %s", why);
    ASSERT_EQ(fake_slack_channel_count(fx->slack), N_REPORTS);
    ASSERT_EQ(fake_gitlab_project_count(fx->gitlab), N_REPORTS);
    ASSERT_EQ(fake_gitlab_issue_count(fx->gitlab), N_REPORTS);
    ASSERT_EQ(fake_gitlab_note_count(fx->gitlab), N_REPORTS);
    ASSERT_EQ(fake_pagerduty_incident_count(fx->pd), N_REPORTS);
    ASSERT_EQ(fake_slack_pin_count(fx->slack), N_REPORTS);
    ASSERT_EQ(fx_slack_calls_where(fx, "chat.postMessage", "channel", "C0PUBLIC1"), N_REPORTS);
    /* Incident numbers come from a sequence: never repeated; a gap is
     * possible (the killed replica may have drawn a number in a transaction
     * that never committed). */
    int seen[N_REPORTS];
    size_t n_seen = fake_slack_channel_count(fx->slack);
    ASSERT_EQ(n_seen, N_REPORTS);
    for (size_t i = 0; i < n_seen; i++) {
        int n = channel_number(fake_slack_channel(fx->slack, i)->name);
        if (n < 1)
            TEST_FAIL("channel %s: no incident number", fake_slack_channel(fx->slack, i)->name);
        for (size_t k = 0; k < i; k++)
            if (seen[k] == n)
                TEST_FAIL("incident number %d repeated", n);
        seen[i] = n;
        /* each incident's owner DM once */
        char part[64];
        snprintf(part, sizeof(part), "You own security incident SIRT-%d (", n);
        if (fx_dm_count(fx, "U0APPSEC2", part) != 1)
            TEST_FAIL("%s: %zu DMs", part, fx_dm_count(fx, "U0APPSEC2", part));
    }
}

TEST_PG_T(e2e_replicas_three_share_the_work_one_killed, 240)
{
    char *uri = pg_test_fresh_db("e2e_replicas_three");
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_set_clock(&fx, WED_10_UTC);
    fx_replicas_init(&fx, 3, uri);
    fake_slack_set_redelivery(fx.slack, 3000, 3);
    char lease[64];
    snprintf(lease, sizeof(lease), "SIRT_TEST_LEASE_MS=%d", LEASE_MS);
    const char *env[] = { "SIRT_LOG=info", lease, NULL };
    fx_replicas_start(&fx, env);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 3);

    /* 10 reports and their follow-ups, spread over the three */
    const char *ids[2 * N_REPORTS + 1] = { NULL };
    int n_ids = 0;
    for (int i = 1; i <= N_REPORTS / 2; i++) {
        ids[n_ids++] = submit(&fx, i);
        ids[n_ids++] = follow_up(&fx, i, 0);
    }
    ASSERT(fx_wait(&fx, pred_acked_all, ids, 10000));
    for (int r = 1; r <= 3; r++) {
        unsigned conns[4];
        int nc = fake_slack_conns(fx.slack, conns, 4);
        ASSERT_EQ(nc, 3);
        size_t got = fake_slack_conn_deliveries(fx.slack, conns[r - 1], NULL);
        if (got < 5)
            TEST_FAIL("connection of %s got %zu envelopes of 20: not spread", fake_slack_conn_tag(fx.slack, conns[r - 1]), got);
    }

    /* Slow answers keep work in flight, then replica 2 dies with its claims. */
    fake_gitlab_delay(fx.gitlab, "POST /projects", 6, 1500);
    fake_pagerduty_delay(fx.pd, FAKE_PD_ENQUEUE, 6, 1500);
    fake_slack_delay(fx.slack, "conversations.create", 6, 1500);
    for (int i = N_REPORTS / 2 + 1; i <= N_REPORTS; i++) {
        ids[n_ids++] = submit(&fx, i);
        ids[n_ids++] = follow_up(&fx, i, 0);
    }
    ASSERT(fx_wait(&fx, pred_acked_all, ids, 10000));
    fx_run_for(&fx, 300);
    size_t r2_calls = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, NULL); i++)
        r2_calls += strcmp(fake_slack_call(fx.slack, NULL, i)->client, "r2") == 0;
    ASSERT_EQ(fx_replica_kill(&fx, 2), 128 + 9);
    uint64_t killed_at = uv_now(&fx.loop);
    ASSERT(r2_calls > 1);   /* it had done (and claimed) work: more than apps.connections.open */

    /* Follow-ups redelivered by Slack to another replica after the kill:
     * the same event ids again (retry_attempt 1) must not be answered twice. */
    const char *again[N_REPORTS / 2 + 1] = { NULL };
    for (int i = 1; i <= N_REPORTS / 2; i++)
        again[i - 1] = follow_up(&fx, i, 1);
    ASSERT(fx_wait(&fx, pred_acked_all, again, 10000));

    /* everything settles within the lease (and a margin for the slow answers) */
    if (!fx_wait(&fx, pred_settled, NULL, LEASE_MS + 15000)) {
        for (int r = 1; r <= 3; r++) {
            dump_log_lines(&fx, r, "\"level\":\"warn\"");
            dump_log_lines(&fx, r, "\"level\":\"error\"");
            dump_log_lines(&fx, r, "taken over");
            dump_log_lines(&fx, r, "claimed");
        }
        TEST_FAIL("not settled %d s after the kill: channels %zu issues %zu pages %zu notes %zu pins %zu", (LEASE_MS + 15000) / 1000,
                  fake_slack_channel_count(fx.slack), fake_gitlab_issue_count(fx.gitlab),
                  fake_pagerduty_incident_count(fx.pd), fake_gitlab_note_count(fx.gitlab),
                  fake_slack_call_count(fx.slack, "pins.add"));
    }
    uv_update_time(&fx.loop);
    ASSERT_LE(uv_now(&fx.loop) - killed_at, LEASE_MS + 15000);
    /* the owner DMs come after the plan: let them arrive */
    struct want_posts owner = { "D0APPSEC2", "You own security incident", N_REPORTS };
    ASSERT(fx_wait(&fx, pred_posts_with, &owner, 15000));
    fx_run_for(&fx, 2000);
    assert_once(&fx);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);

    /* Handoff prompts (end of Amsterdam's day minus 30 min): one per incident. */
    fx_replicas_set_clock(&fx, WED_10_UTC + 5 * 60 * MIN_MS + 30 * MIN_MS + 5000);
    struct want_posts prompts = { "D0APPSEC2", "handoff_accept", N_REPORTS };
    ASSERT(fx_wait(&fx, pred_posts_with, &prompts, 20000));
    fx_run_for(&fx, 3000);
    ASSERT_EQ(posts_with(&fx, "D0APPSEC2", "handoff_accept"), N_REPORTS);

    /* The weekly review, Monday 09:00: posted once in the SIRT channel,
     * with replica 2 back (three replicas racing for the timer). */
    fx_replica_restart(&fx, 2, env);
    fx_replicas_set_clock(&fx, MON_09_UTC + 5000);
    struct want_posts review = { "C0SIRT0001", "Weekly SIRT review", 1 };
    if (!fx_wait(&fx, pred_posts_with, &review, 20000)) {
        for (int r = 1; r <= 3; r++)
            dump_log_lines(&fx, r, "review");
        TEST_FAIL("no weekly review posted");
    }
    fx_run_for(&fx, 3000);
    ASSERT_EQ(posts_with(&fx, "C0SIRT0001", "Weekly SIRT review"), 1);
    char why[1024];
    if (fx_posts_once(&fx, why, sizeof(why)))
        TEST_FAIL("posts after the timers: %s", why);
    /* Nobody answered the prompts and no appsec engineer was in working
     * hours after Amsterdam: each incident went to the secops on-call, a
     * second page round (SIRT-n/page-2), each triggered once. */
    if (fx_pd_triggers_once(&fx, 2 * N_REPORTS, why, sizeof(why)))
        TEST_FAIL("pagerduty after the timers: %s", why);
    for (size_t i = 0; i < fake_slack_channel_count(fx.slack); i++) {
        char key[32];
        snprintf(key, sizeof(key), "SIRT-%d/page-2", channel_number(fake_slack_channel(fx.slack, i)->name));
        ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, key), 1);
    }

    ASSERT_EQ(fx_replicas_stop(&fx, 10000), 0);
    fx_finish(&fx);
    free(uri);
}

/* Replicas started at the same moment on an empty database all come up
 * (the schema is migrated once, under the advisory lock) and share work. */
TEST_PG_T(e2e_replicas_start_together_on_empty_db, 120)
{
    char *uri = pg_test_fresh_db("e2e_replicas_together");
    struct fx fx;
    fx_init(&fx);
    fx_replicas_init(&fx, 3, uri);
    const char *env[] = { "SIRT_LOG=info", NULL };
    fx_replicas_start(&fx, env);
    const char *ids[7] = { NULL };
    for (int i = 0; i < 6; i++)
        ids[i] = follow_up(&fx, 100 + i, 0);
    ASSERT(fx_wait(&fx, pred_acked_all, ids, 10000));
    struct want_posts w = { "C0PUBLIC1", "", 6 };
    ASSERT(fx_wait(&fx, pred_posts_with, &w, 10000));
    fx_run_for(&fx, 1000);
    ASSERT_EQ(posts_with(&fx, "C0PUBLIC1", ""), 6);
    /* each replica got and acked its share on its own connection */
    unsigned conns[4];
    ASSERT_EQ(fake_slack_conns(fx.slack, conns, 4), 3);
    for (int r = 0; r < 3; r++) {
        size_t acked_there = 0;
        ASSERT_EQ(fake_slack_conn_deliveries(fx.slack, conns[r], &acked_there), 2);
        ASSERT_EQ(acked_there, 2);
    }
    char why[512];
    if (fx_posts_once(&fx, why, sizeof(why)))
        TEST_FAIL("posts: %s", why);
    ASSERT_EQ(fx_replicas_stop(&fx, 10000), 0);
    fx_finish(&fx);
    free(uri);
}
