/* mask: redacts secrets from free text before it leaves the bot (Slack,
 * GitLab, PagerDuty, logs).  The original text is kept only in the store.
 * Covered: GitLab tokens (glpat-, gldt-, glrt-, glptt-, glcbt-, gloas-,
 * glsoat-, glffct-, glimt-, glagent-, GR1348941 runner tokens), Slack tokens
 * (xox[abposr]-, xapp-), AWS access key ids (AKIA/ASIA + 16), PEM private key
 * blocks, values of Authorization: and PRIVATE-TOKEN: headers, and
 * password=/secret=/token=/api_key= style pairs (= or :).  Also passwords in
 * URL userinfo (scheme://user:password@host).
 * Each secret is replaced by its recognisable prefix plus "[MASKED]". */
#ifndef SIRT_MASK_H
#define SIRT_MASK_H

#include <stddef.h>

/* Returns a new string (caller frees) with secrets masked. mask_secrets(NULL) == NULL. */
char *mask_secrets(const char *in);
/* Number of secrets mask_secrets() would mask in `in`. */
size_t mask_count(const char *in);

#endif
