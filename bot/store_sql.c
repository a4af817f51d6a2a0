/* store_sql: every statement and migration of the store, written once with
 * ?N placeholders; a driver's own text replaces a statement only where its
 * dialect differs.  Migrations are per driver and append only: a step, once
 * released, never changes, and a new one only adds (columns with defaults,
 * tables, indexes), so replicas still on the previous release keep working
 * against the migrated schema during a rolling upgrade. */
#include "store_internal.h"

#include "util.h"

/* ---- SQLite: migration i takes PRAGMA user_version from i to i + 1 ---- */
static const char *const sqlite_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  title TEXT, description TEXT,"
    "  severity INTEGER CHECK (severity BETWEEN 1 AND 4),"
    "  priority INTEGER CHECK (priority BETWEEN 1 AND 4),"
    "  component TEXT, repro TEXT, issue_link TEXT,"
    "  reporter TEXT NOT NULL, owner TEXT,"
    "  state TEXT NOT NULL DEFAULT 'open',"
    "  origin_channel TEXT, submission_key TEXT UNIQUE,"
    "  channel_id TEXT, channel_name TEXT,"
    "  gitlab_project_id INTEGER NOT NULL DEFAULT 0,"
    "  gitlab_project_path TEXT, gitlab_project_url TEXT,"
    "  gitlab_issue_iid INTEGER NOT NULL DEFAULT 0, gitlab_issue_url TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
    "  resolved_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX incidents_channel ON incidents(channel_id);"
    "CREATE TABLE timeline ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  ts_ms INTEGER NOT NULL, actor TEXT, kind TEXT, text TEXT);"
    "CREATE INDEX timeline_incident ON timeline(incident_id, ts_ms, id);"
    "CREATE TABLE events (event_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL);"
    "CREATE INDEX events_seen ON events(seen_ms);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident_id INTEGER NULL REFERENCES incidents(id),"
    "  idem_key TEXT UNIQUE NOT NULL, op TEXT NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  maybe_sent INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL DEFAULT 0,"
    "  deps_deadline_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, result TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(state, next_at_ms);"
    "CREATE TABLE outbox_deps ("
    "  job_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  dep_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  PRIMARY KEY (job_id, dep_id));",
    /* 1 -> 2: envelopes acked but not yet handled (see store_inbox_add) */
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  type TEXT NOT NULL, envelope TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL DEFAULT 0);",
    /* 2 -> 3: people on an incident, short-term decisions, timers */
    "CREATE TABLE incident_members ("
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL, role TEXT,"
    "  added_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (incident_id, user_id));"
    "CREATE TABLE decisions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
    "  author TEXT, created_ms INTEGER NOT NULL DEFAULT 0,"
    "  solution TEXT, options TEXT, effectiveness TEXT, customers TEXT,"
    "  how_affected TEXT, magnitude TEXT, consequences TEXT,"
    "  fix_delivered_ms INTEGER NOT NULL DEFAULT 0, fix_delivered_by TEXT,"
    "  validated INTEGER NOT NULL DEFAULT -1 CHECK (validated BETWEEN -1 AND 1),"
    "  validated_by TEXT, validated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX decisions_incident ON decisions(incident_id, id);"
    "CREATE TABLE timers ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL, kind TEXT NOT NULL,"
    "  incident_id INTEGER NULL,"
    "  due_ms INTEGER NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0,"      /* 0 pending, 1 done, 2 canceled */
    "  created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX timers_pending_key ON timers(key) WHERE state = 0;"
    "CREATE INDEX timers_due ON timers(state, due_ms);",
    /* 3 -> 4 (retry until delivered): when a job was first sent (its
     * give-up and page-announcement clocks start there); state 4 = dropped
     * (no longer needed, e.g. a page for a resolved incident). */
    "ALTER TABLE outbox ADD COLUMN first_due_ms INTEGER NOT NULL DEFAULT 0;",
    /* 4 -> 5: page rounds, one PagerDuty alert (dedup_key) each.  Incidents
     * paged before this version had one round, "SIRT-<n>", still open unless
     * the incident was resolved. */
    "CREATE TABLE pages ("
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  round INTEGER NOT NULL CHECK (round >= 1),"
    "  dedup_key TEXT NOT NULL UNIQUE, reason TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0, resolved_ms INTEGER NOT NULL DEFAULT 0,"
    "  paged_user TEXT,"
    "  PRIMARY KEY (incident_id, round));"
    "INSERT INTO pages(incident_id, round, dedup_key, reason, created_ms, resolved_ms)"
    "  SELECT i.id, 1, 'SIRT-' || i.id, 'page', i.created_ms,"
    "         CASE WHEN i.state = 'resolved' THEN max(i.resolved_ms, 1) ELSE 0 END"
    "  FROM incidents i WHERE EXISTS (SELECT 1 FROM outbox o"
    "    WHERE o.incident_id = i.id AND o.op = 'pd.trigger');",
    /* 5 -> 6: outbox leases (owner = a replica id, see store_owner). */
    "ALTER TABLE outbox ADD COLUMN owner TEXT;"
    "ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX outbox_open_owner ON outbox(owner, lease_until_ms) WHERE state IN (0, 1);",
    /* 6 -> 7 (replicas): inbox rows and timers held under a lease by the
     * replica working on them (owner = store_owner, NULL: nobody). */
    "ALTER TABLE inbox ADD COLUMN owner TEXT;"
    "ALTER TABLE inbox ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE timers ADD COLUMN owner TEXT;"
    "ALTER TABLE timers ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;",
    /* 7 -> 8 (issue 9, long-term fix): the critical security release issue
     * or MR recorded for an incident (/sirt release), one per incident. */
    "CREATE TABLE releases ("
    "  incident_id INTEGER PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL, actor TEXT, recorded_ms INTEGER NOT NULL DEFAULT 0);",
    /* 8 -> 9 (issue 9, pages that are seen): what PagerDuty said about a
     * page round (ack_ms: its acknowledgement time, 0 = not seen) and how the
     * bot followed it (noticed, escalated, the last status poll). */
    "CREATE TABLE page_acks ("
    "  dedup_key TEXT PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  ack_ms INTEGER NOT NULL DEFAULT 0, ack_by TEXT, ack_how TEXT,"
    "  noticed_ms INTEGER NOT NULL DEFAULT 0,"
    "  escalation_key TEXT, escalated_ms INTEGER NOT NULL DEFAULT 0,"
    "  polls INTEGER NOT NULL DEFAULT 0, poll_job INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX page_acks_incident ON page_acks(incident_id);",
    /* 9 -> 10 (retention.days): when the incident's text was erased, 0 = not. */
    "ALTER TABLE incidents ADD COLUMN erased_ms INTEGER NOT NULL DEFAULT 0;",
    /* 10 -> 11 (issue 9 part 8, the review): process improvements noted with
     * `/sirt improve`, listed in every digest until marked done. */
    "CREATE TABLE improvements ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  incident_id INTEGER NULL REFERENCES incidents(id) ON DELETE SET NULL,"
    "  author TEXT NOT NULL, text TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL DEFAULT 0,"
    "  done_ms INTEGER NOT NULL DEFAULT 0, done_by TEXT);"
    "CREATE INDEX improvements_open ON improvements(done_ms, id);",
};

