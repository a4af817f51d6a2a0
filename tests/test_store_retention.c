/* test_store_retention: store_retention_due and store_incident_erase on both
 * drivers (STORE_TEST): an incident resolved long ago loses its text
 * (incident, decisions, timeline, finished outbox jobs and their results,
 * past timers) and
 * keeps its ids, times, severities, states and page rounds; a recent one,
 * an open one and pending work are untouched.  On SQLite the erased text is
 * gone from the raw bytes of the database file and its WAL while the store
 * is still open (secure_delete and the checkpoint after the commit). */
#define _GNU_SOURCE             /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "../bot/util.h"
#include "store_fixture.h"
#include "test.h"

#define DAY (24LL * 3600 * 1000)
#define MARK "(erased after 30 days)"
#define WORD "Zebrafinch42Secret"    /* in every text of the old incident */

static int64_t make_incident(struct store *s, const char *word, int64_t created, int64_t resolved)
{
    char title[128], what[128], repro[6000], link[128];
    snprintf(title, sizeof(title), "Title %s here", word);
    snprintf(what, sizeof(what), "Description %s here", word);
    snprintf(link, sizeof(link), "https://example.com/%s", word);
    /* Long enough for an overflow page: freed pages must be zeroed too. */
    size_t o = 0;
    while (o + strlen(word) + 2 < sizeof(repro)) {
        memcpy(repro + o, word, strlen(word));
        o += strlen(word);
        repro[o++] = ' ';
    }
    repro[o] = '\0';
    struct incident inc = {
        .title = title, .description = what, .severity = 1, .priority = 2, .component = "gitaly",
        .repro = repro, .issue_link = link, .reporter = "U0REP0001", .created_ms = created,
    };
    ASSERT_EQ(store_incident_create(s, &inc), 0);
    char chan[64];
    snprintf(chan, sizeof(chan), "sirt-%lld-title-%s", (long long)inc.id, word);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_name", chan, created), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_id", "C0CHAN001", created), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "gitlab_issue_url", "https://gitlab.example/x/-/issues/1", created), 0);

    struct decision d = {
        .incident_id = inc.id, .author = "U0SIRT001", .created_ms = created + 10,
        .solution = what, .options = what, .effectiveness = what, .customers = what,
        .how_affected = what, .magnitude = what, .consequences = NULL,
    };
    ASSERT_EQ(store_decision_add(s, &d), 0);
    ASSERT_EQ(store_decision_fix_delivered(s, d.id, "U0SIRT002", created + 20), 0);
    ASSERT_EQ(store_decision_validated(s, d.id, true, "U0SIRT001", created + 30), 0);

    ASSERT_EQ(store_timeline_add(s, inc.id, created, "U0REP0001", "reported", what), 0);
    ASSERT_EQ(store_timeline_add(s, inc.id, created + 5, "sirtbot", "pd.trigger", NULL), 0);
    char dedup[32];
    snprintf(dedup, sizeof(dedup), "SIRT-%lld", (long long)inc.id);
    ASSERT_EQ(store_page_add(s, inc.id, 1, dedup, "report", created + 5), 0);

    char payload[256];
    snprintf(payload, sizeof(payload), "{\"text\":\"%s\"}", what);
    char key[64];
    snprintf(key, sizeof(key), "post/%lld", (long long)inc.id);
    struct outbox_new j = { .incident_id = inc.id, .idem_key = key, .op = "slack.post", .payload = payload,
                            .now_ms = created };
    int64_t job = store_outbox_add(s, &j);
    ASSERT(job > 0);
    ASSERT_EQ(store_outbox_mark_done(s, job, "{\"ts\":\"1.2\"}", created + 1), 0);
    snprintf(key, sizeof(key), "prompt/%lld", (long long)inc.id);
    ASSERT_EQ(store_timer_set(s, key, "handoff_prompt", inc.id, created + DAY, payload, created), 0);

    if (resolved > 0) {
        ASSERT_EQ(store_timers_cancel_incident(s, inc.id), 0);
        ASSERT_EQ(store_incident_set_text(s, inc.id, "state", "resolved", resolved), 0);
        ASSERT_EQ(store_incident_set_int(s, inc.id, "resolved_ms", resolved, resolved), 0);
    }
    return inc.id;
}

