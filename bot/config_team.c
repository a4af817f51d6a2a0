/* config_team: the team config file — the key tables of every section
 * (name, kind, field, default), the parser that walks them with one error
 * message per kind of bad value, the checks across keys, and the team
 * record's lifecycle.  Strings and arrays stored in struct cfg are owned by
 * it (cfg__team_finish). */
#include "config.h"
#include "config_shared.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "mask.h"
#include "util.h"

/* ---- team config ---- */

enum kind {
    K_ZONE, K_CHANNEL, K_USER, K_USERS, K_HOURS, K_NAME, K_GITLAB_USER, K_PD_ID,
    K_LEAD, K_WAIT, K_NSID, K_GIVE_UP, K_DAYS, K_OBJECT, K_OBJARRAY, K_USERMAP, K_PATTERNS,
};

static const char *const expect[] = {
    [K_ZONE] = "expected a time zone name like \"Europe/Amsterdam\"",
    [K_CHANNEL] = "expected a Slack channel id like \"C0123ABCD\"",
    [K_USER] = "expected a Slack user id like \"U0123ABCD\"",
    [K_USERS] = "expected an array of Slack user ids like [\"U0123ABCD\"]",
    [K_HOURS] = "expected a string like \"09:00-17:00\"",
    [K_NAME] = "expected a component name like \"gitaly\" (lowercase letters, digits, '_' or '-')",
    [K_GITLAB_USER] = "expected a GitLab username like \"alice\"",
    [K_PD_ID] = "expected a PagerDuty schedule id like \"PABC123\"",
    [K_LEAD] = "expected an integer from 0 to 720 (minutes)",
    [K_WAIT] = "expected an integer from 1 to 720 (minutes)",
    [K_NSID] = "expected a positive integer (the GitLab group id)",
    [K_GIVE_UP] = "expected an integer from 1 to 8760 (hours)",
    [K_DAYS] = "expected an integer from 1 to 36500 (days)",
    [K_OBJECT] = "expected an object",
    [K_OBJARRAY] = "expected an array of objects",
    [K_USERMAP] = "expected an object of Slack user ids to GitLab usernames, like {\"U0123ABCD\": \"alice\"}",
    [K_PATTERNS] = "expected an array of PCRE2 patterns like [\"ACME-[A-Z0-9]{24}\"]",
};

struct table;

struct key_spec {
    const char *key;
    enum kind kind;
    size_t off;                 /* into the record this table describes */
    size_t off2;                /* K_HOURS: end_min; K_OBJARRAY, K_USERMAP: count */
    bool required;
    const char *def;            /* K_ZONE, K_HOURS default when absent */
    long long idef;             /* K_LEAD default when absent */
    const struct table *sub;    /* K_OBJECT (same record), K_OBJARRAY (elements) */
};

struct table {
    const struct key_spec *keys;
    size_t n;
    size_t elem_size;           /* for K_OBJARRAY elements */
};

#define APPSEC(f) offsetof(struct cfg_appsec, f)
#define COMP(f) offsetof(struct cfg_component, f)

static const struct key_spec appsec_keys[] = {
    { "user", K_USER, APPSEC(user), 0, true, NULL, 0, NULL },
    { "tz", K_ZONE, APPSEC(tz), 0, false, NULL, 0, NULL },
    { "hours", K_HOURS, APPSEC(start_min), APPSEC(end_min), false, "09:00-17:00", 0, NULL },
    { "gitlab", K_GITLAB_USER, APPSEC(gitlab), 0, false, NULL, 0, NULL },
};
static const struct table appsec_table = { appsec_keys, ARRAY_LEN(appsec_keys),
                                           sizeof(struct cfg_appsec) };

static const struct key_spec component_keys[] = {
    { "name", K_NAME, COMP(name), 0, true, NULL, 0, NULL },
    { "em", K_USER, COMP(em), 0, false, NULL, 0, NULL },
    { "pm", K_USER, COMP(pm), 0, false, NULL, 0, NULL },
    { "channel", K_CHANNEL, COMP(channel), 0, false, NULL, 0, NULL },
    { "gitlab_em", K_GITLAB_USER, COMP(gitlab_em), 0, false, NULL, 0, NULL },
    { "gitlab_pm", K_GITLAB_USER, COMP(gitlab_pm), 0, false, NULL, 0, NULL },
};
static const struct table component_table = { component_keys, ARRAY_LEN(component_keys),
                                              sizeof(struct cfg_component) };

