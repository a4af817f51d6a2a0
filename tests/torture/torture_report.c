/* torture_report: `make torture`.  SIGKILLs the real bot at random moments
 * of the S1 report flow, N times (default 50), each time on a fresh
 * database: submit, wait a random 0-300 ms (the flow takes about that long) (sometimes with slow answers
 * from the fakes, which widens the window where a request was applied but
 * its answer never arrived), kill, restart, let it finish, then count what
 * the fakes received.  Fails (exit 1) on any lost page or any duplicate
 * channel, project, issue, note, PagerDuty incident, summary or component
 * notice, or any message posted twice (same channel, thread and text: DMs,
 * notices, replies) (a trigger in flight at the kill is sent again under the same
 * dedup_key, which PagerDuty folds into one incident: counted apart), and
 * prints one summary line with the counts.  Not part of `make test`.
 * Usage: torture_report [kills]; TORTURE_SEED=n repeats a run. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fakes/fake_gitlab.h"
#include "../fakes/fake_pagerduty.h"
#include "../fakes/fake_slack.h"
#include "../harness.h"
#include "../report_payloads.h"

static const struct report_fields s1 = {
    .title = "Signing key found in a public bucket",
    .what = "The release signing key is readable by anyone.",
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = "curl the bucket",
    .link = "",
};

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static size_t ok_calls(struct fx *fx, const char *method, const char *channel, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, method); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, method, i);
        if (c->status != 200 || c->error)   /* ok:false (already_pinned) is no new pin */
            continue;
        const char *ch = jstr(c->json, "channel"), *t = jstr(c->json, "text");
        if (channel && (!ch || strcmp(ch, channel) != 0))
            continue;
        if (needle && (!t || !strstr(t, needle)))
            continue;
        n++;
    }
    return n;
}

/* Messages the fake Slack holds twice (same channel, thread and text). */
static size_t twice_posted(struct fx *fx)
{
    size_t n = fake_slack_message_count(fx->slack, NULL), dups = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fake_message *a = fake_slack_message(fx->slack, NULL, i);
        for (size_t k = i + 1; k < n; k++) {
            const struct fake_message *b = fake_slack_message(fx->slack, NULL, k);
            if (strcmp(a->channel, b->channel) == 0 && strcmp(a->text, b->text) == 0
                && strcmp(a->thread_ts ? a->thread_ts : "", b->thread_ts ? b->thread_ts : "") == 0) {
                dups++;
                break;
            }
        }
    }
    return dups;
}

static size_t triggers(struct fx *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_pagerduty_event_count(fx->pd); i++) {
        const char *a = jstr(fake_pagerduty_event_json(fx->pd, i), "event_action");
        if (a && strcmp(a, "trigger") == 0)
            n++;
    }
    return n;
}

static bool pred_settled(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_channel_count(fx->slack) >= 1 && fake_gitlab_issue_count(fx->gitlab) >= 1
           && triggers(fx) >= 1 && fake_gitlab_note_count(fx->gitlab) >= 1
           && ok_calls(fx, "pins.add", NULL, NULL) >= 1 && ok_calls(fx, "chat.postMessage", "C0GITALY1", NULL) >= 1
           && fake_gitlab_member_count(fx->gitlab) >= 2;
}

struct totals {
    int runs, incomplete, pages_lost;
    int dup_channel, dup_project, dup_issue, dup_note, dup_page, dup_summary, dup_notice, dup_post;
    int killed_before_page, slow, refolded;
};

