/* sha256: SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for opaque
 * tokens derived from secrets (the outbox's message metadata).  Not for
 * bulk data or passwords.  Contexts live wherever the caller puts them;
 * nothing is allocated. */
#ifndef SIRT_SHA256_H
#define SIRT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
    uint32_t h[8];
    uint64_t total;             /* bytes hashed so far */
    unsigned char block[64];
    size_t fill;                /* bytes waiting in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Writes the digest; c must be initialised again before reuse. */
void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);
void sha256_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
                 unsigned char out[SHA256_LEN]);

#endif