static const struct key_spec secops_keys[] = {
    { "pagerduty_schedule", K_PD_ID, CFG_FIELD(secops_schedule), 0, false, NULL, 0, NULL },
    { "fallback_user", K_USER, CFG_FIELD(secops_fallback_user), 0, false, NULL, 0, NULL },
};
static const struct table secops_table = { secops_keys, ARRAY_LEN(secops_keys), 0 };

static const struct key_spec handoff_keys[] = {
    { "lead_minutes", K_LEAD, CFG_FIELD(handoff_lead_minutes), 0, false, NULL, 30, NULL },
    { "accept_minutes", K_WAIT, CFG_FIELD(handoff_accept_minutes), 0, false, NULL, 30, NULL },
};
static const struct table handoff_table = { handoff_keys, ARRAY_LEN(handoff_keys), 0 };

static const struct key_spec decisions_keys[] = {
    { "validate_after_minutes", K_LEAD, CFG_FIELD(validate_after_minutes), 0, false, NULL, 240, NULL },
};
static const struct table decisions_table = { decisions_keys, ARRAY_LEN(decisions_keys), 0 };

static const struct key_spec gitlab_keys[] = {
    { "namespace_id", K_NSID, CFG_FIELD(gitlab_namespace_id), 0, false, NULL, 0, NULL },
};
static const struct table gitlab_table = { gitlab_keys, ARRAY_LEN(gitlab_keys), 0 };

static const struct key_spec outbox_keys[] = {
    { "give_up_hours", K_GIVE_UP, CFG_FIELD(outbox_give_up_hours), 0, false, NULL, 168, NULL },
};
static const struct table outbox_table = { outbox_keys, ARRAY_LEN(outbox_keys), 0 };
static const struct key_spec paging_keys[] = {
    { "ack_minutes", K_WAIT, CFG_FIELD(paging_ack_minutes), 0, false, NULL, 15, NULL },
};
static const struct table paging_table = { paging_keys, ARRAY_LEN(paging_keys), 0 };
/* retention.days: absent = keep forever (0). */
static const struct key_spec retention_keys[] = {
    { "days", K_DAYS, CFG_FIELD(retention_days), 0, false, NULL, 0, NULL },
};
static const struct table retention_table = { retention_keys, ARRAY_LEN(retention_keys), 0 };
static const struct key_spec mask_keys[] = {
    { "extra_patterns", K_PATTERNS, CFG_FIELD(mask_extra_patterns), 0, false, NULL, 0, NULL },
};
static const struct table mask_table = { mask_keys, ARRAY_LEN(mask_keys), 0 };

static const struct key_spec top_keys[] = {
    { "timezone", K_ZONE, CFG_FIELD(timezone), 0, false, "UTC", 0, NULL },
    { "sirt_channel", K_CHANNEL, CFG_FIELD(sirt_channel), 0, false, NULL, 0, NULL },
    { "sirt_team", K_USERS, CFG_FIELD(sirt_team), 0, false, NULL, 0, NULL },
    { "severity1_responders", K_USERS, CFG_FIELD(severity1_responders), 0, false, NULL, 0, NULL },
    { "directors", K_USERS, CFG_FIELD(directors), 0, false, NULL, 0, NULL },
    { "appsec", K_OBJARRAY, CFG_FIELD(appsec), CFG_FIELD(n_appsec), false, NULL, 0,
      &appsec_table },
    { "secops_oncall", K_OBJECT, 0, 0, false, NULL, 0, &secops_table },
    { "components", K_OBJARRAY, CFG_FIELD(components), CFG_FIELD(n_components), false, NULL, 0,
      &component_table },
    { "handoff", K_OBJECT, 0, 0, false, NULL, 0, &handoff_table },
    { "decisions", K_OBJECT, 0, 0, false, NULL, 0, &decisions_table },
    { "gitlab", K_OBJECT, 0, 0, false, NULL, 0, &gitlab_table },
    { "outbox", K_OBJECT, 0, 0, false, NULL, 0, &outbox_table },
    { "paging", K_OBJECT, 0, 0, false, NULL, 0, &paging_table },
    { "gitlab_users", K_USERMAP, CFG_FIELD(gitlab_users), CFG_FIELD(n_gitlab_users), false, NULL, 0, NULL },
    { "mask", K_OBJECT, 0, 0, false, NULL, 0, &mask_table },
    { "retention", K_OBJECT, 0, 0, false, NULL, 0, &retention_table },
};
static const struct table top_table = { top_keys, ARRAY_LEN(top_keys), 0 };

