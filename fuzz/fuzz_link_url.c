/* fuzz_link_url: link_parse_url (handlers/link.c), which reads the URLs
 * people give `/sirt link` and the report form's Issue link.  Input text:
 * "<GITLAB_URL>\n<url>".  Checks, for an issue: the path and canonical URL
 * fit their buffers, the canonical URL starts with GITLAB_URL and parses
 * back to the same path and iid.  Owns nothing across inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"
#include "../handlers/handlers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = xstrndup((const char *)data, size);
    char *nl = strchr(text, '\n');
    const char *base = nl ? text : "https://gitlab.example.com";
    const char *url = nl ? nl + 1 : text;
    if (nl)
        *nl = '\0';
    char path[256], canon[512], path2[256], canon2[512];
    int64_t iid = 0, iid2 = 0;
    int k = link_parse_url(base, url, path, sizeof(path), &iid, canon, sizeof(canon));
    if (k == LINK_URL_ISSUE) {
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
            bl--;
        if (iid <= 0 || !path[0] || strlen(path) >= sizeof(path) || strncmp(canon, base, bl) != 0)
            abort();
        if (link_parse_url(base, canon, path2, sizeof(path2), &iid2, canon2, sizeof(canon2)) != LINK_URL_ISSUE ||
            strcmp(path, path2) != 0 || iid != iid2 || strcmp(canon, canon2) != 0)
            abort();
    } else if (k != LINK_URL_NOT_GITLAB && k != LINK_URL_NOT_ISSUE) {
        abort();
    }
    free(text);
    return 0;
}
