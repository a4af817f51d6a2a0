/* txt: text helpers for what users typed and what they read.  Every string
 * returned is the caller's to free unless said otherwise. */
#ifndef SIRT_HANDLERS_TXT_H
#define SIRT_HANDLERS_TXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Masked copy of user text, at most max bytes (UTF-8 safe, "..." when cut),
 * with "{{" defused. */
char *txt_clean(const char *s, size_t max);
/* User text for one line of a message: masked, cut at max bytes, newlines
 * and tabs made spaces, mrkdwn-escaped (backticks too). */
char *txt_line(const char *s, size_t max);
/* strftime of epoch ms in UTC into out[32]; "-" for 0 or less. */
void txt_utc(int64_t ms, const char *fmt, char out[32]);
/* Slack mrkdwn escaping of &, <, > (and ` becomes '). */
char *txt_mrkdwn(const char *s);
/* A Slack user id from "<@U123>", "<@U123|name>" or a bare "U123ABC";
 * false when word is none of them. */
bool txt_user_mention(const char *word, char *out, size_t size);
/* PagerDuty payload.severity for S1..S4: critical, error, warning, info
 * (static). */
const char *txt_pd_severity(int severity);
/* Copy of s without leading/trailing whitespace ("" for NULL). */
char *txt_trim(const char *s);

#endif
