/* review_flags: the mishandling flags and step durations of one incident,
 * computed from its stored rows only (see review_flags.h).  rf_compute,
 * rf_describe, rf_median and rf_fmt_duration are pure; rf_load is the one
 * place that reads the store, copying rows into an rf_loaded the caller
 * frees with rf_loaded_finish. */
#include "review_flags.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "../bot/util.h"

const char *const rf_dur_names[RF_N_DUR] = { "page", "acknowledge", "first decision", "validated fix",
                                             "resolve" };

static bool is_kind(const struct rf_event *e, const char *k)
{
    return e->kind && strcmp(e->kind, k) == 0;
}

/* "S3/P3 -> S1/P2": the severity and priority on one side of the arrow
 * (0 when a part is missing). */
static void parse_sp(const char *s, const char *end, int *sev, int *pri)
{
    *sev = *pri = 0;
    for (const char *c = s; c && *c && c + 1 < end; c++) {
        if ((c[0] == 'S' || c[0] == 's') && c[1] >= '1' && c[1] <= '4' && !*sev)
            *sev = c[1] - '0';
        else if ((c[0] == 'P' || c[0] == 'p') && c[1] >= '1' && c[1] <= '4' && !*pri)
            *pri = c[1] - '0';
    }
}

static bool parse_change(const char *text, int *os, int *op, int *ns, int *np)
{
    const char *arrow = text ? strstr(text, "->") : NULL;
    if (!arrow)
        return false;
    parse_sp(text, arrow, os, op);
    parse_sp(arrow + 2, arrow + strlen(arrow) + 1, ns, np);
    return *ns || *np;
}

static int64_t span(int64_t from, int64_t to)
{
    return to > from ? to - from : 0;
}

void rf_compute(const struct rf_rows *in, const struct rf_params *p, struct rf_result *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < RF_N_DUR; i++)
        r->dur_ms[i] = r->dur_end_ms[i] = -1;
    const struct rf_incident *inc = &in->inc;
    int64_t created = inc->created_ms;
    int64_t end = inc->resolved && inc->resolved_ms > 0 ? inc->resolved_ms : p->now_ms;

    /* Severity over time: as reported, then each severity_changed. */
    r->initial_severity = inc->severity;
    r->initial_priority = inc->priority;
    for (size_t i = 0; i < in->n_tl; i++) {
        int os, op, ns, np;
        if (is_kind(&in->tl[i], "severity_changed") && parse_change(in->tl[i].text, &os, &op, &ns, &np)) {
            if (os)
                r->initial_severity = os;
            if (op)
                r->initial_priority = op;
            break;
        }
    }
    if (r->initial_severity == 1 || r->initial_priority == 1)
        r->page_due_ms = created;
    if (r->initial_severity == 1)
        r->s1_ms = created;
    for (size_t i = 0; i < in->n_tl; i++) {
        const struct rf_event *e = &in->tl[i];
        int os, op, ns, np;
        if (is_kind(e, "severity_changed") && parse_change(e->text, &os, &op, &ns, &np)) {
            if (!r->page_due_ms && (ns == 1 || np == 1))
                r->page_due_ms = e->ts_ms > 0 ? e->ts_ms : created;
            if (!r->s1_ms && ns == 1)
                r->s1_ms = e->ts_ms > 0 ? e->ts_ms : created;
        } else if (is_kind(e, "pd.trigger")) {
            if (!r->paged_ms || e->ts_ms < r->paged_ms)
                r->paged_ms = e->ts_ms;
        } else if (is_kind(e, "page_acked")) {
            if (!r->acked_ms || e->ts_ms < r->acked_ms)
                r->acked_ms = e->ts_ms;
        } else if (is_kind(e, "page_escalated")) {
            r->escalated = true;
        } else if (is_kind(e, "handoff_unaccepted")) {
            if (!r->unaccepted++)
                r->unaccepted_by = e->actor;
        } else if (is_kind(e, "release_recorded")) {
            r->release_recorded = true;
        } else if (is_kind(e, "resolved_without_release")) {
            r->resolved_without_release = true;
        } else if (is_kind(e, "page_requested") || is_kind(e, "paged")) {
            r->page_requested = true;
        }
    }
    if (in->n_pages)
        r->page_requested = true;

    /* Paged late, or an S1/P1 never paged. */
    if (r->page_due_ms) {
        if (r->paged_ms ? r->paged_ms - r->page_due_ms > RF_PAGE_LATE_MS : end - r->page_due_ms > RF_PAGE_LATE_MS)
            r->flags |= RF_PAGE_LATE;
    }
    /* Time to page: for incidents that had to be paged (S1/P1) only; a
     * page for another reason (a handoff to secops) is not a response time. */
    if (r->paged_ms && r->page_due_ms) {
        r->dur_ms[RF_D_PAGE] = span(r->page_due_ms, r->paged_ms);
        r->dur_end_ms[RF_D_PAGE] = r->paged_ms;
    }

    /* Acknowledged in time? */
    int64_t ack_ms = (int64_t)(p->ack_minutes > 0 ? p->ack_minutes : 0) * 60000;
    if (r->paged_ms) {
        if (r->acked_ms) {
            r->dur_ms[RF_D_ACK] = span(r->paged_ms, r->acked_ms);
            r->dur_end_ms[RF_D_ACK] = r->acked_ms;
            if (r->acked_ms - r->paged_ms > ack_ms)
                r->flags |= RF_ACK_LATE;
        } else if (r->escalated || (p->acks_followed && end - r->paged_ms > ack_ms)) {
            r->flags |= RF_ACK_LATE;
        }
    }

    if (r->unaccepted)
        r->flags |= RF_HANDOFF_UNACCEPTED;

    /* Decisions: the first one, fixes validated in time, the first validated. */
    int64_t first_valid = 0;
    for (size_t i = 0; i < in->n_dec; i++) {
        const struct rf_decision *d = &in->dec[i];
        if (d->created_ms > 0 && (!r->first_decision_ms || d->created_ms < r->first_decision_ms))
            r->first_decision_ms = d->created_ms;
        bool answered = d->validated != -1 && d->validated_ms > 0;
        if (d->fix_delivered_ms > 0) {
            int64_t until = answered ? d->validated_ms : p->now_ms;
            if (until - d->fix_delivered_ms > RF_VALIDATE_MS && !(r->flags & RF_FIX_UNVALIDATED)) {
                r->flags |= RF_FIX_UNVALIDATED;
                r->unvalidated_id = d->id;
            }
        }
        if (d->validated == 1 && d->validated_ms > 0 && (!first_valid || d->validated_ms < first_valid))
            first_valid = d->validated_ms;
    }
    if (r->s1_ms) {
        if (r->first_decision_ms ? r->first_decision_ms - r->s1_ms > RF_DECISION_MS : end - r->s1_ms > RF_DECISION_MS)
            r->flags |= RF_NO_DECISION;
    }
    if (r->first_decision_ms) {
        r->dur_ms[RF_D_DECISION] = span(created, r->first_decision_ms);
        r->dur_end_ms[RF_D_DECISION] = r->first_decision_ms;
    }
    if (first_valid) {
        r->dur_ms[RF_D_VALIDATED] = span(created, first_valid);
        r->dur_end_ms[RF_D_VALIDATED] = first_valid;
    }

    /* Resolved, with or without a long-term fix. */
    if (inc->resolved && inc->resolved_ms > 0) {
        r->dur_ms[RF_D_RESOLVE] = span(created, inc->resolved_ms);
        r->dur_end_ms[RF_D_RESOLVE] = inc->resolved_ms;
        if (r->resolved_without_release || (r->page_due_ms && !r->release_recorded))
            r->flags |= RF_NO_RELEASE;
    }
}

