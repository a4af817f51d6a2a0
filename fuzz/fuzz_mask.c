/* fuzz_mask: the secret masker (mask_secrets / mask_count) on arbitrary
 * text, cut at its first NUL as C strings are.  Checked besides the
 * sanitizers: an output always comes back, and it never grows beyond a
 * small multiple of the input, and valid UTF-8 stays valid.  Owns nothing
 * across inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/log.h"
#include "../bot/mask.h"
#include "../bot/util.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    mask_init();   /* compiles the rules once; later calls return at once */
    char *in = xstrndup((const char *)data, size);
    char *out = mask_secrets(in);
    (void)mask_count(in);
    if (!out)
        __builtin_trap();
    /* Masking shortens or marks secrets: the output stays within a small
     * multiple of the input (a runaway would show here). */
    if (strlen(out) > 16 * strlen(in) + 64)
        __builtin_trap();
    /* Masked text goes to Slack, GitLab and the store: valid UTF-8 in,
     * valid UTF-8 out (no secret cut in the middle of a character). */
    if (utf8_valid((const unsigned char *)in, strlen(in)) &&
        !utf8_valid((const unsigned char *)out, strlen(out)))
        __builtin_trap();
    free(out);
    free(in);
    return 0;
}