/* ---- statements (both drivers) ---- */

#define INC_COLS \
    "id, title, description, severity, priority, component, repro, issue_link, reporter, " \
    "owner, state, origin_channel, submission_key, channel_id, channel_name, " \
    "gitlab_project_id, gitlab_project_path, gitlab_project_url, gitlab_issue_iid, " \
    "gitlab_issue_url, created_ms, updated_ms, resolved_ms"
#define DEC_COLS \
    "id, incident_id, author, created_ms, solution, options, effectiveness, customers, " \
    "how_affected, magnitude, consequences, fix_delivered_ms, fix_delivered_by, validated, " \
    "validated_by, validated_ms"
#define TIMER_COLS "id, key, kind, incident_id, due_ms, payload"
#define PAGE_COLS "incident_id, round, dedup_key, reason, created_ms, resolved_ms, paged_user"
#define PACK_COLS \
    "dedup_key, incident_id, ack_ms, ack_by, ack_how, noticed_ms, escalation_key, escalated_ms, polls, poll_job"
#define JOB_COLS \
    "o.id, o.incident_id, o.idem_key, o.op, o.payload, o.state, o.attempts, o.maybe_sent, " \
    "o.next_at_ms, o.deps_deadline_ms, o.last_error, o.result, o.created_ms, o.updated_ms, " \
    "o.first_due_ms"
/* The same, unqualified (RETURNING of an UPDATE). */
#define JOB_COLS_BARE \
    "id, incident_id, idem_key, op, payload, state, attempts, maybe_sent, " \
    "next_at_ms, deps_deadline_ms, last_error, result, created_ms, updated_ms, " \
    "first_due_ms"
/* A dependency of job o that is not done or dropped (failed ones included;
 * pending ones, retrying, make o wait), or failed. */
#define DEP_UNFINISHED \
    "EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox p ON p.id = d.dep_id" \
    " WHERE d.job_id = o.id AND p.state NOT IN (2, 4))"
/* Retention: a text column replaced by the marker ?2, NULL left NULL. */
#define ERASE(col) col " = CASE WHEN " col " IS NULL THEN NULL ELSE ?2 END"
#define DEP_FAILED \
    "EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox p ON p.id = d.dep_id" \
    " WHERE d.job_id = o.id AND p.state = 3)"


