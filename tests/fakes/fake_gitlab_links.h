/* fake_gitlab_links: the issue links of the fake GitLab (GitLab's
 * doc/api/issue_links.md) and the issues its token may not read.  Internal
 * to fake_gitlab.c and fake_gitlab_links.c; tests use fake_gitlab.h.  The
 * state (struct fgl_links) is owned by the fake_gitlab and freed with it;
 * issues are looked up through fake_gitlab.h, so nothing here outlives
 * them. */
#ifndef SIRT_FAKE_GITLAB_LINKS_H
#define SIRT_FAKE_GITLAB_LINKS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "fake_gitlab.h"

struct fgl_links;

struct fgl_links *fgl_links_create(void);
void fgl_links_destroy(struct fgl_links *l);          /* NULL is a no-op */
/* The fake's link state (defined in fake_gitlab.c). */
struct fgl_links *fake_gitlab_links_state(const struct fake_gitlab *g);
/* True when the token may not read issue iid of project pid. */
bool fgl_links_hidden(const struct fgl_links *l, int pid, int iid);
/* Routes under a readable issue with seg[4] == "links" (seg[0..ns) are the
 * canonical path's segments): GET …/links, POST …/links, GET
 * …/links/:issue_link_id.  args: the request's body and query. */
void fgl_links_serve(struct fake_gitlab *g, const cJSON *issue, const char *method, const char *const *seg, int ns,
                     const cJSON *args, struct fake_http_resp *resp);

#endif