struct pctx {
    const char *name;           /* file name for messages */
    char *err;
    size_t errlen;
};

static int perr(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct pctx *x, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cfg__set_err(x->err, x->errlen, "%s: %s", x->name, msg);
    return -1;
}

static void path_key(char *out, const char *parent, const char *key)
{
    char shown[SHOW_MAX + 8];
    if (snprintf(out, PATH_MAX_LEN, "%s%s%s", parent, *parent ? "." : "", cfg__show(key, shown)) < 0)
        out[0] = '\0';         /* paths are short; a cut one is still useful */
}

static void path_index(char *out, const char *parent, size_t i)
{
    if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i) < 0)
        out[0] = '\0';
}

static char **str_field(void *rec, size_t off)
{
    return (char **)(void *)((char *)rec + off);
}

static int bad_value(struct pctx *x, const char *path, enum kind k, const char *v)
{
    char shown[SHOW_MAX + 8];
    if (k == K_ZONE)
        return perr(x, "key \"%s\": unknown time zone \"%s\"", path, cfg__show(v, shown));
    return perr(x, "key \"%s\": invalid value \"%s\": %s", path, cfg__show(v, shown), expect[k]);
}

static bool string_ok(enum kind k, const char *v)
{
    switch (k) {
    case K_ZONE: return cfg_zone_exists(v);
    case K_CHANNEL: return cfg__slack_id(v, "CG");
    case K_USER: return cfg__slack_id(v, "UW");
    case K_HOURS: return cfg_parse_hours(v, NULL, NULL) == 0;
    case K_NAME: return *v && strlen(v) <= 64 && cfg__all_chars(v, cfg__component_char);
    case K_GITLAB_USER: return *v && strlen(v) <= 255 && cfg__all_chars(v, cfg__gitlab_user_char);
    case K_PD_ID: return *v && strlen(v) <= 32 && cfg__all_chars(v, cfg__alnum);
    default: return false;
    }
}

/* Integral number in [lo, hi]; doubles that are not whole numbers fail. */
static bool int_in(const cJSON *it, double lo, double hi, long long *out)
{
    if (!cJSON_IsNumber(it))
        return false;
    double d = it->valuedouble;
    if (!isfinite(d) || d < lo || d > hi || floor(d) != d)
        return false;
    *out = (long long)d;
    return true;
}

static int parse_object(struct pctx *x, const cJSON *obj, const struct table *t, void *rec,
                        const char *path);

static int parse_users(struct pctx *x, const cJSON *it, struct cfg_strv *sv, const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_USERS]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    sv->v = xcalloc(n ? n : 1, sizeof(char *));
    sv->n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN];
        path_index(p, path, sv->n);
        if (!cJSON_IsString(el))
            return perr(x, "key \"%s\": %s", p, expect[K_USER]);
        if (!string_ok(K_USER, el->valuestring))
            return bad_value(x, p, K_USER, el->valuestring);
        if (sv->n >= n)
            break;
        sv->v[sv->n++] = xstrdup(el->valuestring);
    }
    return 0;
}

/* mask.extra_patterns: strings that compile as PCRE2 patterns (checked
 * here, so a bad one stops the bot at start or is refused on reload). */
