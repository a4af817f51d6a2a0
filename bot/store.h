/* store: durable state behind a small interface so a PostgreSQL backend can
 * be added without touching handlers.  The SQLite backend opens SIRT_DB in
 * WAL mode with busy_timeout and foreign keys on, and creates / migrates the
 * schema at open (versioned with PRAGMA user_version).
 *
 * Tables: incidents, timeline (everything that happened to an incident),
 * events (processed Slack event ids), inbox (acked envelopes not yet
 * handled), outbox (+ outbox_deps), incident_members, decisions, timers.
 *
 * Transactions nest: store_begin() opens a SAVEPOINT, store_commit()
 * releases it, store_rollback() rolls back to it.  Handlers run inside the
 * router's transaction, so an event id, the state change it causes and the
 * outbox rows for its effects commit together or not at all.
 *
 * Ownership: functions that fill a struct (incident, outbox_job) allocate
 * its strings; the caller frees them with incident_finish / outbox_job_finish.
 * Errors: 0 on success, negative STORE_E* on failure (logged by the store). */
#ifndef SIRT_STORE_H
#define SIRT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_err {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1,
    STORE_EEXIST = -2,     /* unique key already present */
    STORE_EIO = -3,        /* database error or lost connection (logged) */
    STORE_EINVAL = -4,
    STORE_ERETRY = -5,     /* PostgreSQL serialization failure or deadlock:
                            * the transaction failed; running it again may work */
};

struct store;

/* Opens (creating if needed) and migrates. On error returns a negative code
 * and a one-line message in err (e.g. "sirt.db: unable to open database file"). */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);        /* store_close(NULL) is a no-op */
const char *store_strerror(int err);

int store_begin(struct store *s);
/* A transaction in which any write failed with an I/O-class error (disk
 * full, read-only, locked, I/O) is never committed: the outermost
 * store_commit rolls it all back and returns STORE_EIO, even when the
 * caller ignored the failed call.  Constraint errors (STORE_EEXIST, ...)
 * are answers, not failures, and do not count. */
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* True inside a transaction once one of its writes has failed as above. */
bool store_txn_failed(const struct store *s);
/* How many store_begin are open (0: no transaction). */
int store_txn_depth(const struct store *s);
/* Inside a transaction whose loss in a crash of the database server (not of
 * the bot) costs nothing but a retry the outbox reconciles (an outcome):
 * its commit does not wait for the disk (PostgreSQL: synchronous_commit off
 * for it alone; SQLite in WAL mode with synchronous=NORMAL never waits). */
void store_txn_relax(struct store *s);

/* Test knob: with SIRT_TEST_STORE_FAULT=<file> in the environment at
 * store_open, every statement that writes fails as SQLITE_FULL would while
 * <file> exists (reads and transaction control still work).  When the file
 * holds a number N, the first N writes after it appeared still succeed. */

/* Test knob: with SIRT_TEST_STORE_DELAY_MS=<n> at store_open, every
 * outermost commit first sleeps n ms (a slow fsync, a far database). */

/* One owner per thread: after store_bind_thread(s, true) every statement
 * must come from the calling thread (asserted in debug builds);
 * store_bind_thread(s, false) lifts it (e.g. once that thread has ended). */
void store_bind_thread(struct store *s, bool bind);

/* Leases: work rows (outbox jobs, timers, inbox envelopes) that a replica
 * holds carry its id and a lease end; a replica that dies leaves them to
 * the others once STORE_LEASE_MS has passed without a renewal. */
#define STORE_LEASE_MS 30000
/* This process's replica id, "<host>:<pid>:<8 hex>", made at store_open
 * (unique per process start, so a restarted replica never mistakes its
 * predecessor's leases for its own).  Borrowed for the store's life. */
const char *store_owner(const struct store *s);
/* The lease this process takes: STORE_LEASE_MS, or, as a test knob,
 * SIRT_TEST_LEASE_MS (100..30000) read once at store_open. */
