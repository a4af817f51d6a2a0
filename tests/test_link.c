/* Unit tests of handlers/link.c: which URLs name an issue on GITLAB_URL
 * (both URL forms, subgroups, a base with a path, query and fragment
 * ignored) and which are refused, and the project path, iid and canonical
 * URL taken from them. */
#include <stdint.h>
#include <string.h>

#include "../handlers/handlers.h"
#include "test.h"

static int parse(const char *base, const char *url, char *path, int64_t *iid, char *canon)
{
    return link_parse_url(base, url, path, 256, iid, canon, 512);
}

TEST(link_parse_url_issue_forms)
{
    char path[256], canon[512];
    int64_t iid = 0;
    ASSERT_EQ(parse("https://gitlab.example.com", "https://gitlab.example.com/h1/reports/-/issues/42", path, &iid,
                    canon), LINK_URL_ISSUE);
    ASSERT_STR_EQ(path, "h1/reports");
    ASSERT_EQ(iid, 42);
    ASSERT_STR_EQ(canon, "https://gitlab.example.com/h1/reports/-/issues/42");
    /* the older form, subgroups, trailing slash, fragment and query, host case, base with '/' */
    ASSERT_EQ(parse("https://gitlab.example.com/", "https://GitLab.example.com/a/b.c/d_e/issues/7/?x=1#note_9", path,
                    &iid, canon), LINK_URL_ISSUE);
    ASSERT_STR_EQ(path, "a/b.c/d_e");
    ASSERT_EQ(iid, 7);
    ASSERT_STR_EQ(canon, "https://gitlab.example.com/a/b.c/d_e/-/issues/7");
    /* GitLab under a path */
    ASSERT_EQ(parse("http://127.0.0.1:8080/gitlab", "http://127.0.0.1:8080/gitlab/g/p/-/issues/1", path, &iid,
                    canon), LINK_URL_ISSUE);
    ASSERT_STR_EQ(path, "g/p");
    /* a project named "issues" is still a project */
    ASSERT_EQ(parse("https://gl.io", "https://gl.io/g/issues/-/issues/3", path, &iid, canon), LINK_URL_ISSUE);
    ASSERT_STR_EQ(path, "g/issues");
}

TEST(link_parse_url_refusals)
{
    char path[256], canon[512];
    int64_t iid = 0;
    const char *base = "https://gitlab.example.com";
    /* not on GITLAB_URL */
    ASSERT_EQ(parse(base, "https://github.com/a/b/issues/1", path, &iid, canon), LINK_URL_NOT_GITLAB);
    ASSERT_EQ(parse(base, "https://gitlab.example.com.evil.io/a/b/-/issues/1", path, &iid, canon), LINK_URL_NOT_GITLAB);
    ASSERT_EQ(parse(base, "http://gitlab.example.com/a/b/-/issues/1", path, &iid, canon), LINK_URL_NOT_GITLAB);
    ASSERT_EQ(parse(base, "https://gitlab.example.comx/a/b/-/issues/1", path, &iid, canon), LINK_URL_NOT_GITLAB);
    ASSERT_EQ(parse(NULL, "https://gitlab.example.com/a/b/-/issues/1", path, &iid, canon), LINK_URL_NOT_GITLAB);
    /* on it, but no issue */
    const char *bad[] = {
        "https://gitlab.example.com/a/b/-/merge_requests/1",
        "https://gitlab.example.com/a/b/-/issues",
        "https://gitlab.example.com/a/b/-/issues/0",
        "https://gitlab.example.com/a/b/-/issues/01",
        "https://gitlab.example.com/a/b/-/issues/12x",
        "https://gitlab.example.com/a/b/-/issues/99999999999",
        "https://gitlab.example.com/b/-/issues/1",            /* no namespace */
        "https://gitlab.example.com/a/../b/-/issues/1",
        "https://gitlab.example.com/a//b/-/issues/1",
        "https://gitlab.example.com/a/b c/-/issues/1",
        "https://gitlab.example.com/a/%2e/-/issues/1",
        "https://gitlab.example.com/a/-b/-/issues/1",
        "https://gitlab.example.com/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(base, bad[i], path, &iid, canon) != LINK_URL_NOT_ISSUE)
            TEST_FAIL("%s taken as an issue", bad[i]);
    /* the path does not fit the caller's buffer */
    ASSERT_EQ(link_parse_url(base, "https://gitlab.example.com/group/project/-/issues/1", path, 8, &iid, canon, 512),
              LINK_URL_NOT_ISSUE);
}