static int parse_patterns(struct pctx *x, const cJSON *it, struct cfg_strv *sv, const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_PATTERNS]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    sv->v = xcalloc(n ? n : 1, sizeof(char *));
    sv->n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN], shown[SHOW_MAX + 8];
        path_index(p, path, sv->n);
        if (!cJSON_IsString(el) || !el->valuestring[0])
            return perr(x, "key \"%s\": %s", p, expect[K_PATTERNS]);
        char *perr_msg = mask_pattern_check(el->valuestring);
        if (perr_msg) {
            perr(x, "key \"%s\": invalid pattern \"%s\": PCRE2: %s", p, cfg__show(el->valuestring, shown),
                 perr_msg);
            free(perr_msg);
            return -1;
        }
        if (sv->n >= n)
            break;
        sv->v[sv->n++] = xstrdup(el->valuestring);
    }
    return 0;
}

static int parse_objarray(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                          const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_OBJARRAY]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    char *elems = xcalloc(n ? n : 1, ks->sub->elem_size);
    *(void **)(void *)((char *)rec + ks->off) = elems;
    *(size_t *)(void *)((char *)rec + ks->off2) = n;   /* zeroed elements free cleanly */
    size_t i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        if (i >= n)
            break;
        char p[PATH_MAX_LEN];
        path_index(p, path, i);
        if (!cJSON_IsObject(el))
            return perr(x, "key \"%s\": expected an object", p);
        if (parse_object(x, el, ks->sub, elems + i * ks->sub->elem_size, p) < 0)
            return -1;
        i++;
    }
    return 0;
}

/* {"U0123ABCD": "alice", ...}: each key a Slack user id (once), each value
 * a GitLab username. */
static int parse_usermap(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                         const char *path)
{
    if (!cJSON_IsObject(it))
        return perr(x, "key \"%s\": %s", path, expect[K_USERMAP]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    struct cfg_gitlab_user *v = xcalloc(n ? n : 1, sizeof(*v));
    size_t *count = (size_t *)(void *)((char *)rec + ks->off2);
    *(struct cfg_gitlab_user **)(void *)((char *)rec + ks->off) = v;
    *count = 0;                 /* entries are counted as they are filled: the rest frees cleanly */
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN];
        path_key(p, path, el->string);
        if (*count >= n)
            break;
        if (!string_ok(K_USER, el->string))
            return perr(x, "key \"%s\": not a Slack user id: %s", p, expect[K_USER]);
        for (size_t j = 0; j < *count; j++)
            if (strcmp(v[j].user, el->string) == 0)
                return perr(x, "duplicate key \"%s\"", p);
        if (!cJSON_IsString(el))
            return perr(x, "key \"%s\": %s", p, expect[K_GITLAB_USER]);
        if (!string_ok(K_GITLAB_USER, el->valuestring))
            return bad_value(x, p, K_GITLAB_USER, el->valuestring);
        v[*count].user = xstrdup(el->string);
        v[*count].gitlab = xstrdup(el->valuestring);
        (*count)++;
    }
    return 0;
}

