/* store_improvements: the process improvements noted for the weekly review
 * (`/sirt improve`, the digest's "Mark done" button), one row each in the
 * improvements table.  Rows read here are malloc'd copies the caller owns
 * (improvement_finish), or borrowed for a callback's duration. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

void improvement_finish(struct improvement *m)
{
    if (!m)
        return;
    free(m->author);
    free(m->text);
    free(m->done_by);
    m->author = m->text = m->done_by = NULL;
}

static void improvement_from_row(const struct db_row *r, void *row)
{
    struct improvement *m = row;
    memset(m, 0, sizeof(*m));
    m->id = db_col_int(r, 0);
    m->incident_id = db_col_int(r, 1);
    m->author = db_col_str(r, 2);
    m->text = db_col_str(r, 3);
    m->created_ms = db_col_int(r, 4);
    m->done_ms = db_col_int(r, 5);
    m->done_by = db_col_str(r, 6);
}

int store_improvement_add(struct store *s, struct improvement *m)
{
    if (!m || !m->author || !m->text)
        return STORE_EINVAL;
    int64_t id = 0;
    int n = store__insert_id(s, ST_IMP_INSERT, "improvement_add",
                             DB_ARGS(db_int(m->incident_id), db_text(m->author), db_text(m->text),
                                     db_int(m->created_ms)),
                             &id);
    if (n < 0)
        return n;
    if (n == 0)
        return STORE_EIO;
    m->id = id;
    return 0;
}

int store_improvement_get(struct store *s, int64_t id, struct improvement *out)
{
    return store__fetch_row(s, ST_IMP_GET, "improvement_get", DB_ARGS(db_int(id)), improvement_from_row, out);
}

int store_improvement_done(struct store *s, int64_t id, const char *user, int64_t now_ms)
{
    return store__update_one(s, ST_IMP_DONE, "improvement_done",
                             DB_ARGS(db_int(id), db_int(now_ms > 0 ? now_ms : 1), db_text(user)));
}

int store_improvements_open(struct store *s, bool (*cb)(void *ud, const struct improvement *m), void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_IMP_OPEN, "improvements_open", DB_NOARGS, sizeof(struct improvement),
                                  SIZE_MAX, improvement_from_row, &rows, &n);
    struct improvement *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!cb(ud, &v[i]))
            break;
    for (size_t i = 0; i < n; i++)
        improvement_finish(&v[i]);
    free(v);
    return ret;
}