const char *const store__sql[ST_COUNT] = {
    [ST_EVENT_INSERT] = "INSERT INTO events(event_id, seen_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [ST_EVENT_PRUNE] = "DELETE FROM events WHERE seen_ms < ?1",
    [ST_INC_INSERT] =
        "INSERT INTO incidents(title, description, severity, priority, component, repro,"
        " issue_link, reporter, owner, state, origin_channel, submission_key, channel_id,"
        " channel_name, gitlab_project_id, gitlab_project_path, gitlab_project_url,"
        " gitlab_issue_iid, gitlab_issue_url, created_ms, updated_ms, resolved_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, COALESCE(?10, 'open'), ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20, ?21)"
        " ON CONFLICT(submission_key) DO NOTHING RETURNING id",
    [ST_INC_BY_KEY] = "SELECT id FROM incidents WHERE submission_key = ?1",
    [ST_INC_GET] = "SELECT " INC_COLS " FROM incidents WHERE id = ?1",
    [ST_INC_BY_CHANNEL] =
        "SELECT " INC_COLS " FROM incidents WHERE channel_id = ?1 ORDER BY id DESC LIMIT 1",
    [ST_INC_OPEN] = "SELECT " INC_COLS " FROM incidents WHERE state = 'open' ORDER BY id",
    [ST_INC_SINCE] =
        "SELECT " INC_COLS " FROM incidents WHERE created_ms >= ?1 OR state = 'open' ORDER BY id",
    [ST_INC_AFTER] = "SELECT " INC_COLS " FROM incidents WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_TL_INSERT] =
        "INSERT INTO timeline(incident_id, ts_ms, actor, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TL_LIST] =
        "SELECT id, incident_id, ts_ms, actor, kind, text FROM timeline"
        " WHERE incident_id = ?1 ORDER BY ts_ms, id",
    [ST_MEM_ADD] =
        "INSERT INTO incident_members(incident_id, user_id, role, added_ms) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(incident_id, user_id) DO NOTHING",
    [ST_MEM_IS] = "SELECT 1 FROM incident_members WHERE incident_id = ?1 AND user_id = ?2",
    [ST_DEC_INSERT] =
        "INSERT INTO decisions(incident_id, author, created_ms, solution, options, effectiveness,"
        " customers, how_affected, magnitude, consequences)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
    [ST_DEC_GET] = "SELECT " DEC_COLS " FROM decisions WHERE id = ?1",
    [ST_DEC_FIX] = "UPDATE decisions SET fix_delivered_ms = ?2, fix_delivered_by = ?3 WHERE id = ?1",
    [ST_DEC_VALIDATED] =
        "UPDATE decisions SET validated = ?2, validated_by = ?3, validated_ms = ?4 WHERE id = ?1",
    [ST_DEC_LIST] = "SELECT " DEC_COLS " FROM decisions WHERE incident_id = ?1 ORDER BY id",
    /* A pending timer already due when its key is set again is retired and
     * replaced rather than moved in place: it may be firing right now, and
     * marking it done afterwards must not swallow the new schedule. */
    [ST_TM_RETIRE] =
        "UPDATE timers SET state = 2, updated_ms = ?2 WHERE key = ?1 AND state = 0 AND due_ms <= ?2",
    /* Moving a pending timer also ends any claim on it (a claim is for a
     * due moment that has passed). */
    [ST_TM_UPSERT] =
        "INSERT INTO timers(key, kind, incident_id, due_ms, payload, state, created_ms, updated_ms)"
        " VALUES (?1, ?2, NULLIF(CAST(?3 AS BIGINT), 0), ?4, ?5, 0, ?6, ?6)"
        " ON CONFLICT(key) WHERE state = 0 DO UPDATE SET kind = excluded.kind,"
        " incident_id = excluded.incident_id, due_ms = excluded.due_ms,"
        " payload = excluded.payload, updated_ms = excluded.updated_ms,"
        " owner = NULL, lease_until_ms = 0",
    [ST_TM_CANCEL] = "UPDATE timers SET state = 2 WHERE key = ?1 AND state = 0",
    [ST_TM_GET] = "SELECT " TIMER_COLS " FROM timers WHERE key = ?1 AND state = 0",
    [ST_TM_DUE] =
        "SELECT " TIMER_COLS " FROM timers WHERE state = 0 AND due_ms <= ?1"
        " ORDER BY due_ms, id LIMIT ?2",
    /* A due timer another replica holds counts from the end of its lease:
     * the moment this replica may take it over.  Leases are in real time
     * (?2, clock_real_ms), due moments in the bot's clock (?3, now). */
    [ST_TM_NEXT] =
        "SELECT MIN(CASE WHEN owner IS NOT NULL AND owner <> ?1 AND lease_until_ms > ?2"
        "            AND ?3 + (lease_until_ms - ?2) > due_ms THEN ?3 + (lease_until_ms - ?2) ELSE due_ms END)"
        " FROM timers WHERE state = 0",
    /* Due timers (?2: the bot's now) nobody holds (unowned, this replica's
     * own, or a lease that ended by ?5, real time) are claimed for
     * lease_until = ?3; the rows come back in no particular order. */
    [ST_TM_CLAIM] =
        "UPDATE timers SET owner = ?1, lease_until_ms = ?3 WHERE id IN (SELECT id FROM timers"
        " WHERE state = 0 AND due_ms <= ?2 AND (owner IS NULL OR owner = ?1 OR lease_until_ms <= ?5)"
        " ORDER BY due_ms, id LIMIT ?4) RETURNING " TIMER_COLS,
    [ST_TM_FIRE] = "UPDATE timers SET state = 1, updated_ms = ?3 WHERE id = ?1 AND state = 0 AND owner = ?2",
    [ST_TM_RENEW] = "UPDATE timers SET lease_until_ms = ?2 WHERE owner = ?1 AND state = 0",
    [ST_TM_RELEASE] = "UPDATE timers SET owner = NULL, lease_until_ms = 0 WHERE owner = ?1 AND state = 0",
    [ST_TM_CLEAR] = "UPDATE timers SET owner = NULL, lease_until_ms = 0 WHERE owner IS NOT NULL",
    [ST_TM_DONE] = "UPDATE timers SET state = 1 WHERE id = ?1 AND state = 0",
    [ST_TM_EXISTS] = "SELECT state FROM timers WHERE id = ?1",
    [ST_TM_CANCEL_INC] = "UPDATE timers SET state = 2 WHERE incident_id = ?1 AND state = 0",
    [ST_OB_INSERT] =
        "INSERT INTO outbox(incident_id, idem_key, op, payload, state, attempts, maybe_sent,"
        " next_at_ms, deps_deadline_ms, created_ms, updated_ms, owner, lease_until_ms)"
        " VALUES (NULLIF(CAST(?1 AS BIGINT), 0), ?2, ?3, ?4, 0, 0, 0, ?5, ?6, ?7, ?7, ?8, ?9)"
        " ON CONFLICT(idem_key) DO NOTHING RETURNING id",
    [ST_OB_BY_KEY] = "SELECT id FROM outbox WHERE idem_key = ?1",
    [ST_OB_DEP_INSERT] = "INSERT INTO outbox_deps(job_id, dep_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [ST_OB_GET] = "SELECT " JOB_COLS " FROM outbox o WHERE o.id = ?1",
    [ST_OB_DUE] =
        "SELECT " JOB_COLS " FROM outbox o"
        " WHERE o.state = 0 AND o.next_at_ms <= ?1"
        " AND (NOT " DEP_UNFINISHED
        "      OR (o.deps_deadline_ms != 0 AND o.deps_deadline_ms <= ?1))"
        " AND NOT " DEP_FAILED
        " ORDER BY o.next_at_ms, o.id LIMIT ?2",
    [ST_OB_NEXT_DUE] =
        "SELECT MIN(CASE WHEN " DEP_UNFINISHED
        "            THEN (CASE WHEN o.next_at_ms > o.deps_deadline_ms THEN o.next_at_ms"
        "                  ELSE o.deps_deadline_ms END)"
        "            ELSE o.next_at_ms END)"
        " FROM outbox o WHERE o.state = 0 AND NOT " DEP_FAILED
        " AND (o.deps_deadline_ms != 0 OR NOT " DEP_UNFINISHED ")",
    [ST_OB_BLOCKED] = "SELECT o.id FROM outbox o WHERE o.state = 0 AND " DEP_FAILED " ORDER BY o.id",
    [ST_OB_SENDING] =
        "UPDATE outbox SET state = 1, attempts = attempts + 1, updated_ms = ?2,"
        " first_due_ms = CASE WHEN first_due_ms = 0 THEN ?2 ELSE first_due_ms END,"
        " owner = ?3, lease_until_ms = ?4"
        " WHERE id = ?1 AND state = 0 AND (owner IS NULL OR owner = ?3 OR lease_until_ms < ?5)",
    [ST_OB_STATE] = "SELECT state FROM outbox WHERE id = ?1",
    [ST_OB_DONE] = "UPDATE outbox SET state = 2, result = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_RETRY] =
        "UPDATE outbox SET state = 0, next_at_ms = ?2, last_error = ?3,"
        " maybe_sent = CASE WHEN ?4 <> 0 THEN 1 ELSE maybe_sent END, updated_ms = ?5"
        " WHERE id = ?1 AND state NOT IN (2, 3, 4)",   /* a late retry never reopens a finished job */
    [ST_OB_FAILED] = "UPDATE outbox SET state = 3, last_error = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_PAYLOAD] = "UPDATE outbox SET payload = ?2, updated_ms = ?3 WHERE id = ?1",
    [ST_OB_RECOVER] = "UPDATE outbox SET state = 0, maybe_sent = 1, updated_ms = ?1 WHERE state = 1",
    [ST_OB_COUNTS] = "SELECT state, COUNT(*) FROM outbox GROUP BY state",
    [ST_OB_DROPPED] =
        "UPDATE outbox SET state = 4, last_error = ?2, updated_ms = ?3 WHERE id = ?1 AND state IN (0, 1)",
    [ST_OB_OLDEST] = "SELECT MIN(created_ms) FROM outbox WHERE state IN (0, 1)",
    [ST_OB_PENDING] = "SELECT " JOB_COLS " FROM outbox o WHERE o.state = 0 ORDER BY o.id",
    [ST_OB_OPEN_DEPS] =
        "SELECT d.job_id, d.dep_id, p.state FROM outbox_deps d JOIN outbox o ON o.id = d.job_id"
        " JOIN outbox p ON p.id = d.dep_id WHERE o.state = 0 AND p.state NOT IN (2, 4) ORDER BY d.job_id",
    /* The sweep: jobs no one holds, or whose holder's lease ended before ?4. */
    [ST_OB_CLAIM] =
        "UPDATE outbox SET owner = ?1, lease_until_ms = ?3, updated_ms = ?2,"
        " maybe_sent = CASE WHEN state = 1 THEN 1 ELSE maybe_sent END, state = 0"
        " WHERE id IN (SELECT id FROM outbox WHERE state IN (0, 1)"
        "   AND (owner IS NULL OR (owner <> ?1 AND lease_until_ms < ?4)) ORDER BY id LIMIT ?5)"
        " RETURNING " JOB_COLS_BARE,
    [ST_OB_RENEW] = "UPDATE outbox SET lease_until_ms = ?2 WHERE owner = ?1 AND state IN (0, 1)",
    [ST_OB_RELEASE] = "UPDATE outbox SET owner = NULL, lease_until_ms = 0 WHERE owner = ?1 AND state IN (0, 1)",
    [ST_OB_DEPS_OF] =
        "SELECT d.job_id, d.dep_id, p.state FROM outbox_deps d JOIN outbox p ON p.id = d.dep_id"
        " WHERE d.job_id = ?1 AND p.state NOT IN (2, 4) ORDER BY d.dep_id",
    [ST_INBOX_ADD] =
        "INSERT INTO inbox(type, envelope, received_ms, owner, lease_until_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
        " RETURNING id",
    [ST_INBOX_DEL] = "DELETE FROM inbox WHERE id = ?1 AND owner = ?2",
    [ST_INBOX_LIST] = "SELECT id, type, envelope FROM inbox WHERE owner = ?1 ORDER BY id",
    /* Rows nobody holds (unowned, or another replica's lease ended) are
     * claimed for lease_until = ?3; the rows come back in no particular
     * order. */
    [ST_INBOX_CLAIM] =
        "UPDATE inbox SET owner = ?1, lease_until_ms = ?3 WHERE id IN (SELECT id FROM inbox"
        " WHERE owner IS NULL OR (owner <> ?1 AND lease_until_ms <= ?2) ORDER BY id LIMIT ?4)"
        " RETURNING id, type, envelope",
    [ST_INBOX_RENEW] = "UPDATE inbox SET lease_until_ms = ?2 WHERE owner = ?1",
    [ST_INBOX_RELEASE] = "UPDATE inbox SET owner = NULL, lease_until_ms = 0 WHERE owner = ?1",
    [ST_INBOX_CLEAR] = "UPDATE inbox SET owner = NULL, lease_until_ms = 0 WHERE owner IS NOT NULL",
    [ST_PG_INSERT] =
        "INSERT INTO pages(incident_id, round, dedup_key, reason, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT DO NOTHING",
    [ST_PG_LAST] = "SELECT COALESCE(MAX(round), 0) FROM pages WHERE incident_id = ?1",
    [ST_PG_OPEN] =
        "SELECT " PAGE_COLS " FROM pages WHERE incident_id = ?1 AND resolved_ms = 0"
        " ORDER BY round DESC LIMIT 1",
    [ST_PG_LIST] = "SELECT " PAGE_COLS " FROM pages WHERE incident_id = ?1 ORDER BY round",
    [ST_PG_RESOLVE] =
        "UPDATE pages SET resolved_ms = ?3 WHERE incident_id = ?1 AND resolved_ms = 0"
        " AND dedup_key = COALESCE(?2, dedup_key)",
    [ST_PG_USER] = "UPDATE pages SET paged_user = ?3 WHERE incident_id = ?1 AND dedup_key = ?2",
    [ST_IMP_INSERT] =
        "INSERT INTO improvements(incident_id, author, text, created_ms)"
        " VALUES (NULLIF(CAST(?1 AS BIGINT), 0), ?2, ?3, ?4) RETURNING id",
    [ST_IMP_OPEN] =
        "SELECT id, COALESCE(incident_id, 0), author, text, created_ms, done_ms, done_by FROM improvements"
        " WHERE done_ms = 0 ORDER BY id",
    [ST_IMP_GET] =
        "SELECT id, COALESCE(incident_id, 0), author, text, created_ms, done_ms, done_by FROM improvements"
        " WHERE id = ?1",
    [ST_IMP_DONE] = "UPDATE improvements SET done_ms = ?2, done_by = ?3 WHERE id = ?1 AND done_ms = 0",
    [ST_REL_SET] =
        "INSERT INTO releases(incident_id, url, actor, recorded_ms) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (incident_id) DO UPDATE SET url = excluded.url, actor = excluded.actor,"
        " recorded_ms = excluded.recorded_ms",
    [ST_REL_GET] = "SELECT incident_id, url, actor, recorded_ms FROM releases WHERE incident_id = ?1",
    [ST_PA_GET] = "SELECT " PACK_COLS " FROM page_acks WHERE dedup_key = ?1",
    [ST_PA_LIST] = "SELECT " PACK_COLS " FROM page_acks WHERE incident_id = ?1 ORDER BY dedup_key",
    /* The bot's own columns; what PagerDuty said (ack_*) is left alone. */
    [ST_PA_PUT] =
        "INSERT INTO page_acks(dedup_key, incident_id, noticed_ms, escalation_key, escalated_ms, polls, poll_job)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(dedup_key) DO UPDATE SET"
        " noticed_ms = excluded.noticed_ms, escalation_key = excluded.escalation_key,"
        " escalated_ms = excluded.escalated_ms, polls = excluded.polls, poll_job = excluded.poll_job",
    /* The first acknowledgement seen stands. */
    [ST_PA_SEEN] =
        "INSERT INTO page_acks(dedup_key, incident_id, ack_ms, ack_by, ack_how) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(dedup_key) DO UPDATE SET ack_ms = excluded.ack_ms, ack_by = excluded.ack_by,"
        " ack_how = excluded.ack_how WHERE page_acks.ack_ms = 0",
    /* Retention (store_retention.c): what is erased and what stays is
     * listed in store.h at store_incident_erase. */
    [ST_RET_DUE] =
        "SELECT id FROM incidents WHERE state = 'resolved' AND resolved_ms > 0 AND resolved_ms <= ?1"
        " AND erased_ms < resolved_ms ORDER BY id LIMIT ?2",   /* reopened since: again */
    [ST_RET_INC] =
        "UPDATE incidents SET " ERASE("title") ", " ERASE("description") ", " ERASE("repro") ", "
        ERASE("issue_link") ", channel_name = CASE WHEN channel_name IS NULL THEN NULL"
        " ELSE 'sirt-' || CAST(id AS TEXT) END, erased_ms = ?3, updated_ms = ?3"
        " WHERE id = ?1 AND state = 'resolved' AND erased_ms < resolved_ms",
    [ST_RET_DEC] =
        "UPDATE decisions SET " ERASE("solution") ", " ERASE("options") ", " ERASE("effectiveness") ", "
        ERASE("customers") ", " ERASE("how_affected") ", " ERASE("magnitude") ", " ERASE("consequences")
        " WHERE incident_id = ?1",
    [ST_RET_TL] = "UPDATE timeline SET text = ?2 WHERE incident_id = ?1 AND text IS NOT NULL AND text <> ''",
    /* Finished jobs only: a pending one still needs its payload.  Results
     * too: a channel's name (from the title), a message as sent. */
    [ST_RET_OB] =
        "UPDATE outbox SET payload = '{}', result = CASE WHEN result IS NULL THEN NULL ELSE '{}' END"
        " WHERE incident_id = ?1 AND state IN (2, 3, 4)",
    [ST_RET_TM] =
        "UPDATE timers SET payload = '{}' WHERE incident_id = ?1 AND state <> 0"
        " AND payload IS NOT NULL AND payload <> '{}'",
};

