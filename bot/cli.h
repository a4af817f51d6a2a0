/* cli: sirtbot's command line besides running the bot — --help, --version,
 * --check-config (bot/check.c) and `backup FILE`.  Each mode runs on its
 * own, before (and instead of) the event loop, and returns the process's
 * exit code; nothing here outlives the call. */
#ifndef SIRT_CLI_H
#define SIRT_CLI_H

/* Runs the mode argv names.  Returns the exit code: 0 success, 1 failure,
 * 2 a usage error.  Only called with argc > 1. */
int cli_main(int argc, char **argv);

/* `sirtbot backup FILE`: an online, consistent copy of the SQLite database
 * `db` (SQLite's backup API; the bot may be running) into FILE, which must
 * not exist yet; the copy is checked (quick_check) before it is renamed into
 * place.  A PostgreSQL SIRT_DB is not copied: the message points to
 * pg_dump.  Messages go to stderr, one line each. */
int cli_backup(const char *db, const char *file);

#endif
