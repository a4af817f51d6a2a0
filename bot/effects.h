/* effects: the operations the outbox can perform, one per `op` name.  An
 * effect reads its job's payload (JSON written by a handler) and, for the
 * values only known later (channel id, project id, issue iid/url), the
 * incident row as it is at send time.  It performs one or a few HTTP calls
 * (Slack via slack_api with no_retry, GitLab and PagerDuty via http) and
 * reports one outcome.  Effects never retry by themselves and never write the
 * store: the outbox applies the outcome (and the incident captures) in one
 * transaction.
 *
 * Texts in payloads are already masked by the handler that wrote them;
 * effects mask again anything they take from the incident row.
 *
 * Ops and payloads (all strings UTF-8; "incident channel" = incidents.channel_id):
 *
 *  slack.views_open     {"trigger_id","view":{...}}          views.open; no retry after
 *                                                            2.5 s from job creation
 *  slack.create_channel {"name","is_private":true}           conversations.create; captures
 *                       incident.channel_id, channel_name.  name_taken: if maybe_sent, look for
 *                       our own channel of that name (conversations.list, private, creator ==
 *                       bot user) and adopt it; otherwise retry at once with "-2", "-3", ...
 *                       appended (result "payload" carries the new payload to store)
 *  slack.invite         {"users":["U..",...]}                conversations.invite (force) into
 *                       the incident channel; already_in_channel counts as done; the bot's own id
 *                       is skipped
 *  slack.post           {"channel"?, "text", "blocks"?, "thread_ts"?, "pin"?}  chat.postMessage to
 *                       channel, or the incident channel when absent; with "pin":true, then
 *                       pins.add (already_pinned = done).  result {"channel","ts"}.
 *                       With "private_only":true, conversations.info first: posted only when the
 *                       channel is private; else "public_text" (when given) is posted instead, or
 *                       nothing ("skipped"); result "privacy": private|public|unknown.  Transient
 *                       errors of conversations.info retry for 10 min, then count as not private.
 *                       Blocks of every slack.* op are fitted to Block Kit limits (bot/blockkit.h).
 *  slack.dm             {"user","text","blocks"?}            conversations.open + chat.postMessage
 *                       Both post with metadata {"event_type":"sirt_outbox","event_payload":
 *                       {"job":<opaque token of the idem key>}} (never a payload's own metadata).
 *                       With maybe_sent, first look for that message (conversations.history of
 *                       the channel / DM, conversations.replies of thread_ts; from the first send
 *                       minus 5 min, include_all_metadata, limit 15, <= 3 pages, the bot's own
 *                       messages) and adopt its ts (result "adopted":true; then pins.add if
 *                       "pin") instead of posting; a 429 on the first page = RETRY after it
 *                       (see effects_internal.h "posting exactly once")
 *  slack.ephemeral      {"channel","user","text","thread_ts"?}  chat.postEphemeral (not
 *                       reconciled: Slack keeps no copy; may repeat after a crash)
 *  slack.response_url   {"url","body":{...}}                 POST to a response_url (not
 *                       reconciled: may repeat after a crash)
 *  gitlab.create_project {"name","path","description"}       POST /projects with namespace_id
 *                       from config, visibility private; captures gitlab_project_id,
 *                       gitlab_project_path, gitlab_project_url.  "has already been taken" with
 *                       maybe_sent (or at all: the path carries a per-incident suffix): adopt
 *                       the existing project (GET /namespaces/:id -> full_path, GET /projects/:path)
 *  gitlab.create_issue  {"title","description","labels","marker"}  POST /projects/:id/issues
 *                       confidential; captures gitlab_issue_iid, gitlab_issue_url.  With
 *                       maybe_sent, first look for an issue whose description holds marker
 *  gitlab.add_members   {"usernames":[...],"access_level":30}  GET /users?username= then POST
 *                       /projects/:id/members; 409 = already a member = fine; unknown
 *                       usernames are skipped (listed in the result)
 *  gitlab.note          {"body","marker"}                    POST /projects/:id/issues/:iid/notes;
 *                       with maybe_sent, first look for a note holding marker
 *  gitlab.link          {"url","project_path","iid","body","marker","actor"?}  attaches an existing
 *                       issue (effects_gitlab_link.c): GET /projects/:path, GET its issue iid,
 *                       POST an internal note (body + marker; with maybe_sent, first look for it),
 *                       then POST /projects/:id/issues/:iid/links from the incident's issue
 *                       (target_project_id, target_issue_iid, relates_to; 409 = linked already).
 *                       Result "linked":true|false; timeline kind issue_linked (text url, actor)
 *                       or issue_link_failed; follow-up "notice" (slack.post to the channel).
 *                       403/404 on any step = not linked (DONE, told), never retried
 *  gitlab.update_issue  {"add_labels","remove_labels","severity"?,"priority"?}
 *                       PUT /projects/:id/issues/:iid with add_labels / remove_labels
 *                       (comma-separated, as GitLab documents them; arrays are joined).
 *                       Idempotent, so a replay after a crash simply sends it again.  With
 *                       "severity"/"priority" (the values the labels stand for): when the
 *                       incident row no longer has them at send time, a later change
 *                       superseded this one (its own job sets the labels), so nothing is sent
 *                       (result "superseded":true): changes applied out of order never leave
 *                       stale labels.  Waits for the project and the issue.
 *  gitlab.issue_state   {"state_event":"close"|"reopen","add_labels"?,"remove_labels"?}
 *                       PUT /projects/:id/issues/:iid (close/reopen is idempotent in GitLab);
 *                       waits for the issue.  result {"state"}
 *  slack.file_upload    {"channel"?,"filename","title","content","fallback_intro"?}
 *                       files.getUploadURLExternal (form-encoded: filename, length) -> DONE with
 *                       the follow-up "bytes" (slack.file_bytes) -> "complete"
 *                       (slack.file_complete: files.completeUploadExternal, files=[{id,title}],
 *                       channel_id).  A lasting failure of any step (not_allowed_token_type,
 *                       missing_scope, a 4xx from the upload URL, ...) is DONE with follow-up
 *                       slack.post jobs instead: a notice of why, then the content in ordered
 *                       code-block parts (effects_files.c)
 *  pd.trigger           {"dedup_key","summary","severity","source","component",
 *                       "custom_details":{...},"issue_job"?,"links_update"?}
 *                       Events v2 trigger, routing key from config, dedup_key as written by the
 *                       handler (the page round's key, never recomputed here; "SIRT-<n>" for
 *                       old jobs without one), links to the incident channel and issue when
 *                       known.  202 = done.  With "issue_job" (the GitLab issue's job) and no
 *                       issue yet at send time, the result adds two follow-up jobs after
 *                       issue_job: "links" (the same trigger, same dedup_key, with
 *                       "links_update") and "links_notice" (a slack.post telling the channel)
 *  pd.resolve           {"dedup_key","routing"?}             Events v2 resolve of that key.
 *                       pd.trigger and pd.resolve with "routing":"escalation" use
 *                       PAGERDUTY_ESCALATION_ROUTING_KEY (the security manager's service)
 *  pd.page_status       {"dedup_key","wake"?:{"key","kind"}}  REST GET /incidents?incident_key=
 *                       (token from config): was the page seen?  Acknowledged, or resolved in
 *                       PagerDuty: result "page_ack":{"dedup_key","at_ms","by","how"} (PagerDuty's
 *                       time and name; how "acknowledged"|"resolved") and "wake" copied from the
 *                       payload; always "status".  Never maybe_sent
 *  pd.oncall            {"schedule","fallback_user"?,"reply"?:{"channel","thread_ts"?}|{"url"},
 *                       "set_owner"?,"invite"?,"page"?:{"dedup_key"},"channel_job"?,
 *                       "project_job"?}  GET /oncalls (schedule, include users) -> e-mail ->
 *                       users.lookupByEmail -> Slack user; fallback_user when PagerDuty cannot
 *                       answer.  result {"user","source"} (+ "incident":{"owner"} with
 *                       set_owner); with "reply", posts who is on call first.  With "invite":
 *                       follow-up jobs "invite" (slack.invite of the user, after channel_job)
 *                       and, when GITLAB_URL is set and cfg_gitlab_user() knows them,
 *                       "gitlab_member" (gitlab.add_members, Developer, after project_job).
 *                       With "page": result "page":{"dedup_key","user"}
 *
 * Follow-up jobs (chaining one effect's result into later jobs).  A DONE
 * result may carry "jobs": [{"key","op","payload","deps"?:[job ids]}].  The
 * outbox writes them, for the same incident, in the one transaction that
 * marks this job done and applies its captures, with idem key
 * "<this job's idem key>/<key>".  So they exist iff the result was
 * recorded; an effect replayed after a crash (maybe_sent) produces the same
 * keys, which the store ignores the second time: exactly once.  "deps" are
 * ids the handler put in this job's payload (hard dependencies).  The other
 * reserved result member for paging, "page":{"dedup_key","user"}, records
 * the user on that page round (store_page_set_user) and on the incident
 * (role "oncall"); "page_ack":{"dedup_key","at_ms","by","how"} records what
 * PagerDuty said about a round (store_page_ack_seen); "wake":{"key","kind"}
 * sets that timer due now (the handler that follows the round decides).
 *
 * A follow-up may name "after": the key of an earlier follow-up of the
 * same result, which it then depends on (ordered messages).
 *
 * Any payload may carry "if_state": "open"|"resolved": the outbox drops the
 * job (DROPPED, not sent) when the incident is in another state at send
 * time (a reminder queued before a resolve).  "names": true makes the
 * {{user.<Slack id>}} placeholders of its strings people's names first
 * (effects_names.c).
 *
 * Outcome rules: 2xx/ok -> DONE; Slack ok:false -> FAIL, except ratelimited /
 * internal_error / fatal_error / service_unavailable / request_timeout /
 * team_added_to_org -> RETRY; HTTP 429 -> RETRY after Retry-After; 408 ->
 * RETRY; 5xx, network errors, timeouts -> RETRY with maybe_sent; other 4xx
 * -> FAIL.  A missing prerequisite (no
 * incident channel yet, no project yet) -> RETRY (not maybe_sent) with
 * error "waiting for <what>". */
