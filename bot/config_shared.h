/* config_shared: what the files of the config share (cfg__ prefix) —
 * limits, the one-line error writer, the quoting of user values in
 * messages and the small validators (config.c), loading the environment
 * (config_env.c) and the team record's lifecycle (config_team.c).  Not for
 * use outside bot/config*.c. */
#ifndef SIRT_CONFIG_SHARED_H
#define SIRT_CONFIG_SHARED_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;

#define DEFAULT_CONFIG_PATH "sirt.json"
#define CONFIG_MAX_BYTES (1024 * 1024)
#define ZONE_MAX 255
#define PATH_MAX_LEN 256
#define SHOW_MAX 64
#define CFG_FIELD(f) offsetof(struct cfg, f)   /* a field of the tables' record */

/* ---- config.c ---- */

/* printf into err (when err and errlen). */
void cfg__set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A user-supplied value made safe to quote in a one-line message:
 * printable ASCII only, quotes and backslashes escaped, cut at SHOW_MAX.
 * Returns out. */
const char *cfg__show(const char *s, char out[SHOW_MAX + 8]);
/* Every byte of s passes ok. */
bool cfg__all_chars(const char *s, bool (*ok)(unsigned char));
/* Character classes for cfg__all_chars. */
bool cfg__alnum(unsigned char c);
bool cfg__component_char(unsigned char c);
bool cfg__gitlab_user_char(unsigned char c);
bool cfg__printable_nonspace(unsigned char c);
/* A Slack id: 3..32 upper-case letters and digits, the first one of first. */
bool cfg__slack_id(const char *s, const char *first);

/* ---- config_env.c ---- */

/* Fills c's environment fields from env, by the environment table.  0, or
 * -1 with the message in err. */
int cfg__load_env(struct cfg *c, const char *(*env)(const char *name), char *err, size_t errlen);

/* ---- config_team.c ---- */

/* The team record's fields: freed (cfg__team_finish), zeroed, or set to
 * their defaults (zeroed first). */
void cfg__team_finish(struct cfg *c);
void cfg__team_zero(struct cfg *c);
void cfg__team_defaults(struct cfg *c);

#endif
