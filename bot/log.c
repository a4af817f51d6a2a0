/* log: builds one JSON object per call in a local buffer and hands it to
 * stderr with a single write(2), so lines from one process never interleave.
 * The message and every string field pass through mask_secrets() before they
 * are escaped.  Invalid UTF-8 becomes U+FFFD so every line is valid JSON.
 * Nothing is retained between calls; errno is preserved for the caller. */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "mask.h"
#include "util.h"

/* A field value longer than this is cut (after masking), and a line longer
 * than LINE_MAX_BYTES is replaced by a short notice: the log is not a dump. */
#define VALUE_MAX_BYTES 8192
#define LINE_MAX_BYTES (256 * 1024)
#define MAX_FIELDS 64
#define WRITE_TRIES 16

enum log_level log_threshold = LOG_LVL_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return (int)i;
    if (strcasecmp(s, "warning") == 0)
        return LOG_LVL_WARN;
    return -1;
}

void log_set_level(enum log_level l)
{
    if (l >= LOG_LVL_DEBUG && l <= LOG_LVL_ERROR)
        log_threshold = l;
}

static const char *level_name(enum log_level l)
{
    return (l >= LOG_LVL_DEBUG && l <= LOG_LVL_ERROR) ? level_names[l] : "error";
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    unsigned int min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Appends s[0, n) followed by suffix (may be NULL) as a JSON string literal. */
static void json_str_n(struct buf *b, const char *s, size_t n, const char *suffix)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            buf_puts(b, esc);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            buf_append(b, u, sizeof(u));
            i++;
        } else if (c < 0x80) {
            buf_append(b, &p[i], 1);
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k) {
                buf_append(b, &p[i], k);
                i += k;
            } else {
                buf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    if (suffix)
        buf_puts(b, suffix);
    buf_append(b, "\"", 1);
}

/* Masks, truncates (on a UTF-8 boundary) and appends a string value. */
static void json_masked(struct buf *b, const char *s)
{
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    char *m = mask_secrets(s);
    size_t n = strlen(m);
    const char *suffix = NULL;
    if (n > VALUE_MAX_BYTES) {
        n = VALUE_MAX_BYTES;
        while (n > 0 && ((unsigned char)m[n] & 0xc0) == 0x80)
            n--;
        suffix = "...";
    }
    json_str_n(b, m, n, suffix);
    free(m);
}

static void json_key(struct buf *b, const char *name, size_t n)
{
    buf_append(b, ",", 1);
    json_str_n(b, name, n, NULL);
    buf_append(b, ":", 1);
}

static void json_double(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    buf_printf(b, "%.17g", v);
}

/* Walks "name:type name:type ..." pulling one argument per field.  An
 * unknown type stops the walk: the remaining arguments cannot be read
 * safely, so the line says so instead of guessing. */
static void append_fields(struct buf *b, const char *fields, va_list ap)
{
    const char *p = fields;
    for (int nf = 0; p && *p && nf < MAX_FIELDS; nf++) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *name = p;
        while (*p && *p != ':' && *p != ' ')
            p++;
        size_t nlen = (size_t)(p - name);
        if (*p != ':' || nlen == 0 || !p[1] || !strchr("sdlufb", p[1]) || (p[2] && p[2] != ' ')) {
            buf_puts(b, ",\"log_error\":\"bad field spec\"");
            return;
        }
        char type = p[1];
        p += 2;
        json_key(b, name, nlen);
        switch (type) {
        case 's':
            json_masked(b, va_arg(ap, const char *));
            break;
        case 'd':
            buf_printf(b, "%d", va_arg(ap, int));
            break;
        case 'l':
            buf_printf(b, "%lld", va_arg(ap, long long));
            break;
        case 'u':
            buf_printf(b, "%zu", va_arg(ap, size_t));
            break;
        case 'f':
            json_double(b, va_arg(ap, double));
            break;
        case 'b':
            buf_puts(b, va_arg(ap, int) ? "true" : "false");
            break;
        }
    }
}

static const char *base_name(const char *file)
{
    if (!file)
        return "?";
    const char *slash = strrchr(file, '/');
    return slash ? slash + 1 : file;
}

static void write_all(const char *p, size_t n)
{
    for (int tries = 0; n > 0 && tries < WRITE_TRIES; tries++) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void vlog(enum log_level l, const char *file, int line, bool with_errno, int errnum,
                 const char *msg, const char *fields, va_list ap)
{
    if (!log_enabled(l))
        return;
    int saved_errno = errno;
    char ts[32];
    clock_fmt_iso(clock_now_ms(), ts);

    struct buf b;
    buf_init(&b, LINE_MAX_BYTES);
    buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name(l));
    json_masked(&b, msg ? msg : "");
    buf_puts(&b, ",\"src\":");
    char src[256];
    snprintf(src, sizeof(src), "%s:%d", base_name(file), line);
    json_str_n(&b, src, strlen(src), NULL);
    if (with_errno) {
        char ebuf[128];
        if (strerror_r(errnum, ebuf, sizeof(ebuf)) != 0)
            snprintf(ebuf, sizeof(ebuf), "Unknown error %d", errnum);
        buf_printf(&b, ",\"errno\":%d,\"error\":", errnum);
        json_str_n(&b, ebuf, strlen(ebuf), NULL);
    }
    append_fields(&b, fields, ap);
    buf_puts(&b, "}\n");

    if (b.toobig) {
        buf_reset(&b);
        buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"log line too long\",\"src\":",
                   ts, level_name(l));
        json_str_n(&b, src, strlen(src), NULL);
        buf_puts(&b, "}\n");
    }
    write_all(b.data, b.len);
    buf_finish(&b);
    errno = saved_errno;
}

void log_write(enum log_level l, const char *file, int line, const char *msg,
               const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    vlog(l, file, line, false, 0, msg, fields, ap);
    va_end(ap);
}

void log_write_errno(enum log_level l, const char *file, int line, int errnum,
                     const char *msg, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    vlog(l, file, line, true, errnum, msg, fields, ap);
    va_end(ap);
}

void log_startup_error(const char *file, int line, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char plain[1100];
    int n = snprintf(plain, sizeof(plain), "sirtbot: %s\n", text);
    if (n > 0)
        write_all(plain, (size_t)n < sizeof(plain) ? (size_t)n : sizeof(plain) - 1);
    log_write(LOG_LVL_ERROR, file, line, "start-up failed", "error:s", text);
}
