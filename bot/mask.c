/* mask: a hand-written, single-pass scanner that replaces secrets with their
 * recognisable prefix plus "[MASKED]".  At each position a few matchers with
 * bounded look-ahead run; a match consumes what it scanned, so the whole pass
 * is linear in the input.  mask_secrets() returns a new string the caller
 * frees; mask_count() runs the same scanner without building output.
 * Our own output ("[MASKED]", "glpat-[MASKED]") is left alone, so masking
 * masked text again is a no-op on any realistic input. */
#include "mask.h"

#include <stdbool.h>
#include <string.h>

#include "util.h"

#define MASKED "[MASKED]"
#define MIN_TOKEN_BODY 8
#define PEM_LABEL_MAX 80

struct scan {
    const char *s;
    size_t len;
    struct buf *out;    /* NULL: count only */
    size_t count;
    size_t plain;       /* s[plain, at) is verbatim text not yet copied */
    size_t at;          /* where the current matcher started */
};

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_upper_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_ident(unsigned char c)
{
    return is_alnum(c) || c == '_';
}

static bool is_token_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_quote(unsigned char c)
{
    return c == '"' || c == '\'' || c == '`';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static unsigned char at(const struct scan *sc, size_t i)
{
    return i < sc->len ? (unsigned char)sc->s[i] : 0;
}

/* Case-sensitive / -insensitive prefix test at position i. */
static bool match_at(const struct scan *sc, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return i <= sc->len && sc->len - i >= n && memcmp(sc->s + i, lit, n) == 0;
}

static bool match_ci_at(const struct scan *sc, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    if (i > sc->len || sc->len - i < n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (lower((unsigned char)sc->s[i + k]) != (unsigned char)lit[k])
            return false;
    return true;
}

static bool boundary_before(const struct scan *sc, size_t i)
{
    return i == 0 || !is_alnum((unsigned char)sc->s[i - 1]);
}

static bool is_masked_at(const struct scan *sc, size_t i)
{
    return match_at(sc, i, MASKED);
}

/* Every value scanner stops at a PEM header, so a key block pasted right
 * after a token or header is still found and masked as a block. */
static bool pem_begins_at(const struct scan *sc, size_t i)
{
    return sc->s[i] == '-' && match_at(sc, i, "-----BEGIN ");
}

/* Matchers write output only once they commit to a match; the first write
 * copies the verbatim text that preceded the match. */
static void flush_plain(struct scan *sc)
{
    if (sc->out && sc->at > sc->plain)
        buf_append(sc->out, sc->s + sc->plain, sc->at - sc->plain);
    sc->plain = sc->at;
}

static void emit(struct scan *sc, size_t from, size_t to)
{
    flush_plain(sc);
    if (sc->out && to > from)
        buf_append(sc->out, sc->s + from, to - from);
}

static void emit_str(struct scan *sc, const char *str)
{
    flush_plain(sc);
    if (sc->out)
        buf_puts(sc->out, str);
}

/* Emit s[from, to) verbatim, then "[MASKED]", and count one secret. */
static void emit_masked(struct scan *sc, size_t from, size_t to)
{
    sc->count++;
    emit(sc, from, to);
    emit_str(sc, MASKED);
}

/* Token body: [A-Za-z0-9_-] plus '.' between body characters (GitLab's
 * routable tokens).  A trailing '.' ends a sentence, not the token. */
static size_t token_body(const struct scan *sc, size_t i)
{
    size_t j = i;
    while (j < sc->len) {
        unsigned char c = (unsigned char)sc->s[j];
        if (pem_begins_at(sc, j))
            break;
        if (is_token_char(c) || (c == '.' && is_token_char(at(sc, j + 1)) && j > i))
            j++;
        else
            break;
    }
    return j - i;
}

static const char *const token_prefixes[] = {
    /* GitLab */
    "glpat-", "gldt-", "glrt-", "glrtr-", "glptt-", "glcbt-", "gloas-", "glsoat-",
    "glffct-", "glimt-", "glagent-", "glft-", "GR1348941",
    /* Slack */
    "xoxb-", "xoxa-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-",
};

/* GitLab and Slack tokens: prefix + at least MIN_TOKEN_BODY body chars.
 * Returns the token length (0 = no token) and the prefix length to keep. */
static size_t match_prefixed_token(const struct scan *sc, size_t i, size_t *keep)
{
    unsigned char c = at(sc, i);
    if ((c != 'g' && c != 'x' && c != 'G') || !boundary_before(sc, i))
        return 0;
    for (size_t k = 0; k < ARRAY_LEN(token_prefixes); k++) {
        const char *p = token_prefixes[k];
        if (!match_at(sc, i, p))
            continue;
        size_t plen = strlen(p);
        size_t body = token_body(sc, i + plen);
        if (body < MIN_TOKEN_BODY)
            return 0;
        *keep = plen;
        return plen + body;
    }
    return 0;
}

static const char *const aws_prefixes[] = {
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA",
};

/* AWS access key id: 4-letter prefix + exactly 16 [A-Z0-9], whole word. */
static size_t match_aws(const struct scan *sc, size_t i, size_t *keep)
{
    if (at(sc, i) != 'A' || !boundary_before(sc, i))
        return 0;
    bool hit = match_at(sc, i, "A3T") && is_upper_alnum(at(sc, i + 3));
    for (size_t k = 0; !hit && k < ARRAY_LEN(aws_prefixes); k++)
        hit = match_at(sc, i, aws_prefixes[k]);
    if (!hit)
        return 0;
    for (size_t k = 4; k < 20; k++)
        if (!is_upper_alnum(at(sc, i + k)))
            return 0;
    if (is_alnum(at(sc, i + 20)))
        return 0;
    *keep = 4;
    return 20;
}

/* A known token at i: its length, and how much of it to keep visible. */
static size_t match_token(const struct scan *sc, size_t i, size_t *keep)
{
    size_t n = match_prefixed_token(sc, i, keep);
    return n ? n : match_aws(sc, i, keep);
}

static size_t try_token(struct scan *sc, size_t i)
{
    size_t keep = 0;
    size_t n = match_token(sc, i, &keep);
    if (n)
        emit_masked(sc, i, i + keep);
    return n;
}

/* Our own output ("[MASKED]", "xoxb-[MASKED]", "AKIA[MASKED]") is not
 * masked again: a short prefix of token characters, then "[MASKED]". */
static bool is_own_output(const struct scan *sc, size_t v, size_t end)
{
    size_t m = sizeof(MASKED) - 1;
    if (end - v < m || end - v > m + 10 || !match_at(sc, end - m, MASKED))
        return false;
    for (size_t k = v; k < end - m; k++)
        if (!is_alnum((unsigned char)sc->s[k]) && sc->s[k] != '-')
            return false;
    return true;
}

/* Masks the secret value s[v, end) of a header or pair that starts at i,
 * keeping s[i, v) and, when the value is a known token, its prefix. */
static size_t mask_value(struct scan *sc, size_t i, size_t v, size_t end)
{
    if (is_own_output(sc, v, end))
        return 0;
    size_t keep = 0;
    if (!match_token(sc, v, &keep))
        keep = 0;
    emit_masked(sc, i, v + keep);
    return end - i;
}

/* End of the "-----" that closes a PEM armour line starting at i (which
 * points just past "-----BEGIN " or "-----END "), or 0.  Sets *label_end. */
static size_t pem_armour_end(const struct scan *sc, size_t i, size_t *label_end)
{
    for (size_t j = i; j < sc->len && j - i <= PEM_LABEL_MAX; j++) {
        unsigned char c = (unsigned char)sc->s[j];
        if (c == '\n' || c == '\r')
            return 0;
        if (c == '-' && match_at(sc, j, "-----")) {
            *label_end = j;
            return j + 5;
        }
    }
    return 0;
}

/* A PEM label: words of 1..10 [A-Z0-9] separated by single spaces ("RSA
 * PRIVATE KEY", "PGP PRIVATE KEY BLOCK").  Kept verbatim, so it must not be
 * able to hold anything secret (an AWS key id is 20 characters). */
static bool pem_label_ok(const struct scan *sc, size_t from, size_t to)
{
    size_t word = 0;
    for (size_t j = from; j < to; j++) {
        unsigned char c = (unsigned char)sc->s[j];
        if (c == ' ') {
            if (word == 0)
                return false;
            word = 0;
        } else if (is_upper_alnum(c) && ++word <= 10) {
            continue;
        } else {
            return false;
        }
    }
    return word > 0;
}

static bool label_is_private_key(const struct scan *sc, size_t from, size_t to)
{
    static const char pk[] = "PRIVATE KEY";
    size_t n = sizeof(pk) - 1;
    if (!pem_label_ok(sc, from, to))
        return false;
    for (size_t j = from; j + n <= to; j++)
        if (memcmp(sc->s + j, pk, n) == 0)
            return true;
    return false;
}

static size_t skip_space(const struct scan *sc, size_t i)
{
    while (i < sc->len && is_space((unsigned char)sc->s[i]))
        i++;
    return i;
}

/* Body is just "[MASKED]" (our own output): leave it alone. */
static bool pem_already_masked(const struct scan *sc, size_t body)
{
    size_t j = skip_space(sc, body);
    if (!is_masked_at(sc, j))
        return false;
    j = skip_space(sc, j + sizeof(MASKED) - 1);
    return j >= sc->len || match_at(sc, j, "-----END ");
}

/* PEM private key block: keep the BEGIN and END lines, mask the body.  A
 * block without END is masked to the end of the text. */
static size_t try_pem(struct scan *sc, size_t i)
{
    if (at(sc, i) != '-' || !match_at(sc, i, "-----BEGIN "))
        return 0;
    size_t label_end;
    size_t head_end = pem_armour_end(sc, i + 11, &label_end);
    if (!head_end || !label_is_private_key(sc, i + 11, label_end))
        return 0;
    if (pem_already_masked(sc, head_end))
        return 0;
    size_t j = head_end;
    while (j < sc->len && !(sc->s[j] == '-' && match_at(sc, j, "-----END ")))
        j++;
    sc->count++;
    emit(sc, i, head_end);
    emit_str(sc, "\n" MASKED "\n");
    if (j >= sc->len)
        return sc->len - i;
    size_t end_label;
    size_t tail_end = pem_armour_end(sc, j + 9, &end_label);
    if (!tail_end || !pem_label_ok(sc, j + 9, end_label))
        tail_end = j + 9;       /* damaged END line: the rest is scanned as text */
    else                        /* "-----END X------BEGIN": dashes may open the next block */
        for (tail_end = end_label; tail_end < end_label + 5 && !pem_begins_at(sc, tail_end);)
            tail_end++;
    emit(sc, j, tail_end);
    return tail_end - i;
}

/* Skips blanks from i; returns the new index. */
static size_t skip_blanks(const struct scan *sc, size_t i)
{
    while (i < sc->len && is_blank((unsigned char)sc->s[i]))
        i++;
    return i;
}

/* After a header name at i: optional closing quote, blanks, ':', blanks,
 * optional opening quote.  Returns the index of the value or 0. */
static size_t header_value_start(const struct scan *sc, size_t i, unsigned char *quote)
{
    *quote = 0;
    if (is_quote(at(sc, i)))
        i++;
    i = skip_blanks(sc, i);
    if (at(sc, i) != ':')
        return 0;
    i = skip_blanks(sc, i + 1);
    if (is_quote(at(sc, i)))
        *quote = at(sc, i++);
    return i;
}

/* A header name (with its ':') starts at i.  A value that is really the
 * next header is left to that header's own match, which masks its value. */
static bool header_at(const struct scan *sc, size_t i)
{
    unsigned char q;
    return (match_ci_at(sc, i, "authorization") || match_ci_at(sc, i, "private-token")) &&
           !is_ident(at(sc, i + 13)) && at(sc, i + 13) != '-' && header_value_start(sc, i + 13, &q);
}

/* Length of a header value from i: up to line end or a quote. */
static size_t header_value_len(const struct scan *sc, size_t i)
{
    size_t j = i;
    while (j < sc->len) {
        unsigned char c = (unsigned char)sc->s[j];
        if (c == '\n' || c == '\r' || is_quote(c) || pem_begins_at(sc, j))
            break;
        j++;
    }
    while (j > i && is_blank((unsigned char)sc->s[j - 1]))
        j--;
    return j - i;
}

/* Schemes whose credential is one word (RFC 6750, RFC 7617, common APIs). */
static bool is_one_word_scheme(const struct scan *sc, size_t i, size_t n)
{
    static const char *const schemes[] = { "bearer", "basic", "token", "bot", "apikey",
                                           "api-key", "sso-key", "gitlab-ci-token" };
    for (size_t k = 0; k < ARRAY_LEN(schemes); k++)
        if (strlen(schemes[k]) == n && match_ci_at(sc, i, schemes[k]))
            return true;
    return false;
}

/* Any other scheme (Digest, Negotiate, AWS4-HMAC-SHA256, ...): a short word
 * starting with a letter, made of letters, or of letters, digits and '-'
 * with at least one '-', and not itself a known token.  A bare hex or
 * base64 credential fails this and is masked whole. */
static bool is_scheme_like(const struct scan *sc, size_t i, size_t n)
{
    size_t keep;
    if (n == 0 || n > 32 || match_token(sc, i, &keep) || !is_alnum(at(sc, i)) ||
        (at(sc, i) >= '0' && at(sc, i) <= '9'))
        return false;
    bool digit = false, dash = false;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)sc->s[i + k];
        if (c == '-')
            dash = true;
        else if (c >= '0' && c <= '9')
            digit = true;
        else if (!is_alnum(c))
            return false;
    }
    return !digit || dash;
}

