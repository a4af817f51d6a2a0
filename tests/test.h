/* test: the single test registry and the assertion macros.  TEST(name)
 * defines a test and registers it (constructor) in the one table the runner
 * (tests/runner.c) walks.  Each test runs in its own forked process with a
 * timeout; an assertion failure prints both sides with file:line and exits
 * the child with status 1.  Runner usage: run_tests [-l] [substring...];
 * TEST_JOBS=n tests at a time (tests/runner.c). */
#ifndef SIRT_TEST_H
#define SIRT_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);

struct test_entry {
    const char *name;
    test_fn fn;
    int timeout_s;
    bool needs_pg;     /* TEST_PG: the runner starts the PostgreSQL test server */
    bool serial;       /* TEST_SERIAL: runs alone, after the others */
    double last_s;     /* its time in the previous run (runner), 0 = unknown */
};

void test_register(const char *name, test_fn fn, int timeout_s);
void test_register_pg(const char *name, test_fn fn, int timeout_s);
void test_register_serial(const char *name, test_fn fn, int timeout_s, bool needs_pg);

#define TEST_T(name, timeout_s) \
    static void test_##name(void); \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register(#name, test_##name, timeout_s); } \
    static void test_##name(void)
#define TEST(name) TEST_T(name, 30)
/* A test that needs PostgreSQL: when one is selected the runner starts one
 * throwaway server (tests/pg/pg-server.sh) and exports its URI as
 * SIRT_TEST_PG_URI; get a database of your own with pg_test_fresh_db()
 * (tests/pg_test.h).  If the server could not start the test still runs and
 * fails there, with the reason. */
#define TEST_PG_T(name, timeout_s) \
    static void test_##name(void); \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register_pg(#name, test_##name, timeout_s); } \
    static void test_##name(void)
#define TEST_PG(name) TEST_PG_T(name, 60)
/* A test that must not share the machine with other tests (it measures
 * time, or it is heavy enough to starve them): the runner runs it alone,
 * after the others.  Prefer fixing a race to marking a test serial. */
#define TEST_SERIAL_T(name, timeout_s) \
    static void test_##name(void); \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register_serial(#name, test_##name, timeout_s, false); } \
    static void test_##name(void)
#define TEST_SERIAL_PG_T(name, timeout_s) \
    static void test_##name(void); \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register_serial(#name, test_##name, timeout_s, true); } \
    static void test_##name(void)

/* ---- shared helpers (tests/test_util.c) ---- */

/* The whole file, NUL-terminated, its length in *len when len is not NULL;
 * NULL when it cannot be opened.  Caller frees. */
char *test_read_file(const char *path, size_t *len);
/* rel from the repository root: found from this tree's own path, else rel
 * as is (from the working directory). */
void test_repo_path(const char *rel, char *out, size_t n);
/* test_read_file of test_repo_path(rel); fails the test when it cannot be
 * read.  Caller frees. */
char *test_repo_file(const char *rel);
/* fn(rel, name, ud) for each file of the repository's directory dirrel whose
 * name ends in suffix (longer than it), rel being "dirrel/name", in readdir
 * order; fails the test when the directory cannot be read.  How many. */
int test_repo_each(const char *dirrel, const char *suffix, void (*fn)(const char *rel, const char *name, void *ud),
                   void *ud);

/* Points fd 2 at a fresh temp file until test_capture_end, which restores
 * it, removes the file and returns what was written (caller frees). */
struct test_capture {
    char path[64];
    int saved_fd;
};
void test_capture_start(struct test_capture *c);
char *test_capture_end(struct test_capture *c);

#define TEST_FAIL(...) do { \
    fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

#define ASSERT(c) do { if (!(c)) TEST_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) TEST_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_NE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) TEST_FAIL("%s != %s: both %lld", #a, #b, _a); } while (0)
#define ASSERT_GE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (!(_a >= _b)) TEST_FAIL("%s >= %s: %lld < %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_LE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (!(_a <= _b)) TEST_FAIL("%s <= %s: %lld > %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_STR_EQ(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b) != 0) TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, \
        _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define ASSERT_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    if (!_h || !strstr(_h, _n)) TEST_FAIL("%s contains \"%s\": got \"%s\"", #hay, _n, \
        _h ? _h : "(null)"); } while (0)
#define ASSERT_NOT_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    if (_h && strstr(_h, _n)) TEST_FAIL("%s must not contain \"%s\": got \"%s\"", #hay, _n, _h); } while (0)
/* s is one non-empty line (no CR, no LF): an error message as we print them. */
#define ASSERT_ONE_LINE(s) do { const char *_s = (s); \
    if (!_s || !_s[0] || strchr(_s, '\n') || strchr(_s, '\r')) TEST_FAIL("%s is not one line: \"%s\"", #s, \
        _s ? _s : "(null)"); } while (0)
#define ASSERT_NULL(p) do { if ((p) != NULL) TEST_FAIL("%s is not NULL", #p); } while (0)
#define ASSERT_NOT_NULL(p) do { if ((p) == NULL) TEST_FAIL("%s is NULL", #p); } while (0)

#endif