const struct store_field store__inc_fields[] = {
    { "title", false }, { "description", false }, { "component", false },
    { "repro", false }, { "issue_link", false }, { "owner", false },
    { "state", false }, { "channel_id", false }, { "channel_name", false },
    { "gitlab_project_path", false }, { "gitlab_project_url", false },
    { "gitlab_issue_url", false },
    { "severity", true }, { "priority", true }, { "gitlab_project_id", true },
    { "gitlab_issue_iid", true }, { "resolved_ms", true },
};
const int store__n_inc_fields = (int)ARRAY_LEN(store__inc_fields);

/* ---- PostgreSQL: migration i takes schema_version from i to i + 1 ----
 * Version 1 is SQLite's version 5 in PostgreSQL's types: BIGINT for ids and
 * times, identity columns (a sequence: never repeated, gaps are fine). */
static const char *const pg_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE incidents ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  title TEXT, description TEXT,"
    "  severity INTEGER CHECK (severity BETWEEN 1 AND 4),"
    "  priority INTEGER CHECK (priority BETWEEN 1 AND 4),"
    "  component TEXT, repro TEXT, issue_link TEXT,"
    "  reporter TEXT NOT NULL, owner TEXT,"
    "  state TEXT NOT NULL DEFAULT 'open',"
    "  origin_channel TEXT, submission_key TEXT UNIQUE,"
    "  channel_id TEXT, channel_name TEXT,"
    "  gitlab_project_id BIGINT NOT NULL DEFAULT 0,"
    "  gitlab_project_path TEXT, gitlab_project_url TEXT,"
    "  gitlab_issue_iid BIGINT NOT NULL DEFAULT 0, gitlab_issue_url TEXT,"
    "  created_ms BIGINT NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL DEFAULT 0,"
    "  resolved_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX incidents_channel ON incidents(channel_id);"
    "CREATE TABLE timeline ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  ts_ms BIGINT NOT NULL, actor TEXT, kind TEXT, text TEXT);"
    "CREATE INDEX timeline_incident ON timeline(incident_id, ts_ms, id);"
    "CREATE TABLE events (event_id TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL);"
    "CREATE INDEX events_seen ON events(seen_ms);"
    "CREATE TABLE outbox ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  incident_id BIGINT NULL REFERENCES incidents(id),"
    "  idem_key TEXT UNIQUE NOT NULL, op TEXT NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    "  maybe_sent INTEGER NOT NULL DEFAULT 0, next_at_ms BIGINT NOT NULL DEFAULT 0,"
    "  deps_deadline_ms BIGINT NOT NULL DEFAULT 0,"
    "  last_error TEXT, result TEXT,"
    "  created_ms BIGINT NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL DEFAULT 0,"
    "  first_due_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(state, next_at_ms);"
    "CREATE TABLE outbox_deps ("
    "  job_id BIGINT NOT NULL REFERENCES outbox(id),"
    "  dep_id BIGINT NOT NULL REFERENCES outbox(id),"
    "  PRIMARY KEY (job_id, dep_id));"
    "CREATE INDEX outbox_deps_dep ON outbox_deps(dep_id);"
    "CREATE TABLE inbox ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  type TEXT NOT NULL, envelope TEXT NOT NULL,"
    "  received_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE incident_members ("
    "  incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL, role TEXT,"
    "  added_ms BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (incident_id, user_id));"
    "CREATE TABLE decisions ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  incident_id BIGINT NOT NULL REFERENCES incidents(id),"
    "  author TEXT, created_ms BIGINT NOT NULL DEFAULT 0,"
    "  solution TEXT, options TEXT, effectiveness TEXT, customers TEXT,"
    "  how_affected TEXT, magnitude TEXT, consequences TEXT,"
    "  fix_delivered_ms BIGINT NOT NULL DEFAULT 0, fix_delivered_by TEXT,"
    "  validated INTEGER NOT NULL DEFAULT -1 CHECK (validated BETWEEN -1 AND 1),"
    "  validated_by TEXT, validated_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX decisions_incident ON decisions(incident_id, id);"
    "CREATE TABLE timers ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  key TEXT NOT NULL, kind TEXT NOT NULL,"
    "  incident_id BIGINT NULL,"
    "  due_ms BIGINT NOT NULL, payload TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0,"      /* 0 pending, 1 done, 2 canceled */
    "  created_ms BIGINT NOT NULL DEFAULT 0, updated_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX timers_pending_key ON timers(key) WHERE state = 0;"
    "CREATE INDEX timers_due ON timers(state, due_ms);"
    "CREATE TABLE pages ("
    "  incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  round INTEGER NOT NULL CHECK (round >= 1),"
    "  dedup_key TEXT NOT NULL UNIQUE, reason TEXT,"
    "  created_ms BIGINT NOT NULL DEFAULT 0, resolved_ms BIGINT NOT NULL DEFAULT 0,"
    "  paged_user TEXT,"
    "  PRIMARY KEY (incident_id, round));",
    /* 1 -> 2: outbox leases (owner = a replica id, see store_owner). */
    "ALTER TABLE outbox ADD COLUMN owner TEXT;"
    "ALTER TABLE outbox ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;"
    "CREATE INDEX outbox_open_owner ON outbox(owner, lease_until_ms) WHERE state IN (0, 1);",
    /* 2 -> 3 (replicas): inbox rows and timers held under a lease by the
     * replica working on them (owner = store_owner, NULL: nobody). */
    "ALTER TABLE inbox ADD COLUMN owner TEXT;"
    "ALTER TABLE inbox ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE timers ADD COLUMN owner TEXT;"
    "ALTER TABLE timers ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;",
    /* 3 -> 4 (issue 9, long-term fix): the critical security release issue
     * or MR recorded for an incident (/sirt release), one per incident. */
    "CREATE TABLE releases ("
    "  incident_id BIGINT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL, actor TEXT, recorded_ms BIGINT NOT NULL DEFAULT 0);",
    /* 4 -> 5 (issue 9, pages that are seen): see the SQLite step 8 -> 9. */
    "CREATE TABLE page_acks ("
    "  dedup_key TEXT PRIMARY KEY,"
    "  incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    "  ack_ms BIGINT NOT NULL DEFAULT 0, ack_by TEXT, ack_how TEXT,"
    "  noticed_ms BIGINT NOT NULL DEFAULT 0,"
    "  escalation_key TEXT, escalated_ms BIGINT NOT NULL DEFAULT 0,"
    "  polls INTEGER NOT NULL DEFAULT 0, poll_job BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX page_acks_incident ON page_acks(incident_id);",
    /* 5 -> 6 (retention.days): when the incident's text was erased, 0 = not. */
    "ALTER TABLE incidents ADD COLUMN erased_ms BIGINT NOT NULL DEFAULT 0;",
    /* 6 -> 7 (issue 9 part 8, the review): process improvements. */
    "CREATE TABLE improvements ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  incident_id BIGINT NULL REFERENCES incidents(id) ON DELETE SET NULL,"
    "  author TEXT NOT NULL, text TEXT NOT NULL,"
    "  created_ms BIGINT NOT NULL DEFAULT 0,"
    "  done_ms BIGINT NOT NULL DEFAULT 0, done_by TEXT);"
    "CREATE INDEX improvements_open ON improvements(done_ms, id);",
};