int64_t store_lease_ms(const struct store *s);
/* True when other processes may use the database at the same time
 * (PostgreSQL): work rows must then be claimed.  SQLite has one process;
 * at its store_open every lease left in the file (a dead predecessor's)
 * is cleared. */
bool store_shared(const struct store *s);
/* Leases are in real time (clock_real_ms: a drill's clock never moves
 * them), so the hosts of replicas must keep their clocks in step (NTP).
 * Renews, to now + the lease, every lease this replica holds (inbox rows,
 * pending timers); the replica does it every third of a lease while alive. */
int store_leases_renew(struct store *s);
/* Gives up every lease this replica holds (a clean stop), so the others
 * take the work over at their next sweep instead of after the lease. */
int store_leases_release(struct store *s);

/* Statements run and transactions committed since store_open. */
struct store_stats {
    uint64_t reads;    /* statements that return rows */
    uint64_t writes;
    uint64_t commits;  /* outermost commits */
};
void store_stats_get(const struct store *s, struct store_stats *out);

/* ---- processed Slack events ---- */
/* Records event_id. Returns 1 if it was already recorded (a duplicate), 0 if
 * newly recorded, <0 on error. */
int store_event_record(struct store *s, const char *event_id, int64_t now_ms);
/* Deletes event ids recorded before cutoff_ms; returns rows deleted or <0. */
int store_events_prune(struct store *s, int64_t cutoff_ms);

/* ---- inbox: envelopes acked but not yet handled ----
 * An envelope that needs work is written here before its ack goes out and
 * deleted in the transaction of its work, so an ack is never a promise the
 * bot can forget by crashing.  The replica that stores a row holds it under
 * a lease (renewed while it lives); rows nobody holds any more (their
 * replica died or stopped) are claimed by another and handled again. */
int64_t store_inbox_add(struct store *s, const char *type, const char *envelope_json, int64_t now_ms);
/* Deletes a row this replica holds: 0, or STORE_ENOTFOUND when it is gone
 * or held by another replica (its lease ended and it was taken over): the
 * caller must then not do its work. */
int store_inbox_delete(struct store *s, int64_t id);
/* This replica's rows in arrival order; cb may write to the store; stops if
 * cb returns false. */
int store_inbox_list(struct store *s, bool (*cb)(void *ud, int64_t id, const char *type, const char *json),
                     void *ud);
/* Claims for this replica at most max rows nobody holds (unowned, or
 * another replica's lease has ended; SKIP LOCKED on PostgreSQL) and calls
 * cb for each, in arrival order.  Returns how many were claimed. */
int store_inbox_claim(struct store *s, size_t max,
                      bool (*cb)(void *ud, int64_t id, const char *type, const char *json), void *ud);

/* ---- incidents ---- */
struct incident {
    int64_t id;                 /* n of SIRT-n */
    char *title;                /* user text: callers store it masked (mask_secrets) */
    char *description;          /* masked before it is stored, like every user text */
    int severity;               /* 1..4 */
    int priority;               /* 1..4 */
    char *component;
    char *repro;                /* reproduction steps, masked */
    char *issue_link;           /* optional */
    char *reporter;             /* Slack user id */
    char *owner;                /* Slack user id, may be NULL */
    char *state;                /* "open" | "resolved" */
    char *origin_channel;       /* where it was reported from, may be NULL */
    char *submission_key;       /* e.g. the modal's view id; unique, may be NULL */
    char *channel_id;           /* private channel, NULL until created */
    char *channel_name;
    int64_t gitlab_project_id;  /* 0 until created */
    char *gitlab_project_path;  /* path_with_namespace */
    char *gitlab_project_url;
    int64_t gitlab_issue_iid;   /* 0 until created */
    char *gitlab_issue_url;
    int64_t created_ms, updated_ms, resolved_ms;
};

void incident_finish(struct incident *inc);

