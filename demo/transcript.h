/* transcript: turns what the local fakes recorded (Slack Web API calls,
 * PagerDuty events, GitLab requests) into short lines a person reads: who
 * sees each message, where it went, and its text with the Block Kit
 * rendered as plain text and user/channel ids replaced by names.  A
 * transcript keeps one cursor per fake; tr_flush() prints everything new
 * since the last flush, merged in arrival order.  It borrows the fx, the
 * cast and the FILE; nothing it prints is kept. */
#ifndef SIRT_DEMO_TRANSCRIPT_H
#define SIRT_DEMO_TRANSCRIPT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../tests/harness.h"

/* One person of the drill: Slack id, name, role, and GitLab id/username
 * (0/NULL when they have none). */
struct tr_person {
    const char *id;
    const char *name;
    const char *role;
    const char *tz;
    int gitlab_id;
    const char *gitlab_user;
};

/* A pre-existing channel: id, name, what it is. */
struct tr_channel {
    const char *id;
    const char *name;
    const char *what;
};

/* How many messages each person got, by kind (tr_tally). */
struct tr_seen {
    int dms, ephemeral, forms, pages;
};

struct transcript {
    FILE *out;
    struct fx *fx;
    const struct tr_person *people;
    size_t n_people;
    const struct tr_channel *channels;
    size_t n_channels;
    const char *oncall;           /* Slack id of the PagerDuty on-call (pages go to them) */
    const char *actor;            /* Slack id of whoever acted last: response_url replies go to them */
    int64_t clock_ms;             /* the bot's wall clock as last set */
    uint64_t clock_set_us;        /* CLOCK_MONOTONIC µs when it was set */
    size_t slack_seen, pd_seen, gitlab_seen;
    int steps;
    int max_lines;                /* of one message's text; the rest is summarised (default 16) */
    struct tr_seen *seen;         /* n_people entries */
};

void tr_init(struct transcript *t, FILE *out, struct fx *fx, const struct tr_person *people, size_t n_people,
             const struct tr_channel *channels, size_t n_channels);
void tr_finish(struct transcript *t);
/* Sets the bot's clock (fx_set_clock) and remembers it for the headers. */
void tr_set_clock(struct transcript *t, int64_t epoch_ms);
/* The bot's wall clock now, as the drill set it. */
int64_t tr_now_ms(const struct transcript *t);
/* A numbered step header with the time (UTC and the zones of the people
 * named by ids, a NULL-terminated list, may be NULL). */
void tr_step(struct transcript *t, const char *const *zones_of, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line of narration: what a person does. */
void tr_say(struct transcript *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reply to a slash command (its ack), seen only by the one who typed it. */
void tr_ack_reply(struct transcript *t, const char *user, const char *text);
/* Prints every new record of the fakes since the last flush. */
void tr_flush(struct transcript *t);
/* The closing tally: per person, what reached them and the channels they are in. */
void tr_tally(struct transcript *t, const char *incident_channel);

#endif
