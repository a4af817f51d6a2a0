/* effects_names: people's names instead of raw Slack ids in what an effect
 * sends (the timeline file, the GitLab note at resolve).  Handlers write
 * {{user.<id>}} and "names": true; before the op starts, each id is looked
 * up with users.info, one call at a time, and the placeholders replaced.
 * The cache (struct unames) belongs to main and lives on the loop thread;
 * entries expire after a day, and it holds at most UNAMES_MAX names. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "effects_internal.h"
#include "log.h"
#include "slack_api.h"
#include "util.h"

#define UNAMES_MAX 2000
#define UNAMES_TTL_US (24LL * 3600 * 1000000)
#define NAME_MAX_BYTES 80
#define IDS_MAX 200                 /* distinct people looked up per job */
#define PH_OPEN "{{user."

struct uname {
    char *id, *name;
    uint64_t until_us;
};

struct unames {
    struct uname *v;
    size_t n, cap;
};

struct unames *unames_create(void)
{
    return xcalloc(1, sizeof(struct unames));
}

void unames_destroy(struct unames *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].id);
        free(u->v[i].name);
    }
    free(u->v);
    free(u);
}

static const char *unames_get(struct unames *u, const char *id)
{
    uint64_t now = clock_mono_us();
    for (size_t i = 0; u && i < u->n; i++)
        if (strcmp(u->v[i].id, id) == 0)
            return u->v[i].until_us > now ? u->v[i].name : NULL;
    return NULL;
}

static void unames_put(struct unames *u, const char *id, const char *name)
{
    if (!u)
        return;
    uint64_t until = clock_mono_us() + UNAMES_TTL_US;
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->v[i].id, id) == 0) {
            free(u->v[i].name);
            u->v[i].name = xstrdup(name);
            u->v[i].until_us = until;
            return;
        }
    }
    if (u->n == UNAMES_MAX) {
        /* Full: the oldest entry (the first) goes. */
        free(u->v[0].id);
        free(u->v[0].name);
        memmove(&u->v[0], &u->v[1], (u->n - 1) * sizeof(u->v[0]));
        u->n--;
    }
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 32;
        u->v = xrealloc(u->v, u->cap * sizeof(u->v[0]));
    }
    u->v[u->n++] = (struct uname){ xstrdup(id), xstrdup(name), until };
}

/* ---- placeholders ---- */

static bool id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Length of the id at p when p..."}}" is a well-formed placeholder body, else 0. */
static size_t ph_id_len(const char *p)
{
    size_t n = 0;
    while (n < 24 && id_char(p[n]))
        n++;
    return n > 0 && p[n] == '}' && p[n + 1] == '}' ? n : 0;
}

char *eff_names_apply(const char *s, const cJSON *map)
{
    struct buf b;
    buf_init(&b, 0);
    const char *p = s ? s : "";
    for (;;) {
        const char *q = strstr(p, PH_OPEN);
        if (!q) {
            buf_puts(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(q - p));
        const char *id = q + strlen(PH_OPEN);
        size_t n = ph_id_len(id);
        if (!n) {
            buf_append(&b, q, 2);
            p = q + 2;
            continue;
        }
        char key[32];
        memcpy(key, id, n);
        key[n] = '\0';
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, key);
        buf_puts(&b, cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : key);
        p = id + n + 2;
    }
    return buf_take(&b);
}

char *eff_name_clean(const char *name)
{
    struct buf b;
    buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            continue;
        switch (*p) {
        case '`': buf_puts(&b, "'"); break;
        case '<': buf_puts(&b, "("); break;
        case '>': buf_puts(&b, ")"); break;
        case '*': case '_': case '~': case '|': case '{': case '}': buf_puts(&b, " "); break;
        default: buf_append(&b, p, 1);
        }
    }
    char *s = buf_take(&b);
    size_t cut = str_utf8_prefix(s, NAME_MAX_BYTES);
    s[cut] = '\0';
    size_t a = 0, e = strlen(s);
    while (a < e && s[a] == ' ')
        a++;
    while (e > a && s[e - 1] == ' ')
        e--;
    char *t = xstrndup(s + a, e - a);
    free(s);
    return t;
}

