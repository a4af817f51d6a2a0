/* test_health: the readiness and liveness rules of bot/health.c (included,
 * to reach its heartbeat state).  The end-to-end behaviour over HTTP is in
 * test_e2e_health.c. */
#include "../bot/health.c"

#include "test.h"

TEST(health_ready_needs_slack_and_store)
{
    char why[160];
    /* Nothing yet: no socket, store not open. */
    ASSERT(!health_ready(why, sizeof(why)));
    ASSERT_STR_EQ(why, "slack: idle; store: not open");
    health_set_store_ok(true, NULL);
    ASSERT(!health_ready(why, sizeof(why)));
    ASSERT_STR_EQ(why, "slack: idle");
    health_set_store_ok(false, "database unreachable");
    ASSERT(!health_ready(why, sizeof(why)));
    ASSERT_STR_EQ(why, "slack: idle; store: database unreachable");
    health_set_store_ok(false, NULL);
    ASSERT(!health_ready(why, sizeof(why)));
    ASSERT_STR_EQ(why, "slack: idle; store: failing");
}

TEST(health_live_follows_the_heartbeat)
{
    char why[96];
    /* Without SIRT_HTTP's heartbeat there is nothing to judge: live. */
    ASSERT(health_live(5000000, why, sizeof(why)));
    ASSERT_STR_EQ(why, "ok");
    /* A heartbeat that stops ticking: live up to HEALTH_STALL_MS, then not. */
    beat_started = true;
    last_beat_ms = 1000000;
    ASSERT(health_live(1000000 + HEALTH_STALL_MS, why, sizeof(why)));
    ASSERT(!health_live(1000000 + HEALTH_STALL_MS + 1, why, sizeof(why)));
    ASSERT_STR_EQ(why, "loop stalled: no heartbeat for 10001 ms");
    /* Readiness does not depend on the heartbeat, nor liveness on Slack. */
    on_beat(NULL);
    ASSERT(health_live(hr_ms(), why, sizeof(why)));
    beat_started = false;
}