static int parse_value(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                       const char *path)
{
    long long v;
    switch (ks->kind) {
    case K_ZONE: case K_CHANNEL: case K_USER: case K_NAME: case K_GITLAB_USER: case K_PD_ID:
        if (!cJSON_IsString(it))
            return perr(x, "key \"%s\": %s", path, expect[ks->kind]);
        if (!string_ok(ks->kind, it->valuestring))
            return bad_value(x, path, ks->kind, it->valuestring);
        free(*str_field(rec, ks->off));
        *str_field(rec, ks->off) = xstrdup(it->valuestring);
        return 0;
    case K_HOURS: {
        int a, b;
        if (!cJSON_IsString(it))
            return perr(x, "key \"%s\": %s", path, expect[K_HOURS]);
        if (cfg_parse_hours(it->valuestring, &a, &b) < 0)
            return bad_value(x, path, K_HOURS, it->valuestring);
        *(int *)(void *)((char *)rec + ks->off) = a;
        *(int *)(void *)((char *)rec + ks->off2) = b;
        return 0;
    }
    case K_USERS:
        return parse_users(x, it, (struct cfg_strv *)(void *)((char *)rec + ks->off), path);
    case K_PATTERNS:
        return parse_patterns(x, it, (struct cfg_strv *)(void *)((char *)rec + ks->off), path);
    case K_LEAD:
        if (!int_in(it, 0, 720, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_LEAD]);
            return perr(x, "key \"%s\": %s", path, expect[K_LEAD]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    case K_WAIT:
        if (!int_in(it, 1, 720, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_WAIT]);
            return perr(x, "key \"%s\": %s", path, expect[K_WAIT]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    case K_GIVE_UP:
    case K_DAYS: {
        long long max = ks->kind == K_GIVE_UP ? 8760 : 36500;
        if (!int_in(it, 1, (double)max, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[ks->kind]);
            return perr(x, "key \"%s\": %s", path, expect[ks->kind]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    }
    case K_NSID:
        if (!int_in(it, 1, 9007199254740992.0, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_NSID]);
            return perr(x, "key \"%s\": %s", path, expect[K_NSID]);
        }
        *(long long *)(void *)((char *)rec + ks->off) = v;
        return 0;
    case K_OBJECT:
        if (!cJSON_IsObject(it))
            return perr(x, "key \"%s\": %s", path, expect[K_OBJECT]);
        return parse_object(x, it, ks->sub, rec, path);
    case K_OBJARRAY:
        return parse_objarray(x, it, ks, rec, path);
    case K_USERMAP:
        return parse_usermap(x, it, ks, rec, path);
    }
    return perr(x, "key \"%s\": unsupported", path);
}

/* Applies the default of an absent key. */
static void apply_default(const struct key_spec *ks, void *rec)
{
    switch (ks->kind) {
    case K_ZONE:
        if (ks->def && !*str_field(rec, ks->off))
            *str_field(rec, ks->off) = xstrdup(ks->def);
        break;
    case K_HOURS:
        cfg_parse_hours(ks->def, (int *)(void *)((char *)rec + ks->off),
                        (int *)(void *)((char *)rec + ks->off2));
        break;
    case K_LEAD:
    case K_WAIT:
    case K_GIVE_UP:
    case K_DAYS:
        *(int *)(void *)((char *)rec + ks->off) = (int)ks->idef;
        break;
    default:
        break;
    }
}

/* Levenshtein distance capped at 3, for "did you mean" on unknown keys. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (a[i - 1] != b[j - 1]);
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

/* obj may be NULL: the object is absent, only defaults apply. */
static int parse_object(struct pctx *x, const cJSON *obj, const struct table *t, void *rec,
                        const char *path)
{
    bool seen[32] = { false };
    if (t->n > ARRAY_LEN(seen))
        return perr(x, "internal error: a key table has more than %zu keys", ARRAY_LEN(seen));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        size_t k = 0;
        while (k < t->n && strcmp(t->keys[k].key, it->string) != 0)
            k++;
        char p[PATH_MAX_LEN];
        path_key(p, path, it->string);
        if (k == t->n) {
            const char *hint = NULL;
            for (size_t j = 0; j < t->n && !hint; j++)
                if (edit_distance(it->string, t->keys[j].key) <= 2)
                    hint = t->keys[j].key;
            if (hint)
                return perr(x, "unknown key \"%s\" (did you mean \"%s\"?)", p, hint);
            return perr(x, "unknown key \"%s\"", p);
        }
        if (seen[k])
            return perr(x, "duplicate key \"%s\"", p);
        seen[k] = true;
    }
    for (size_t k = 0; k < t->n; k++) {
        const struct key_spec *ks = &t->keys[k];
        char p[PATH_MAX_LEN];
        path_key(p, path, ks->key);
        it = obj ? cJSON_GetObjectItemCaseSensitive(obj, ks->key) : NULL;
        if (it && cJSON_IsNull(it))
            it = NULL;          /* null = absent */
        if (!it) {
            if (ks->required)
                return perr(x, "key \"%s\" is missing (it is required)", p);
            if (ks->kind == K_OBJECT) {
                if (parse_object(x, NULL, ks->sub, rec, p) < 0)
                    return -1;
            } else {
                apply_default(ks, rec);
            }
            continue;
        }
        if (parse_value(x, it, ks, rec, p) < 0)
            return -1;
    }
    return 0;
}

/* Cross-element rules: unique component names and appsec users. */
static int check_unique(struct pctx *x, const struct cfg *c)
{
    char shown[SHOW_MAX + 8];
    for (size_t i = 0; i < c->n_components; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->components[i].name, c->components[j].name) == 0)
                return perr(x, "key \"components[%zu].name\": duplicate component \"%s\"", i,
                            cfg__show(c->components[i].name, shown));
    for (size_t i = 0; i < c->n_appsec; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->appsec[i].user, c->appsec[j].user) == 0)
                return perr(x, "key \"appsec[%zu].user\": duplicate appsec user \"%s\"", i,
                            cfg__show(c->appsec[i].user, shown));
    return 0;
}