/* Inserts a new incident; sets inc->id.  created_ms/updated_ms are taken from
 * inc->created_ms (caller sets them from the clock).  If submission_key is
 * set and already used, returns STORE_EEXIST and sets inc->id to the
 * existing incident's id. */
int store_incident_create(struct store *s, struct incident *inc);
int store_incident_get(struct store *s, int64_t id, struct incident *out);
int store_incident_by_channel(struct store *s, const char *channel_id, struct incident *out);
/* Sets one column.  Allowed text fields: title, description, component,
 * repro, issue_link, owner, state, channel_id, channel_name,
 * gitlab_project_path, gitlab_project_url, gitlab_issue_url.  Allowed
 * integer fields: severity, priority, gitlab_project_id, gitlab_issue_iid,
 * resolved_ms.  Also bumps updated_ms.  Unknown field: STORE_EINVAL. */
int store_incident_set_text(struct store *s, int64_t id, const char *field, const char *value,
                            int64_t now_ms);
int store_incident_set_int(struct store *s, int64_t id, const char *field, int64_t value,
                           int64_t now_ms);
/* Calls cb for each incident with state "open" (ascending id); stops early if cb returns false. */
int store_incidents_open(struct store *s, bool (*cb)(void *ud, const struct incident *inc), void *ud);

/* ---- timeline ---- */
struct timeline_entry {
    int64_t id, incident_id, ts_ms;
    char *actor;                /* Slack user id or "sirtbot" */
    char *kind;                 /* "reported", "channel_created", "paged", ... */
    char *text;
};
int store_timeline_add(struct store *s, int64_t incident_id, int64_t ts_ms, const char *actor,
                       const char *kind, const char *text);
/* Entries in time order; stops early if cb returns false.  Entries are
 * borrowed for the call. */
int store_timeline_list(struct store *s, int64_t incident_id,
                        bool (*cb)(void *ud, const struct timeline_entry *e), void *ud);

/* ---- people on an incident ----
 * Everyone the bot invited or assigned (reporter, responders, EM, PM,
 * owners, hand-off recipients): they may see full status. */
int store_member_add(struct store *s, int64_t incident_id, const char *user, const char *role, int64_t now_ms);
/* 1 if user is recorded on the incident, 0 if not, <0 on error. */
int store_member_is(struct store *s, int64_t incident_id, const char *user);

/* ---- short-term decisions ---- */
struct decision {
    int64_t id, incident_id;
    char *author;
    int64_t created_ms;
    char *solution, *options, *effectiveness, *customers, *how_affected, *magnitude, *consequences;
    int64_t fix_delivered_ms;   /* 0 = not yet */
    char *fix_delivered_by;
    int validated;              /* -1 unknown, 0 no, 1 yes */
    char *validated_by;
    int64_t validated_ms;
};
void decision_finish(struct decision *d);
int store_decision_add(struct store *s, struct decision *d);   /* sets d->id */
int store_decision_get(struct store *s, int64_t id, struct decision *out);
int store_decision_fix_delivered(struct store *s, int64_t id, const char *user, int64_t now_ms);
int store_decision_validated(struct store *s, int64_t id, bool effective, const char *user, int64_t now_ms);
/* In creation order; cb may write; stops if cb returns false. */
int store_decisions_list(struct store *s, int64_t incident_id,
                         bool (*cb)(void *ud, const struct decision *d), void *ud);

/* ---- timers (the scheduler's durable agenda) ----
 * One pending timer per key (e.g. "handoff_prompt/SIRT-3"): setting a key
 * again moves it.  kind names the scheduler's handler. */
struct sched_timer {
    int64_t id;
    char *key, *kind;
    int64_t incident_id;
    int64_t due_ms;
    char *payload;              /* JSON text */
};
void sched_timer_finish(struct sched_timer *t);
int store_timer_set(struct store *s, const char *key, const char *kind, int64_t incident_id, int64_t due_ms,
                    const char *payload_json, int64_t now_ms);