#ifndef SIRT_EFFECTS_H
#define SIRT_EFFECTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sirt_app;
struct outbox_job;
struct incident;

enum effect_outcome { EFFECT_DONE, EFFECT_RETRY, EFFECT_FAIL };

struct effect_result {
    enum effect_outcome outcome;
    const char *error;          /* short, for logs and last_error; "" when done */
    long retry_after_ms;        /* RETRY: minimum delay (-1 = use the outbox backoff) */
    bool maybe_sent;            /* RETRY: the request may have been applied */
    /* DONE: optional result object.  Reserved members the outbox applies:
     *   "incident": {"channel_id": "...", "gitlab_project_id": 7, ...}  -> store_incident_set_*
     *   "timeline": "text"  -> a timeline entry of kind = op, or "timeline_kind" when
 *                          given, by "timeline_actor" (default "sirtbot")
     *   "jobs": [...], "page": {...}  -> follow-up jobs and page rounds (above)
     * RETRY/FAIL may carry "payload": {...} to replace the job's payload
     * (e.g. create_channel with a new name). Borrowed for the callback. */
    const cJSON *result;
};

typedef void (*effect_done_fn)(void *ud, const struct effect_result *r);

/* Starts the effect for job.  payload is taken (the effect owns and frees
 * it; NULL or not an object: an empty one); job and inc are borrowed only
 * for the duration of this call (copy what is needed).  inc may be NULL for jobs
 * without an incident.  done is called exactly once, never from inside
 * effect_start (always from a later loop callback), also on shutdown
 * (RETRY, error "canceled").  Unknown op: done(FAIL, "unknown op"). */