/* End of one word of a header value: stops at blanks, line end, quotes and
 * a PEM header, like header_value_len(). */
static size_t value_word_end(const struct scan *sc, size_t i)
{
    while (i < sc->len) {
        unsigned char c = (unsigned char)sc->s[i];
        if (is_space(c) || is_quote(c) || pem_begins_at(sc, i))
            break;
        i++;
    }
    return i;
}

/* "Authorization: <scheme> <credential>" (any scheme, also without one) and
 * "PRIVATE-TOKEN: <token>": keep the name and scheme, mask the credential.
 * One-word schemes (Bearer, Basic, ...) mask one word, so the rest of a
 * pasted curl command stays readable; other schemes and scheme-less values
 * that are followed by more text are masked to the end of the line. */
static size_t try_header(struct scan *sc, size_t i)
{
    unsigned char c = lower(at(sc, i));
    if ((c != 'a' && c != 'p') || !boundary_before(sc, i))
        return 0;
    bool auth = match_ci_at(sc, i, "authorization");
    if (!auth && !match_ci_at(sc, i, "private-token"))
        return 0;
    size_t name_end = i + 13;
    if (is_ident(at(sc, name_end)) || at(sc, name_end) == '-')
        return 0;
    unsigned char quote;
    size_t v = header_value_start(sc, name_end, &quote);
    /* Look-ahead is kept short until we know we will consume: every early
     * "return 0" below has scanned at most one word, so the pass stays linear. */
    if (!v || header_at(sc, v))
        return 0;
    size_t w = value_word_end(sc, v);
    if (w == v)
        return 0;
    if (!auth)
        return mask_value(sc, i, v, w);          /* PRIVATE-TOKEN: one word */
    size_t after = skip_blanks(sc, w);
    if (value_word_end(sc, after) == after) {    /* nothing else on the line */
        if (is_one_word_scheme(sc, v, w - v))
            return 0;           /* "Authorization: Bearer" with nothing after */
        return mask_value(sc, i, v, w);
    }
    if (header_at(sc, after))
        return 0;
    if (is_one_word_scheme(sc, v, w - v))
        return mask_value(sc, i, after, value_word_end(sc, after));
    size_t vend = v + header_value_len(sc, v);
    if (is_scheme_like(sc, v, w - v))
        return mask_value(sc, i, after, vend);
    return mask_value(sc, i, v, vend);
}

