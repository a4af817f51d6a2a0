/* check: what `sirtbot --check-config` verifies, and the placeholder ids of
 * sirt.example.json that the bot refuses at start as well.  The checks use
 * blocking HTTP (curl easy) and run instead of the bot, never beside its
 * loop; every string they print is their own. */
#ifndef SIRT_CHECK_H
#define SIRT_CHECK_H

#include <stddef.h>

struct cfg;

/* True for an id copied from sirt.example.json unchanged (it contains
 * "EXAMPLE", which no Slack or PagerDuty id does). */
int check_is_placeholder(const char *id);

/* Calls fn for each configured id that is a placeholder, with the config
 * key ("sirt_team[1]") and the value; returns how many there were. */
typedef void (*check_placeholder_fn)(void *ud, const char *key, const char *value);
size_t check_placeholders(const struct cfg *c, check_placeholder_fn fn, void *ud);

/* The pointer every placeholder message carries. */
#define CHECK_IDS_DOC "docs/slack-ids.md"

/* `sirtbot --check-config`: prints one line per finding ("ok", "note",
 * "problem") on stdout and returns 0 only when there is no problem. */
int check_config_main(void);

#endif
