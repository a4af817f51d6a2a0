/* drill: the `make demo` scenario — one S1 incident played from the
 * report to the Monday review by the real bot/sirtbot against the local
 * fakes of Slack, PagerDuty and GitLab (libfakes.a), on the settable clock.
 * The transcript goes to out; err gets why the drill stopped, if it did. */
#ifndef SIRT_DEMO_DRILL_H
#define SIRT_DEMO_DRILL_H

#include <stdio.h>

/* The secret the reporter pastes in the reproduction steps: the transcript
 * shows it once, in what she typed, and masked everywhere the bot repeats it. */
#define DRILL_SECRET "glpat-Rk7Vq2Lm9Xw4Tz8Np3Hs"

/* Runs the drill (bot binary: $SIRTBOT_BIN, default bot/sirtbot).  0 when
 * every step happened, else 1 (err says which step did not). */
int drill_run(FILE *out, FILE *err);

#endif
