/* store_incidents: incidents, their timeline, the people on them, their
 * short-term decisions and their page rounds.  Structs filled here own their
 * strings (incident_finish, decision_finish, page_round_finish); rows given
 * to callbacks are borrowed for the call, and callbacks may use the store. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* ---- incidents ---- */

void incident_finish(struct incident *inc)
{
    if (!inc)
        return;
    char **strs[] = {
        &inc->title, &inc->description, &inc->component, &inc->repro, &inc->issue_link,
        &inc->reporter, &inc->owner, &inc->state, &inc->origin_channel, &inc->submission_key,
        &inc->channel_id, &inc->channel_name, &inc->gitlab_project_path,
        &inc->gitlab_project_url, &inc->gitlab_issue_url,
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Fills inc from a row of INC_COLS. */
static void incident_from_row(const struct db_row *r, void *row)
{
    struct incident *inc = row;
    memset(inc, 0, sizeof(*inc));
    inc->id = db_col_int(r, 0);
    inc->title = db_col_str(r, 1);
    inc->description = db_col_str(r, 2);
    inc->severity = (int)db_col_int(r, 3);
    inc->priority = (int)db_col_int(r, 4);
    inc->component = db_col_str(r, 5);
    inc->repro = db_col_str(r, 6);
    inc->issue_link = db_col_str(r, 7);
    inc->reporter = db_col_str(r, 8);
    inc->owner = db_col_str(r, 9);
    inc->state = db_col_str(r, 10);
    inc->origin_channel = db_col_str(r, 11);
    inc->submission_key = db_col_str(r, 12);
    inc->channel_id = db_col_str(r, 13);
    inc->channel_name = db_col_str(r, 14);
    inc->gitlab_project_id = db_col_int(r, 15);
    inc->gitlab_project_path = db_col_str(r, 16);
    inc->gitlab_project_url = db_col_str(r, 17);
    inc->gitlab_issue_iid = db_col_int(r, 18);
    inc->gitlab_issue_url = db_col_str(r, 19);
    inc->created_ms = db_col_int(r, 20);
    inc->updated_ms = db_col_int(r, 21);
    inc->resolved_ms = db_col_int(r, 22);
}

/* The id comes from the table's sequence (SQLite AUTOINCREMENT, PostgreSQL
 * identity): never handed out twice, whichever replica inserts. */
int store_incident_create(struct store *s, struct incident *inc)
{
    if (!inc->reporter)
        return STORE_EINVAL;
    int64_t id;
    int ret = store__insert_id(s, ST_INC_INSERT, "incident_create",
        DB_ARGS(db_text(inc->title), db_text(inc->description), db_int(inc->severity),
                db_int(inc->priority), db_text(inc->component), db_text(inc->repro),
                db_text(inc->issue_link), db_text(inc->reporter), db_text(inc->owner),
                db_text(inc->state), db_text(inc->origin_channel), db_text(inc->submission_key),
                db_text(inc->channel_id), db_text(inc->channel_name), db_int(inc->gitlab_project_id),
                db_text(inc->gitlab_project_path), db_text(inc->gitlab_project_url),
                db_int(inc->gitlab_issue_iid), db_text(inc->gitlab_issue_url), db_int(inc->created_ms),
                db_int(inc->resolved_ms)),
        &id);
    if (ret < 0)
        return ret;
    if (ret == 1) {
        inc->id = id;
        inc->updated_ms = inc->created_ms;
        return 0;
    }
    /* Only the submission_key conflict is ignored by the insert. */
    ret = store__fetch_row(s, ST_INC_BY_KEY, "incident_by_key", DB_ARGS(db_text(inc->submission_key)),
                           store__int64_from_row, &inc->id);
    if (ret == 0)
        return STORE_EEXIST;
    return ret == STORE_ENOTFOUND ? STORE_EIO : ret;
}

int store_incident_get(struct store *s, int64_t id, struct incident *out)
{
    return store__fetch_row(s, ST_INC_GET, "incident_get", DB_ARGS(db_int(id)), incident_from_row, out);
}

int store_incident_by_channel(struct store *s, const char *channel_id, struct incident *out)
{
    if (!channel_id)
        return STORE_EINVAL;
    return store__fetch_row(s, ST_INC_BY_CHANNEL, "incident_by_channel", DB_ARGS(db_text(channel_id)),
                            incident_from_row, out);
}

static int field_index(const char *field, bool is_int)
{
    if (!field)
        return -1;
    for (int i = 0; i < store__n_inc_fields; i++)
        if (store__inc_fields[i].is_int == is_int && strcmp(store__inc_fields[i].name, field) == 0)
            return i;
    return -1;
}

int store_incident_set_text(struct store *s, int64_t id, const char *field, const char *value,
                            int64_t now_ms)
{
    int i = field_index(field, false);
    if (i < 0) {
        LOG_WARN("store: unknown incident text field", "id:l field:s", (long long)id, field);
        return STORE_EINVAL;
    }
    return store__update_one(s, ST_SET_FIELD + i, "incident_set",
                             DB_ARGS(db_text(value), db_int(now_ms), db_int(id)));
}

int store_incident_set_int(struct store *s, int64_t id, const char *field, int64_t value,
                           int64_t now_ms)
{
    int i = field_index(field, true);
    if (i < 0) {
        LOG_WARN("store: unknown incident integer field", "id:l field:s", (long long)id, field);
        return STORE_EINVAL;
    }
    return store__update_one(s, ST_SET_FIELD + i, "incident_set",
                             DB_ARGS(db_int(value), db_int(now_ms), db_int(id)));
}

/* Calls cb for each row of a SELECT of INC_COLS.  Everything is read first:
 * the callback may write the store (or iterate again). */
static int incidents_each(struct store *s, int st, const char *what, const struct db_arg *args, int n,
                          bool (*cb)(void *ud, const struct incident *inc), void *ud)
{
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, st, what, args, n, sizeof(struct incident), SIZE_MAX, incident_from_row,
                                  &rows, &cnt);
    struct incident *v = rows;
    for (size_t i = 0; i < cnt && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < cnt; i++)
        incident_finish(&v[i]);
    free(v);
    return ret;
}

int store_incidents_open(struct store *s, bool (*cb)(void *ud, const struct incident *inc), void *ud)
{
    return incidents_each(s, ST_INC_OPEN, "incidents_open", DB_NOARGS, cb, ud);
}

int store_incidents_since(struct store *s, int64_t since_ms, bool (*cb)(void *ud, const struct incident *inc),
                          void *ud)
{
    return incidents_each(s, ST_INC_SINCE, "incidents_since", DB_ARGS(db_int(since_ms)), cb, ud);
}

int store_incidents_after(struct store *s, int64_t after_id, size_t max,
                          bool (*cb)(void *ud, const struct incident *inc), void *ud)
{
    return incidents_each(s, ST_INC_AFTER, "incidents_after", DB_ARGS(db_int(after_id), db_int(store__limit(max))),
                          cb, ud);
}

/* ---- timeline ---- */

int store_timeline_add(struct store *s, int64_t incident_id, int64_t ts_ms, const char *actor,
                       const char *kind, const char *text)
{
    return store__exec(s, ST_TL_INSERT, "timeline_add",
                       DB_ARGS(db_int(incident_id), db_int(ts_ms), db_text(actor), db_text(kind), db_text(text)));
}

static void timeline_from_row(const struct db_row *r, void *row)
{
    struct timeline_entry *e = row;
    e->id = db_col_int(r, 0);
    e->incident_id = db_col_int(r, 1);
    e->ts_ms = db_col_int(r, 2);
    e->actor = db_col_str(r, 3);
    e->kind = db_col_str(r, 4);
    e->text = db_col_str(r, 5);
}

int store_timeline_list(struct store *s, int64_t incident_id,
                        bool (*cb)(void *ud, const struct timeline_entry *e), void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_TL_LIST, "timeline_list", DB_ARGS(db_int(incident_id)),
                                  sizeof(struct timeline_entry), SIZE_MAX, timeline_from_row, &rows, &n);
    struct timeline_entry *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++) {
        free(v[i].actor);
        free(v[i].kind);
        free(v[i].text);
    }
    free(v);
    return ret;
}

