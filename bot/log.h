/* log: JSON lines on stderr: {"ts":..,"level":..,"msg":..,"src":"file:line",<fields>}.
 * The level is checked before anything is built.  Every string field value is
 * passed through mask_secrets() so tokens pasted anywhere never reach the log;
 * still, never pass a token to the logger on purpose.
 *
 * Fields are described by a tiny format: space-separated "name:type" with
 * type one of s (const char *, NULL prints null), d (int), l (long long),
 * u (size_t), f (double), b (bool as int).  Example:
 *     LOG_INFO("socket online", "host:s attempt:d", host, n);
 */
#ifndef SIRT_LOG_H
#define SIRT_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

extern enum log_level log_threshold;

/* Parses "debug"/"info"/"warn"/"error"; returns -1 on anything else. */
int log_level_parse(const char *s);
void log_set_level(enum log_level l);
static inline bool log_enabled(enum log_level l) { return l >= log_threshold; }

void log_write(enum log_level l, const char *file, int line, const char *msg,
               const char *fields, ...);
/* Same, plus "errno" and "error" (strerror) fields for errnum. */
void log_write_errno(enum log_level l, const char *file, int line, int errnum,
                     const char *msg, const char *fields, ...);

/* A start-up error that stops the bot: the plain line "sirtbot: <text>" on
 * stderr for the operator at the terminal, then the same text as a JSON
 * error line ({"level":"error","msg":"start-up failed","error":"<text>"})
 * for log collectors.  Both are written at any SIRT_LOG level. */
void log_startup_error(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define LOG_STARTUP_ERROR(...) log_startup_error(__FILE__, __LINE__, __VA_ARGS__)

#define LOG_AT(lvl, msg, ...) \
    do { if (log_enabled(lvl)) log_write(lvl, __FILE__, __LINE__, msg, __VA_ARGS__); } while (0)
#define LOG_DEBUG(msg, ...) LOG_AT(LOG_LVL_DEBUG, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...)  LOG_AT(LOG_LVL_INFO, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...)  LOG_AT(LOG_LVL_WARN, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) LOG_AT(LOG_LVL_ERROR, msg, __VA_ARGS__)
#define LOG_ERRNO(lvl, err, msg, ...) \
    do { if (log_enabled(lvl)) log_write_errno(lvl, __FILE__, __LINE__, err, msg, __VA_ARGS__); } while (0)

#endif
