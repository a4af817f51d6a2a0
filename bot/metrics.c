/* metrics: counters and the ack-latency histogram (see metrics.h).  Label
 * values are copied into fixed tables; past MAX_LABELS distinct values the
 * rest are counted under "other" so hostile input cannot grow memory.
 * Both the loop and the store thread count here: every entry point takes
 * the one lock (held for a few increments, or one render). */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "version.h"

#define MAX_LABELS 48
#define LABEL_LEN 48

static const double ack_buckets_s[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005, 0.01, 0.05, 0.1, 0.5, 1, 3 };
#define N_BUCKETS ARRAY_LEN(ack_buckets_s)

/* Envelopes made durable by one ingest commit. */
static const double batch_buckets[] = { 1, 2, 4, 8, 16, 32, 64 };
#define N_BATCH_BUCKETS ARRAY_LEN(batch_buckets)

/* Incident step durations: 1m to 30 days. */
static const double dur_buckets_s[METRICS_DUR_BUCKETS] = { 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600,
                                                           86400, 2 * 86400, 4 * 86400, 7 * 86400,
                                                           30 * 86400 };
static const char *const dur_names[METRICS_DUR_KINDS] = { "page", "acknowledge", "decision", "validated_fix",
                                                          "resolve" };
static const char *const dur_help[METRICS_DUR_KINDS] = {
    "From the report (or the moment it became S1/P1) to the first page delivered to PagerDuty",
    "From the first page to its first acknowledgement in PagerDuty",
    "From the report to the first short-term decision recorded",
    "From the report to the first fix validated effective",
    "From the report to the incident resolved",
};

struct counter {
    char a[LABEL_LEN];
    char b[LABEL_LEN];
    uint64_t n;
};

struct counter_set {
    struct counter c[MAX_LABELS + 1];
    size_t n;
};

struct metrics {
    pthread_mutex_t lock;
    uint64_t store_commits;
    uint64_t store_reads, store_writes;
    uint64_t outbox_reads;             /* store reads made by the outbox */
    uint64_t batch_hist[N_BATCH_BUCKETS + 1];   /* envelopes per ingest commit; last = +Inf */
    uint64_t batch_sum, batch_count;
    struct counter_set received;   /* type */
    struct counter_set acked;      /* type */
    struct counter_set dropped;    /* reason */
    struct counter_set api;        /* method, result */
    struct counter_set outbox;     /* op, outcome */
    struct counter_set retries;    /* op */
    long outbox_in_flight;
    metrics_outbox_probe_fn probe; /* outbox queue gauges, read at render time */
    void *probe_ud;
    uint64_t duplicates;
    uint64_t reconnects;
    bool connected;
    struct metrics_durations durations;   /* valid when have_durations */
    bool have_durations;
    metrics_refresh_fn dur_refresh;
    void *dur_refresh_ud;
    uint64_t hist[N_BUCKETS + 1];  /* last = +Inf */
    double hist_sum_s;
    uint64_t hist_count;
};

static void clean_label(char *dst, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i < LABEL_LEN - 1; i++) {
        char ch = src[i];
        /* Prometheus label values may hold anything escaped; keep it simple and safe. */
        dst[i] = (ch == '"' || ch == '\\' || ch == '\n' || (unsigned char)ch < 0x20) ? '_' : ch;
    }
    dst[i] = '\0';
}

static void count(struct counter_set *s, const char *a, const char *b)
{
    char la[LABEL_LEN], lb[LABEL_LEN];
    clean_label(la, a ? a : "");
    clean_label(lb, b ? b : "");
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->c[i].a, la) == 0 && strcmp(s->c[i].b, lb) == 0) {
            s->c[i].n++;
            return;
        }
    }
    if (s->n == MAX_LABELS) {
        /* the overflow slot */
        struct counter *o = &s->c[MAX_LABELS];
        if (!o->a[0]) {
            str_lcpy(o->a, "other", LABEL_LEN);
            str_lcpy(o->b, b ? "other" : "", LABEL_LEN);
        }
        o->n++;
        return;
    }
    struct counter *c = &s->c[s->n++];
    memcpy(c->a, la, LABEL_LEN);
    memcpy(c->b, lb, LABEL_LEN);
    c->n = 1;
}

