/* test_effect_ops: the one op table (ops[] in bot/effects.c): every op has an
 * entry point, a description for failure notices and a retry class, names
 * are unique and the table is alphabetical; lookups by name find each op
 * and nothing else. */
#include <string.h>

#include "../bot/effects.h"
#include "test.h"

TEST(eff_ops_table_complete)
{
    size_t n = 0;
    for (const struct effect_op *e; (e = effect_op_at(n)) != NULL; n++) {
        ASSERT(e->name != NULL && e->name[0] != '\0');
        ASSERT(strchr(e->name, '.') != NULL);         /* "<service>.<verb>" */
        ASSERT(e->start != NULL);
        ASSERT(e->what != NULL && e->what[0] != '\0');
        ASSERT(e->retry == EFFECT_CLASS_DEFAULT || e->retry == EFFECT_CLASS_PAGE);
        ASSERT(e->ttl_ms >= 0);
        ASSERT(effect_op_find(e->name) == e);
        ASSERT(effect_known(e->name));
        for (size_t k = 0; k < n; k++) {
            const struct effect_op *o = effect_op_at(k);
            ASSERT(strcmp(o->name, e->name) < 0);       /* unique, alphabetical */
            ASSERT(o->start != e->start);                /* one entry point per op */
        }
    }
    ASSERT(n > 0);
    ASSERT_NULL(effect_op_at(n));
    ASSERT_NULL(effect_op_find("slack.nope"));
    ASSERT_NULL(effect_op_find("slack"));
    ASSERT_NULL(effect_op_find(NULL));
    ASSERT(!effect_known(NULL));
}

TEST(eff_ops_table_rules)
{
    /* The rules the outbox reads from the table, stated once more here. */
    ASSERT_EQ(effect_retry_class("pd.trigger"), EFFECT_CLASS_PAGE);
    ASSERT_EQ(effect_retry_class("pd.resolve"), EFFECT_CLASS_DEFAULT);
    ASSERT_EQ(effect_retry_class("nope"), EFFECT_CLASS_DEFAULT);
    const char *quiet[] = { "pd.page_status", "slack.ephemeral", "slack.response_url", "slack.views_open" };
    size_t nq = 0;
    for (size_t i = 0; effect_op_at(i); i++)
        nq += effect_op_at(i)->quiet;
    ASSERT_EQ(nq, sizeof(quiet) / sizeof(quiet[0]));
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
        ASSERT(effect_op_find(quiet[i])->quiet);
    ASSERT(effect_op_find("slack.create_channel")->notice_dm);
    ASSERT(effect_op_find("slack.invite")->notice_dm);
    ASSERT(!effect_op_find("slack.post")->notice_dm);
    ASSERT_EQ(effect_op_find("slack.views_open")->ttl_ms, 2500);
    ASSERT_STR_EQ(effect_op_find("gitlab.create_project")->what, "creating the private GitLab project");
}
