/* handlers: one file per verb or flow, all listed in the tables of
 * handlers.c.  The types the router and the scheduler dispatch on (verbs,
 * actions, views, timer kinds, requests and replies), the two phases of a
 * verb and the context every handler gets (struct hctx) are declared by the
 * platform in bot/dispatch.h; the composition root (app/main.c) hands
 * handlers_router_table and handlers_sched_kinds to router_create() and
 * scheduler_create() with the context. */
#ifndef SIRT_HANDLERS_H
#define SIRT_HANDLERS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/dispatch.h"
#include "../bot/metrics.h"

/* Replies (struct sirt_reply): reply_set_text replaces the text;
 * reply_finish frees text and blocks and leaves the reply empty. */
void reply_set_text(struct sirt_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_finish(struct sirt_reply *r);

/* The tables the composition root passes to the router and the scheduler. */
extern const struct router_table handlers_router_table;
extern const struct sched_kinds handlers_sched_kinds;

const struct sirt_verb *handlers_verb(const char *name);
const struct sirt_action *handlers_action(const char *action_id);
const struct sirt_view *handlers_view(const char *callback_id);
extern const struct sirt_verb handlers_verbs[];
extern const size_t handlers_n_verbs;

/* The verbs' reply to an unknown verb: names it and lists the commands. */
void handlers_unknown(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);

/* report.c */
struct cfg;
void report_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int report_work(const struct hctx *ctx, const struct sirt_req *req);
int report_open_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
cJSON *report_validate(const struct hctx *ctx, const cJSON *payload);
int report_submit(const struct hctx *ctx, const cJSON *payload);
/* The report modal (caller owns). summary/origin may be NULL. */
cJSON *report_view(const struct cfg *cfg, const char *summary, const char *origin);
/* "sirt-<n>-<slug>" per Slack's channel name rules (<= 80 bytes). */
void report_channel_name(int64_t n, const char *title, char *out, size_t size);

/* Timer kinds run by the scheduler (inside a store transaction). */
const struct sirt_timer_kind *handlers_timer(const char *kind);

/* page.c: /sirt page, /sirt resolve, @sirt oncall, the summary's Page and Resolve buttons */
void page_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int page_work(const struct hctx *ctx, const struct sirt_req *req);
void resolve_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int resolve_work(const struct hctx *ctx, const struct sirt_req *req);
void oncall_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int oncall_work(const struct hctx *ctx, const struct sirt_req *req);
int page_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int resolve_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);

/* page_ack.c: the timer that follows a page round until it is seen */
void page_ack_fire(const struct hctx *ctx, const struct sched_timer *t);