char *rf_describe(const struct rf_rows *in, const struct rf_params *p, const struct rf_result *r)
{
    if (!r->flags)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char d[32];
    const char *sep = "";
    if (r->flags & RF_PAGE_LATE) {
        const char *due = r->page_due_ms == in->inc.created_ms ? "the report" : "it became S1/P1";
        if (r->paged_ms) {
            rf_fmt_duration(r->paged_ms - r->page_due_ms, d);
            buf_printf(&b, "%spaged %s after %s (more than 5m)", sep, d, due);
        } else {
            buf_printf(&b, "%sS1/P1 never paged%s", sep, r->page_requested ? " (the page never went out)" : "");
        }
        sep = "; ";
    }
    if (r->flags & RF_ACK_LATE) {
        if (r->acked_ms) {
            rf_fmt_duration(r->acked_ms - r->paged_ms, d);
            buf_printf(&b, "%spage acknowledged only after %s (more than %dm)", sep, d, p->ack_minutes);
        } else {
            buf_printf(&b, "%spage not acknowledged within %dm%s", sep, p->ack_minutes,
                       r->escalated ? " (escalated)" : "");
        }
        sep = "; ";
    }
    if (r->flags & RF_HANDOFF_UNACCEPTED) {
        bool user = r->unaccepted_by && r->unaccepted_by[0] == 'U';
        buf_printf(&b, "%s%d handoff%s nobody accepted", sep, r->unaccepted, r->unaccepted == 1 ? "" : "s");
        if (user)
            buf_printf(&b, " (first: <@%s>)", r->unaccepted_by);
        sep = "; ";
    }
    if (r->flags & RF_FIX_UNVALIDATED) {
        buf_printf(&b, "%sfix of decision #%" PRId64 " not validated within 48h", sep, r->unvalidated_id);
        sep = "; ";
    }
    if (r->flags & RF_NO_DECISION) {
        if (r->first_decision_ms) {
            rf_fmt_duration(r->first_decision_ms - r->s1_ms, d);
            buf_printf(&b, "%sS1 without a decision for %s (more than 24h)", sep, d);
        } else {
            buf_printf(&b, "%sS1 with no decision recorded within 24h", sep);
        }
        sep = "; ";
    }
    if (r->flags & RF_NO_RELEASE) {
        buf_printf(&b, "%sresolved without a long-term fix recorded", sep);
        sep = "; ";
    }
    return buf_take(&b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t rf_median(int64_t *v, size_t n)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof(int64_t), cmp_i64);
    if (n % 2)
        return v[n / 2];
    return v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2;
}