static const char *const pair_keys[] = {
    "password", "passwd", "pwd", "secret", "token", "api_key", "apikey",
    "access_token", "client_secret", "private_token",
};

static bool pair_value_char(unsigned char c)
{
    return c && !is_space(c) && c != '&' && c != ',' && !is_quote(c);
}

/* key=value, key: value, "key":"value" for the keys above (any case). */
static size_t try_pair(struct scan *sc, size_t i)
{
    unsigned char c = lower(at(sc, i));
    if (c != 'p' && c != 's' && c != 't' && c != 'a' && c != 'c')
        return 0;
    if (!boundary_before(sc, i))
        return 0;
    for (size_t k = 0; k < ARRAY_LEN(pair_keys); k++) {
        const char *key = pair_keys[k];
        if (!match_ci_at(sc, i, key))
            continue;
        size_t j = i + strlen(key);
        if (is_ident(at(sc, j)) || at(sc, j) == '-')
            continue;           /* tokenizer, password_hint, ... */
        if (is_quote(at(sc, j)))
            j++;
        j = skip_blanks(sc, j);
        if (at(sc, j) != '=' && at(sc, j) != ':')
            continue;
        j = skip_blanks(sc, j + 1);
        if (is_quote(at(sc, j)))
            j++;
        if (header_at(sc, j))
            return 0;
        size_t e = j;
        while (e < sc->len && pair_value_char((unsigned char)sc->s[e]) && !pem_begins_at(sc, e))
            e++;
        return e == j ? 0 : mask_value(sc, i, j, e);
    }
    return 0;
}

