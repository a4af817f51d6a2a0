/* pg_test: PostgreSQL for TEST_PG tests.  The runner starts one throwaway
 * server for the whole run (tests/pg/pg-server.sh) and exports its URI as
 * SIRT_TEST_PG_URI; each test takes a database of its own from it, so tests
 * running in parallel share no state.  Blocking libpq calls are fine here:
 * tests, not the bot. */
#ifndef SIRT_PG_TEST_H
#define SIRT_PG_TEST_H

/* Drops and creates the empty database "t_<name>_<pid>" (name lowercased,
 * characters outside [a-z0-9_] made '_', cut to fit 63 bytes) on the test
 * server and returns a libpq URI for it (caller frees), e.g.
 * "postgresql:///t_x_123?host=/tmp/sirtpg.ab12cd&port=5432&user=sirt".
 * Fails the test (does not skip) when there is no server: SIRT_TEST_PG_URI
 * unset, SIRT_TEST_PG_ERROR set, or the server unreachable. */
char *pg_test_fresh_db(const char *name);

#endif