struct metrics *metrics_create(void)
{
    struct metrics *m = xcalloc(1, sizeof(struct metrics));
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_destroy(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

#define LOCKED(m, stmt) \
    do { \
        if (m) { \
            pthread_mutex_lock(&(m)->lock); \
            stmt; \
            pthread_mutex_unlock(&(m)->lock); \
        } \
    } while (0)

void metrics_store_txn(struct metrics *m, uint64_t commits, uint64_t reads, uint64_t writes)
{
    LOCKED(m, (m->store_commits += commits, m->store_reads += reads, m->store_writes += writes));
}

void metrics_outbox_reads(struct metrics *m, uint64_t reads)
{
    LOCKED(m, m->outbox_reads += reads);
}

/* The bucket of a histogram with upper bounds le[0..n-1] that v falls in
 * (n: above them all, +Inf). */
static size_t bucket_of(const double *le, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > le[i])
        i++;
    return i;
}

void metrics_store_batch(struct metrics *m, size_t envelopes)
{
    size_t i = bucket_of(batch_buckets, N_BATCH_BUCKETS, (double)envelopes);
    LOCKED(m, (m->batch_hist[i]++, m->batch_sum += envelopes, m->batch_count++));
}

void metrics_envelope_received(struct metrics *m, const char *type)
{
    LOCKED(m, count(&m->received, type, NULL));
}

void metrics_envelope_acked(struct metrics *m, const char *type, uint64_t latency_us)
{
    if (!m)
        return;
    double s = (double)latency_us / 1e6;
    size_t i = bucket_of(ack_buckets_s, N_BUCKETS, s);
    pthread_mutex_lock(&m->lock);
    count(&m->acked, type, NULL);
    m->hist[i]++;
    m->hist_sum_s += s;
    m->hist_count++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_envelope_dropped(struct metrics *m, const char *reason)
{
    LOCKED(m, count(&m->dropped, reason, NULL));
}

void metrics_duplicate_event(struct metrics *m)
{
    LOCKED(m, m->duplicates++);
}

void metrics_reconnect(struct metrics *m)
{
    LOCKED(m, m->reconnects++);
}

void metrics_set_connected(struct metrics *m, bool up)
{
    LOCKED(m, m->connected = up);
}

void metrics_api_call(struct metrics *m, const char *method, const char *result)
{
    LOCKED(m, count(&m->api, method, result ? result : "unknown"));
}

void metrics_outbox(struct metrics *m, const char *op, const char *outcome)
{
    LOCKED(m, count(&m->outbox, op, outcome));
}

void metrics_outbox_retry(struct metrics *m, const char *op)
{
    LOCKED(m, count(&m->retries, op, NULL));
}

void metrics_set_outbox_probe(struct metrics *m, metrics_outbox_probe_fn fn, void *ud)
{
    LOCKED(m, (m->probe = fn, m->probe_ud = ud));
}

void metrics_outbox_in_flight(struct metrics *m, long n)
{
    LOCKED(m, m->outbox_in_flight = n);
}

void metrics_durations_observe(struct metrics_durations *d, int kind, int severity, double seconds)
{
    if (!d || kind < 0 || kind >= METRICS_DUR_KINDS || severity < 1 || severity > METRICS_DUR_SEVERITIES
        || seconds < 0)
        return;
    size_t i = bucket_of(dur_buckets_s, METRICS_DUR_BUCKETS, seconds);
    d->bucket[kind][severity - 1][i]++;
    d->sum_s[kind][severity - 1] += seconds;
    d->count[kind][severity - 1]++;
}

void metrics_set_durations(struct metrics *m, const struct metrics_durations *d)
{
    LOCKED(m, (m->have_durations = d != NULL, d ? (void)(m->durations = *d) : (void)0));
}

void metrics_set_durations_refresh(struct metrics *m, metrics_refresh_fn fn, void *ud)
{
    LOCKED(m, (m->dur_refresh = fn, m->dur_refresh_ud = ud));
}

/* A metric's HELP and TYPE lines. */
static void head(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One series of a histogram: its cumulative buckets (counts holds n + 1,
 * the last for +Inf), _sum (formatted by the caller) and _count.  label:
 * NULL, or one `name="value"` pair every line carries. */
static void render_hist(struct buf *out, const char *name, const char *label, const double *le,
                        const uint64_t *counts, size_t n, const char *sum, uint64_t count)
{
    const char *sep = label ? "," : "";
    if (!label)
        label = "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= n; i++) {
        cum += counts[i];
        if (i < n)
            buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep, le[i], (unsigned long long)cum);
        else
            buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep, (unsigned long long)cum);
    }
    if (label[0]) {
        buf_printf(out, "%s_sum{%s} %s\n", name, label, sum);
        buf_printf(out, "%s_count{%s} %llu\n", name, label, (unsigned long long)count);
    } else {
        buf_printf(out, "%s_sum %s\n", name, sum);
        buf_printf(out, "%s_count %llu\n", name, (unsigned long long)count);
    }
}