void effect_start(struct sirt_app *app, const struct outbox_job *job, cJSON *payload,
                  const struct incident *inc, effect_done_fn done, void *ud);

/* How the outbox retries an op's transient failures (docs/reliability.md "Retries"):
 * PAGE (pd.trigger): at most 60 s apart, until delivered or the incident is
 * resolved; DEFAULT: at most 5 min apart, for outbox.give_up_hours. */
enum effect_retry_class { EFFECT_CLASS_DEFAULT, EFFECT_CLASS_PAGE };

struct fx;
/* One op: a line of the one op table (ops[] in effects.c), which everything that
 * treats ops differently reads.  Static: the pointers live forever. */
struct effect_op {
    const char *name;              /* "slack.post" */
    void (*start)(struct fx *fx);  /* its entry point (effects_internal.h) */
    const char *what;              /* for failure notices: "<what> failed (<error>)" */
    bool quiet;                    /* its lasting failure is not told (a notice itself,
                                    * a poll, or the user sees Slack's own error) */
    bool notice_dm;                /* its failure is told to the reporter by DM, not in
                                    * the incident channel (which it was to make usable) */
    int64_t ttl_ms;                /* > 0: fails instead of starting once the job is older */
    enum effect_retry_class retry;
};
/* The op called name, or NULL (unknown op, or name NULL). */
const struct effect_op *effect_op_find(const char *name);
/* The i-th op of the table (to walk it), or NULL past its end. */
const struct effect_op *effect_op_at(size_t i);
/* True if op is known. */
bool effect_known(const char *op);
/* The class of op from the op table; DEFAULT for an unknown op. */
enum effect_retry_class effect_retry_class(const char *op);

/* The cache of Slack display names the effects keep (effects_names.c):
 * loop thread only; unames_destroy(NULL) is a no-op. */
struct unames;
struct unames *unames_create(void);
void unames_destroy(struct unames *u);

/* Slack permalink-ish URL of a channel for links ("<team url>archives/<id>").
 * Returns a malloc'd string, or NULL when the team URL is unknown. */
char *effect_channel_url(const struct sirt_app *app, const char *channel_id);

#endif