static void one(struct totals *t, int i, unsigned delay_ms, bool slow)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    if (slow) {
        fake_slack_delay(fx.slack, "conversations.create", 1, 250);
        fake_gitlab_delay(fx.gitlab, "POST /projects", 1, 250);
        fake_gitlab_delay(fx.gitlab, "POST /projects/*/issues", 1, 250);
        fake_pagerduty_delay(fx.pd, FAKE_PD_ENQUEUE, 1, 250);
        fake_slack_delay(fx.slack, "chat.postMessage", 4, 250);   /* summary, DMs, notices */
        t->slow++;
    }
    fx_start(&fx, NULL);
    cJSON *p = report_submission_payload("V0TORTURE1", "U0REPORT1", &s1);
    const char *eid = fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    if (!fx_wait(&fx, fx_pred_acked, (void *)eid, 5000)) {
        fprintf(stderr, "run %d: submission not acked\n", i);
        exit(1);
    }
    fx_run_for(&fx, (int)delay_ms);
    if (triggers(&fx) == 0)
        t->killed_before_page++;
    fx_kill(&fx);
    fx_start(&fx, NULL);
    bool done = fx_wait(&fx, pred_settled, NULL, 30000);
    fx_run_for(&fx, 300);   /* a duplicate would show up now */
    t->runs++;
    size_t ch = fake_slack_channel_count(fx.slack), pr = fake_gitlab_project_count(fx.gitlab);
    size_t is = fake_gitlab_issue_count(fx.gitlab), no = fake_gitlab_note_count(fx.gitlab);
    size_t pg = triggers(&fx), pd_inc = fake_pagerduty_incident_count(fx.pd);
    size_t su = ok_calls(&fx, "pins.add", NULL, NULL), cn = ok_calls(&fx, "chat.postMessage", "C0GITALY1", NULL);
    size_t tw = twice_posted(&fx);
    t->incomplete += !done;
    t->pages_lost += pd_inc == 0;
    t->dup_channel += ch > 1;
    t->dup_project += pr > 1;
    t->dup_issue += is > 1;
    t->dup_note += no > 1;
    t->dup_page += pd_inc > 1;
    t->refolded += pg > 1 && pd_inc == 1;   /* a trigger in flight at the kill, sent again: same dedup_key */
    t->dup_summary += su > 1;
    t->dup_notice += cn > 1;
    t->dup_post += tw > 0;
    if (!done || ch != 1 || pr != 1 || is != 1 || no != 1 || pd_inc != 1 || su != 1 || cn != 1 || tw)
        printf("run %d (kill after %u ms%s): channels %zu projects %zu issues %zu notes %zu "
                        "triggers %zu summaries %zu notices %zu messages posted twice %zu%s\n", i, delay_ms,
                slow ? ", slow answers" : "", ch, pr, is, no, pg, su, cn, tw, done ? "" : " (did not complete)");
    fflush(stdout);
    fx_stop(&fx, 5000);
    fx_finish(&fx);
}

int main(int argc, char **argv)
{
    int kills = argc > 1 ? atoi(argv[1]) : 50;
    if (kills < 1 || kills > 10000) {
        fprintf(stderr, "usage: torture_report [kills 1..10000]\n");
        return 2;
    }
    const char *seed_env = getenv("TORTURE_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
    srand(seed);
    printf("torture: %d kills, TORTURE_SEED=%u (bot logs on stderr)\n", kills, seed);
    fflush(stdout);
    struct totals t;
    memset(&t, 0, sizeof(t));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < kills; i++) {
        unsigned delay = (unsigned)(rand() % 300);
        bool slow = rand() % 3 == 0;
        one(&t, i, delay, slow);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    int bad = t.incomplete + t.pages_lost + t.dup_channel + t.dup_project + t.dup_issue + t.dup_note + t.dup_page
              + t.dup_summary + t.dup_notice + t.dup_post;
    printf("torture: %d SIGKILLs (%d before the page left, %d with slow answers) in %.0f s: "
           "pages lost %d, incomplete %d, duplicate channels %d, projects %d, issues %d, notes %d, pages %d, "
           "summaries %d, component notices %d, runs with any message posted twice %d; triggers re-sent after a kill and folded by dedup_key %d -> %s\n",
           t.runs, t.killed_before_page, t.slow, secs, t.pages_lost, t.incomplete, t.dup_channel, t.dup_project,
           t.dup_issue, t.dup_note, t.dup_page, t.dup_summary, t.dup_notice, t.dup_post, t.refolded, bad ? "FAIL" : "ok");
    return bad ? 1 : 0;
}
