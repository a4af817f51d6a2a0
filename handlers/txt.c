/* txt: text helpers for what users typed and what they read — masking and
 * cutting user text, Slack mrkdwn escaping, dates, user mentions.  Pure
 * functions of their arguments (the mask's patterns aside); every string
 * returned is the caller's to free. */
#include "txt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/mask.h"
#include "../bot/util.h"

char *txt_clean(const char *s, size_t max)
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

char *txt_mrkdwn(const char *s)
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

char *txt_line(const char *s, size_t max)
{
    char *c = txt_clean(s ? s : "", max);
    for (char *p = c; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    char *e = txt_mrkdwn(c);
    free(c);
    return e;
}

void txt_utc(int64_t ms, const char *fmt, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, fmt, &tm))
        snprintf(out, 32, "-");
}

bool txt_user_mention(const char *word, char *out, size_t size)
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

const char *txt_pd_severity(int severity)
{
    static const char *const m[] = { "critical", "error", "warning", "info" };
    return m[(severity >= 1 && severity <= 4) ? severity - 1 : 3];
}

char *txt_trim(const char *s)
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