static void render_durations(const struct metrics_durations *d, struct buf *out)
{
    for (int k = 0; k < METRICS_DUR_KINDS; k++) {
        char name[96];
        snprintf(name, sizeof(name), "sirt_incident_time_to_%s_seconds", dur_names[k]);
        char *help = xasprintf("%s, by the incident's severity (store-wide: every replica shows the same).",
                               dur_help[k]);
        head(out, name, "histogram", help);
        free(help);
        for (int s = 0; s < METRICS_DUR_SEVERITIES; s++) {
            char label[32], sum[48];
            snprintf(label, sizeof(label), "severity=\"%d\"", s + 1);
            snprintf(sum, sizeof(sum), "%.3f", d->sum_s[k][s]);
            render_hist(out, name, label, dur_buckets_s, d->bucket[k][s], METRICS_DUR_BUCKETS, sum, d->count[k][s]);
        }
    }
}

static void render_one(const struct counter *c, struct buf *out, const char *name,
                       const char *la, const char *lb)
{
    if (lb)
        buf_printf(out, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, la, c->a, lb, c->b,
                   (unsigned long long)c->n);
    else
        buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, la, c->a, (unsigned long long)c->n);
}

static void render_set(const struct counter_set *s, struct buf *out, const char *name,
                       const char *la, const char *lb)
{
    for (size_t i = 0; i < s->n; i++)
        render_one(&s->c[i], out, name, la, lb);
    if (s->c[MAX_LABELS].n)
        render_one(&s->c[MAX_LABELS], out, name, la, lb);
}

/* A metric of one unlabelled sample. */
static void scalar(struct buf *out, const char *name, const char *type, const char *help, unsigned long long v)
{
    head(out, name, type, help);
    buf_printf(out, "%s %llu\n", name, v);
}

/* A counter set by one or two labels. */
static void labelled(struct buf *out, const char *name, const char *help, const struct counter_set *set,
                     const char *la, const char *lb)
{
    head(out, name, "counter", help);
    render_set(set, out, name, la, lb);
}

/* The store's outbox gauges: read from the store now, so they hold across
 * restarts; left out when the store cannot answer (an absent series, not a
 * wrong one). */
static void render_outbox_probe(const struct metrics *m, struct buf *out)
{
    static const char *const names[METRICS_OUTBOX_STATES] = { "pending", "sending", "done", "failed", "dropped" };
    int64_t counts[METRICS_OUTBOX_STATES];
    int64_t oldest_age_ms = 0;
    if (!m->probe || !m->probe(m->probe_ud, counts, &oldest_age_ms))
        return;
    head(out, "sirt_outbox_jobs_by_state", "gauge", "Outbox jobs in the store, by state.");
    for (int i = 0; i < METRICS_OUTBOX_STATES; i++)
        buf_printf(out, "sirt_outbox_jobs_by_state{state=\"%s\"} %lld\n", names[i], (long long)counts[i]);
    head(out, "sirt_outbox_oldest_pending_age_seconds", "gauge",
         "Age of the oldest job not yet delivered (pending or sending), 0 when none.");
    buf_printf(out, "sirt_outbox_oldest_pending_age_seconds %.3f\n", (double)oldest_age_ms / 1000.0);
}

