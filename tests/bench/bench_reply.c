/* bench_reply: mention -> reply latency, from the moment the fake Slack
 * writes an app_mention envelope ("@sirt help", its own event id and
 * thread) to the moment the bot's chat.postMessage for it reaches the fake;
 * at 1 and at 64 in flight.  Beside it: the ack latency of the same
 * envelopes and the websocket ping round trip (one in flight), throughput of
 * replies, and each process's peak RSS (VmHWM).  Real bot processes (the
 * replica harness), the store given by --db (default: a SQLite file).
 * Prints "skipped: <reason>" and exits 0 when the bot refuses the setup
 * (PostgreSQL or several processes before the bot supports them).
 * Usage: bench_reply [--db URI] [--replicas N] [n_one] [n_window] [window] */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fakes/fake_slack.h"
#include "../harness.h"

struct run {
    struct fx *fx;
    size_t n;              /* mentions in this run */
    size_t sent, replied;
    size_t base;           /* event number of the first mention */
    int window;
    uint64_t *sent_us;     /* per mention: envelope written (0 until then) */
    uint64_t *reply_us;    /* per mention: its reply reached the fake */
    const char **env_ids;
    size_t scanned;        /* chat.postMessage calls looked at */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    return n ? v[(size_t)(p * (double)(n - 1) + 0.5)] : 0;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_one(struct run *r)
{
    size_t k = r->sent++;
    char eid[32], ts[32];
    snprintf(eid, sizeof(eid), "Ev0B%07d%010zu", (int)getpid(), r->base + k);
    snprintf(ts, sizeof(ts), "1700000000.%06zu", k);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", "U0REPORT1");
    cJSON_AddStringToObject(ev, "text", "<@U0BOT0001> help");
    cJSON_AddStringToObject(ev, "channel", "C0BENCH01");
    cJSON_AddStringToObject(ev, "ts", ts);
    cJSON_AddStringToObject(ev, "thread_ts", ts);
    r->env_ids[k] = fake_slack_send_event(r->fx->slack, ev, eid, 0);
    cJSON_Delete(ev);
}

/* Matches new chat.postMessage calls to mentions by thread_ts; keeps the
 * window full. */
static bool pred_run(struct fx *fx, void *ud)
{
    struct run *r = ud;
    size_t calls = fake_slack_call_count(fx->slack, "chat.postMessage");
    for (; r->scanned < calls; r->scanned++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", r->scanned);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->json, "thread_ts");
        size_t k;
        if (c->error || !cJSON_IsString(t) || sscanf(t->valuestring, "1700000000.%zu", &k) != 1 || k >= r->n
            || r->reply_us[k])
            continue;
        r->reply_us[k] = c->t_us;
        r->replied++;
    }
    while (r->sent < r->n && r->sent - r->replied < (size_t)r->window)
        send_one(r);
    return r->replied >= r->n;
}

/* CPU time (user + system, every thread) a process used so far, in us:
 * on a loaded machine the figure that moves least between runs. */
static uint64_t proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (ut + st) * 1000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

static uint64_t bots_cpu_us(const struct fx *fx)
{
    uint64_t t = 0;
    for (int i = 0; i < fx->n_reps; i++)
        t += proc_cpu_us(fx->reps[i].pid);
    return t;
}

static void proc_hwm(int pid, long *hwm_kb)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    *hwm_kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
}

/* One run of n mentions with `window` in flight; prints the figures. */
static int run_mentions(struct fx *fx, size_t n, int window, size_t base, bool with_ping, const char *label)
{
    struct run r = { .fx = fx, .n = n, .window = window, .base = base };
    r.reply_us = calloc(n, sizeof(uint64_t));
    r.sent_us = calloc(n, sizeof(uint64_t));
    r.env_ids = calloc(n, sizeof(char *));
    r.scanned = fake_slack_call_count(fx->slack, "chat.postMessage");
    uint64_t *rtt = calloc(n / 5 + 2, sizeof(uint64_t));
    size_t n_rtt = 0;
    uint64_t t0 = mono_us(), cpu0 = bots_cpu_us(fx);
    if (window == 1 && with_ping) {
        for (size_t i = 0; i < n; i++) {
            r.n = i + 1;
            if (!fx_wait(fx, pred_run, &r, 10000)) {
                fprintf(stderr, "bench_reply: no reply to mention %zu\n", i);
                return 1;
            }
            if (i % 5 == 0) {
                uint64_t want = fake_slack_pongs(fx->slack) + 1;
                fake_slack_ping(fx->slack);
                for (int k = 0; k < 5000 && fake_slack_pongs(fx->slack) < want; k++)
                    uv_run(&fx->loop, UV_RUN_ONCE);
                rtt[n_rtt++] = fake_slack_last_rtt_us(fx->slack);
            }
        }
        r.n = n;
    } else if (!fx_wait(fx, pred_run, &r, 300000)) {
        fprintf(stderr, "bench_reply: %zu of %zu replies\n", r.replied, n);
        return 1;
    }
    double secs = (double)(mono_us() - t0) / 1e6;
    double cpu_per = (double)(bots_cpu_us(fx) - cpu0) / (double)n;
    uint64_t *lat = calloc(n, sizeof(uint64_t)), *ack = calloc(n, sizeof(uint64_t));
    size_t n_ack = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fake_delivery *d = fake_slack_delivery_by_id(fx->slack, r.env_ids[i]);
        lat[i] = d && d->written && r.reply_us[i] > d->sent_us ? r.reply_us[i] - d->sent_us : 0;
        if (d && d->acked_us)
            ack[n_ack++] = d->acked_us - d->sent_us;
    }
    qsort(lat, n, sizeof(uint64_t), cmp_u64);
    qsort(ack, n_ack, sizeof(uint64_t), cmp_u64);
    printf("    %s: mention -> reply  p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms   (%zu mentions, %d in flight, "
           "%.0f replies/s, bot CPU %.0f us/reply)\n",
           label, pct(lat, n, 0.5) / 1000.0, pct(lat, n, 0.99) / 1000.0, lat[n - 1] / 1000.0, n, window,
           (double)n / secs, cpu_per);
    if (window == 1)
        printf("    %s: ack  p50 %5llu us  p99 %5llu us", label, (unsigned long long)pct(ack, n_ack, 0.5),
               (unsigned long long)pct(ack, n_ack, 0.99));
    if (n_rtt) {
        qsort(rtt, n_rtt, sizeof(uint64_t), cmp_u64);
        printf("   ping p50 %5llu us  p99 %5llu us   ack p50 / ping p50 = %.2f", (unsigned long long)pct(rtt, n_rtt, 0.5),
               (unsigned long long)pct(rtt, n_rtt, 0.99),
               (double)pct(ack, n_ack, 0.5) / (double)(pct(rtt, n_rtt, 0.5) ? pct(rtt, n_rtt, 0.5) : 1));
    }
    if (window == 1)
        printf("\n");
    free(lat);
    free(ack);
    free(rtt);
    free(r.reply_us);
    free(r.sent_us);
    free(r.env_ids);
    return 0;
}