int store_timer_cancel(struct store *s, const char *key);
/* 0 and fills out, STORE_ENOTFOUND if no pending timer has that key. */
int store_timer_get(struct store *s, const char *key, struct sched_timer *out);
/* Pending timers with due_ms <= now, earliest first, at most max; free with sched_timers_free. */
int store_timers_due(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n);
void sched_timers_free(struct sched_timer *t, size_t n);
/* Earliest moment a pending timer may be fired here: its due_ms, or, for a
 * due timer another replica holds, the end of that lease.  INT64_MAX if
 * none, <0 on error. */
int64_t store_timer_next(struct store *s, int64_t now_ms);
/* Claims for this replica, under a lease, at most max timers due by now_ms
 * (the bot's clock) nobody holds (unowned, this replica's, or a lease that ended; SKIP LOCKED on
 * PostgreSQL); earliest first; free with sched_timers_free. */
int store_timers_claim(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n);
/* Inside the transaction that fires it: marks a claimed timer done.  0, or
 * STORE_ENOTFOUND when it is no longer this replica's to fire (done,
 * cancelled, moved, or taken over after the lease): then do not fire it. */
int store_timer_fire(struct store *s, int64_t id, int64_t now_ms);
/* Marks a fired timer done (it no longer blocks its key). */
int store_timer_done(struct store *s, int64_t id);
/* Cancels every pending timer of an incident (e.g. when it is resolved). */
int store_timers_cancel_incident(struct store *s, int64_t incident_id);

/* Incidents created at or after since_ms, or still open; ascending id. */
int store_incidents_since(struct store *s, int64_t since_ms, bool (*cb)(void *ud, const struct incident *inc),
                          void *ud);

/* ---- retention (retention.days) ---- */
/* Ids of resolved incidents with resolved_ms <= cutoff_ms whose text was
 * not erased since they were resolved (an incident reopened and resolved
 * again is erased again), ascending, at most max; the caller frees *ids. */
int store_retention_due(struct store *s, int64_t cutoff_ms, size_t max, int64_t **ids, size_t *n);
/* Erases a resolved incident's text, replacing each non-NULL value by
 * marker: title, description, repro, issue_link; channel_name becomes
 * "sirt-<id>" (its slug came from the title); every decision's texts
 * (solution .. consequences); every timeline entry's text (kind, ts_ms and
 * actor stay); the payloads and results of its finished outbox jobs and
 * the payloads of its timers that are no longer pending become "{}".  Ids, dates, severity, priority,
 * state, component, people, page rounds, decision states and times, and the
 * GitLab links stay.  Records erased_ms = now_ms.  0, or STORE_ENOTFOUND
 * when there is no such resolved incident.  On
 * SQLite the files are scrubbed (db_scrub) after the outermost commit.
 * STORE_ENOTFOUND also when it was erased after its last resolution. */
int store_incident_erase(struct store *s, int64_t id, const char *marker, int64_t now_ms);
/* At most max incidents with id > after_id, ascending id (a pass over
 * every incident in slices: the review's figures). */
int store_incidents_after(struct store *s, int64_t after_id, size_t max,
                          bool (*cb)(void *ud, const struct incident *inc), void *ud);

/* ---- page rounds ----
 * One row per PagerDuty alert the bot opened for an incident: round 1 is
 * "SIRT-<n>", later rounds "SIRT-<n>/page-<k>".  A round is open until the
 * bot resolves it (resolved_ms = 0 while open).  The dedup_key is fixed
 * here, when the round is written; every trigger and resolve of the round
 * carries it. */