static void render_locked(const struct metrics *m, struct buf *out)
{
    head(out, "sirt_build_info", "gauge", "The running sirtbot's version (always 1).");
    buf_puts(out, "sirt_build_info{version=\"" SIRT_VERSION "\"} 1\n");
    scalar(out, "sirt_socket_connected", "gauge", "1 while the Socket Mode websocket is online.",
           m->connected ? 1 : 0);
    labelled(out, "sirt_envelopes_received_total", "Socket Mode envelopes received, by type.", &m->received,
             "type", NULL);
    labelled(out, "sirt_envelopes_acked_total", "Socket Mode envelopes acked, by type.", &m->acked, "type", NULL);
    labelled(out, "sirt_frames_dropped_total", "Frames dropped as unusable, by reason.", &m->dropped, "reason",
             NULL);
    scalar(out, "sirt_duplicate_events_total", "counter", "Events API deliveries ignored as duplicates.",
           m->duplicates);
    scalar(out, "sirt_reconnects_total", "counter", "Socket Mode reconnections.", m->reconnects);

    head(out, "sirt_ack_latency_seconds", "histogram",
         "Time from the last byte of an envelope to its ack written.");
    char sum[48];
    snprintf(sum, sizeof(sum), "%.9f", m->hist_sum_s);
    render_hist(out, "sirt_ack_latency_seconds", NULL, ack_buckets_s, m->hist, N_BUCKETS, sum, m->hist_count);

    labelled(out, "sirt_slack_api_calls_total", "Slack Web API calls, by method and final result.", &m->api,
             "method", "result");
    labelled(out, "sirt_outbox_jobs_total", "Outbox job attempts by op and outcome (done, retry, failed, dropped).",
             &m->outbox, "op", "outcome");
    head(out, "sirt_outbox_in_flight", "gauge", "Outbox jobs being sent now.");
    buf_printf(out, "sirt_outbox_in_flight %ld\n", m->outbox_in_flight);
    labelled(out, "sirt_outbox_retries_total",
             "Outbox attempts that failed transiently and will be retried, by op.", &m->retries, "op", NULL);
    render_outbox_probe(m, out);

    scalar(out, "sirt_store_commits_total", "counter", "Store transactions committed (by the store thread).",
           m->store_commits);
    head(out, "sirt_store_statements_total", "counter", "Store statements run, by kind (read: returns rows).");
    buf_printf(out, "sirt_store_statements_total{kind=\"read\"} %llu\n", (unsigned long long)m->store_reads);
    buf_printf(out, "sirt_store_statements_total{kind=\"write\"} %llu\n", (unsigned long long)m->store_writes);
    scalar(out, "sirt_outbox_store_reads_total", "counter", "Store reads made by the outbox (load, incident rows).",
           m->outbox_reads);
    head(out, "sirt_store_batch_size", "histogram", "Envelopes made durable by one inbox commit (group commit).");
    snprintf(sum, sizeof(sum), "%llu", (unsigned long long)m->batch_sum);
    render_hist(out, "sirt_store_batch_size", NULL, batch_buckets, m->batch_hist, N_BATCH_BUCKETS, sum,
                m->batch_count);

    if (m->have_durations)
        render_durations(&m->durations, out);
}

void metrics_render(const struct metrics *m, struct buf *out)
{
    struct metrics *mm = (struct metrics *)m;   /* the lock is not part of the value */
    pthread_mutex_lock(&mm->lock);
    metrics_refresh_fn fn = mm->dur_refresh;
    void *ud = mm->dur_refresh_ud;
    pthread_mutex_unlock(&mm->lock);
    if (fn)
        fn(ud);   /* a fresher snapshot for the next render */
    pthread_mutex_lock(&mm->lock);
    render_locked(m, out);
    pthread_mutex_unlock(&mm->lock);
}