/* ---- people on an incident ---- */

int store_member_add(struct store *s, int64_t incident_id, const char *user, const char *role, int64_t now_ms)
{
    if (!user || !*user)
        return STORE_EINVAL;
    return store__exec(s, ST_MEM_ADD, "member_add",
                       DB_ARGS(db_int(incident_id), db_text(user), db_text(role), db_int(now_ms)));
}

int store_member_is(struct store *s, int64_t incident_id, const char *user)
{
    /* Nobody in particular is on no incident: fail closed. */
    if (!user || !*user)
        return 0;
    int64_t one;
    int ret = store__fetch_row(s, ST_MEM_IS, "member_is", DB_ARGS(db_int(incident_id), db_text(user)),
                               store__int64_from_row, &one);
    if (ret == STORE_ENOTFOUND)
        return 0;
    return ret < 0 ? ret : 1;
}

/* ---- short-term decisions ---- */

void decision_finish(struct decision *d)
{
    if (!d)
        return;
    char **strs[] = {
        &d->author, &d->solution, &d->options, &d->effectiveness, &d->customers,
        &d->how_affected, &d->magnitude, &d->consequences, &d->fix_delivered_by, &d->validated_by,
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Fills d from a row of DEC_COLS. */
static void decision_from_row(const struct db_row *r, void *row)
{
    struct decision *d = row;
    memset(d, 0, sizeof(*d));
    d->id = db_col_int(r, 0);
    d->incident_id = db_col_int(r, 1);
    d->author = db_col_str(r, 2);
    d->created_ms = db_col_int(r, 3);
    d->solution = db_col_str(r, 4);
    d->options = db_col_str(r, 5);
    d->effectiveness = db_col_str(r, 6);
    d->customers = db_col_str(r, 7);
    d->how_affected = db_col_str(r, 8);
    d->magnitude = db_col_str(r, 9);
    d->consequences = db_col_str(r, 10);
    d->fix_delivered_ms = db_col_int(r, 11);
    d->fix_delivered_by = db_col_str(r, 12);
    d->validated = (int)db_col_int(r, 13);
    d->validated_by = db_col_str(r, 14);
    d->validated_ms = db_col_int(r, 15);
}

/* A new decision starts with no fix delivered and effectiveness unknown,
 * whatever those fields of d hold (a zeroed struct would read "not
 * effective"); only the two dedicated calls change them. */
int store_decision_add(struct store *s, struct decision *d)
{
    int64_t id;
    int ret = store__insert_id(s, ST_DEC_INSERT, "decision_add",
        DB_ARGS(db_int(d->incident_id), db_text(d->author), db_int(d->created_ms), db_text(d->solution),
                db_text(d->options), db_text(d->effectiveness), db_text(d->customers),
                db_text(d->how_affected), db_text(d->magnitude), db_text(d->consequences)),
        &id);
    if (ret < 0)
        return ret;
    if (ret == 0)
        return STORE_EIO;
    d->id = id;
    return 0;
}

int store_decision_get(struct store *s, int64_t id, struct decision *out)
{
    return store__fetch_row(s, ST_DEC_GET, "decision_get", DB_ARGS(db_int(id)), decision_from_row, out);
}

int store_decision_fix_delivered(struct store *s, int64_t id, const char *user, int64_t now_ms)
{
    return store__update_one(s, ST_DEC_FIX, "decision_fix_delivered",
                             DB_ARGS(db_int(id), db_int(now_ms), db_text(user)));
}

int store_decision_validated(struct store *s, int64_t id, bool effective, const char *user, int64_t now_ms)
{
    return store__update_one(s, ST_DEC_VALIDATED, "decision_validated",
                             DB_ARGS(db_int(id), db_int(effective ? 1 : 0), db_text(user), db_int(now_ms)));
}

int store_decisions_list(struct store *s, int64_t incident_id,
                         bool (*cb)(void *ud, const struct decision *d), void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_DEC_LIST, "decisions_list", DB_ARGS(db_int(incident_id)),
                                  sizeof(struct decision), SIZE_MAX, decision_from_row, &rows, &n);
    struct decision *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        decision_finish(&v[i]);
    free(v);
    return ret;
}

/* ---- page rounds ---- */

void page_round_finish(struct page_round *r)
{
    if (!r)
        return;
    free(r->dedup_key);
    free(r->reason);
    free(r->paged_user);
    r->dedup_key = r->reason = r->paged_user = NULL;
}

static void page_from_row(const struct db_row *r, void *row)
{
    struct page_round *p = row;
    memset(p, 0, sizeof(*p));
    p->incident_id = db_col_int(r, 0);
    p->round = (int)db_col_int(r, 1);
    p->dedup_key = db_col_str(r, 2);
    p->reason = db_col_str(r, 3);
    p->created_ms = db_col_int(r, 4);
    p->resolved_ms = db_col_int(r, 5);
    p->paged_user = db_col_str(r, 6);
}

/* The insert does nothing on a taken round or key (no error: on PostgreSQL
 * an error would spoil the caller's transaction), which reads as EEXIST. */
int store_page_add(struct store *s, int64_t incident_id, int round, const char *dedup_key, const char *reason,
                   int64_t now_ms)
{
    if (round < 1 || !dedup_key || !*dedup_key)
        return STORE_EINVAL;
    int64_t n = db_exec(s->db, ST_PG_INSERT, "page_add",
                        DB_ARGS(db_int(incident_id), db_int(round), db_text(dedup_key), db_text(reason),
                                db_int(now_ms)));
    if (n < 0)
        return (int)n;
    return n ? 0 : STORE_EEXIST;
}

int store_page_last_round(struct store *s, int64_t incident_id)
{
    int64_t n = 0;
    int ret = store__fetch_row(s, ST_PG_LAST, "page_last_round", DB_ARGS(db_int(incident_id)),
                               store__int64_from_row, &n);
    return ret < 0 ? ret : (int)n;
}

int store_page_open(struct store *s, int64_t incident_id, struct page_round *out)
{
    return store__fetch_row(s, ST_PG_OPEN, "page_open", DB_ARGS(db_int(incident_id)), page_from_row, out);
}

int store_pages_list(struct store *s, int64_t incident_id, bool (*cb)(void *ud, const struct page_round *r),
                     void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_PG_LIST, "pages_list", DB_ARGS(db_int(incident_id)),
                                  sizeof(struct page_round), SIZE_MAX, page_from_row, &rows, &n);
    struct page_round *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        page_round_finish(&v[i]);
    free(v);
    return ret;
}

int store_page_resolve(struct store *s, int64_t incident_id, const char *dedup_key, int64_t now_ms)
{
    int64_t n = db_exec(s->db, ST_PG_RESOLVE, "page_resolve",
                        DB_ARGS(db_int(incident_id), db_text(dedup_key), db_int(now_ms > 0 ? now_ms : 1)));
    return (int)n;
}

int store_page_set_user(struct store *s, int64_t incident_id, const char *dedup_key, const char *user)
{
    if (!dedup_key || !user)
        return STORE_EINVAL;
    return store__update_one(s, ST_PG_USER, "page_set_user",
                             DB_ARGS(db_int(incident_id), db_text(dedup_key), db_text(user)));
}
