/* fake_messages: see fake_messages.h.  Messages are kept in post order,
 * which is ts order (the fake hands out increasing ts), so history walks
 * the array backwards and replies forwards.  Each message and its strings
 * belong to the store. */
#include "fake_messages.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bot/util.h"

#define HISTORY_LIMIT_DEFAULT 100    /* Slack's default and maximum for Marketplace apps */
#define HISTORY_LIMIT_MAX 999
#define CURSOR_PREFIX "next_ts:"

struct fake_messages {
    struct fake_message **v;
    size_t n, cap;
};

struct fake_messages *fake_messages_create(void)
{
    return xcalloc(1, sizeof(struct fake_messages));
}

void fake_messages_destroy(struct fake_messages *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        struct fake_message *x = m->v[i];
        free(x->channel);
        free(x->ts);
        free(x->thread_ts);
        free(x->user);
        free(x->bot_id);
        free(x->text);
        cJSON_Delete(x->metadata);
        free(x);
    }
    free(m->v);
    free(m);
}

const char *fake_messages_check_metadata(const cJSON *args, cJSON **md)
{
    *md = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "metadata");
    if (!v || cJSON_IsNull(v))
        return NULL;
    cJSON *o = cJSON_IsString(v) ? cJSON_Parse(v->valuestring) : cJSON_Duplicate(v, 1);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "event_type");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "event_payload");
    if (!cJSON_IsObject(o) || !cJSON_IsString(type) || !type->valuestring[0] || !cJSON_IsObject(payload)) {
        cJSON_Delete(o);
        return "invalid_metadata_format";
    }
    *md = o;
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

const struct fake_message *fake_messages_add(struct fake_messages *m, const char *channel, const char *ts,
                                             const char *thread_ts, const char *user, const char *bot_id,
                                             const char *text, cJSON *md)
{
    struct fake_message *x = xcalloc(1, sizeof(*x));
    x->channel = xstrdup(channel);
    x->ts = xstrdup(ts);
    x->thread_ts = dup_or_null(thread_ts);
    x->user = dup_or_null(user);
    x->bot_id = dup_or_null(bot_id);
    x->text = xstrdup(text ? text : "");
    x->metadata = md;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n++] = x;
    return x;
}

static bool in_channel(const struct fake_message *x, const char *channel)
{
    return !channel || strcmp(x->channel, channel) == 0;
}

size_t fake_messages_count(const struct fake_messages *m, const char *channel)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += in_channel(m->v[i], channel);
    return n;
}

const struct fake_message *fake_messages_get(const struct fake_messages *m, const char *channel, size_t idx)
{
    for (size_t i = 0; i < m->n; i++)
        if (in_channel(m->v[i], channel) && idx-- == 0)
            return m->v[i];
    return NULL;
}

/* "1700000000.000100" (or "1700000000", "1700000000.5") -> microseconds;
 * -1 when it is not a timestamp. */
static int64_t ts_us(const char *s)
{
    if (!s || !*s)
        return -1;
    int64_t sec = 0, frac = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (sec > 100000000000LL)
            return -1;
        sec = sec * 10 + (*p - '0');
    }
    if (p == s)
        return -1;
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (digits++ < 6)
                frac = frac * 10 + (*p - '0');
        for (; digits < 6; digits++)
            frac *= 10;
    }
    return *p ? -1 : sec * 1000000 + frac;
}

static bool arg_on(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "1") == 0);
}

static const char *arg_s(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* The read arguments shared by history and replies. */
struct window {
    int64_t oldest, latest;    /* bounds in microseconds */
    bool inclusive;
    int64_t cursor;            /* -1 = none: the ts the page starts at */
    int limit;
    bool metadata;
};

static const char *window_parse(const cJSON *args, struct window *w)
{
    const char *oldest = arg_s(args, "oldest"), *latest = arg_s(args, "latest"), *cur = arg_s(args, "cursor");
    w->oldest = oldest ? ts_us(oldest) : 0;
    w->latest = latest ? ts_us(latest) : INT64_MAX;
    if (w->oldest < 0 || w->latest < 0)
        return "invalid_ts_oldest";
    w->inclusive = arg_on(args, "inclusive");
    w->metadata = arg_on(args, "include_all_metadata");
    w->cursor = -1;
    if (cur) {
        if (!str_starts(cur, CURSOR_PREFIX) || (w->cursor = ts_us(cur + strlen(CURSOR_PREFIX))) < 0)
            return "invalid_cursor";
    }
    w->limit = HISTORY_LIMIT_DEFAULT;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(args, "limit");
    if (cJSON_IsNumber(l))
        w->limit = (int)l->valuedouble;
    else if (cJSON_IsString(l) && l->valuestring[0])
        w->limit = atoi(l->valuestring);
    if (w->limit < 1)
        w->limit = HISTORY_LIMIT_DEFAULT;
    if (w->limit > HISTORY_LIMIT_MAX)
        w->limit = HISTORY_LIMIT_MAX;
    return NULL;
}

static bool window_has(const struct window *w, int64_t t)
{
    if (w->inclusive ? t < w->oldest : t <= w->oldest)
        return false;
    if (w->inclusive ? t > w->latest : t >= w->latest)
        return false;
    return true;
}

static size_t reply_count(const struct fake_messages *m, const struct fake_message *parent)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct fake_message *x = m->v[i];
        n += x->thread_ts && strcmp(x->thread_ts, parent->ts) == 0 && strcmp(x->ts, parent->ts) != 0
             && strcmp(x->channel, parent->channel) == 0;
    }
    return n;
}