static void strv_finish(struct cfg_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

void cfg__team_finish(struct cfg *c)
{
    free(c->timezone);
    free(c->sirt_channel);
    strv_finish(&c->sirt_team);
    strv_finish(&c->severity1_responders);
    strv_finish(&c->directors);
    strv_finish(&c->mask_extra_patterns);
    for (size_t i = 0; i < c->n_appsec; i++) {
        free(c->appsec[i].user);
        free(c->appsec[i].tz);
        free(c->appsec[i].gitlab);
    }
    free(c->appsec);
    free(c->secops_schedule);
    free(c->secops_fallback_user);
    for (size_t i = 0; i < c->n_components; i++) {
        struct cfg_component *k = &c->components[i];
        free(k->name); free(k->em); free(k->pm); free(k->channel);
        free(k->gitlab_em); free(k->gitlab_pm);
    }
    free(c->components);
    for (size_t i = 0; i < c->n_gitlab_users; i++) {
        free(c->gitlab_users[i].user);
        free(c->gitlab_users[i].gitlab);
    }
    free(c->gitlab_users);
}

/* Zeroes the team part of the struct (the fields after log_level). */
void cfg__team_zero(struct cfg *c)
{
    size_t from = offsetof(struct cfg, timezone);
    memset((char *)c + from, 0, sizeof(*c) - from);
}

void cfg__team_defaults(struct cfg *c)
{
    cfg__team_zero(c);
    struct pctx x = { "", NULL, 0 };
    parse_object(&x, NULL, &top_table, c, "");
}

static void line_col(const char *json, size_t len, const char *at, size_t *line, size_t *col)
{
    size_t off = at && at >= json ? (size_t)(at - json) : 0;
    if (off > len)
        off = len;
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int cfg_parse_team(struct cfg *c, const char *name, const char *json, size_t len,
                   char *err, size_t errlen)
{
    struct pctx x = { name ? name : "config", err, errlen };
    cfg__team_zero(c);
    if (!json) {
        json = "";
        len = 0;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root && end) {
        /* cJSON accepts trailing text when not asked to require NUL; we don't. */
        size_t off = (size_t)(end - json);
        while (off < len && (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' ||
                             json[off] == '\r'))
            off++;
        if (off < len) {
            cJSON_Delete(root);
            root = NULL;
            end = json + off;
        }
    }
    if (!root) {
        size_t line, col;
        line_col(json, len, end, &line, &col);
        perr(&x, "not valid JSON near line %zu col %zu", line, col);
        return -1;
    }
    int rc;
    if (!cJSON_IsObject(root))
        rc = perr(&x, "the top level must be a JSON object ({ ... })");
    else
        rc = parse_object(&x, root, &top_table, c, "");
    if (rc == 0)
        rc = check_unique(&x, c);
    cJSON_Delete(root);
    if (rc < 0) {
        cfg__team_finish(c);
        cfg__team_zero(c);
    }
    return rc;
}

/* ---- the tables, walked (docs coverage: tests/test_docs.c) ---- */

static void each_key(const struct table *t, const char *parent, cfg_key_fn fn, void *ud)
{
    for (size_t k = 0; k < t->n; k++) {
        const struct key_spec *ks = &t->keys[k];
        char p[PATH_MAX_LEN];
        if (snprintf(p, sizeof(p), "%s%s%s", parent, *parent ? "." : "", ks->key) < 0)
            continue;
        fn(p, ud);
        if (ks->kind == K_OBJARRAY) {
            char arr[PATH_MAX_LEN];
            if (snprintf(arr, sizeof(arr), "%s[]", p) >= 0)
                each_key(ks->sub, arr, fn, ud);
        } else if (ks->kind == K_OBJECT) {
            each_key(ks->sub, p, fn, ud);
        }
    }
}

void cfg_each_key(cfg_key_fn fn, void *ud)
{
    each_key(&top_table, "", fn, ud);
}
