/* config_load: loading the configuration (docs/configuration.md) — the
 * environment (config_env.c) and the team config file (config_team.c) read
 * into struct cfg, the team file re-read on SIGHUP, and the record freed.
 * Every string in struct cfg is owned by it and freed by cfg_finish().
 * Error messages never contain a secret: token variables are named, never
 * quoted. */
#include "config.h"
#include "config_shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "util.h"

/* Reads a whole file (capped).  Returns 0, or -errno / -EFBIG. */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    if (st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size + 1;
    char *data = xmalloc(cap);
    size_t n = 0;
    for (int tries = 0; n < cap - 1 && tries < 1000; tries++) {
        ssize_t r = read(fd, data + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(data);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}

/* Reads and parses the team file at path into c's team fields.  Returns 0,
 * -ENOENT when the file does not exist (nothing said yet), or -1 with the
 * message in err. */
static int read_team(struct cfg *c, const char *path, bool path_from_env, char *err, size_t errlen)
{
    char *json = NULL;
    size_t len = 0;
    int rc = read_file(path, &json, &len);
    if (rc == -ENOENT && !path_from_env)
        return -ENOENT;
    if (rc == -EFBIG) {
        cfg__set_err(err, errlen, "%s: team config is larger than %d bytes", path, CONFIG_MAX_BYTES);
        return -1;
    }
    if (rc < 0) {
        cfg__set_err(err, errlen, "%s: cannot read team config: %s%s", path, strerror(-rc),
                path_from_env ? " (check SIRT_CONFIG)" : "");
        return -1;
    }
    rc = cfg_parse_team(c, path, json, len, err, errlen);
    free(json);
    return rc;
}

static int load_team(struct cfg *c, bool path_from_env, char *err, size_t errlen)
{
    int rc = read_team(c, c->config_path, path_from_env, err, errlen);
    if (rc == -ENOENT) {
        c->config_present = false;
        cfg__team_defaults(c);
        return 0;
    }
    if (rc == 0)
        c->config_present = true;
    return rc;
}

int cfg_reload_team(const struct cfg *c, struct cfg *fresh, char *err, size_t errlen)
{
    memset(fresh, 0, sizeof(*fresh));
    if (err && errlen)
        err[0] = '\0';
    if (!c->config_path) {
        cfg__set_err(err, errlen, "no team config path (SIRT_CONFIG)");
        return -1;
    }
    /* A file that vanished is an error here: silently dropping to the
     * built-in defaults would forget the whole team. */
    return read_team(fresh, c->config_path, true, err, errlen) == 0 ? 0 : -1;
}

void cfg_adopt_team(struct cfg *c, struct cfg *fresh)
{
    size_t from = offsetof(struct cfg, timezone);
    cfg__team_finish(c);
    memcpy((char *)c + from, (char *)fresh + from, sizeof(*c) - from);
    cfg__team_zero(fresh);
    c->config_present = true;
}

static const char *real_getenv(const char *name)
{
    return getenv(name);
}

int cfg_load(struct cfg *c, cfg_getenv_fn env, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (err && errlen)
        err[0] = '\0';
    if (!env)
        env = real_getenv;
    c->log_level = LOG_LVL_INFO;
    const char *cp = env("SIRT_CONFIG");
    bool path_from_env = cp && *cp;
    if (cfg__load_env(c, env, err, errlen) < 0 || load_team(c, path_from_env, err, errlen) < 0) {
        cfg_finish(c);
        return -1;
    }
    return 0;
}

void cfg_finish(struct cfg *c)
{
    if (!c)
        return;
    free(c->slack_app_token);
    free(c->slack_bot_token);
    free(c->slack_api_url);
    free(c->pagerduty_routing_key);
    free(c->pagerduty_events_url);
    free(c->pagerduty_api_token);
    free(c->pagerduty_api_url);
    free(c->pagerduty_escalation_routing_key);
    free(c->gitlab_url);
    free(c->gitlab_token);
    free(c->clock_file);
    free(c->config_path);
    free(c->db);
    free(c->http_host);
    cfg__team_finish(c);
    memset(c, 0, sizeof(*c));
}
