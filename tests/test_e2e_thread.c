/* test_e2e_thread: the store thread seen from outside.  Envelopes that
 * arrive together are made durable by fewer commits than envelopes (group
 * commit, sirt_store_batch_size); with a slow store (SIRT_TEST_STORE_DELAY_MS)
 * acks of stored envelopes do not wait behind the handlers' work and
 * websocket pings are answered meanwhile; the outbox reads the store at
 * most about once per job it sends.  Bounds here are generous: the precise
 * figures belong to scripts/bench. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

static const char *send_mention(struct fx *fx, int i)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "app_mention");
    cJSON_AddStringToObject(e, "user", "U0REPORT1");
    cJSON_AddStringToObject(e, "text", "<@U0BOT0001> help");
    cJSON_AddStringToObject(e, "channel", "C0PUBLIC1");
    char ts[32], eid[32];
    snprintf(ts, sizeof(ts), "1700000100.%06d", i);
    snprintf(eid, sizeof(eid), "Ev0THREAD%04d", i);
    cJSON_AddStringToObject(e, "ts", ts);
    const char *id = fake_slack_send_event(fx->slack, e, eid, 0);
    cJSON_Delete(e);
    return id;
}

#define N_BURST 40

TEST_T(e2e_thread_group_commit_fewer_commits_than_envelopes, 60)
{
    struct fx fx;
    fx_init(&fx);
    /* Each commit takes 20 ms: envelopes arriving meanwhile queue up and
     * share the next one. */
    const char *env[] = { "SIRT_TEST_STORE_DELAY_MS=20", "SIRT_LOG=info", NULL };
    int port = fx_start_http(&fx, env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    char *ids[N_BURST];
    for (int i = 0; i < N_BURST; i++)
        ids[i] = xstrdup(send_mention(&fx, i));
    for (int i = 0; i < N_BURST; i++)
        ASSERT(fx_wait(&fx, fx_pred_acked, ids[i], 10000));
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", N_BURST, 30000));
    struct buf b;
    buf_init(&b, 1 << 20);
    ASSERT_NE(fx_http_get(port, "/metrics", &b), 0);
    double batches = fx_metric(b.data, "sirt_store_batch_size_count");
    double kept = fx_metric(b.data, "sirt_store_batch_size_sum");
    ASSERT(kept == N_BURST);
    ASSERT(batches >= 1 && batches < N_BURST / 2);
    ASSERT(fx_metric(b.data, "sirt_store_commits_total") > 0);
    /* The outbox found its jobs without re-reading the queue per job:
     * replies carry no incident, so few reads per job sent. */
    double done = 0;
    for (int k = 0; k < 100; k++) {
        ASSERT_NE(fx_http_get(port, "/metrics", &b), 0);
        done = fx_metric(b.data, "sirt_outbox_jobs_total{op=\"slack.post\",outcome=\"done\"}");
        if (done == N_BURST)
            break;
        fx_run_for(&fx, 100);
    }
    ASSERT(done == N_BURST);
    double reads = fx_metric(b.data, "sirt_outbox_store_reads_total");
    fprintf(stderr, "outbox store reads per job sent: %.2f\n", reads / done);
    ASSERT(reads > 0 && reads / done < 10);
    /* Due jobs are known in memory: after the start-up load (a handful of
     * reads), dispatching reads nothing to find work. */
    ASSERT(reads < 10 && reads / done < 0.5);
    buf_finish(&b);
    for (int i = 0; i < N_BURST; i++)
        free(ids[i]);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_thread_slow_store_acks_and_pings_not_held, 60)
{
    struct fx fx;
    fx_init(&fx);
    /* Every commit takes 150 ms: one ingest commit for the burst, then five
     * handler commits (plus the outbox's) one after the other. */
    const char *env[] = { "SIRT_TEST_STORE_DELAY_MS=150", NULL };
    fx_start(&fx, env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    fx_run_for(&fx, 500);   /* start-up commits out of the way */
    char *ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = xstrdup(send_mention(&fx, 100 + i));
    for (int i = 0; i < 5; i++)
        ASSERT(fx_wait(&fx, fx_pred_acked, ids[i], 10000));
    /* The acks came after at most a couple of commits, not behind the five
     * handlers' work (which alone takes >= 750 ms). */
    uint64_t first_sent = fake_slack_ack(fx.slack, ids[0])->sent_us;
    uint64_t last_ack = 0;
    for (int i = 0; i < 5; i++)
        if (fake_slack_ack(fx.slack, ids[i])->acked_us > last_ack)
            last_ack = fake_slack_ack(fx.slack, ids[i])->acked_us;
    ASSERT(last_ack - first_sent < 700000);
    /* Meanwhile the loop answers pings at once. */
    uint64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t before = fake_slack_pongs(fx.slack);
        ASSERT_EQ(fake_slack_ping(fx.slack), 0);
        for (int k = 0; k < 100 && fake_slack_pongs(fx.slack) == before; k++)
            fx_run_for(&fx, 2);
        ASSERT(fake_slack_pongs(fx.slack) > before);
        if (fake_slack_last_rtt_us(fx.slack) > worst)
            worst = fake_slack_last_rtt_us(fx.slack);
    }
    ASSERT(worst < 100000);
    /* The work is still being done, slowly. */
    ASSERT(fake_slack_call_count(fx.slack, "chat.postMessage") < 5);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 5, 20000));
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    ASSERT_EQ(fx_stop(&fx, 8000), 0);
    fx_finish(&fx);
}

