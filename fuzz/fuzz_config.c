/* fuzz_config: the team config loader (cfg_parse_team) on arbitrary JSON
 * text, then the lookups the bot makes on a config that loaded.  Zone names
 * are checked against the real zoneinfo directory (one open() per zone key).
 * Owns nothing across inputs; every config is finished before returning. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[512];
    if (cfg_parse_team(&c, "fuzz.json", (const char *)data, size, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < c.n_components; i++)
            (void)cfg_component(&c, c.components[i].name);
        for (size_t i = 0; i < c.n_appsec; i++)
            (void)cfg_appsec_user(&c, c.appsec[i].user);
        for (size_t i = 0; i < c.sirt_team.n; i++)
            (void)cfg_strv_has(&c.sirt_team, c.sirt_team.v[i]);
    } else {
        /* The message is one line and never cut mid-way without a NUL. */
        if (memchr(err, '\0', sizeof(err)) == NULL || strchr(err, '\n'))
            __builtin_trap();
    }
    cfg_finish(&c);
    return 0;
}
