/* util: allocation wrappers that abort on out-of-memory, a capped growable
 * byte buffer, and container_of.  A long-running daemon cannot recover from
 * OOM, so x*alloc never return NULL.  struct buf owns its bytes: buf_finish()
 * frees them; buf_take() hands them to the caller (free() them). */
#ifndef SIRT_UTIL_H
#define SIRT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct cJSON;
/* The string member key of object o, or NULL (o NULL, key absent, or not a
 * string).  Borrowed from o. */
const char *util_jstr(const struct cJSON *o, const char *key);
/* Like util_jstr, but NULL for an empty string too. */
const char *util_jstr_set(const struct cJSON *o, const char *key);

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);           /* xstrdup(NULL) == NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Growable buffer, always NUL-terminated when data != NULL.  `cap` is the
 * hard limit on len (0 = unlimited); an append past it fails and sets
 * toobig, so input from the network can never grow it without bound. */
struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
    bool toobig;
};

void buf_init(struct buf *b, size_t cap);
void buf_finish(struct buf *b);
void buf_reset(struct buf *b);                    /* len = 0, keeps memory */
int buf_append(struct buf *b, const void *p, size_t n); /* 0 or -E2BIG */
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
int buf_json_str(struct buf *b, const char *s);
char *buf_take(struct buf *b);                    /* caller frees; b is reset */

/* Bounded string copy that always terminates; returns strlen(src). */
size_t str_lcpy(char *dst, const char *src, size_t size);
/* Length of the longest prefix of s of at most max bytes that does not end
 * inside a UTF-8 sequence (for cutting text that goes to Slack or GitLab). */
size_t str_utf8_prefix(const char *s, size_t max);
bool str_starts(const char *s, const char *prefix);

/* Random 64-bit value for jitter (not for secrets). */
uint64_t util_rand64(void);

#endif
