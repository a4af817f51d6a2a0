/* common: see common.h.  Shared by the handlers; runs inside the caller's
 * store transaction; every effect is an outbox job. */
#include "common.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/app.h"
#include "../bot/blockkit.h"
#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/mask.h"
#include "../bot/outbox.h"
#include "../bot/util.h"

int64_t incident_parse_id(const char *w)
{
    if (!w)
        return 0;
    while (*w == '#' || *w == '*' || *w == '`')
        w++;
    if ((w[0] == 'S' || w[0] == 's') && (w[1] == 'I' || w[1] == 'i') && (w[2] == 'R' || w[2] == 'r')
        && (w[3] == 'T' || w[3] == 't') && w[4] == '-')
        w += 5;
    if (!isdigit((unsigned char)*w))
        return 0;
    int64_t n = 0;
    for (int i = 0; isdigit((unsigned char)*w) && i < 15; i++, w++)
        n = n * 10 + (*w - '0');
    if (*w && !isspace((unsigned char)*w) && *w != '*' && *w != '`' && *w != ',' && *w != '.' && *w != '|')
        return 0;
    return n;
}

int incident_for(struct sirt_app *app, const char *channel_id, const char *args, struct incident *inc,
                 const char **rest, char *err, size_t errlen)
{
    memset(inc, 0, sizeof(*inc));
    const char *a = args ? args : "";
    while (isspace((unsigned char)*a))
        a++;
    int64_t id = incident_parse_id(a);
    if (rest)
        *rest = a;
    if (id > 0) {
        const char *p = a;
        while (*p && !isspace((unsigned char)*p))
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (rest)
            *rest = p;
        if (store_incident_get(app->store, id, inc) == 0)
            return 0;
        snprintf(err, errlen, "There is no incident SIRT-%" PRId64 ".", id);
        return -1;
    }
    if (channel_id && store_incident_by_channel(app->store, channel_id, inc) == 0)
        return 0;
    snprintf(err, errlen, "Which incident? Give its id (e.g. `SIRT-12`), or ask inside the incident's channel.");
    return -1;
}

bool incident_authorized(struct sirt_app *app, const struct incident *inc, const char *user)
{
    if (!user || !inc)
        return false;
    if (app->cfg && cfg_strv_has(&app->cfg->sirt_team, user))
        return true;
    if ((inc->reporter && strcmp(inc->reporter, user) == 0) || (inc->owner && strcmp(inc->owner, user) == 0))
        return true;
    return app->store && store_member_is(app->store, inc->id, user) == 1;
}

bool reply_private_for(struct sirt_app *app, const struct sirt_req *req, const struct incident *inc)
{
    (void)app;
    if (req->source == REQ_SLASH || req->source == REQ_DM)
        return true;
    return inc && inc->channel_id && req->channel_id && strcmp(inc->channel_id, req->channel_id) == 0;
}

static int64_t add(struct sirt_app *app, int64_t incident_id, const char *key, const char *op, cJSON *p)
{
    int64_t id = outbox_add(app->store, incident_id, key, op, p, NULL, 0, 0);
    cJSON_Delete(p);
    return id;
}

int64_t fx_post_channel(struct sirt_app *app, int64_t incident_id, const char *key, const char *channel,
                        const char *thread_ts, const char *text, cJSON *blocks)
{
    cJSON *p = cJSON_CreateObject();
    if (channel)
        cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "text", text ? text : "");
    if (blocks)
        cJSON_AddItemToObject(p, "blocks", blocks);
    if (thread_ts)
        cJSON_AddStringToObject(p, "thread_ts", thread_ts);
    return add(app, incident_id, key, "slack.post", p);
}

int64_t fx_post_incident(struct sirt_app *app, const struct incident *inc, const char *key_suffix,
                         const char *text, cJSON *blocks)
{
    char key[160];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc->id, key_suffix);
    /* No channel: the effect waits for the incident channel. */
    return fx_post_channel(app, inc->id, key, inc->channel_id, NULL, text, blocks);
}

int64_t fx_ephemeral(struct sirt_app *app, const char *key, const char *channel, const char *user,
                     const char *text)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "user", user);
    cJSON_AddStringToObject(p, "text", text);
    return add(app, 0, key, "slack.ephemeral", p);
}

int64_t fx_dm(struct sirt_app *app, int64_t incident_id, const char *key, const char *user, const char *text,
              cJSON *blocks)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "user", user);
    cJSON_AddStringToObject(p, "text", text);
    if (blocks)
        cJSON_AddItemToObject(p, "blocks", blocks);
    return add(app, incident_id, key, "slack.dm", p);
}

