/* cli: the command-line modes (see cli.h).  Plain blocking code: it runs
 * instead of the bot, never beside its loop.  The help text is the one
 * place that lists the modes; README "Command line" and docs/operations.md mirror it. */
#include "cli.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "db.h"
#include "util.h"
#include "version.h"

static const char usage_text[] =
    "usage: sirtbot                   run the bot (configured by the environment)\n"
    "       sirtbot --check-config    check the environment and SIRT_CONFIG, and with the\n"
    "                                 tokens set, the users, channels, PagerDuty schedule\n"
    "                                 and GitLab namespace they name; exit 0 when all is well\n"
    "       sirtbot backup FILE       online copy of the SQLite database (SIRT_DB) into FILE\n"
    "       sirtbot --version\n"
    "       sirtbot --help\n";

static const char env_text[] =
    "\n"
    "environment (docs/configuration.md):\n"
    "  SLACK_APP_TOKEN (xapp-...), SLACK_BOT_TOKEN (xoxb-...)   required\n"
    "  SIRT_CONFIG   team config, JSON (default sirt.json)\n"
    "  SIRT_DB       SQLite file (default sirt.db) or postgres://... for replicas\n"
    "  SIRT_HTTP     host:port for /livez /readyz /healthz /metrics\n"
    "  SIRT_LOG      debug|info|warn|error (default info)\n"
    "  PAGERDUTY_ROUTING_KEY, PAGERDUTY_ESCALATION_ROUTING_KEY, PAGERDUTY_API_TOKEN,\n"
    "  GITLAB_URL, GITLAB_TOKEN, SLACK_API_URL, PAGERDUTY_EVENTS_URL, PAGERDUTY_API_URL\n"
    "\n"
    "signals: SIGTERM/SIGINT stop cleanly; SIGHUP re-reads SIRT_CONFIG.\n";

int cli_main(int argc, char **argv)
{
    const char *a = argv[1];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
        fputs(usage_text, stdout);
        fputs(env_text, stdout);
        return argc == 2 ? 0 : 2;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        if (argc != 2) {
            fputs(usage_text, stderr);
            return 2;
        }
        printf("sirtbot %s\n", SIRT_VERSION);
        return 0;
    }
    if (strcmp(a, "--check-config") == 0) {
        if (argc != 2) {
            fputs(usage_text, stderr);
            return 2;
        }
        return check_config_main();
    }
    if (strcmp(a, "backup") == 0) {
        if (argc != 3 || !argv[2][0]) {
            fprintf(stderr, "sirtbot backup: name the file to write, e.g. sirtbot backup /var/backups/sirt-%s.db\n",
                    "$(date +%F)");
            return 2;
        }
        const char *db = getenv("SIRT_DB");
        return cli_backup(db && db[0] ? db : CFG_DEFAULT_DB, argv[2]);
    }
    fprintf(stderr, "sirtbot: unknown argument \"%s\"\n", a);
    fputs(usage_text, stderr);
    return 2;
}

/* ---- backup ---- */

static int backup_fail(sqlite3 *src, sqlite3 *dst, const char *tmp, const char *what, const char *detail)
{
    fprintf(stderr, "sirtbot backup: %s: %s\n", what, detail);
    if (dst)
        sqlite3_close(dst);
    if (src)
        sqlite3_close(src);
    if (tmp)
        unlink(tmp);
    return 1;
}

int cli_backup(const char *db, const char *file)
{
    if (db_is_pg_target(db)) {
        fprintf(stderr, "sirtbot backup: SIRT_DB is a PostgreSQL database: back it up with pg_dump, e.g.\n"
                        "  pg_dump --format=custom --file=sirt-$(date +%%F).dump \"$SIRT_DB\"\n"
                        "and restore with pg_restore (docs/replicas.md, \"Backup and restore\").\n");
        return 1;
    }
    struct stat st;
    if (stat(db, &st) != 0) {
        fprintf(stderr, "sirtbot backup: SIRT_DB %s: %s\n", db, strerror(errno));
        return 1;
    }
    if (access(file, F_OK) == 0) {
        fprintf(stderr, "sirtbot backup: %s already exists: name a new file\n", file);
        return 1;
    }
    umask(077);   /* the copy holds incident text: owner-only, like the database */
    size_t tlen = strlen(file) + 16;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.partial", file);
    unlink(tmp);

    /* Read-only, without the bot's single-process lock: the running bot
     * keeps writing; the backup API copies one consistent snapshot and
     * starts over by itself if a write lands between its steps. */
    sqlite3 *src = NULL, *dst = NULL;
    if (sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        int rc = backup_fail(src, NULL, NULL, db, src ? sqlite3_errmsg(src) : "cannot open");
        free(tmp);
        return rc;
    }
    sqlite3_busy_timeout(src, 5000);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        int rc = backup_fail(src, dst, tmp, tmp, dst ? sqlite3_errmsg(dst) : "cannot create");
        free(tmp);
        return rc;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        int rc = backup_fail(src, dst, tmp, "cannot start the copy", sqlite3_errmsg(dst));
        free(tmp);
        return rc;
    }
    /* 256 pages a step, a short pause when the bot holds a lock; bounded:
     * at most ~10 minutes of retries on a database that never frees up. */
    int rc = SQLITE_OK, waits = 0;
    do {
        rc = sqlite3_backup_step(b, 256);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            if (++waits > 60000)
                break;
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    int pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        int r = backup_fail(src, dst, tmp, "copy failed", sqlite3_errstr(rc));
        free(tmp);
        return r;
    }
    sqlite3_close(src);
    src = NULL;

    /* The copy is a plain rollback-journal file (no -wal beside it), checked
     * before it takes its name. */
    sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_stmt *q = NULL;
    const char *verdict = NULL;
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        verdict = (const char *)sqlite3_column_text(q, 0);
    bool good = verdict && strcmp(verdict, "ok") == 0;
    char why[200];
    snprintf(why, sizeof(why), "%s", verdict ? verdict : sqlite3_errmsg(dst));
    sqlite3_finalize(q);
    if (!good) {
        int r = backup_fail(NULL, dst, tmp, "the copy does not pass quick_check", why);
        free(tmp);
        return r;
    }
    if (sqlite3_close(dst) != SQLITE_OK) {
        int r = backup_fail(NULL, NULL, tmp, "cannot close the copy", "");
        free(tmp);
        return r;
    }
    if (rename(tmp, file) != 0) {
        int r = backup_fail(NULL, NULL, tmp, file, strerror(errno));
        free(tmp);
        return r;
    }
    free(tmp);
    fprintf(stderr, "sirtbot backup: %s -> %s (%d pages, checked)\n", db, file, pages);
    return 0;
}
