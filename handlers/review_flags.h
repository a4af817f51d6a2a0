/* review_flags: how an incident was handled, derived from its stored rows
 * (incident, timeline, decisions, page rounds) and nothing in memory: the
 * mishandling flags the weekly review shows, and the durations behind its
 * per-severity medians and the /metrics histograms.  rf_compute and the
 * median/format helpers are pure functions over rows the caller built or
 * loaded (rf_load copies them out of the store; rf_rows_finish frees). */
#ifndef SIRT_REVIEW_FLAGS_H
#define SIRT_REVIEW_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define RF_PAGE_LATE_MS (5LL * 60 * 1000)          /* S1/P1: paged within 5 minutes */
#define RF_VALIDATE_MS (48LL * 3600 * 1000)        /* a delivered fix validated within 48 hours */
#define RF_DECISION_MS (24LL * 3600 * 1000)        /* S1: a decision within 24 hours */
#define RF_MEDIAN_WINDOW_MS (28LL * 24 * 3600 * 1000)

/* The rows, as plain values (strings borrowed from whoever built them). */
struct rf_incident {
    int64_t id;
    int severity, priority;          /* current */
    int64_t created_ms;              /* the report */
    int64_t resolved_ms;             /* meaningful when resolved */
    bool resolved;
};
struct rf_event {                    /* a timeline entry */
    int64_t ts_ms;
    const char *kind, *actor, *text;
};
struct rf_decision {
    int64_t id, created_ms, fix_delivered_ms, validated_ms;
    int validated;                   /* -1 not yet, 0 not effective, 1 effective */
};
struct rf_page {                     /* a page round */
    int round;
    int64_t created_ms, resolved_ms;
};
struct rf_rows {
    struct rf_incident inc;
    const struct rf_event *tl;       /* in time order */
    size_t n_tl;
    const struct rf_decision *dec;
    size_t n_dec;
    const struct rf_page *pages;
    size_t n_pages;
};
struct rf_params {
    int64_t now_ms;
    int ack_minutes;                 /* paging.ack_minutes */
    bool acks_followed;              /* PAGERDUTY_API_TOKEN set: a missing page_acked means none */
};

enum rf_flag {
    RF_PAGE_LATE = 1 << 0,           /* S1/P1 paged > 5 min after it became due, or never */
    RF_ACK_LATE = 1 << 1,            /* page not acknowledged within ack_minutes */
    RF_HANDOFF_UNACCEPTED = 1 << 2,  /* a handoff nobody accepted */
    RF_FIX_UNVALIDATED = 1 << 3,     /* fix delivered, not validated within 48 h */
    RF_NO_DECISION = 1 << 4,         /* S1 without a decision within 24 h */
    RF_NO_RELEASE = 1 << 5,          /* resolved without a long-term fix */
};

enum rf_dur { RF_D_PAGE, RF_D_ACK, RF_D_DECISION, RF_D_VALIDATED, RF_D_RESOLVE, RF_N_DUR };
extern const char *const rf_dur_names[RF_N_DUR];   /* "page", "acknowledge", ... */

struct rf_result {
    unsigned flags;
    int initial_severity, initial_priority;   /* as reported (before any severity_changed) */
    int64_t page_due_ms;             /* when it first was S1 or P1; 0 never */
    int64_t s1_ms;                   /* when it first was S1; 0 never */
    int64_t paged_ms;                /* first page delivered to PagerDuty; 0 none */
    bool page_requested;             /* a page round exists (maybe not delivered) */
    int64_t acked_ms;                /* first page_acked; 0 none */
    bool escalated;                  /* page_escalated on the timeline */
    int64_t first_decision_ms;
    int unaccepted;                  /* handoff_unaccepted entries */
    const char *unaccepted_by;       /* the first one's receiver (borrowed from the rows) */
    int64_t unvalidated_id;          /* the first decision flagged RF_FIX_UNVALIDATED */
    bool release_recorded, resolved_without_release;
    int64_t dur_ms[RF_N_DUR];        /* -1 when unknown */
    int64_t dur_end_ms[RF_N_DUR];    /* when each duration ended */
};

void rf_compute(const struct rf_rows *in, const struct rf_params *p, struct rf_result *out);

/* "page 12m after it was due; …" for the flags set, NULL when none; user
 * ids as <@U…>, no incident text.  Caller frees. */
char *rf_describe(const struct rf_rows *in, const struct rf_params *p, const struct rf_result *r);

/* Median of v[0..n) (sorts v); the mean of the middle two when n is even;
 * -1 when n is 0. */
int64_t rf_median(int64_t *v, size_t n);
/* "45s", "12m", "3h 05m", "2d 4h"; "—" when ms < 0. */
void rf_fmt_duration(int64_t ms, char out[32]);

/* Per-severity samples of each duration (for medians). */
struct rf_samples {
    int64_t *v[4][RF_N_DUR];
    size_t n[4][RF_N_DUR], cap[4][RF_N_DUR];
};
/* Adds r's known durations that ended in [since_ms, until_ms]. */
void rf_samples_add(struct rf_samples *s, int severity, const struct rf_result *r, int64_t since_ms,
                    int64_t until_ms);
void rf_samples_finish(struct rf_samples *s);

/* Rows of one incident read from the store (owned copies). */
struct rf_loaded {
    struct rf_rows rows;
    struct rf_event *tl;
    struct rf_decision *dec;
    struct rf_page *pages;
    size_t cap_tl, cap_dec, cap_pages;
};
struct incident;
/* Loads inc's timeline, decisions and page rounds: 0 or a STORE_E* code
 * (what was read is kept either way; rf_loaded_finish frees). */
int rf_load(struct store *s, const struct incident *inc, struct rf_loaded *out);
void rf_loaded_finish(struct rf_loaded *l);

#endif
