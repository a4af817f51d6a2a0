/* bench_ack: drives the real bot binary over the websocket from the fake
 * Slack (same process as the measurements) and prints:
 *   (a) unloaded ack latency for /sirt help, one envelope in flight, beside
 *       the websocket ping->pong round trip on the same connection;
 *   (b) throughput with `window` envelopes in flight;
 *   (c) the bot's peak RSS (VmHWM) and CPU seconds.
 * Usage: bench_ack [unloaded_n] [throughput_n] [window]   (defaults 5000 20000 64) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fakes/fake_slack.h"
#include "../harness.h"

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

struct state {
    struct fx *fx;
    uint64_t *lat;
    size_t n_lat;
    size_t acked;
    size_t sent;
    size_t target;
    bool pipelined;
    int window;
};

static void on_ack(void *ud, const struct fake_ack *a)
{
    struct state *st = ud;
    st->acked++;
    if (st->lat)
        st->lat[st->n_lat++] = a->acked_us - a->sent_us;
    if (st->pipelined && st->sent < st->target) {
        fake_slack_send_slash(st->fx->slack, "U0BENCH01", "C0BENCH01", "help");
        st->sent++;
    }
}

static bool pred_acked_n(struct fx *fx, void *ud)
{
    (void)fx;
    struct state *st = ud;
    return st->acked >= st->target;
}

static bool pred_pong(struct fx *fx, void *ud)
{
    return fake_slack_pongs(fx->slack) >= *(uint64_t *)ud;
}

static long rss_anon_kb, rss_file_kb, threads;

static void proc_stats(int pid, long *hwm_kb, double *cpu_s)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    *hwm_kb = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "RssAnon:", 8) == 0)
            rss_anon_kb = strtol(line + 8, NULL, 10);
        else if (strncmp(line, "RssFile:", 8) == 0)
            rss_file_kb = strtol(line + 8, NULL, 10);
        else if (strncmp(line, "Threads:", 8) == 0)
            threads = strtol(line + 8, NULL, 10);
    }
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    *cpu_s = -1;
    if (f && fgets(line, sizeof(line), f)) {
        char *p = strrchr(line, ')');
        unsigned long ut = 0, stt = 0;
        /* fields after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
            *cpu_s = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    size_t n_unloaded = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
    size_t n_tp = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
    int window = argc > 3 ? atoi(argv[3]) : 64;
    if (n_unloaded < 100 || n_tp < 1000 || window < 1 || window > 1024) {
        fprintf(stderr, "usage: bench_ack [unloaded_n>=100] [throughput_n>=1000] [window 1..1024]\n");
        return 2;
    }

    static struct fx fx;
    fx_init(&fx);
    const char *env[] = { "SIRT_LOG=warn", NULL };
    fx_start(&fx, env);
    fake_slack_set_record_acks(fx.slack, false);
    struct state st;
    memset(&st, 0, sizeof(st));
    st.fx = &fx;
    fake_slack_on_ack(fx.slack, on_ack, &st);

    /* Warm-up: 200 envelopes one at a time. */
    for (size_t i = 0; i < 200; i++) {
        st.target = st.acked + 1;
        fake_slack_send_slash(fx.slack, "U0BENCH01", "C0BENCH01", "help");
        if (!fx_wait(&fx, pred_acked_n, &st, 5000)) {
            fprintf(stderr, "bench: warm-up ack missing\n");
            return 1;
        }
    }

    /* (a) unloaded latency, with a ping every 5 envelopes on the same socket. */
    uint64_t *lat = calloc(n_unloaded, sizeof(uint64_t));
    uint64_t *rtt = calloc(n_unloaded / 5 + 1, sizeof(uint64_t));
    size_t n_rtt = 0;
    st.lat = lat;
    st.n_lat = 0;
    st.acked = 0;
    for (size_t i = 0; i < n_unloaded; i++) {
        st.target = i + 1;
        fake_slack_send_slash(fx.slack, "U0BENCH01", "C0BENCH01", "help");
        if (!fx_wait(&fx, pred_acked_n, &st, 5000)) {
            fprintf(stderr, "bench: ack %zu missing\n", i);
            return 1;
        }
        if (i % 5 == 0) {
            uint64_t want = fake_slack_pongs(fx.slack) + 1;
            fake_slack_ping(fx.slack);
            if (!fx_wait(&fx, pred_pong, &want, 5000)) {
                fprintf(stderr, "bench: pong missing\n");
                return 1;
            }
            rtt[n_rtt++] = fake_slack_last_rtt_us(fx.slack);
        }
    }
    qsort(lat, st.n_lat, sizeof(uint64_t), cmp_u64);
    qsort(rtt, n_rtt, sizeof(uint64_t), cmp_u64);
    printf("(a) unloaded ack latency, /sirt help, %zu envelopes one at a time:\n", st.n_lat);
    printf("    ack   p50 %6llu us  p99 %6llu us  max %6llu us\n", (unsigned long long)pct(lat, st.n_lat, 0.50),
           (unsigned long long)pct(lat, st.n_lat, 0.99), (unsigned long long)lat[st.n_lat - 1]);
    printf("    ping  p50 %6llu us  p99 %6llu us  max %6llu us   (%zu websocket ping->pong, same connection)\n",
           (unsigned long long)pct(rtt, n_rtt, 0.50), (unsigned long long)pct(rtt, n_rtt, 0.99),
           (unsigned long long)rtt[n_rtt - 1], n_rtt);
    printf("    ack p50 / ping p50 = %.2f\n", (double)pct(lat, st.n_lat, 0.50) / (double)(pct(rtt, n_rtt, 0.50) ? pct(rtt, n_rtt, 0.50) : 1));
    st.lat = NULL;

    /* (b) throughput with a window in flight. */
    st.acked = 0;
    st.sent = 0;
    st.target = n_tp;
    st.pipelined = true;
    uint64_t t0 = mono_us();
    for (int i = 0; i < window && st.sent < n_tp; i++, st.sent++)
        fake_slack_send_slash(fx.slack, "U0BENCH01", "C0BENCH01", "help");
    if (!fx_wait(&fx, pred_acked_n, &st, 120000)) {
        fprintf(stderr, "bench: throughput run incomplete (%zu/%zu acked)\n", st.acked, n_tp);
        return 1;
    }
    double secs = (double)(mono_us() - t0) / 1e6;
    printf("(b) throughput: %zu envelopes, %d in flight: %.3f s, %.0f envelopes/s\n", n_tp, window, secs,
           (double)n_tp / secs);

    /* (c) the bot's resources, and whether it stays quiet when idle. */
    long hwm_kb;
    double cpu_s, cpu_idle0;
    proc_stats(fx.proc.pid, &hwm_kb, &cpu_idle0);
    fx_run_for(&fx, 3000);
    proc_stats(fx.proc.pid, &hwm_kb, &cpu_s);
    printf("(c) bot peak RSS (VmHWM) %.1f MiB, CPU %.2f s (user+sys, whole run)\n", (double)hwm_kb / 1024.0, cpu_s);
    printf("    idle for 3 s afterwards: %.2f s of CPU\n", cpu_s - cpu_idle0);
    printf("    at the end: RssAnon %.1f MiB (heap, stacks), RssFile %.1f MiB (shared libraries), %ld threads\n",
           (double)rss_anon_kb / 1024.0, (double)rss_file_kb / 1024.0, threads);
    printf("    bad frames from the bot: %zu\n", fake_slack_bad_frames(fx.slack));

    int code = fx_stop(&fx, 5000);
    fx_finish(&fx);
    free(lat);
    free(rtt);
    return code == 0 ? 0 : 1;
}