/* The user name is kept verbatim, so it must be short and hold no token. */
static bool username_ok(const struct scan *sc, size_t from, size_t to)
{
    if (to - from > 64)
        return false;
    for (size_t j = from; j < to; j++) {
        size_t keep;
        if (match_token(sc, j, &keep))
            return false;
    }
    return true;
}

/* URL userinfo: scheme://user:password@host (database and git URLs).  The
 * scan stops at the first '/', so it never runs past the next "://". */
static size_t try_url_password(struct scan *sc, size_t i)
{
    if (at(sc, i) != ':' || !match_at(sc, i, "://"))
        return 0;
    size_t colon = 0;
    for (size_t j = i + 3; j < sc->len; j++) {
        unsigned char c = (unsigned char)sc->s[j];
        if (c == '@')
            return colon && j > colon + 1 && username_ok(sc, i + 3, colon) ?
                   mask_value(sc, i, colon + 1, j) : 0;
        if (!is_alnum(c) && !strchr("-._~%!$&()*+,;=:", c))
            return 0;           /* not userinfo (RFC 3986 3.2.1) */
        if (c == ':' && !colon)
            colon = j;
    }
    return 0;
}

static void scan_run(struct scan *sc)
{
    size_t i = 0;
    while (i < sc->len) {
        sc->at = i;
        size_t n = try_pem(sc, i);
        if (!n)
            n = try_token(sc, i);
        if (!n)
            n = try_url_password(sc, i);
        if (!n)
            n = try_header(sc, i);
        if (!n)
            n = try_pair(sc, i);
        if (n) {
            i += n;
            sc->plain = i;
        } else {
            i++;
        }
    }
    if (sc->out)
        buf_append(sc->out, sc->s + sc->plain, sc->len - sc->plain);
}

char *mask_secrets(const char *in)
{
    if (!in)
        return NULL;
    struct buf out;
    buf_init(&out, 0);
    struct scan sc = { .s = in, .len = strlen(in), .out = &out };
    scan_run(&sc);
    return buf_take(&out);
}

size_t mask_count(const char *in)
{
    if (!in)
        return 0;
    struct scan sc = { .s = in, .len = strlen(in) };
    scan_run(&sc);
    return sc.count;
}