static void message_json(const struct fake_messages *m, const struct fake_message *x, bool metadata,
                         cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "message");
    if (x->user)
        cJSON_AddStringToObject(o, "user", x->user);
    if (x->bot_id)
        cJSON_AddStringToObject(o, "bot_id", x->bot_id);
    cJSON_AddStringToObject(o, "text", x->text);
    cJSON_AddStringToObject(o, "ts", x->ts);
    size_t replies = x->thread_ts ? 0 : reply_count(m, x);
    if (x->thread_ts || replies)
        cJSON_AddStringToObject(o, "thread_ts", x->thread_ts ? x->thread_ts : x->ts);
    if (replies)
        cJSON_AddNumberToObject(o, "reply_count", (double)replies);
    if (metadata && x->metadata)
        cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(x->metadata, 1));
    cJSON_AddItemToArray(arr, o);
}

/* Fills messages (in the order given by idx) and the paging members. */
static void page_out(const struct fake_messages *m, const struct window *w, const size_t *idx, size_t n,
                     cJSON *out)
{
    cJSON *arr = cJSON_AddArrayToObject(out, "messages");
    size_t take = n < (size_t)w->limit ? n : (size_t)w->limit;
    for (size_t i = 0; i < take; i++)
        message_json(m, m->v[idx[i]], w->metadata, arr);
    cJSON_AddBoolToObject(out, "has_more", take < n);
    cJSON *md = cJSON_AddObjectToObject(out, "response_metadata");
    char cur[64] = "";
    if (take < n)
        snprintf(cur, sizeof(cur), CURSOR_PREFIX "%s", m->v[idx[take]]->ts);
    cJSON_AddStringToObject(md, "next_cursor", cur);
}

const char *fake_messages_history(const struct fake_messages *m, const cJSON *args, cJSON *out)
{
    const char *channel = arg_s(args, "channel");
    if (!channel)
        return "channel_not_found";
    struct window w;
    const char *err = window_parse(args, &w);
    if (err)
        return err;
    size_t *idx = xmalloc((m->n + 1) * sizeof(*idx)), n = 0;
    for (size_t i = m->n; i-- > 0;) {       /* newest first */
        const struct fake_message *x = m->v[i];
        if (strcmp(x->channel, channel) != 0)
            continue;
        if (x->thread_ts && strcmp(x->thread_ts, x->ts) != 0)
            continue;                        /* replies live in their thread */
        int64_t t = ts_us(x->ts);
        if (!window_has(&w, t) || (w.cursor >= 0 && t > w.cursor))
            continue;
        idx[n++] = i;
    }
    page_out(m, &w, idx, n, out);
    free(idx);
    return NULL;
}

const char *fake_messages_replies(const struct fake_messages *m, const cJSON *args, cJSON *out)
{
    const char *channel = arg_s(args, "channel");
    const char *thread = arg_s(args, "ts");
    if (!channel)
        return "channel_not_found";
    if (!thread || ts_us(thread) < 0)
        return "thread_not_found";
    struct window w;
    const char *err = window_parse(args, &w);
    if (err)
        return err;
    size_t *idx = xmalloc((m->n + 1) * sizeof(*idx)), n = 0;
    bool any = false;
    for (size_t i = 0; i < m->n; i++) {      /* the parent, then replies, oldest first */
        const struct fake_message *x = m->v[i];
        if (strcmp(x->channel, channel) != 0)
            continue;
        if (strcmp(x->ts, thread) != 0 && !(x->thread_ts && strcmp(x->thread_ts, thread) == 0))
            continue;
        any = true;
        int64_t t = ts_us(x->ts);
        if (!window_has(&w, t) || (w.cursor >= 0 && t < w.cursor))
            continue;
        idx[n++] = i;
    }
    if (!any) {
        free(idx);
        return "thread_not_found";
    }
    page_out(m, &w, idx, n, out);
    free(idx);
    return NULL;
}
