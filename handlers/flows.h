/* flows: what one handler's flow asks of another's — the owner's handoff
 * plan and context brief (handoff.c), page rounds (page.c, page_ack.c),
 * resolving and the close-out (page.c, closeout.c, release.c) and the
 * timeline as Markdown (timeline.c).  Everything here runs inside the
 * caller's store transaction and never touches the network. */
#ifndef SIRT_HANDLERS_FLOWS_H
#define SIRT_HANDLERS_FLOWS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/dispatch.h"
#include "../bot/store.h"

/* Owner and follow-the-sun: (re)plans the owner's end-of-day handoff
 * timers for inc (handoff.c). Call after the owner changes. */
void handoff_plan(const struct hctx *ctx, const struct incident *inc);
/* The context brief for a DM (a private place): the incident, the
 * decisions so far and the open next steps, with {{incident.channel}} and
 * {{incident.issue_link}} filled at send time.  kind: BRIEF_OWNER "You now
 * own SIRT-n", BRIEF_OFFER "SIRT-n is handed to you ... press Accept",
 * BRIEF_ADDED "You have been added to SIRT-n".  reason goes in brackets
 * after the title.  Caller frees. */
enum brief_kind { BRIEF_OWNER, BRIEF_OFFER, BRIEF_ADDED };
char *handoff_brief(const struct hctx *ctx, const struct incident *inc, const char *reason, enum brief_kind kind);
/* The appsec engineer (Slack id) in working hours at t whose day ends
 * latest, skipping exclude; NULL if nobody is in hours. */
const char *handoff_next_owner(const struct hctx *ctx, const char *exclude, int64_t t);

/* ---- page rounds (page.c) ----
 * Every PagerDuty alert the bot opens is a round with its own dedup_key:
 * "SIRT-n" for the first, "SIRT-n/page-2", ... after; the key goes into
 * the pd.trigger payload when the job is written, so retries reuse it. */
/* The round to page incident_id under, in the caller's transaction: the
 * newest open round when new_round is false and one is open (*is_new =
 * false), else a new round recorded with reason.  key (len >= 48) gets its
 * dedup_key.  Returns the round number (>= 1), or <0 on a store error. */
int page_round(const struct hctx *ctx, int64_t incident_id, bool new_round, const char *reason, char *key,
               size_t len, bool *is_new);
/* The page itself (Page button, /sirt page, a raise to S1/P1): the open
 * round's key again (PagerDuty folds the trigger into that alert), or a new
 * round when none is open; the pd.trigger job with inc's severity and
 * priority, the on-call it reaches invited (page_oncall_invite), a
 * "paged" timeline entry and a word in the incident channel.  reason is
 * "page" (user paged) or "severity" (user raised the incident: said so).
 * req_id makes the keys unique per request, so a replay adds nothing. */
void page_plan(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id,
               const char *reason);
/* Adds the pd.oncall job (idem_key) that runs after job `after`, finds who
 * the round dedup_key reached (PagerDuty schedule, else fallback_user),
 * records them on the round and invites them to the channel and, when
 * their GitLab username is known, the project (after channel_job /
 * project_job when > 0).  Returns the job id, 0 when no secops on-call is
 * configured, <0 on error. */
int64_t page_oncall_invite(const struct hctx *ctx, int64_t incident_id, const char *idem_key, const char *dedup_key,
                           int64_t after, int64_t channel_job, int64_t project_job);

/* ---- resolving (page.c) and close-out (closeout.c, release.c) ---- */
/* May user resolve inc now?  0, or -1 with the reason for the user in msg. */
int resolve_check(const struct hctx *ctx, const struct incident *inc, const char *user, char *msg, size_t len);
/* Resolves inc (checked by the caller): state, timers cancelled, PagerDuty
 * resolved, the close-out, timeline and the channel told.  req_id makes the
 * idempotency keys unique per request. */
void resolve_plan(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id);
/* The close-out of a resolve: the GitLab issue closed with label
 * incident::resolved and the timeline added to it as a note (when GitLab is
 * configured).  True when GitLab jobs were written. */
bool closeout_resolved(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id);
/* A note on the incident's GitLab issue whose body may name people as
 * {{user.<id>}} (filled in when sent); 0 when GitLab is off. */
int64_t closeout_note(const struct hctx *ctx, const struct incident *inc, const char *key_suffix, const char *body);
/* The incident's timeline as Markdown with {{user.<id>}} placeholders
 * (effects with "names": true fill them in); caller frees (timeline.c). */
char *timeline_markdown(const struct hctx *ctx, const struct incident *inc);

/* ---- the long-term fix (release.c) ---- */
/* True when resolving inc must be confirmed first: S1 or P1, open, and no
 * long-term fix recorded. */
bool release_gate(const struct hctx *ctx, const struct incident *inc);
/* The confirmation (Resolve anyway / Cancel) as a slash command's reply. */
void release_confirm_reply(const struct incident *inc, struct sirt_reply *out);
/* The same as an ephemeral message to user in channel (mentions, DMs). */
void release_confirm_ephemeral(const struct hctx *ctx, const struct incident *inc, const char *channel,
                               const char *user, const char *req_id);
/* The same as the answer to a press of the summary's Resolve button. */
void release_confirm_button(const struct hctx *ctx, const struct incident *inc, const cJSON *payload,
                            const cJSON *action);
/* Arms the daily reminder to the owner of an open S1/P1 incident without a
 * long-term fix (no-op otherwise, or when one is pending).  Call when an
 * incident is created, reopened, or raised to S1/P1. */
void release_plan(const struct hctx *ctx, const struct incident *inc);
/* ---- following pages (page_ack.c) ---- */
/* A new page round dedup_key was opened: follow it (the "page_ack" timer:
 * PagerDuty asked once a minute, "acknowledged by" said once, escalation
 * after paging.ack_minutes); without PAGERDUTY_API_TOKEN the incident
 * channel is told once that acknowledgements are not followed. */
void page_ack_plan(const struct hctx *ctx, int64_t incident_id, const char *dedup_key);
/* Resolving: a pd.resolve (escalation routing) for every escalation page
 * of the incident; req_id makes the keys unique.  0 or <0 (store). */
int page_ack_resolve(const struct hctx *ctx, int64_t incident_id, const char *req_id);

#endif