struct page_round {
    int64_t incident_id;
    int round;                  /* 1, 2, ... */
    char *dedup_key;            /* unique over all incidents */
    char *reason;               /* "report", "page", "handoff", ... */
    int64_t created_ms, resolved_ms;
    char *paged_user;           /* Slack user found on call after the trigger, NULL until known */
};
void page_round_finish(struct page_round *r);
/* Records round (STORE_EEXIST if that round or key exists). */
int store_page_add(struct store *s, int64_t incident_id, int round, const char *dedup_key, const char *reason,
                   int64_t now_ms);
/* The highest round of the incident, 0 if none, <0 on error. */
int store_page_last_round(struct store *s, int64_t incident_id);
/* The newest round still open: 0 and out filled, STORE_ENOTFOUND if none. */
int store_page_open(struct store *s, int64_t incident_id, struct page_round *out);
/* Every round in order; rows borrowed for the call; cb may write. */
int store_pages_list(struct store *s, int64_t incident_id, bool (*cb)(void *ud, const struct page_round *r),
                     void *ud);
/* Marks the open round with dedup_key (NULL: every open round) resolved;
 * returns how many rows changed, or <0. */
int store_page_resolve(struct store *s, int64_t incident_id, const char *dedup_key, int64_t now_ms);
/* Records who was on call for the round (STORE_ENOTFOUND: no such round). */
int store_page_set_user(struct store *s, int64_t incident_id, const char *dedup_key, const char *user);

/* ---- process improvements (the weekly review, `/sirt improve`) ----
 * Noted by a SIRT member, optionally about one incident (incident_id 0 =
 * none); listed in every digest while done_ms is 0. */
struct improvement {
    int64_t id, incident_id;
    char *author, *text;        /* text is stored masked */
    int64_t created_ms, done_ms;
    char *done_by;
};
void improvement_finish(struct improvement *m);
/* Inserts; sets m->id. */
int store_improvement_add(struct store *s, struct improvement *m);
int store_improvement_get(struct store *s, int64_t id, struct improvement *out);
/* Marks it done: 0, or STORE_ENOTFOUND when there is no such open one. */
int store_improvement_done(struct store *s, int64_t id, const char *user, int64_t now_ms);
/* The open ones by id; rows borrowed for the call; stops if cb returns false. */
int store_improvements_open(struct store *s, bool (*cb)(void *ud, const struct improvement *m), void *ud);

/* ---- long-term fix (store_releases.c) ----
 * The critical security release issue or MR of an incident (/sirt
 * release): at most one per incident; recording another replaces it. */
struct release {
    int64_t incident_id;
    char *url;                  /* masked like every user text */
    char *actor;                /* Slack user id */
    int64_t recorded_ms;
};
void release_finish(struct release *r);
int store_release_set(struct store *s, int64_t incident_id, const char *url, const char *actor, int64_t now_ms);
/* 0 and out filled (release_finish), STORE_ENOTFOUND when none is recorded. */
int store_release_get(struct store *s, int64_t incident_id, struct release *out);
/* ---- following a page round (store_page_acks.c) ----
 * One row per followed page round (its dedup_key): what PagerDuty said
 * (ack_ms: PagerDuty's time of the acknowledgement, 0 while none was seen;
 * ack_by: the acknowledger's name; ack_how: "acknowledged", or "resolved"
 * when it was resolved in PagerDuty without one) and how the bot follows it
 * (noticed_ms: the acknowledgement was announced; the escalation page's key
 * and time; polls made and the last poll job). */
struct page_ack {
    char *dedup_key;
    int64_t incident_id;
    int64_t ack_ms;
    char *ack_by, *ack_how;
    int64_t noticed_ms;
    char *escalation_key;       /* NULL: not escalated by a page */
    int64_t escalated_ms;       /* escalated, or told that it could not be (0: neither) */
    int polls;
    int64_t poll_job;           /* outbox id of the last status poll, 0 = none */
};
void page_ack_finish(struct page_ack *a);
/* 0 and out filled, STORE_ENOTFOUND when the round has no row yet. */
int store_page_ack_get(struct store *s, const char *dedup_key, struct page_ack *out);
/* Writes the bot's columns (noticed_ms, escalation_*, polls, poll_job),
 * creating the row if needed; the ack_* columns are left as they are. */
