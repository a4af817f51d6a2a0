/* test_util: small helpers the unit tests share (declared in test.h):
 * reading a whole file, finding a file (or each file of a directory) of the
 * repository from the tests' own path, and catching what is written to stderr in a temp file.  What
 * they return is malloc'd and the caller's to free; they fail the test on
 * error where test.h says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bot/util.h"
#include "test.h"

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return buf_take(&b);
}

void test_repo_path(const char *rel, char *out, size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    struct stat st;
    if (slash) {
        *slash = '\0';
        if (snprintf(out, n, "%s/../%s", dir, rel) < (int)n && stat(out, &st) == 0)
            return;
    }
    snprintf(out, n, "%s", rel);
}

char *test_repo_file(const char *rel)
{
    char path[1024];
    test_repo_path(rel, path, sizeof(path));
    char *s = test_read_file(path, NULL);
    if (!s)
        TEST_FAIL("cannot read %s", path);
    return s;
}

int test_repo_each(const char *dirrel, const char *suffix, void (*fn)(const char *rel, const char *name, void *ud),
                   void *ud)
{
    char dir[1024];
    test_repo_path(dirrel, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (!d)
        TEST_FAIL("cannot open %s", dir);
    size_t sl = strlen(suffix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        char rel[1024];
        snprintf(rel, sizeof(rel), "%s/%s", dirrel, e->d_name);
        fn(rel, e->d_name, ud);
        n++;
    }
    closedir(d);
    return n;
}

void test_capture_start(struct test_capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/sirt-stderr-XXXXXX");
    int fd = mkstemp(c->path);
    ASSERT(fd >= 0);
    fflush(stderr);
    c->saved_fd = dup(STDERR_FILENO);
    ASSERT(c->saved_fd >= 0);
    ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
}

char *test_capture_end(struct test_capture *c)
{
    fflush(stderr);
    ASSERT(dup2(c->saved_fd, STDERR_FILENO) == STDERR_FILENO);
    close(c->saved_fd);
    c->saved_fd = -1;
    char *s = test_read_file(c->path, NULL);
    ASSERT_NOT_NULL(s);
    unlink(c->path);
    return s;
}