void rf_fmt_duration(int64_t ms, char out[32])
{
    if (ms < 0) {
        snprintf(out, 32, "—");
        return;
    }
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, 32, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(out, 32, "%" PRId64 "m", s / 60);
    else if (s < 86400)
        snprintf(out, 32, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(out, 32, "%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
}

void rf_samples_add(struct rf_samples *s, int severity, const struct rf_result *r, int64_t since_ms,
                    int64_t until_ms)
{
    if (severity < 1 || severity > 4)
        return;
    int k = severity - 1;
    for (int i = 0; i < RF_N_DUR; i++) {
        if (r->dur_ms[i] < 0 || r->dur_end_ms[i] < since_ms || r->dur_end_ms[i] > until_ms)
            continue;
        if (s->n[k][i] == s->cap[k][i]) {
            s->cap[k][i] = s->cap[k][i] ? s->cap[k][i] * 2 : 8;
            s->v[k][i] = xrealloc(s->v[k][i], s->cap[k][i] * sizeof(int64_t));
        }
        s->v[k][i][s->n[k][i]++] = r->dur_ms[i];
    }
}

void rf_samples_finish(struct rf_samples *s)
{
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < RF_N_DUR; i++)
            free(s->v[k][i]);
    memset(s, 0, sizeof(*s));
}

/* ---- loading from the store ---- */

static bool load_event(void *ud, const struct timeline_entry *e)
{
    struct rf_loaded *l = ud;
    if (l->rows.n_tl == l->cap_tl) {
        l->cap_tl = l->cap_tl ? l->cap_tl * 2 : 16;
        l->tl = xrealloc(l->tl, l->cap_tl * sizeof(*l->tl));
    }
    struct rf_event *v = &l->tl[l->rows.n_tl++];
    v->ts_ms = e->ts_ms;
    v->kind = e->kind ? xstrdup(e->kind) : NULL;
    v->actor = e->actor ? xstrdup(e->actor) : NULL;
    /* Only the kinds whose text the flags read keep it. */
    v->text = e->text && e->kind && strcmp(e->kind, "severity_changed") == 0 ? xstrdup(e->text) : NULL;
    return true;
}

static bool load_decision(void *ud, const struct decision *d)
{
    struct rf_loaded *l = ud;
    if (l->rows.n_dec == l->cap_dec) {
        l->cap_dec = l->cap_dec ? l->cap_dec * 2 : 4;
        l->dec = xrealloc(l->dec, l->cap_dec * sizeof(*l->dec));
    }
    l->dec[l->rows.n_dec++] = (struct rf_decision){ .id = d->id, .created_ms = d->created_ms,
                                                    .fix_delivered_ms = d->fix_delivered_ms,
                                                    .validated_ms = d->validated_ms, .validated = d->validated };
    return true;
}

static bool load_page(void *ud, const struct page_round *pr)
{
    struct rf_loaded *l = ud;
    if (l->rows.n_pages == l->cap_pages) {
        l->cap_pages = l->cap_pages ? l->cap_pages * 2 : 2;
        l->pages = xrealloc(l->pages, l->cap_pages * sizeof(*l->pages));
    }
    l->pages[l->rows.n_pages++] = (struct rf_page){ .round = pr->round, .created_ms = pr->created_ms,
                                                    .resolved_ms = pr->resolved_ms };
    return true;
}

int rf_load(struct store *s, const struct incident *inc, struct rf_loaded *l)
{
    memset(l, 0, sizeof(*l));
    l->rows.inc = (struct rf_incident){ .id = inc->id, .severity = inc->severity, .priority = inc->priority,
                                        .created_ms = inc->created_ms, .resolved_ms = inc->resolved_ms,
                                        .resolved = inc->state && strcmp(inc->state, "resolved") == 0 };
    int rc = store_timeline_list(s, inc->id, load_event, l);
    int rc2 = store_decisions_list(s, inc->id, load_decision, l);
    int rc3 = store_pages_list(s, inc->id, load_page, l);
    l->rows.tl = l->tl;
    l->rows.dec = l->dec;
    l->rows.pages = l->pages;
    return rc ? rc : rc2 ? rc2 : rc3;
}

void rf_loaded_finish(struct rf_loaded *l)
{
    for (size_t i = 0; i < l->rows.n_tl; i++) {
        free((char *)l->tl[i].kind);
        free((char *)l->tl[i].actor);
        free((char *)l->tl[i].text);
    }
    free(l->tl);
    free(l->dec);
    free(l->pages);
    memset(l, 0, sizeof(*l));
}