int store_page_ack_put(struct store *s, const struct page_ack *a);
/* Records what PagerDuty said; only the first acknowledgement seen is kept. */
int store_page_ack_seen(struct store *s, int64_t incident_id, const char *dedup_key, int64_t ack_ms,
                        const char *by, const char *how);
/* Every followed round of the incident; rows borrowed for the call; cb may write. */
int store_page_acks_list(struct store *s, int64_t incident_id, bool (*cb)(void *ud, const struct page_ack *a),
                         void *ud);

/* ---- outbox ---- */
/* DROPPED: no longer needed and never to be sent (a page for an incident
 * resolved while it was being retried); counts as finished for dependents. */
enum outbox_state {
    OUTBOX_PENDING = 0, OUTBOX_SENDING = 1, OUTBOX_DONE = 2, OUTBOX_FAILED = 3, OUTBOX_DROPPED = 4,
    OUTBOX_N_STATES
};

struct outbox_job {
    int64_t id;
    int64_t incident_id;        /* 0 = none */
    char *idem_key;             /* unique */
    char *op;                   /* e.g. "slack.create_channel" (see effects.h) */
    char *payload;              /* JSON text */
    enum outbox_state state;
    int attempts;               /* sends started so far */
    bool maybe_sent;            /* an earlier attempt may have reached the service */
    int64_t next_at_ms;         /* not before */
    int64_t deps_deadline_ms;   /* 0 = wait for deps forever; else run anyway after this */
    char *last_error;
    char *result;               /* JSON text from the effect, NULL until done */
    int64_t created_ms, updated_ms;
    int64_t first_due_ms;       /* when it was first sent (0 = never): give-up clocks start here */
};

void outbox_job_finish(struct outbox_job *j);

struct outbox_new {
    int64_t incident_id;        /* 0 = none */
    const char *idem_key;
    const char *op;
    const char *payload;        /* JSON text */
    int64_t next_at_ms;
    int64_t deps_deadline_ms;
    const int64_t *deps;        /* ids of jobs that must be done first */
    size_t n_deps;
    int64_t now_ms;
    bool *created;              /* optional: set to whether this call inserted the job */
};

/* Inserts a pending job and its deps.  An existing idem_key is not an error:
 * returns the existing job's id (nothing inserted).  Returns id > 0 or <0. */
int64_t store_outbox_add(struct store *s, const struct outbox_new *j);
int store_outbox_get(struct store *s, int64_t id, struct outbox_job *out);
/* Pending jobs with next_at_ms <= now whose deps are all done, or whose
 * deps_deadline_ms has passed; oldest first, at most max.  The caller frees
 * the array with outbox_jobs_free. */
int store_outbox_due(struct store *s, int64_t now_ms, size_t max, struct outbox_job **jobs, size_t *n);
void outbox_jobs_free(struct outbox_job *jobs, size_t n);
/* Every pending job, by id (the outbox's one load at start). */
int store_outbox_pending(struct store *s, struct outbox_job **jobs, size_t *n);
/* The dependencies of pending jobs that are not finished (neither done nor
 * dropped), with their state; free(*deps). */
struct outbox_dep {
    int64_t job_id, dep_id;
    enum outbox_state dep_state;
};
int store_outbox_pending_deps(struct store *s, struct outbox_dep **deps, size_t *n);
/* Earliest next_at_ms over pending jobs that are runnable or become
 * runnable by time alone (deps done, or a deadline); INT64_MAX if none. */
int64_t store_outbox_next_due(struct store *s);
/* Pending jobs with a dependency that FAILED (to be failed in cascade). */
int store_outbox_blocked_by_failure(struct store *s, int64_t **ids, size_t *n);