struct texts {
    struct buf all;             /* every text, '\n'-separated */
    int n;
    char kinds[256];
};

static bool tl_cb(void *ud, const struct timeline_entry *e)
{
    struct texts *t = ud;
    t->n++;
    buf_printf(&t->all, "%s|%s|%s\n", e->actor ? e->actor : "", e->kind ? e->kind : "", e->text ? e->text : "");
    size_t l = strlen(t->kinds);
    snprintf(t->kinds + l, sizeof(t->kinds) - l, "%s%s", l ? "," : "", e->kind ? e->kind : "");
    return true;
}

static bool dec_cb(void *ud, const struct decision *d)
{
    struct texts *t = ud;
    t->n++;
    buf_printf(&t->all, "%s|%s|%s|%s|%s|%s|%s|fix=%lld|valid=%d|%s\n", d->solution ? d->solution : "(null)",
               d->options ? d->options : "(null)", d->effectiveness ? d->effectiveness : "(null)",
               d->customers ? d->customers : "(null)", d->how_affected ? d->how_affected : "(null)",
               d->magnitude ? d->magnitude : "(null)", d->consequences ? d->consequences : "(null)",
               (long long)d->fix_delivered_ms, d->validated, d->validated_by ? d->validated_by : "");
    return true;
}

static void read_texts(struct store *s, int64_t id, struct texts *tl, struct texts *dec)
{
    memset(tl, 0, sizeof(*tl));
    memset(dec, 0, sizeof(*dec));
    buf_init(&tl->all, 0);
    buf_init(&dec->all, 0);
    ASSERT_EQ(store_timeline_list(s, id, tl_cb, tl), 0);
    ASSERT_EQ(store_decisions_list(s, id, dec_cb, dec), 0);
}

static void texts_finish(struct texts *a, struct texts *b)
{
    buf_finish(&a->all);
    buf_finish(&b->all);
}

static int64_t job_of(struct store *s, const char *prefix, int64_t id)
{
    char key[64];
    snprintf(key, sizeof(key), "%s/%lld", prefix, (long long)id);
    return store_outbox_find(s, key);
}