/* `/sirt help` needs no store (the handlers' table marks it store_free):
 * its ack, with the reply in it, goes out from the loop while the store
 * thread is still busy with a slow commit for the mention sent before it.
 * A verb that needs the store (status) waits for the store thread. */
TEST_T(e2e_thread_store_free_ack_while_store_blocked, 60)
{
    struct fx fx;
    fx_init(&fx);
    /* Under a wrapper (valgrind, the bot ~20 times slower) every duration
     * five times longer: the store's delay, and the bounds on the acks. */
    const uint64_t k = getenv("SIRTBOT_WRAPPER") ? 5 : 1;
    char delay[64];
    snprintf(delay, sizeof(delay), "SIRT_TEST_STORE_DELAY_MS=%d", (int)(600 * k));
    const char *env[] = { delay, NULL };
    fx_start(&fx, env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    fx_run_for(&fx, (int)(1500 * k));   /* start-up commits out of the way */
    char *mention = xstrdup(send_mention(&fx, 200));
    fx_run_for(&fx, (int)(50 * k));     /* the store thread is inside the mention's commit */
    char *help = xstrdup(fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help"));
    char *status = xstrdup(fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "status"));
    ASSERT(fx_wait(&fx, fx_pred_acked, help, 5000));
    const struct fake_ack *h = fake_slack_ack(fx.slack, help);
    ASSERT(h->acked_us - h->sent_us < 300000 * k);
    /* The reply is in the ack. */
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h->json, "payload"), "text");
    ASSERT(cJSON_IsString(text) && strstr(text->valuestring, "/sirt report"));
    /* The mention is acked only once its commit is done, and the verb that
     * reads the store only after the store thread took it. */
    ASSERT(fake_slack_ack(fx.slack, mention) == NULL);
    ASSERT(fake_slack_ack(fx.slack, status) == NULL);
    ASSERT(fx_wait(&fx, fx_pred_acked, mention, (int)(10000 * k)));
    ASSERT(fx_wait(&fx, fx_pred_acked, status, (int)(10000 * k)));
    const struct fake_ack *m = fake_slack_ack(fx.slack, mention);
    ASSERT(m->acked_us - m->sent_us >= 500000 * k);
    ASSERT(h->acked_us < m->acked_us);
    free(mention);
    free(help);
    free(status);
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}
