/* common: what several handlers share — finding the incident a request is
 * about, deciding who may see its details, and writing the usual effects
 * (messages in the incident channel, ephemeral replies, DMs, timeline) as
 * outbox jobs.  Everything here runs inside the caller's store transaction
 * and never touches the network. */
#ifndef SIRT_HANDLERS_COMMON_H
#define SIRT_HANDLERS_COMMON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/store.h"
#include "handlers.h"

struct sirt_app;

/* The incident a request names: "SIRT-12", "sirt-12" or "12" as the first
 * word of args (then *rest points after it), else the incident whose
 * private channel channel_id is.  0 and inc filled (caller finishes it), or
 * -1 with a one-line message for the user in err. */
int incident_for(struct sirt_app *app, const char *channel_id, const char *args, struct incident *inc,
                 const char **rest, char *err, size_t errlen);
/* Parses "SIRT-12" / "sirt-12" / "12"; 0 if not an incident id. */
int64_t incident_parse_id(const char *word);

/* May user see the incident's details?  Members of sirt_team, the
 * reporter, the owner, and everyone recorded on the incident. */
bool incident_authorized(struct sirt_app *app, const struct incident *inc, const char *user);
/* Is a reply to req seen only by people who may see inc's details?  A slash
 * command reply is ephemeral (the asker only); a DM is the asker only; a
 * mention is public unless it was made in the incident's own channel. */
bool reply_private_for(struct sirt_app *app, const struct sirt_req *req, const struct incident *inc);

/* Outbox helpers.  key_suffix makes the idempotency key unique per effect
 * ("SIRT-<n>/<key_suffix>"); blocks (may be NULL) is taken over. */
int64_t fx_post_incident(struct sirt_app *app, const struct incident *inc, const char *key_suffix,
                         const char *text, cJSON *blocks);
int64_t fx_post_channel(struct sirt_app *app, int64_t incident_id, const char *key, const char *channel,
                        const char *thread_ts, const char *text, cJSON *blocks);
int64_t fx_ephemeral(struct sirt_app *app, const char *key, const char *channel, const char *user,
                     const char *text);
int64_t fx_dm(struct sirt_app *app, int64_t incident_id, const char *key, const char *user, const char *text,
              cJSON *blocks);
int64_t fx_gitlab_note(struct sirt_app *app, const struct incident *inc, const char *key_suffix, const char *body);
/* Is channel the incident's own private channel? */
bool incident_in_channel(const struct incident *inc, const char *channel);
/* An answer to whoever pressed a button: through the message's
 * response_url (replacing the message when replace), else ephemeral in the
 * channel, else by DM.  what + the press make the idempotency key. */
int64_t fx_button_notice(struct sirt_app *app, const cJSON *payload, const cJSON *action, const char *what,
                         const char *text, bool replace);
/* What a work() returns: 0, or STORE_EIO once a write of the router's
 * transaction has failed (see store_txn_failed). */
int handler_result(const struct sirt_app *app);