int64_t fx_gitlab_note(struct sirt_app *app, const struct incident *inc, const char *key_suffix, const char *body)
{
    if (!app->cfg->gitlab_url)
        return 0;
    char key[160], marker[200];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc->id, key_suffix);
    snprintf(marker, sizeof(marker), "sirt:%s:%016llx", key, (unsigned long long)util_rand64());
    char *b = xasprintf("%s\n\n<!-- %s -->", body, marker);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "body", b);
    cJSON_AddStringToObject(p, "marker", marker);
    cJSON_AddTrueToObject(p, "names");   /* {{user.<id>}} in body -> people's names at send time */
    free(b);
    return add(app, inc->id, key, "gitlab.note", p);
}

void request_key(const struct sirt_req *req, const char *prefix, char *out, size_t size)
{
    const char *id = NULL;
    if (req->source == REQ_SLASH)
        id = req->trigger_id;
    else
        id = util_jstr(req->payload, "event_id");
    if (!id) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(req->payload, "event");
        id = util_jstr(ev, "ts");
    }
    char rnd[24];
    if (!id) {
        snprintf(rnd, sizeof(rnd), "%016llx", (unsigned long long)util_rand64());
        id = rnd;
    }
    snprintf(out, size, "%s/%s", prefix, id);
}

int handler_result(const struct sirt_app *app)
{
    return app && store_txn_failed(app->store) ? STORE_EIO : 0;
}

int timeline_add(struct sirt_app *app, int64_t incident_id, const char *actor, const char *kind,
                 const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *m = mask_secrets(buf);    /* entries may quote what a user typed */
    int rc = store_timeline_add(app->store, incident_id, clock_now_ms(), actor, kind, m);
    free(m);
    return rc;
}

char *clean_user_text(const char *s, size_t max)
{
    char *m = mask_secrets(s ? s : "");
    for (char *p = strstr(m, "{{"); p; p = strstr(p + 1, "{{"))
        p[1] = ' ';
    if (max >= 4 && strlen(m) > max) {
        size_t n = max - 3;
        while (n > 0 && ((unsigned char)m[n] & 0xC0) == 0x80)
            n--;
        m[n] = '\0';
        char *t = xasprintf("%s...", m);
        free(m);
        m = t;
    }
    return m;
}

char *mrkdwn_escape(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    for (; s && *s; s++) {
        if (*s == '&')
            buf_puts(&b, "&amp;");
        else if (*s == '<')
            buf_puts(&b, "&lt;");
        else if (*s == '>')
            buf_puts(&b, "&gt;");
        else if (*s == '`')
            buf_puts(&b, "'");   /* user text can never close a code block */
        else
            buf_append(&b, s, 1);
    }
    return buf_take(&b);
}

cJSON *bk_plain_max(const char *text, size_t max)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "type", "plain_text");
    char *c = blockkit_cut(text, max, false);
    cJSON_AddStringToObject(t, "text", c);
    free(c);
    return t;
}

cJSON *bk_plain(const char *text)
{
    return bk_plain_max(text, BK_SECTION_TEXT);
}

static cJSON *mrkdwn_obj(const char *text, size_t max)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    char *c = blockkit_cut(text, max, true);
    cJSON_AddStringToObject(t, "text", c);
    free(c);
    return t;
}

cJSON *bk_section(const char *mrkdwn)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "section");
    cJSON_AddItemToObject(s, "text", mrkdwn_obj(mrkdwn, BK_SECTION_TEXT));
    return s;
}

cJSON *bk_header(const char *text)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", "header");
    cJSON_AddItemToObject(h, "text", bk_plain_max(text, BK_HEADER_TEXT));
    return h;
}

cJSON *bk_context(const char *mrkdwn)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "context");
    cJSON *els = cJSON_AddArrayToObject(c, "elements");
    cJSON_AddItemToArray(els, mrkdwn_obj(mrkdwn, BK_SECTION_TEXT));
    return c;
}

cJSON *bk_button(const char *text, const char *action_id, const char *value, const char *style)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "button");
    cJSON_AddItemToObject(b, "text", bk_plain_max(text, BK_BUTTON_TEXT));
    cJSON_AddStringToObject(b, "action_id", action_id);
    if (value) {
        char *v = blockkit_cut(value, BK_BUTTON_VALUE, false);
        cJSON_AddStringToObject(b, "value", v);
        free(v);
    }
    if (style)
        cJSON_AddStringToObject(b, "style", style);
    return b;
}

