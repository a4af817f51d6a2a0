/* mask: redacts secrets from free text before the bot stores it or sends it
 * anywhere (store, Slack, GitLab, PagerDuty, logs).  The rules are data: the
 * table mask_rules[] in mask.c names each pattern and the vendor document it
 * comes from; they are PCRE2 patterns (byte mode, JIT), plus the team's
 * `mask.extra_patterns`.  Each secret is replaced by its recognisable prefix
 * (kept text) plus "[MASKED]"; masking masked text again changes nothing.
 *
 * Threads: the built-in rules are compiled and JIT-compiled once (mask_init,
 * or lazily on first use, under pthread_once) and are read-only afterwards.
 * Every call allocates its own match data, so mask_secrets(), mask_count()
 * and mask_pattern_check() may run on any number of threads at once.
 * mask_set_extra() may be called from any thread too: the extra rules sit
 * behind a read-write lock, so a swap waits for calls in progress. */
#ifndef SIRT_MASK_H
#define SIRT_MASK_H

#include <stddef.h>

#define MASK_MARKER "[MASKED]"

/* Compiles the built-in rules (idempotent; aborts if one of them does not
 * compile, which is a bug caught by the unit tests). */
void mask_init(void);

/* Returns a new string (caller frees) with secrets masked. mask_secrets(NULL) == NULL. */
char *mask_secrets(const char *in);
/* Number of secrets mask_secrets() would mask in `in` (overlapping matches
 * count once). */
size_t mask_count(const char *in);

/* Masks *s in place: *s is replaced by mask_secrets(*s) and the old string
 * freed.  A NULL *s stays NULL. */
void mask_replace(char **s);
/* For names built from user text (channel names): the masked text with
 * every word that held a secret dropped, the kept prefix and the marker
 * included, so no piece of a secret survives.  Caller frees. */
char *mask_strip(const char *in);

/* Replaces the extra rules with `patterns` (n of them; n == 0 clears them).
 * All or nothing: returns NULL on success, or an error string (caller frees)
 * naming the pattern's index and the PCRE2 error, and keeps the old rules.
 * A pattern with a group named "s" masks only that group; otherwise the
 * whole match is replaced by "[MASKED]". */
char *mask_set_extra(const char *const *patterns, size_t n);
/* Checks that one pattern compiles: NULL, or an error string (caller frees)
 * like "missing closing parenthesis at offset 2". */
char *mask_pattern_check(const char *pattern);

/* Rule table introspection (tests, docs, --help): number of built-in
 * rules, and the name / source document of rule i (NULL past the end). */
size_t mask_rule_count(void);
const char *mask_rule_name(size_t i);
const char *mask_rule_source(size_t i);

#endif
