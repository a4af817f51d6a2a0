/* store_retention: erasing the text of incidents resolved long ago
 * (retention.days), in one transaction per incident, and scrubbing the
 * SQLite files after the commit so the erased text is not left in free
 * pages or in the WAL.  The ids handed out are malloc'd for the caller. */
#include "store_internal.h"

#include <stdlib.h>

int store_retention_due(struct store *s, int64_t cutoff_ms, size_t max, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    void *rows = NULL;
    int ret = store__collect_rows(s, ST_RET_DUE, "retention_due", DB_ARGS(db_int(cutoff_ms), db_int(store__limit(max))),
                                  sizeof(int64_t), max, store__int64_from_row, &rows, n);
    *ids = rows;
    return ret;
}

int store_incident_erase(struct store *s, int64_t id, const char *marker, int64_t now_ms)
{
    if (id <= 0 || !marker || !*marker)
        return STORE_EINVAL;
    int ret = store_begin(s);
    if (ret < 0)
        return ret;
    ret = store__update_one(s, ST_RET_INC, "erase_incident", DB_ARGS(db_int(id), db_text(marker), db_int(now_ms)));
    if (ret == 0)
        ret = store__exec(s, ST_RET_DEC, "erase_decisions", DB_ARGS(db_int(id), db_text(marker)));
    if (ret == 0)
        ret = store__exec(s, ST_RET_TL, "erase_timeline", DB_ARGS(db_int(id), db_text(marker)));
    if (ret == 0)
        ret = store__exec(s, ST_RET_OB, "erase_outbox", DB_ARGS(db_int(id)));
    if (ret == 0)
        ret = store__exec(s, ST_RET_TM, "erase_timers", DB_ARGS(db_int(id)));
    if (ret != 0) {
        store_rollback(s);
        return ret;
    }
    s->scrub = true;
    return store_commit(s);
}