static bool pred_up_or_dead(struct fx *fx, void *ud)
{
    (void)ud;
    for (int i = 1; i <= fx->n_reps; i++)
        if (!fx_replica_running(fx, i))
            return true;
    return fx_replicas_connected(fx);
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    int replicas = 1;
    int a = 1;
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        if (strcmp(argv[a], "--db") == 0)
            db = argv[a + 1];
        else if (strcmp(argv[a], "--replicas") == 0)
            replicas = atoi(argv[a + 1]);
    }
    size_t n_one = a < argc ? strtoul(argv[a], NULL, 10) : 2000;
    size_t n_win = a + 1 < argc ? strtoul(argv[a + 1], NULL, 10) : 10000;
    int window = a + 2 < argc ? atoi(argv[a + 2]) : 64;
    if (replicas < 1 || replicas > FX_MAX_REPLICAS || n_one < 100 || n_win < 100 || window < 1 || window > 1024) {
        fprintf(stderr, "usage: bench_reply [--db URI] [--replicas 1..10] [n_one>=100] [n_window>=100] [window]\n");
        return 2;
    }
    const char *store = db ? "PostgreSQL" : "SQLite";
    if (!db && replicas > 1) {
        printf("    %d replicas on %s: skipped: several processes need the PostgreSQL store\n", replicas, store);
        return 0;
    }
    static struct fx fx;
    fx_init(&fx);
    fx_replicas_init(&fx, replicas, db);
    const char *env[] = { "SIRT_LOG=warn", NULL };
    for (int i = 1; i <= replicas; i++)
        if (fx_replica_spawn(&fx, i, env) != 0)
            return 1;
    /* Under a wrapper (valgrind, strace) the start takes longer. */
    bool all_running = fx_wait(&fx, pred_up_or_dead, NULL, getenv("SIRTBOT_WRAPPER") ? 120000 : 20000);
    for (int i = 1; i <= replicas; i++)
        all_running = all_running && fx_replica_running(&fx, i);
    if (!all_running || !fx_replicas_connected(&fx)) {
        char reason[512] = "not connected in time";
        for (int i = 1; i <= replicas; i++) {
            if (fx_replica_running(&fx, i))
                continue;
            char *log = fx_replica_log(&fx, i);
            char *last = strstr(log, "sirtbot: ");
            if (last) {
                last[strcspn(last, "\n")] = '\0';
                snprintf(reason, sizeof(reason), "the bot refused it (%s)", last);
            }
            free(log);
            break;
        }
        printf("    %d replica(s) on %s: skipped: %s\n", replicas, store, reason);
        fx_finish(&fx);
        return 0;
    }
    printf("  %d replica(s), store %s:\n", replicas, store);
    size_t base = 0;
    /* warm-up */
    if (run_mentions(&fx, 200, 8, base, false, "warm-up") != 0)
        return 1;
    base += 200;
    if (replicas == 1) {
        if (run_mentions(&fx, n_one, 1, base, true, "1 in flight") != 0)
            return 1;
        base += n_one;
    }
    if (run_mentions(&fx, n_win, window, base, false, "window") != 0)
        return 1;
    for (int i = 1; i <= replicas; i++) {
        long hwm;
        proc_hwm(fx.reps[i - 1].pid, &hwm);
        printf("    replica %d peak RSS (VmHWM) %.1f MiB\n", i, (double)hwm / 1024.0);
    }
    printf("    bad frames %zu, redeliveries %zu\n", fake_slack_bad_frames(fx.slack), fake_slack_redeliveries(fx.slack));
    int code = fx_replicas_stop(&fx, 10000);
    fx_finish(&fx);
    return code == 0 ? 0 : 1;
}