/* A driver's own statements, where its dialect differs from store__sql.
 * PostgreSQL's claims lock the rows they pick with SKIP LOCKED, so replicas
 * claiming at the same moment split the rows instead of queueing behind one
 * another (SQLite has one process: nothing to skip). */
static const char *const sqlite_own[ST_COUNT] = { NULL };
static const char *const pg_own[ST_COUNT] = {
    /* Replicas sweeping together skip each other's rows instead of waiting. */
    [ST_OB_CLAIM] =
        "UPDATE outbox SET owner = ?1, lease_until_ms = ?3, updated_ms = ?2,"
        " maybe_sent = CASE WHEN state = 1 THEN 1 ELSE maybe_sent END, state = 0"
        " WHERE id IN (SELECT id FROM outbox WHERE state IN (0, 1)"
        "   AND (owner IS NULL OR (owner <> ?1 AND lease_until_ms < ?4)) ORDER BY id LIMIT ?5"
        "   FOR UPDATE SKIP LOCKED)"
        " RETURNING " JOB_COLS_BARE,
    [ST_TM_CLAIM] =
        "UPDATE timers SET owner = ?1, lease_until_ms = ?3 WHERE id IN (SELECT id FROM timers"
        " WHERE state = 0 AND due_ms <= ?2 AND (owner IS NULL OR owner = ?1 OR lease_until_ms <= ?5)"
        " ORDER BY due_ms, id LIMIT ?4 FOR UPDATE SKIP LOCKED) RETURNING " TIMER_COLS,
    [ST_INBOX_CLAIM] =
        "UPDATE inbox SET owner = ?1, lease_until_ms = ?3 WHERE id IN (SELECT id FROM inbox"
        " WHERE owner IS NULL OR (owner <> ?1 AND lease_until_ms <= ?2) ORDER BY id LIMIT ?4"
        " FOR UPDATE SKIP LOCKED) RETURNING id, type, envelope",
};

static const struct store_dialect dialects[] = {
    [DB_SQLITE] = { sqlite_migrations, (int)ARRAY_LEN(sqlite_migrations), sqlite_own },
    [DB_PG] = { pg_migrations, (int)ARRAY_LEN(pg_migrations), pg_own },
};

const struct store_dialect *store__dialect(enum db_dialect d)
{
    return &dialects[d];
}
