/* store_releases: the long-term fix recorded for an incident (/sirt
 * release) — one row per incident in `releases`, replaced when recorded
 * again.  Rows read are malloc'd into the caller's struct release, freed
 * with release_finish. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void release_finish(struct release *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->actor);
    memset(r, 0, sizeof(*r));
}

int store_release_set(struct store *s, int64_t incident_id, const char *url, const char *actor, int64_t now_ms)
{
    if (incident_id <= 0 || !url || !url[0])
        return STORE_EINVAL;
    return store__exec(s, ST_REL_SET, "release_set",
                       DB_ARGS(db_int(incident_id), db_text(url), db_text(actor), db_int(now_ms)));
}

static void release_from_row(const struct db_row *r, void *row)
{
    struct release *x = row;
    memset(x, 0, sizeof(*x));
    x->incident_id = db_col_int(r, 0);
    x->url = db_col_str(r, 1);
    x->actor = db_col_str(r, 2);
    x->recorded_ms = db_col_int(r, 3);
}

int store_release_get(struct store *s, int64_t incident_id, struct release *out)
{
    memset(out, 0, sizeof(*out));
    return store__fetch_row(s, ST_REL_GET, "release_get", DB_ARGS(db_int(incident_id)), release_from_row, out);
}