STORE_TEST(store_retention_erase, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t now = 1000 * DAY;
    int64_t old = make_incident(s, WORD, now - 60 * DAY, now - 40 * DAY);
    int64_t recent = make_incident(s, "Recentword", now - 60 * DAY, now - 10 * DAY);
    int64_t open = make_incident(s, "Openword", now - 60 * DAY, 0);
    /* A job of the old incident still pending keeps its payload. */
    struct outbox_new j = { .incident_id = old, .idem_key = "late/1", .op = "slack.post",
                            .payload = "{\"text\":\"Pendingword\"}", .now_ms = now };
    int64_t late = store_outbox_add(s, &j);
    ASSERT(late > 0);

    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_EQ(store_retention_due(s, now - 30 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(ids[0], old);
    free(ids);
    ASSERT_EQ(store_retention_due(s, now - 5 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 2);                           /* the open one never */
    free(ids);
    ASSERT_EQ(store_retention_due(s, now, 1, &ids, &n), 0);
    ASSERT_EQ(n, 1);                           /* max */
    free(ids);

    ASSERT_EQ(store_incident_erase(s, open, MARK, now), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_erase(s, 999, MARK, now), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_erase(s, old, "", now), STORE_EINVAL);
    ASSERT_EQ(store_incident_erase(s, old, MARK, now), 0);
    ASSERT_EQ(store_incident_erase(s, old, MARK, now + 1), STORE_ENOTFOUND);   /* once */
    ASSERT_EQ(store_retention_due(s, now - 30 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 0);
    free(ids);

    /* The incident: text gone, the rest kept. */
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    ASSERT_EQ(store_incident_get(s, old, &inc), 0);
    ASSERT_STR_EQ(inc.title, MARK);
    ASSERT_STR_EQ(inc.description, MARK);
    ASSERT_STR_EQ(inc.repro, MARK);
    ASSERT_STR_EQ(inc.issue_link, MARK);
    char chan[32];
    snprintf(chan, sizeof(chan), "sirt-%lld", (long long)old);
    ASSERT_STR_EQ(inc.channel_name, chan);
    ASSERT_STR_EQ(inc.channel_id, "C0CHAN001");
    ASSERT_STR_EQ(inc.component, "gitaly");
    ASSERT_STR_EQ(inc.reporter, "U0REP0001");
    ASSERT_STR_EQ(inc.state, "resolved");
    ASSERT_STR_EQ(inc.gitlab_issue_url, "https://gitlab.example/x/-/issues/1");
    ASSERT_EQ(inc.severity, 1);
    ASSERT_EQ(inc.priority, 2);
    ASSERT_EQ(inc.created_ms, now - 60 * DAY);
    ASSERT_EQ(inc.resolved_ms, now - 40 * DAY);
    incident_finish(&inc);
    char q[200];
    snprintf(q, sizeof(q), "SELECT erased_ms FROM incidents WHERE id = %lld", (long long)old);
    ASSERT_EQ(sfx_raw_int(f, q), now);
    snprintf(q, sizeof(q), "SELECT erased_ms FROM incidents WHERE id = %lld", (long long)recent);
    ASSERT_EQ(sfx_raw_int(f, q), 0);

    /* Decisions and timeline: texts gone, states, kinds, actors and times kept. */
    struct texts tl, dec;
    read_texts(s, old, &tl, &dec);
    ASSERT_EQ(tl.n, 2);
    ASSERT_STR_EQ(tl.kinds, "reported,pd.trigger");
    ASSERT_STR_EQ(tl.all.data, "U0REP0001|reported|" MARK "\nsirtbot|pd.trigger|\n");
    ASSERT_EQ(dec.n, 1);
    char want[512];
    snprintf(want, sizeof(want), "%s|%s|%s|%s|%s|%s|(null)|fix=%lld|valid=1|U0SIRT001\n", MARK, MARK, MARK, MARK,
             MARK, MARK, (long long)(now - 60 * DAY + 20));
    ASSERT_STR_EQ(dec.all.data, want);
    texts_finish(&tl, &dec);

    /* Page rounds stay. */
    ASSERT_EQ(store_page_last_round(s, old), 1);

    /* Finished jobs and past timers lose their payloads; pending work keeps it. */
    struct outbox_job job;
    memset(&job, 0, sizeof(job));
    ASSERT_EQ(store_outbox_get(s, job_of(s, "post", old), &job), 0);
    ASSERT_STR_EQ(job.payload, "{}");
    ASSERT_STR_EQ(job.result, "{}");
    ASSERT_EQ(job.state, OUTBOX_DONE);
    outbox_job_finish(&job);
    ASSERT_EQ(store_outbox_get(s, late, &job), 0);
    ASSERT_STR_EQ(job.payload, "{\"text\":\"Pendingword\"}");
    outbox_job_finish(&job);
    snprintf(q, sizeof(q), "SELECT COUNT(*) FROM timers WHERE incident_id = %lld AND payload = '{}'", (long long)old);
    ASSERT_EQ(sfx_raw_int(f, q), 1);

    /* The recent and the open incidents are untouched. */
    int64_t keep[2] = { recent, open };
    const char *words[2] = { "Recentword", "Openword" };
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(store_incident_get(s, keep[i], &inc), 0);
        ASSERT_CONTAINS(inc.title, words[i]);
        ASSERT_CONTAINS(inc.description, words[i]);
        ASSERT_CONTAINS(inc.repro, words[i]);
        ASSERT_CONTAINS(inc.channel_name, words[i]);
        incident_finish(&inc);
        read_texts(s, keep[i], &tl, &dec);
        ASSERT_CONTAINS(tl.all.data, words[i]);
        ASSERT_CONTAINS(dec.all.data, words[i]);
        texts_finish(&tl, &dec);
        ASSERT_EQ(store_outbox_get(s, job_of(s, "post", keep[i]), &job), 0);
        ASSERT_CONTAINS(job.payload, words[i]);
        outbox_job_finish(&job);
    }
    snprintf(q, sizeof(q), "SELECT COUNT(*) FROM timers WHERE payload LIKE '%%Recentword%%'");
    ASSERT_EQ(sfx_raw_int(f, q), 1);
    store_close(s);
}

/* Inside a transaction that rolls back, nothing is erased. */
STORE_TEST(store_retention_erase_rolls_back, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t now = 1000 * DAY;
    int64_t old = make_incident(s, WORD, now - 60 * DAY, now - 40 * DAY);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_incident_erase(s, old, MARK, now), 0);
    store_rollback(s);
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    ASSERT_EQ(store_incident_get(s, old, &inc), 0);
    ASSERT_CONTAINS(inc.title, WORD);
    incident_finish(&inc);
    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_EQ(store_retention_due(s, now - 30 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 1);
    free(ids);
    store_close(s);
}

static bool file_has(const char *path, const char *word)
{
    size_t len = 0;
    char *data = test_read_file(path, &len);
    bool has = data && len && memmem(data, len, word, strlen(word)) != NULL;
    free(data);
    return has;
}

/* SQLite: the erased text is in neither file afterwards, with the store
 * still open (as in the running bot), though it was in them before. */
TEST(store_retention_sqlite_bytes)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", t.db);
    struct store *s = sfx_open(t.db);
    int64_t now = 1000 * DAY;
    int64_t old = make_incident(s, WORD, now - 60 * DAY, now - 40 * DAY);
    make_incident(s, "Recentword", now - 60 * DAY, now - 10 * DAY);
    /* Part of it checkpointed into the database file, part still in the WAL. */
    sfx_sq_exec(t.db, "PRAGMA wal_checkpoint(PASSIVE)");
    ASSERT_EQ(store_timeline_add(s, old, now - 45 * DAY, "U0SIRT001", "note", "late note " WORD), 0);
    ASSERT(file_has(t.db, WORD));
    ASSERT(file_has(wal, WORD));

    ASSERT_EQ(store_begin(s), 0);        /* as the scheduler runs the timer */
    ASSERT_EQ(store_incident_erase(s, old, MARK, now), 0);
    ASSERT_EQ(store_commit(s), 0);
    ASSERT(!file_has(t.db, WORD));
    ASSERT(!file_has(wal, WORD));
    ASSERT(file_has(t.db, "Recentword") || file_has(wal, "Recentword"));
    store_close(s);
    ASSERT(!file_has(t.db, WORD));
    sfx_tdir_remove(&t);
}

/* Reopened after its text was erased and resolved again: the text written
 * since is erased in its turn once that resolution is old enough. */
STORE_TEST(store_retention_reopened_erased_again, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t now = 1000 * DAY;
    int64_t id = make_incident(s, WORD, now - 60 * DAY, now - 40 * DAY);
    ASSERT_EQ(store_incident_erase(s, id, MARK, now), 0);
    ASSERT_EQ(store_incident_set_text(s, id, "state", "open", now + DAY), 0);
    ASSERT_EQ(store_timeline_add(s, id, now + DAY, "U0SIRT001", "note", "Reopenword"), 0);
    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_EQ(store_retention_due(s, now + 100 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 0);                           /* open */
    free(ids);
    ASSERT_EQ(store_incident_set_text(s, id, "state", "resolved", now + 2 * DAY), 0);
    ASSERT_EQ(store_incident_set_int(s, id, "resolved_ms", now + 2 * DAY, now + 2 * DAY), 0);
    ASSERT_EQ(store_retention_due(s, now + 2 * DAY - 1, 10, &ids, &n), 0);
    ASSERT_EQ(n, 0);                           /* not old enough */
    free(ids);
    ASSERT_EQ(store_retention_due(s, now + 40 * DAY, 10, &ids, &n), 0);
    ASSERT_EQ(n, 1);
    free(ids);
    ASSERT_EQ(store_incident_erase(s, id, MARK, now + 40 * DAY), 0);
    struct texts tl, dec;
    read_texts(s, id, &tl, &dec);
    ASSERT_NOT_CONTAINS(tl.all.data, "Reopenword");
    ASSERT_CONTAINS(tl.all.data, "U0SIRT001|note|" MARK);
    texts_finish(&tl, &dec);
    ASSERT_EQ(store_incident_erase(s, id, MARK, now + 41 * DAY), STORE_ENOTFOUND);
    store_close(s);
}
