/* fuzz_config: the team config loader (cfg_parse_team) on arbitrary JSON
 * text, then the lookups the bot makes on a config that loaded.  Zone names
 * are checked against the real zoneinfo directory (one open() per zone key).
 * A config that loads is then adopted by a running one (the SIGHUP path).
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
        /* As a SIGHUP reload: adopted by a running config with a team. */
        static const char base[] = "{\"sirt_team\":[\"U0SIRT001\"],\"components\":[{\"name\":\"gitaly\"}]}";
        struct cfg running;
        memset(&running, 0, sizeof(running));
        if (cfg_parse_team(&running, "base.json", base, sizeof(base) - 1, err, sizeof(err)) != 0)
            __builtin_trap();
        size_t n = c.n_appsec;
        cfg_adopt_team(&running, &c);
        if (running.n_appsec != n || c.n_appsec != 0 || c.appsec != NULL)
            __builtin_trap();
        cfg_finish(&running);
    } else {
        /* The message is one line and never cut mid-way without a NUL. */
        if (memchr(err, '\0', sizeof(err)) == NULL || strchr(err, '\n'))
            __builtin_trap();
    }
    cfg_finish(&c);
    return 0;
}