cJSON *bk_actions(const char *block_id)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "type", "actions");
    if (block_id)
        cJSON_AddStringToObject(a, "block_id", block_id);
    cJSON_AddArrayToObject(a, "elements");
    return a;
}

cJSON *bk_option(const char *text, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "text", bk_plain_max(text, BK_OPTION_TEXT));
    char *v = blockkit_cut(value, BK_OPTION_VALUE, false);
    cJSON_AddStringToObject(o, "value", v);
    free(v);
    return o;
}

cJSON *bk_modal(const char *title, const char *submit, const char *close)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "type", "modal");
    cJSON_AddItemToObject(v, "title", bk_plain_max(title, BK_VIEW_TITLE));
    if (submit)
        cJSON_AddItemToObject(v, "submit", bk_plain_max(submit, BK_VIEW_TITLE));
    if (close)
        cJSON_AddItemToObject(v, "close", bk_plain_max(close, BK_VIEW_TITLE));
    return v;
}

void bk_fit(cJSON *blocks, int max_blocks)
{
    blockkit_fit_blocks(blocks, max_blocks);
}

bool parse_user_mention(const char *word, char *out, size_t size)
{
    const char *p = word;
    while (isspace((unsigned char)*p))
        p++;
    bool wrapped = p[0] == '<' && p[1] == '@';
    if (wrapped)
        p += 2;
    if (*p != 'U' && *p != 'W')
        return false;
    size_t n = 0;
    while (isalnum((unsigned char)p[n]))
        n++;
    if (n < 3 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)p[i]) && !isdigit((unsigned char)p[i]))
            return false;
    const char *q = p + n;
    if (wrapped) {
        if (*q == '|')
            q = strchr(q, '>');
        if (!q || *q != '>')
            return false;
        q++;
    }
    if (*q && !isspace((unsigned char)*q))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

const char *pd_severity_name(int severity)
{
    static const char *const m[] = { "critical", "error", "warning", "info" };
    return m[(severity >= 1 && severity <= 4) ? severity - 1 : 3];
}

char *trim_copy(const char *s)
{
    if (!s)
        return xstrdup("");
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

const char *view_input(const cJSON *view, const char *block)
{
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(view, "state"), "values");
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(values, block), "value");
    if (!el)
        return NULL;
    const char *v = util_jstr(el, "value");
    if (!v)
        v = util_jstr(cJSON_GetObjectItemCaseSensitive(el, "selected_option"), "value");
    return v && *v ? v : NULL;
}

bool incident_in_channel(const struct incident *inc, const char *channel)
{
    return inc && inc->channel_id && channel && strcmp(inc->channel_id, channel) == 0;
}

static const char *button_channel(const cJSON *payload)
{
    const char *c = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    return c ? c : util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
}

/* An answer to the one who pressed a button: through the message's
 * response_url when there is one, else ephemeral in the channel, else DM. */
int64_t fx_button_notice(struct sirt_app *app, const cJSON *payload, const cJSON *action, const char *what,
                         const char *text, bool replace)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *channel = button_channel(payload);
    const char *url = util_jstr(payload, "response_url");
    const char *ts = util_jstr(action, "action_ts");
    if (!ts)
        ts = util_jstr(payload, "trigger_id");
    char key[200];
    snprintf(key, sizeof(key), "%s/%s/%s", what, user ? user : "-", ts ? ts : "0");
    if (url) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "url", url);
        cJSON *body = cJSON_AddObjectToObject(p, "body");
        if (replace) {
            cJSON_AddTrueToObject(body, "replace_original");
        } else {
            cJSON_AddStringToObject(body, "response_type", "ephemeral");
            cJSON_AddFalseToObject(body, "replace_original");
        }
        cJSON_AddStringToObject(body, "text", text);
        int64_t id = outbox_add(app->store, 0, key, "slack.response_url", p, NULL, 0, 0);
        cJSON_Delete(p);
        return id;
    }
    if (channel && user)
        return fx_ephemeral(app, key, channel, user, text);
    if (user)
        return fx_dm(app, 0, key, user, text, NULL);
    return 0;
}

char *shown_line(const char *s, size_t max)
{
    char *c = clean_user_text(s ? s : "", max);
    for (char *p = c; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    char *e = mrkdwn_escape(c);
    free(c);
    return e;
}

void fmt_utc(int64_t ms, const char *fmt, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, fmt, &tm))
        snprintf(out, 32, "-");
}