/* attempts++; the first time also sets first_due_ms = now_ms. */
int store_outbox_mark_sending(struct store *s, int64_t id, int64_t now_ms);
int store_outbox_mark_done(struct store *s, int64_t id, const char *result_json, int64_t now_ms);
int store_outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *error,
                            bool maybe_sent, int64_t now_ms);
int store_outbox_mark_failed(struct store *s, int64_t id, const char *error, int64_t now_ms);
/* Pending or sending -> DROPPED with why as last_error; ENOTFOUND otherwise. */
int store_outbox_mark_dropped(struct store *s, int64_t id, const char *why, int64_t now_ms);
/* Id of the job with idem_key, 0 if there is none, or < 0. */
int64_t store_outbox_find(struct store *s, const char *idem_key);
/* Smallest created_ms of the pending and sending jobs; INT64_MAX if none, < 0 on error. */
int64_t store_outbox_oldest_pending(struct store *s);
int store_outbox_set_payload(struct store *s, int64_t id, const char *payload_json, int64_t now_ms);
/* At start: every SENDING job goes back to PENDING with maybe_sent = 1.
 * Returns how many.  (One process only: replicas use store_outbox_claim.) */
int store_outbox_recover(struct store *s, int64_t now_ms);

/* ---- outbox leases (replicas) ----
 * A job row carries owner (a replica id, store_owner) and lease_until_ms.
 * store_outbox_add claims the jobs it inserts for this replica in the same
 * transaction; store_outbox_mark_sending claims a job only if no one else
 * holds a live lease on it (STORE_ENOTFOUND otherwise, or if it is not
 * pending).  The lease is store_lease_ms (above). */
/* Claims at most max pending or sending jobs that no one holds or whose
 * holder's lease ended (a dead replica's); sending ones come back pending
 * with maybe_sent.  at_start on SQLite (one process) takes every job not
 * ours, since no other process can be alive.  PostgreSQL: FOR UPDATE SKIP
 * LOCKED, so two replicas sweeping together claim disjoint sets.  Fills
 * *jobs (outbox_jobs_free). */
int store_outbox_claim(struct store *s, int64_t now_ms, bool at_start, size_t max, struct outbox_job **jobs,
                       size_t *n);
/* Extends this replica's leases to now + store_lease_ms.  Rows or < 0. */
int store_outbox_renew(struct store *s, int64_t now_ms);
/* Clean shutdown: gives up this replica's leases (the jobs are anyone's). */
int store_outbox_release(struct store *s);
/* The unfinished dependencies (neither done nor dropped) of job_id with
 * their state; free(*deps). */
int store_outbox_deps_of(struct store *s, int64_t job_id, struct outbox_dep **deps, size_t *n);
/* State of one job, or < 0 (STORE_ENOTFOUND). */
int store_outbox_state(struct store *s, int64_t id);

/* Jobs inserted by transactions that committed, reported once each, so the
 * outbox learns its new work without reading the queue.  Off until
 * store_outbox_track(s, true); a job inserted inside a transaction (or
 * savepoint) that rolls back is never reported. */
struct outbox_created {
    struct outbox_created *next;
    struct outbox_job job;      /* as inserted (pending, attempts 0) */
    int64_t *deps;
    size_t n_deps;
    int depth;                  /* the store's: savepoint depth while uncommitted */
};
void store_outbox_track(struct store *s, bool on);
/* The committed ones since the last call, oldest first; the caller frees the
 * list with outbox_created_free. */
struct outbox_created *store_outbox_take_created(struct store *s);
/* The same, and the jobs of the transaction still open (to be called in the
 * outermost one, just before its commit): they are the caller's from now
 * on, and a rollback no longer takes them back from the list. */
struct outbox_created *store_outbox_take_created_in_txn(struct store *s);
void outbox_created_free(struct outbox_created *list);
/* Counts by state (array indexed by enum outbox_state). */
int store_outbox_counts(struct store *s, int64_t counts[OUTBOX_N_STATES]);

#endif
