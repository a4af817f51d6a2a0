/* store_page_acks: the page_acks table, how each page round is followed
 * after it went out (issue 9: pages that are seen).  Structs filled here own
 * their strings (page_ack_finish); rows given to callbacks are borrowed for
 * the call.  The ack_* columns are written only from what PagerDuty said
 * (the outbox applying a status poll), the others only by the handler. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void page_ack_finish(struct page_ack *a)
{
    if (!a)
        return;
    free(a->dedup_key);
    free(a->ack_by);
    free(a->ack_how);
    free(a->escalation_key);
    a->dedup_key = a->ack_by = a->ack_how = a->escalation_key = NULL;
}

static void pack_from_row(const struct db_row *r, void *row)
{
    struct page_ack *a = row;
    memset(a, 0, sizeof(*a));
    a->dedup_key = db_col_str(r, 0);
    a->incident_id = db_col_int(r, 1);
    a->ack_ms = db_col_int(r, 2);
    a->ack_by = db_col_str(r, 3);
    a->ack_how = db_col_str(r, 4);
    a->noticed_ms = db_col_int(r, 5);
    a->escalation_key = db_col_str(r, 6);
    a->escalated_ms = db_col_int(r, 7);
    a->polls = (int)db_col_int(r, 8);
    a->poll_job = db_col_int(r, 9);
}

int store_page_ack_get(struct store *s, const char *dedup_key, struct page_ack *out)
{
    if (!dedup_key || !*dedup_key)
        return STORE_EINVAL;
    return store__fetch_row(s, ST_PA_GET, "page_ack_get", DB_ARGS(db_text(dedup_key)), pack_from_row, out);
}

int store_page_ack_put(struct store *s, const struct page_ack *a)
{
    if (!a || !a->dedup_key || !*a->dedup_key || a->incident_id <= 0)
        return STORE_EINVAL;
    int64_t n = db_exec(s->db, ST_PA_PUT, "page_ack_put",
                        DB_ARGS(db_text(a->dedup_key), db_int(a->incident_id), db_int(a->noticed_ms),
                                db_text(a->escalation_key), db_int(a->escalated_ms), db_int(a->polls),
                                db_int(a->poll_job)));
    return n < 0 ? (int)n : 0;
}

int store_page_ack_seen(struct store *s, int64_t incident_id, const char *dedup_key, int64_t ack_ms,
                        const char *by, const char *how)
{
    if (!dedup_key || !*dedup_key || incident_id <= 0 || ack_ms <= 0)
        return STORE_EINVAL;
    int64_t n = db_exec(s->db, ST_PA_SEEN, "page_ack_seen",
                        DB_ARGS(db_text(dedup_key), db_int(incident_id), db_int(ack_ms), db_text(by),
                                db_text(how)));
    return n < 0 ? (int)n : 0;
}

int store_page_acks_list(struct store *s, int64_t incident_id, bool (*cb)(void *ud, const struct page_ack *a),
                         void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_PA_LIST, "page_acks_list", DB_ARGS(db_int(incident_id)),
                                  sizeof(struct page_ack), SIZE_MAX, pack_from_row, &rows, &n);
    struct page_ack *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        page_ack_finish(&v[i]);
    free(v);
    return ret;
}