/* decision.c: /sirt decision, the Record decision button, the modal, Fix delivered, validation */
void decision_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int decision_work(const struct hctx *ctx, const struct sirt_req *req);
int decision_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
cJSON *decision_validate(const struct hctx *ctx, const cJSON *payload);
int decision_submit(const struct hctx *ctx, const cJSON *payload);
int decision_fix_delivered(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int decision_validated(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
void decision_validate_prompt_fire(const struct hctx *ctx, const struct sched_timer *t);

/* add.c: /sirt add [SIRT-n] @user …, the Add people button and its modal */
void add_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int add_work(const struct hctx *ctx, const struct sirt_req *req);
int add_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
cJSON *add_validate(const struct hctx *ctx, const cJSON *payload);
int add_submit(const struct hctx *ctx, const cJSON *payload);

/* assign.c: /sirt assign SIRT-n @user */
void assign_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int assign_work(const struct hctx *ctx, const struct sirt_req *req);

/* handoff.c: /sirt handoff, the Hand off button, prompts, auto handoff */
void handoff_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int handoff_work(const struct hctx *ctx, const struct sirt_req *req);
int handoff_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int handoff_accept_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int handoff_keep_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int handoff_choose_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
void handoff_prompt_fire(const struct hctx *ctx, const struct sched_timer *t);
void handoff_auto_fire(const struct hctx *ctx, const struct sched_timer *t);

/* handoff_accept.c: offers that wait for Accept, the hand-back from secops */
int handoff_take_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
void handoff_unaccepted_fire(const struct hctx *ctx, const struct sched_timer *t);
void handoff_handback_fire(const struct hctx *ctx, const struct sched_timer *t);
/* True while a handoff of incident id waits for Accept: receiver (a Slack
 * id) copied into receiver[size], *until (may be NULL) its deadline. */
bool handoff_pending(const struct hctx *ctx, int64_t id, char *receiver, size_t size, int64_t *until);
/* Store thread, in a transaction: appsec zones changed (a Slack profile
 * refreshed), so pending hand-backs are planned again. */
void handoff_zones_changed(const struct hctx *ctx);

/* severity.c: /sirt severity, the Change severity button and its modal */
void severity_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int severity_work(const struct hctx *ctx, const struct sirt_req *req);
int severity_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
cJSON *severity_validate(const struct hctx *ctx, const cJSON *payload);
int severity_submit(const struct hctx *ctx, const cJSON *payload);
/* Parses "S<1-4> [P<1-4>]" (either or both, any order, case-insensitive,
 * separated by spaces, '/' or ','): 0 with *sev / *pri set (0 = not
 * given), or -1 when s is empty, names anything else, or a level twice. */
int severity_parse(const char *s, int *sev, int *pri);

/* status.c, review.c, timeline.c */
void status_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int status_work(const struct hctx *ctx, const struct sirt_req *req);
void review_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int review_work(const struct hctx *ctx, const struct sirt_req *req);
void review_fire(const struct hctx *ctx, const struct sched_timer *t);
/* Arms the next Monday 09:00 (config timezone) review timer if none is pending. */
void review_plan(const struct hctx *ctx);
/* retention.c: the daily "retention" timer (retention.days). */
void retention_fire(const struct hctx *ctx, const struct sched_timer *t);
/* Arms the next daily run (03:00, config timezone) if none is pending. */
void retention_plan(const struct hctx *ctx);

/* review_parts.c: /sirt improve, the digest's Mark done button, and the
 * store-wide step durations for /metrics, computed in slices on the store
 * thread: start with a zeroed pass, call review_durations_step (at most
 * max incidents each, 0 = a default) until it returns 1 (done; <0: a
 * store error), then publish pass.d with metrics_set_durations. */
void improve_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int improve_work(const struct hctx *ctx, const struct sirt_req *req);
int review_improvement_done_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
struct review_dur_pass {
    int64_t cursor;             /* last incident id counted */
    struct metrics_durations d;
};
int review_durations_step(const struct hctx *ctx, struct review_dur_pass *pass, size_t max);
void timeline_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int timeline_work(const struct hctx *ctx, const struct sirt_req *req);

/* link.c: /sirt link, and the report form's Issue link on GITLAB_URL */
struct incident;
void link_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int link_work(const struct hctx *ctx, const struct sirt_req *req);
enum { LINK_URL_ISSUE = 0, LINK_URL_NOT_GITLAB = -1, LINK_URL_NOT_ISSUE = -2 };
/* Is url an issue on gitlab_url ("$GITLAB_URL/<namespace path>/<project>/-/issues/<iid>", or the
 * older ".../issues/<iid>"; query and fragment ignored; host case-insensitive)?  LINK_URL_ISSUE with
 * the project path (path, plen), the iid and the canonical URL "<GITLAB_URL>/<path>/-/issues/<iid>"
 * (canon, clen); LINK_URL_NOT_GITLAB when url is not under gitlab_url (or it is NULL);
 * LINK_URL_NOT_ISSUE for anything else there. */
int link_parse_url(const char *gitlab_url, const char *url, char *path, size_t plen, int64_t *iid, char *canon,
                   size_t clen);
/* Adds the gitlab.link job attaching issue (path, iid; url the canonical URL) to inc, in the
 * caller's transaction, after job issue_job when > 0 (the incident's issue being created).
 * actor: who asked (timeline, channel notice).  Returns the job id, 0 when it is linked or being
 * linked already (or was tried too often), < 0 on a store error. */
int64_t link_add(const struct hctx *ctx, const struct incident *inc, const char *actor, const char *url,
                 const char *path, int64_t iid, int64_t issue_job);

/* closeout.c: /sirt reopen */
void reopen_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int reopen_work(const struct hctx *ctx, const struct sirt_req *req);

/* release.c: /sirt release, the resolve confirmation's buttons, the daily reminder */
void release_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
int release_work(const struct hctx *ctx, const struct sirt_req *req);
int release_resolve_anyway(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
int release_resolve_cancel(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
void release_reminder_fire(const struct hctx *ctx, const struct sched_timer *t);

/* help.c */
void help_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);

#endif