static void collect(const cJSON *node, cJSON *ids)
{
    if (cJSON_IsString(node)) {
        for (const char *p = strstr(node->valuestring, PH_OPEN); p; p = strstr(p + 2, PH_OPEN)) {
            const char *id = p + strlen(PH_OPEN);
            size_t n = ph_id_len(id);
            if (!n || cJSON_GetArraySize(ids) >= IDS_MAX)
                continue;
            char key[32];
            memcpy(key, id, n);
            key[n] = '\0';
            bool seen = false;
            const cJSON *x;
            cJSON_ArrayForEach(x, ids)
                if (strcmp(x->valuestring, key) == 0)
                    seen = true;
            if (!seen)
                cJSON_AddItemToArray(ids, cJSON_CreateString(key));
        }
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, node)
        collect(c, ids);
}

static void replace_all(cJSON *node, const cJSON *map)
{
    cJSON *c;
    cJSON_ArrayForEach(c, node) {
        if (cJSON_IsString(c) && strstr(c->valuestring, PH_OPEN)) {
            char *t = eff_names_apply(c->valuestring, map);
            cJSON_SetValuestring(c, t);
            free(t);
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            replace_all(c, map);
        }
    }
}

/* ---- lookups ---- */

static void next(struct fx *fx);

static void on_user(struct fx *fx, const struct api_result *r)
{
    cJSON *first = cJSON_DetachItemFromArray(fx->names.ids, 0);
    const char *id = first ? first->valuestring : "";
    if (r->err != API_OK) {
        struct effect_result m;
        char err[128];
        eff_outcome_api(r, false, &m, err, sizeof(err));
        if (m.outcome == EFFECT_RETRY) {
            cJSON_Delete(first);
            eff_finish_api(fx, r);
            return;
        }
        LOG_INFO("names: no name for a user, the id is shown", "user:s error:s", id, err);
        cJSON_Delete(first);
        next(fx);
        return;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r->json, "user");
    const cJSON *prof = cJSON_GetObjectItemCaseSensitive(u, "profile");
    const char *name = eff_str(prof, "display_name");
    if (!name)
        name = eff_str(u, "real_name");
    if (!name)
        name = eff_str(prof, "real_name");
    if (!name)
        name = eff_str(u, "name");
    char *clean = eff_name_clean(name);
    if (clean[0]) {
        unames_put(fx->app->unames, id, clean);
        cJSON_AddStringToObject(fx->names.map, id, clean);
    }
    free(clean);
    cJSON_Delete(first);
    next(fx);
}

static void next(struct fx *fx)
{
    while (cJSON_GetArraySize(fx->names.ids) > 0) {
        const char *id = cJSON_GetArrayItem(fx->names.ids, 0)->valuestring;
        const char *cached = unames_get(fx->app->unames, id);
        if (!cached)
            break;
        cJSON_AddStringToObject(fx->names.map, id, cached);
        cJSON_DeleteItemFromArray(fx->names.ids, 0);
    }
    if (cJSON_GetArraySize(fx->names.ids) > 0) {
        cJSON *args = cJSON_CreateObject();
        cJSON_AddStringToObject(args, "user", cJSON_GetArrayItem(fx->names.ids, 0)->valuestring);
        eff_slack(fx, "users.info", args, true, false, on_user);
        return;
    }
    replace_all(fx->payload, fx->names.map);
    cJSON_DeleteItemFromObjectCaseSensitive(fx->payload, "names");
    void (*then)(struct fx *) = fx->names.then;
    fx->names.then = NULL;
    then(fx);
}

void eff_names_then(struct fx *fx, void (*then)(struct fx *fx))
{
    cJSON_Delete(fx->names.ids);
    cJSON_Delete(fx->names.map);
    fx->names.ids = cJSON_CreateArray();
    fx->names.map = cJSON_CreateObject();
    fx->names.then = then;
    collect(fx->payload, fx->names.ids);
    next(fx);
}