/* Timeline entry now, printf-style text; 0 or a negative STORE_E*. */
int timeline_add(struct sirt_app *app, int64_t incident_id, const char *actor, const char *kind,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A key unique to this delivery of a request (envelope trigger/event ids),
 * for replies: writes "<prefix>/<id>" into out. */
void request_key(const struct sirt_req *req, const char *prefix, char *out, size_t size);

/* Masked copy of user text, at most max bytes (UTF-8 safe, "..." when cut),
 * with "{{" defused; caller frees. */
char *clean_user_text(const char *s, size_t max);
/* User text for one line of a message: masked, cut at max bytes, newlines
 * and tabs made spaces, mrkdwn-escaped (backticks too); caller frees. */
char *shown_line(const char *s, size_t max);
/* strftime of epoch ms in UTC into out[32]; "-" for 0 or less. */
void fmt_utc(int64_t ms, const char *fmt, char out[32]);
/* Slack mrkdwn escaping of &, <, > (and ` becomes '); caller frees. */
char *mrkdwn_escape(const char *s);

/* A Slack user id from "<@U123>", "<@U123|name>" or a bare "U123ABC";
 * false when word is none of them. */
bool parse_user_mention(const char *word, char *out, size_t size);
/* PagerDuty payload.severity for S1..S4: critical, error, warning, info. */
const char *pd_severity_name(int severity);
/* Copy of s without leading/trailing whitespace ("" for NULL); caller frees. */
char *trim_copy(const char *s);
/* A modal input's value (block_id, action_id "value"): plain text or the
 * selected option's value; NULL when empty. */
const char *view_input(const cJSON *view, const char *block);

/* Block Kit builders (caller owns the result until added to a parent).
 * Every text goes in already escaped for its kind and is cut to Slack's
 * limit for its place with blockkit_cut (bot/blockkit.h): long text ends
 * with "(truncated — full text in the GitLab issue)", short labels with
 * "…"; nothing a builder makes is refused for its size. */
cJSON *bk_plain(const char *text);                      /* plain_text, at most BK_SECTION_TEXT */
cJSON *bk_plain_max(const char *text, size_t max);      /* plain_text, at most max */
cJSON *bk_section(const char *mrkdwn);                  /* section, text at most BK_SECTION_TEXT */
cJSON *bk_header(const char *text);                     /* header, at most BK_HEADER_TEXT */
cJSON *bk_context(const char *mrkdwn);                  /* context with one mrkdwn element */
cJSON *bk_button(const char *text, const char *action_id, const char *value, const char *style);
cJSON *bk_actions(const char *block_id);   /* add buttons to its "elements" */
cJSON *bk_option(const char *text, const char *value);  /* option: text and value at most 75 */
/* A modal's title/submit/close (each cut to 24) on an object with "type":"modal". */
cJSON *bk_modal(const char *title, const char *submit, const char *close);
/* Fits a finished blocks array (at most max_blocks) in place, as the
 * effects will: for builders that assemble many blocks. */
void bk_fit(cJSON *blocks, int max_blocks);

/* Owner and follow-the-sun: (re)plans the owner's end-of-day handoff
 * timers for inc (handoff.c). Call after the owner changes. */
void handoff_plan(struct sirt_app *app, const struct incident *inc);
/* The context brief for a DM (a private place): the incident, the
 * decisions so far and the open next steps, with {{incident.channel}} and
 * {{incident.issue_link}} filled at send time.  kind: BRIEF_OWNER "You now
 * own SIRT-n", BRIEF_OFFER "SIRT-n is handed to you ... press Accept",
 * BRIEF_ADDED "You have been added to SIRT-n".  reason goes in brackets
 * after the title.  Caller frees. */
enum brief_kind { BRIEF_OWNER, BRIEF_OFFER, BRIEF_ADDED };
char *handoff_brief(struct sirt_app *app, const struct incident *inc, const char *reason, enum brief_kind kind);
/* The appsec engineer (Slack id) in working hours at t whose day ends
 * latest, skipping exclude; NULL if nobody is in hours. */
const char *handoff_next_owner(struct sirt_app *app, const char *exclude, int64_t t);

/* ---- page rounds (page.c) ----
 * Every PagerDuty alert the bot opens is a round with its own dedup_key:
 * "SIRT-n" for the first, "SIRT-n/page-2", ... after; the key goes into
 * the pd.trigger payload when the job is written, so retries reuse it. */
/* The round to page incident_id under, in the caller's transaction: the
 * newest open round when new_round is false and one is open (*is_new =
 * false), else a new round recorded with reason.  key (len >= 48) gets its
 * dedup_key.  Returns the round number (>= 1), or <0 on a store error. */
int page_round(struct sirt_app *app, int64_t incident_id, bool new_round, const char *reason, char *key,
               size_t len, bool *is_new);
/* The page itself (Page button, /sirt page, a raise to S1/P1): the open
 * round's key again (PagerDuty folds the trigger into that alert), or a new
 * round when none is open; the pd.trigger job with inc's severity and
 * priority, the on-call it reaches invited (page_oncall_invite), a
 * "paged" timeline entry and a word in the incident channel.  reason is
 * "page" (user paged) or "severity" (user raised the incident: said so).
 * req_id makes the keys unique per request, so a replay adds nothing. */
void page_plan(struct sirt_app *app, const struct incident *inc, const char *user, const char *req_id,
               const char *reason);
/* Adds the pd.oncall job (idem_key) that runs after job `after`, finds who
 * the round dedup_key reached (PagerDuty schedule, else fallback_user),
 * records them on the round and invites them to the channel and, when
 * their GitLab username is known, the project (after channel_job /
 * project_job when > 0).  Returns the job id, 0 when no secops on-call is
 * configured, <0 on error. */
int64_t page_oncall_invite(struct sirt_app *app, int64_t incident_id, const char *idem_key, const char *dedup_key,
                           int64_t after, int64_t channel_job, int64_t project_job);

/* ---- resolving (page.c) and close-out (closeout.c, release.c) ---- */
/* May user resolve inc now?  0, or -1 with the reason for the user in msg. */
int resolve_check(struct sirt_app *app, const struct incident *inc, const char *user, char *msg, size_t len);
/* Resolves inc (checked by the caller): state, timers cancelled, PagerDuty
 * resolved, the close-out, timeline and the channel told.  req_id makes the
 * idempotency keys unique per request. */
void resolve_plan(struct sirt_app *app, const struct incident *inc, const char *user, const char *req_id);
/* The close-out of a resolve: the GitLab issue closed with label
 * incident::resolved and the timeline added to it as a note (when GitLab is
 * configured).  True when GitLab jobs were written. */
bool closeout_resolved(struct sirt_app *app, const struct incident *inc, const char *user, const char *req_id);
/* A note on the incident's GitLab issue whose body may name people as
 * {{user.<id>}} (filled in when sent); 0 when GitLab is off. */
int64_t closeout_note(struct sirt_app *app, const struct incident *inc, const char *key_suffix, const char *body);
/* The incident's timeline as Markdown with {{user.<id>}} placeholders
 * (effects with "names": true fill them in); caller frees (timeline.c). */
char *timeline_markdown(struct sirt_app *app, const struct incident *inc);

/* ---- the long-term fix (release.c) ---- */
/* True when resolving inc must be confirmed first: S1 or P1, open, and no
 * long-term fix recorded. */
bool release_gate(struct sirt_app *app, const struct incident *inc);
/* The confirmation (Resolve anyway / Cancel) as a slash command's reply. */
void release_confirm_reply(const struct incident *inc, struct sirt_reply *out);
/* The same as an ephemeral message to user in channel (mentions, DMs). */
void release_confirm_ephemeral(struct sirt_app *app, const struct incident *inc, const char *channel,
                               const char *user, const char *req_id);
/* The same as the answer to a press of the summary's Resolve button. */
void release_confirm_button(struct sirt_app *app, const struct incident *inc, const cJSON *payload,
                            const cJSON *action);
/* Arms the daily reminder to the owner of an open S1/P1 incident without a
 * long-term fix (no-op otherwise, or when one is pending).  Call when an
 * incident is created, reopened, or raised to S1/P1. */
void release_plan(struct sirt_app *app, const struct incident *inc);
/* ---- following pages (page_ack.c) ---- */
/* A new page round dedup_key was opened: follow it (the "page_ack" timer:
 * PagerDuty asked once a minute, "acknowledged by" said once, escalation
 * after paging.ack_minutes); without PAGERDUTY_API_TOKEN the incident
 * channel is told once that acknowledgements are not followed. */
void page_ack_plan(struct sirt_app *app, int64_t incident_id, const char *dedup_key);
/* Resolving: a pd.resolve (escalation routing) for every escalation page
 * of the incident; req_id makes the keys unique.  0 or <0 (store). */
int page_ack_resolve(struct sirt_app *app, int64_t incident_id, const char *req_id);

#endif
