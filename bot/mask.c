/* mask: secret rules as data.  mask_rules[] names each pattern and the vendor
 * document it comes from; the patterns are PCRE2 (byte mode, no UTF, JIT),
 * compiled once into an immutable set shared by every thread.  The team's
 * extra patterns are a second set swapped under a read-write lock.  Each
 * call owns its match data and result spans; returned strings are the
 * caller's (free()).  Details of the contract are in mask.h. */
#define _GNU_SOURCE                 /* memmem */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mask.h"

#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* PCRE2's JIT code reads a few bytes past a subject in SIMD loads (safe
 * within a page) and valgrind cannot see into it: under valgrind the
 * interpreter runs instead.  The header is there when valgrind is. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define MASK_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef MASK_UNDER_VALGRIND
#define MASK_UNDER_VALGRIND() 0
#endif

/* ---- the rules ----
 * A rule masks the group(s) named "s" of each match (the whole match when it
 * has none) and keeps the rest of the match: the recognisable prefix, the
 * header or key name.  Overlapping secrets from several rules are masked as
 * one.  Patterns guard against their own output ("(?!" OWN_WORD ")"), so
 * masking masked text again changes nothing on realistic text.
 * Keywords (lowercase, at least 3 bytes) gate a rule: it runs only when one
 * occurs in the text.  With at_keyword, every match must start exactly
 * where one of the keywords starts (the pattern is compiled anchored and
 * tried only there), so the keywords must cover every alternative's start. */

#define WB "(?<![A-Za-z0-9])"                  /* a word starts: no letter or digit before */
#define WE "(?![A-Za-z0-9])"                   /* a word ends */
#define TOK_BODY "[\\w-]{8,}(?:\\.[\\w-]+)*"   /* GitLab routable tokens have dots */
#define GITLAB_PFX "(?:gl(?:pat|dt|rtr|rt|ptt|cbt|oas|soat|ffct|imt|agent|ft|wt)-|GR1348941)"
#define SLACK_PFX "(?:xoxe\\.xox[bp]-|xox[abposre]-|xapp-)"
#define AWS_PFX "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
/* A known token's prefix, kept visible when it opens a header, pair or URL
 * value (only when a real token follows it). */
#define KEEP "(?:(?:" GITLAB_PFX "|" SLACK_PFX "|gh[pousr]_|github_pat_|npm_|dckr_(?:pat|oat)_" \
             "|pypi-|whsec_|sk-ant-|sk-(?:proj|svcacct|admin)-|hf_|GOCSPX-)(?=[\\w-]{8})" \
             "|" AWS_PFX "(?=[A-Z0-9]{16}" WE ")|(?:sk|rk)_(?:live|test|prod)_(?=[A-Za-z0-9]{10}))"
/* Our own output as a value: a short kept prefix, then the marker. */
#define OWN_WORD "[\\w.-]{0,16}\\[MASKED\\](?=[\\s\"'`&,]|\\z)"
#define OWN_LINE "[\\w.-]{0,16}\\[MASKED\\][ \\t]*(?=[\\r\\n\"'`]|\\z)"
/* Header name to value: optional quotes (JSON), blanks, ':'. */
#define HDR_SEP "[\"'`]?[ \\t]*+:[ \\t]*+[\"'`]?"
/* Authorization schemes whose credential is one word (RFC 6750, RFC 7617, common APIs). */
#define ONE_WORD_SCHEME "(?i:bearer|basic|token|bot|apikey|api-key|sso-key|gitlab-ci-token)"
/* Any other scheme (Digest, Negotiate, AWS4-HMAC-SHA256): letters, or
 * letters, digits and '-' with at least one '-', at most 32 bytes. */
#define SCHEME "(?:[A-Za-z]{1,32}|(?=[A-Za-z0-9]*-)[A-Za-z][A-Za-z0-9-]{0,31})"
#define LINE_VALUE "[^\\r\\n\"'`]*[^\\s\"'`]"
#define WORD_VALUE "[^\\s\"'`]+"

struct mask_rule {
    const char *name;
    const char *source;         /* the vendor document the format comes from */
    const char *keywords;       /* '|'-separated, lowercase: the rule runs only if one occurs; NULL = always */
    const char *pattern;
    const char *repl;           /* NULL: MASK_MARKER */
    double min_entropy;         /* > 0: the secret needs this many bits per byte, letters and digits */
    bool at_keyword;            /* every match starts where a keyword starts: only there is it tried */
};

static const struct mask_rule mask_rules[] = {
    { "pem-private-key", "RFC 7468 sections 10-11 (PKCS #8, OpenSSH, PGP private key armour)",
      "-----begin",
      "-----BEGIN (?:[A-Z0-9]{1,10} ){0,4}PRIVATE KEY(?: BLOCK)?-----"
      "(?!\\s*\\[MASKED\\]\\s*(?:-----END |\\z))(?<s>[^-]*+(?:-(?!----END )[^-]*+)*+)",
      "\n" MASK_MARKER "\n", 0, false },
    { "aws-access-key-id", "AWS IAM User Guide, IAM identifiers "
      "(docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html)",
      "akia|asia|abia|acca|agpa|aida|aroa|aipa|anpa|anva|apka|a3t",
      WB AWS_PFX "(?<s>[A-Z0-9]{16})" WE, NULL, 0, true },
    { "aws-secret-access-key", "AWS CLI User Guide, Configuration and credential file settings "
      "(aws_secret_access_key)",
      "aws|secret",
      "(?i:aws[_-]?secret[_-]?access[_-]?key|aws[_-]?secret[_-]?key|secret[_-]?access[_-]?key)"
      "[\"'`]?[ \\t]*(?:=>?+|:)[ \\t]*+[\"'`]?(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", NULL, 0, true },
    { "aws-secret-next-to-key-id", "AWS STS GetAccessKeyInfo API reference (key id and secret pairs)",
      "akia|asia",
      WB "(?:AKIA|ASIA)[A-Z0-9]{16}[\\s,;:|\"'=]{1,8}(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", NULL, 0, true },
    { "aws-bedrock-api-key", "AWS Bedrock User Guide, API keys", "absk",
      WB "ABSK(?<s>[A-Za-z0-9+/]{100,}={0,2})", NULL, 0, false },
    { "github-token", "GitHub changelog 2021-03-31, Authentication token format updates "
      "(ghp_, gho_, ghu_, ghs_, ghr_)",
      "ghp_|gho_|ghu_|ghs_|ghr_",
      WB "gh[pousr]_(?<s>\\w{20,255})", NULL, 0, false },
    { "github-fine-grained-pat", "GitHub docs, Managing your personal access tokens (github_pat_)",
      "github_pat_",
      WB "github_pat_(?<s>\\w{20,255})", NULL, 0, false },
    { "gitlab-token", "GitLab docs, Token prefixes (doc/security/tokens/_index.md)",
      "glpat-|gldt-|glrt-|glrtr-|glptt-|glcbt-|gloas-|glsoat-|glffct-|glimt-|glagent-|glft-|glwt-|gr1348941",
      WB GITLAB_PFX "(?<s>" TOK_BODY ")", NULL, 0, false },
    { "gitlab-session-cookie", "GitLab docs, Token prefixes (_gitlab_session cookie)", "_gitlab_session",
      "_gitlab_session=(?!" OWN_WORD ")(?<s>[0-9A-Za-z]{16,})", NULL, 0, false },
    { "slack-token", "Slack API docs, Token types (api.slack.com/authentication/token-types)",
      "xox|xapp-",
      WB SLACK_PFX "(?<s>" TOK_BODY ")", NULL, 0, false },
    { "slack-webhook-url", "Slack API docs, Sending messages using incoming webhooks "
      "(api.slack.com/messaging/webhooks)",
      "https://hooks.slack.com|http://hooks.slack.com",
      "(?i:https?://hooks\\.slack\\.com/)(?:services|workflows|triggers)/(?<s>[A-Za-z0-9+/_-]{20,})", NULL, 0, true },
    { "stripe-secret-key", "Stripe docs, API keys (docs.stripe.com/keys): sk_ and rk_ live/test keys",
      "sk_|rk_",
      WB "(?:sk|rk)_(?:live|test|prod)_(?<s>[A-Za-z0-9]{10,99})" WE, NULL, 0, false },
    { "stripe-webhook-secret", "Stripe docs, Check the webhook signatures (whsec_)", "whsec_",
      WB "whsec_(?<s>[A-Za-z0-9+/=]{20,})", NULL, 0, false },
    { "google-api-key", "Google Cloud docs, Manage API keys (AIza keys)", "aiza",
      WB "AIza(?<s>[\\w-]{35})(?![\\w-])", NULL, 0, false },
    { "google-oauth-secret", "Google Identity docs, Using OAuth 2.0 (GOCSPX- client secrets, "
      "ya29. access tokens)",
      "gocspx-|ya29.",
      WB "(?:GOCSPX-|ya29\\.)(?<s>[\\w-]{20,})", NULL, 0, false },
    { "azure-storage-key", "Microsoft Learn, Configure Azure Storage connection strings (AccountKey=)",
      "accountkey|sharedaccesskey",
      "(?i:AccountKey|SharedAccessKey)=(?<s>[A-Za-z0-9+/]{20,}={0,2})", NULL, 0, true },
    { "azure-sas-signature", "Microsoft Learn, Create a service SAS (the sig parameter)", "sig=",
      "[?&;]sig=(?<s>[A-Za-z0-9%+/=]{20,})", NULL, 0, false },
    { "azure-ad-client-secret", "Microsoft Learn, Register an application: add a client secret "
      "(Microsoft identity platform)",
      NULL,
      "(?<![\\w~.-])(?<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?![\\w~.-])", NULL, 0, false },
    { "npm-token", "npm Docs, About access tokens (npm_)", "npm_",
      WB "npm_(?<s>[A-Za-z0-9]{36})" WE, NULL, 0, false },
    { "pypi-token", "PyPI help, API tokens (pypi.org/help/#apitoken)", "pypi-",
      WB "pypi-(?<s>Ag[\\w-]{50,})", NULL, 0, false },
    { "docker-hub-token", "Docker docs, Personal access tokens (dckr_pat_)", "dckr_",
      WB "dckr_(?:pat|oat)_(?<s>[\\w-]{20,})", NULL, 0, false },
    { "sendgrid-api-key", "Twilio SendGrid docs, API keys (SG.)", "sg.",
      WB "SG\\.(?<s>[\\w-]{22}\\.[\\w-]{43})(?![\\w-])", NULL, 0, false },
    { "twilio-api-key", "Twilio docs, API keys (SK + 32 hex)", NULL,
      WB "SK(?<s>[0-9a-fA-F]{32})" WE, NULL, 0, false },
    { "twilio-auth-token", "Twilio docs, Auth tokens (32 hex next to the AC account SID)", NULL,
      WB "AC[0-9a-f]{32}[\\s,;:|\"'=]{1,8}(?<s>[0-9a-f]{32})" WE, NULL, 0, false },
    { "openai-api-key", "OpenAI API reference, Authentication (sk-, sk-proj-, sk-svcacct-, sk-admin-)",
      "sk-",
      WB "sk-(?!ant-)(?:proj-|svcacct-|admin-)?(?=[\\w-]{0,300}?[0-9])(?<s>[\\w-]{20,})", NULL, 0, false },
    { "anthropic-api-key", "Anthropic API docs, Getting started: authentication (sk-ant-)", "sk-ant-",
      WB "sk-ant-(?<s>[\\w-]{20,})", NULL, 0, false },
    { "huggingface-token", "Hugging Face docs, User access tokens (hf_)", "hf_",
      WB "hf_(?<s>[A-Za-z0-9]{30,})" WE, NULL, 0, false },
    { "jwt", "RFC 7519 section 3 and RFC 7515 section 7.1 (JWS compact serialization)", "eyj",
      WB "eyJ(?<s>[\\w-]{10,}\\.[\\w-]{10,}(?:\\.[\\w-]*){1,3})", NULL, 0, false },
    { "url-credentials", "RFC 3986 section 3.2.1 (user:password in userinfo)", "://",
      "://[A-Za-z0-9._~%!$&()*+,;=-]{0,64}:" KEEP "?(?<s>[A-Za-z0-9._~%!$&()*+,;=:-]{1,256})@", NULL, 0, true },
    { "curl-user", "curl man page, -u/--user <user:password>", "curl",
      "\\bcurl\\b[^\\r\\n]{0,200}?[ \\t](?:-u|--user)[ \\t]*[\"']?[^\\s:\"']{1,64}:(?!" OWN_WORD ")"
      "(?<s>[^\\s\"']+)", NULL, 0, false },
    { "authorization-header", "RFC 9110 section 11.6.2 (Authorization), RFC 6750 (Bearer), RFC 7617 (Basic)",
      "authorization",
      WB "(?i:authorization)(?![\\w-])" HDR_SEP
      "(?:" ONE_WORD_SCHEME "[ \\t]+(?!" OWN_WORD ")" KEEP "?(?<s>" WORD_VALUE ")"
      "|(?!" ONE_WORD_SCHEME "[ \\t])(?!" KEEP ")" SCHEME "[ \\t]+(?!" OWN_LINE ")" KEEP "?(?<s>" LINE_VALUE ")"
      "|(?!" ONE_WORD_SCHEME "[ \\t]*(?:[\\r\\n\"'`]|\\z))(?!(?!" KEEP ")" SCHEME "[ \\t]+[^\\s\"'`])(?!" OWN_LINE ")"
      KEEP "?(?<s>" LINE_VALUE "))", NULL, 0, true },
    { "token-header", "GitLab REST API docs, Authentication (PRIVATE-TOKEN header); vendor API key "
      "headers (X-Api-Key, X-Auth-Token, X-Vault-Token, X-Gitlab-Token, X-Amz-Security-Token)",
      "private-token|x-api-key|api-key|x-goog-api-key|x-auth-token|x-access-token|x-vault-token"
      "|x-gitlab-token|x-amz-security-token",
      WB "(?i:private-token|x-api-key|api-key|x-goog-api-key|x-auth-token|x-access-token|x-vault-token"
      "|x-gitlab-token|x-amz-security-token)(?![\\w-])" HDR_SEP "(?!" OWN_WORD ")" KEEP "?(?<s>" WORD_VALUE ")",
      NULL, 0, true },
    { "cookie-header", "RFC 6265 section 4.1 (Set-Cookie) and 4.2 (Cookie)", "set-cookie|cookie",
      WB "(?i:set-cookie|cookie)(?![\\w-])" HDR_SEP "(?!" OWN_LINE ")(?<s>" LINE_VALUE ")", NULL, 0, true },
    { "secret-assignment", "Config file conventions (.env, YAML, JSON, query strings); gitleaks "
      "generic-api-key keywords",
      "pass|pwd|secret|token|api|access|private|client|auth|refresh",
      WB "(?i:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key"
      "|private[_-]?key|client[_-]?secret|auth[_-]?token|access[_-]?token|refresh[_-]?token)(?![\\w-])"
      "[\"'`]?[ \\t]*(?:=>?+|:)[ \\t]*+(?!-----BEGIN )"
      "(?:\"(?!" OWN_WORD ")" KEEP "?(?<s>(?:[^\"\\\\\\r\\n]|\\\\.)+)\""
      "|'(?!" OWN_WORD ")" KEEP "?(?<s>[^'\\r\\n]+)'"
      "|[\"'`]?(?!" OWN_WORD ")" KEEP "?(?<s>[^\\s&,\"'`]+))", NULL, 0, true },
    { "high-entropy-near-keyword", "gitleaks generic-api-key rule (secret words, Shannon entropy >= 3.5)",
      "api|access|secret|token|pass|credential|auth",
      "(?i:\\b(?:api[ _-]?key|access[ _-]?key|secret|token|password|passwd|passphrase|credentials?|auth)s?\\b)"
      "[^\\r\\n[]{0,40}?(?<![A-Za-z0-9+/=_.-])" KEEP "?(?<s>[A-Za-z0-9+/=_-]{20,}+)", NULL, 3.5, true },
};

/* ---- compiled sets ---- */

#define MAX_SECRET_GROUPS 4
#define MAX_KEYWORDS 16
#define MATCH_LIMIT 5000000u
#define DEPTH_LIMIT 10000u
#define HEAP_LIMIT_KIB 20000u
#define SHORT_SECRET 256

struct crule {
    pcre2_code *code;
    char *name;                 /* owned copy */
    const char *repl;
    double min_entropy;
    bool at_keyword;            /* compiled anchored; tried only where a keyword starts */
    uint32_t groups[MAX_SECRET_GROUPS];   /* numbers of the groups named "s"; none: whole match */
    size_t n_groups;
    char *kw_buf;               /* keywords, split in place */
    const char *kw[MAX_KEYWORDS];
    size_t n_kw;
};

struct ruleset {
    struct crule *r;
    size_t n;
    uint32_t max_pairs;         /* ovector pairs the largest pattern needs */
};

static struct ruleset builtin;
static struct ruleset *extra;           /* NULL: none; guarded by extra_lock */
static pthread_rwlock_t extra_lock = PTHREAD_RWLOCK_INITIALIZER;
static pcre2_match_context *mctx;       /* read-only after init */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Keyword index of the built-in rules, by their first two bytes: one pass
 * over the text finds every keyword of every rule. */
struct kw_entry {
    const char *kw;
    size_t len;
    size_t rule;
};
static uint32_t kw_start[65536 + 1];    /* kw_ent[kw_start[k] .. kw_start[k + 1]) start with k */
static uint64_t kw_bits[65536 / 64];    /* bit tri_hash(k): a keyword starts with the 3 bytes k (8 KiB, stays in L1) */
static struct kw_entry *kw_ent;
static unsigned char lc[256];           /* ASCII lowercase */

#define COMPILE_OPTS (PCRE2_DUPNAMES | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP)

static char *pcre_error(int code, size_t offset)
{
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
        snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", code);
    return xasprintf("%s at offset %zu", (const char *)msg, offset);
}

/* Compiles and JIT-compiles one pattern (JIT failure falls back to the
 * interpreter).  Returns NULL with *err set on a compile error. */
static pcre2_code *compile(const char *pattern, uint32_t extra_opts, char **err)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, COMPILE_OPTS | extra_opts,
                                   &code, &off, NULL);
    if (!re) {
        *err = pcre_error(code, (size_t)off);
        return NULL;
    }
    if (!MASK_UNDER_VALGRIND())
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* Records the numbers of the groups named "s" (several with DUPNAMES). */
static void find_secret_groups(struct crule *cr)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(cr->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(cr->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(cr->code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count && table; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;
        if (strcmp((const char *)e + 2, "s") == 0 && cr->n_groups < MAX_SECRET_GROUPS)
            cr->groups[cr->n_groups++] = ((uint32_t)e[0] << 8) | e[1];
    }
}

static void split_keywords(struct crule *cr, const char *keywords)
{
    if (!keywords)
        return;
    cr->kw_buf = xstrdup(keywords);
    for (char *p = cr->kw_buf; p && cr->n_kw < MAX_KEYWORDS;) {
        char *bar = strchr(p, '|');
        if (bar)
            *bar = '\0';
        if (*p)
            cr->kw[cr->n_kw++] = p;
        p = bar ? bar + 1 : NULL;
    }
}

static void crule_finish(struct crule *cr)
{
    pcre2_code_free(cr->code);
    free(cr->name);
    free(cr->kw_buf);
}

static void set_pairs(struct ruleset *rs, const struct crule *cr)
{
    uint32_t cap = 0;
    pcre2_pattern_info(cr->code, PCRE2_INFO_CAPTURECOUNT, &cap);
    if (cap + 1 > rs->max_pairs)
        rs->max_pairs = cap + 1;
}

static unsigned kw_key(const unsigned char *p)
{
    return (unsigned)lc[p[0]] << 8 | lc[p[1]];
}

/* 16-bit hash of three lowercased bytes: the cheap first test at each byte. */
static unsigned tri_hash(const unsigned char *p)
{
    uint32_t v = (uint32_t)lc[p[0]] << 16 | (uint32_t)lc[p[1]] << 8 | lc[p[2]];
    return (v * 2654435761u) >> 16;
}

static void build_keyword_index(void)
{
    for (int c = 0; c < 256; c++)
        lc[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    size_t total = 0;
    for (size_t i = 0; i < builtin.n; i++)
        for (size_t k = 0; k < builtin.r[i].n_kw; k++) {
            if (strlen(builtin.r[i].kw[k]) < 3)
                abort();        /* keywords are at least three bytes (a rule table bug) */
            kw_start[kw_key((const unsigned char *)builtin.r[i].kw[k]) + 1]++;
            total++;
        }
    for (size_t k = 1; k <= 65536; k++)
        kw_start[k] += kw_start[k - 1];
    kw_ent = xcalloc(total ? total : 1, sizeof(*kw_ent));
    uint32_t *fill = xcalloc(65536, sizeof(*fill));
    for (size_t i = 0; i < builtin.n; i++)
        for (size_t k = 0; k < builtin.r[i].n_kw; k++) {
            const char *kw = builtin.r[i].kw[k];
            unsigned key = kw_key((const unsigned char *)kw);
            kw_ent[kw_start[key] + fill[key]++] = (struct kw_entry){ kw, strlen(kw), i };
            unsigned h = tri_hash((const unsigned char *)kw);
            kw_bits[h / 64] |= 1ull << (h % 64);
        }
    free(fill);
}

static void init_builtin(void)
{
    mctx = pcre2_match_context_create(NULL);
    if (!mctx)
        abort();
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
    pcre2_set_heap_limit(mctx, HEAP_LIMIT_KIB);
    builtin.n = ARRAY_LEN(mask_rules);
    builtin.r = xcalloc(builtin.n, sizeof(*builtin.r));
    builtin.max_pairs = 1;
    for (size_t i = 0; i < builtin.n; i++) {
        const struct mask_rule *mr = &mask_rules[i];
        struct crule *cr = &builtin.r[i];
        char *err = NULL;
        cr->code = compile(mr->pattern, mr->at_keyword ? PCRE2_ANCHORED | PCRE2_NO_START_OPTIMIZE : 0, &err);
        if (!cr->code) {
            fprintf(stderr, "sirtbot: mask rule %s does not compile: %s\n", mr->name, err);
            abort();
        }
        cr->name = xstrdup(mr->name);
        cr->repl = mr->repl ? mr->repl : MASK_MARKER;
        cr->min_entropy = mr->min_entropy;
        cr->at_keyword = mr->at_keyword && mr->keywords;
        find_secret_groups(cr);
        split_keywords(cr, mr->keywords);
        set_pairs(&builtin, cr);
    }
    build_keyword_index();
}

void mask_init(void)
{
    pthread_once(&init_once, init_builtin);
}

static void ruleset_destroy(struct ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        crule_finish(&rs->r[i]);
    free(rs->r);
    free(rs);
}

char *mask_pattern_check(const char *pattern)
{
    char *err = NULL;
    pcre2_code *re = compile(pattern ? pattern : "", 0, &err);
    pcre2_code_free(re);
    return err;
}

char *mask_set_extra(const char *const *patterns, size_t n)
{
    mask_init();
    struct ruleset *rs = NULL;
    if (n) {
        rs = xcalloc(1, sizeof(*rs));
        rs->r = xcalloc(n, sizeof(*rs->r));
        rs->max_pairs = 1;
        for (size_t i = 0; i < n; i++) {
            char *err = NULL;
            struct crule *cr = &rs->r[i];
            cr->code = compile(patterns[i] ? patterns[i] : "", 0, &err);
            if (!cr->code) {
                char *msg = xasprintf("extra pattern %zu: %s", i, err);
                free(err);
                ruleset_destroy(rs);
                return msg;
            }
            rs->n = i + 1;
            cr->name = xasprintf("extra[%zu]", i);
            cr->repl = MASK_MARKER;
            find_secret_groups(cr);
            set_pairs(rs, cr);
        }
    }
    pthread_rwlock_wrlock(&extra_lock);
    struct ruleset *old = extra;
    extra = rs;
    pthread_rwlock_unlock(&extra_lock);
    ruleset_destroy(old);
    return NULL;
}

size_t mask_rule_count(void)
{
    return ARRAY_LEN(mask_rules);
}

const char *mask_rule_name(size_t i)
{
    return i < ARRAY_LEN(mask_rules) ? mask_rules[i].name : NULL;
}

const char *mask_rule_source(size_t i)
{
    return i < ARRAY_LEN(mask_rules) ? mask_rules[i].source : NULL;
}

/* ---- one masking pass ---- */

struct span {
    size_t a, b;                /* [a, b) is secret */
    const char *repl;
};

struct hitv {
    size_t *v;
    size_t n, cap;
};

struct pass {
    const char *s;
    size_t len;
    struct hitv *hits;          /* per built-in rule: where its keywords start, ascending */
    size_t *markers;            /* starts of MASK_MARKER in s (already masked text) */
    size_t n_markers;
    struct span *sp;
    size_t n_sp, cap_sp;
};

#define MARKER_LEN (sizeof(MASK_MARKER) - 1)

static void add_span(struct pass *p, size_t a, size_t b, const char *repl)
{
    if (p->n_sp == p->cap_sp) {
        p->cap_sp = p->cap_sp ? p->cap_sp * 2 : 16;
        p->sp = xrealloc(p->sp, p->cap_sp * sizeof(*p->sp));
    }
    p->sp[p->n_sp++] = (struct span){ a, b, repl };
}

static void push_size(struct hitv *h, size_t v)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = v;
}

/* Records, for every built-in rule, where its keywords occur (ASCII case
 * folded) in one pass over the text. */
static void find_keywords(struct pass *p)
{
    p->hits = xcalloc(builtin.n, sizeof(*p->hits));
    const unsigned char *t = (const unsigned char *)p->s;
    for (size_t i = 0; i + 2 < p->len; i++) {
        unsigned h = tri_hash(t + i);
        if (!(kw_bits[h / 64] & (1ull << (h % 64))))
            continue;
        unsigned key = kw_key(t + i);
        for (uint32_t e = kw_start[key]; e < kw_start[key + 1]; e++) {
            const struct kw_entry *ke = &kw_ent[e];
            if (ke->len > p->len - i)
                continue;
            size_t j = 2;
            while (j < ke->len && lc[t[i + j]] == (unsigned char)ke->kw[j])
                j++;
            struct hitv *hv = &p->hits[ke->rule];
            if (j == ke->len && !(hv->n && hv->v[hv->n - 1] == i))
                push_size(hv, i);
        }
    }
}

/* Shannon entropy of s[a, b) in bits per byte, and whether it mixes
 * letters and digits (random keys do, words and plain numbers do not). */
static bool random_enough(const char *s, size_t a, size_t b, double min_bits)
{
    unsigned counts[256] = { 0 };
    bool alpha = false, digit = false;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)s[i];
        counts[c]++;
        alpha |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        digit |= c >= '0' && c <= '9';
    }
    double n = (double)(b - a), h = 0;
    for (int c = 0; c < 256; c++)
        if (counts[c]) {
            double q = counts[c] / n;
            h -= q * log2(q);
        }
    return alpha && digit && h >= min_bits;
}

/* One match attempt from off; records the secret.  Returns where the next
 * attempt starts, or SIZE_MAX when the rule is done with this text. */
static size_t match_once(struct pass *p, const struct crule *cr, pcre2_match_data *md, size_t off)
{
    int rc = pcre2_match(cr->code, (PCRE2_SPTR)p->s, p->len, off, 0, md, mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return cr->at_keyword ? off + 1 : SIZE_MAX;
    if (rc < 0) {
        /* Match or memory limit hit: fail closed, the rest is not shown. */
        add_span(p, off, p->len, MASK_MARKER);
        return SIZE_MAX;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t m0 = ov[0], m1 = ov[1], a = m0, b = m1;
    for (size_t g = 0; g < cr->n_groups; g++) {
        uint32_t n = cr->groups[g];
        if ((int)n < rc && ov[2 * n] != PCRE2_UNSET) {
            a = ov[2 * n];
            b = ov[2 * n + 1];
            break;
        }
    }
    bool ok = b > a && (cr->min_entropy <= 0 || random_enough(p->s, a, b, cr->min_entropy));
    if (ok)
        add_span(p, a, b, cr->repl);
    /* Go on after the match, or from a short secret's start: a value may
     * itself open the next secret ("PRIVATE-TOKEN: PRIVATE-TOKEN: x"), and
     * rescanning at most SHORT_SECRET bytes keeps the pass linear. */
    if (!ok || m1 == m0)
        return m0 + 1;
    return (a > m0 && b - a <= SHORT_SECRET) ? a : m1;
}

/* Rules whose matches start at a keyword are tried (anchored) only where
 * one of their keywords starts: a few places instead of every byte. */
static void run_at_keywords(struct pass *p, const struct crule *cr, const struct hitv *h,
                            pcre2_match_data *md)
{
    size_t next = 0;            /* no attempt before this offset */
    for (size_t i = 0; i < h->n && next != SIZE_MAX; i++)
        if (h->v[i] >= next)
            next = match_once(p, cr, md, h->v[i]);
}

/* h: the rule's keyword hits, NULL for rules without keywords. */
static void run_rule(struct pass *p, const struct crule *cr, const struct hitv *h, pcre2_match_data *md)
{
    if (h && !h->n)
        return;                 /* none of its keywords occurs */
    if (h && cr->at_keyword) {
        run_at_keywords(p, cr, h, md);
        return;
    }
    for (size_t off = 0; off <= p->len;)
        off = match_once(p, cr, md, off);
}

/* hits: per-rule keyword hits (the built-in set) or NULL (extra rules). */
static void run_set(struct pass *p, const struct ruleset *rs, const struct hitv *hits)
{
    if (!rs || !rs->n)
        return;
    pcre2_match_data *md = pcre2_match_data_create(rs->max_pairs, NULL);
    if (!md)
        abort();
    for (size_t i = 0; i < rs->n; i++)
        run_rule(p, &rs->r[i], hits && rs->r[i].n_kw ? &hits[i] : NULL, md);
    pcre2_match_data_free(md);
}

/* Index of the marker that covers position i, or -1. */
static long marker_at(const struct pass *p, size_t i)
{
    size_t lo = 0, hi = p->n_markers;
    while (lo < hi) {           /* first marker starting after i */
        size_t mid = lo + (hi - lo) / 2;
        if (p->markers[mid] <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || i >= p->markers[lo - 1] + MARKER_LEN)
        return -1;
    return (long)(lo - 1);
}

/* Existing markers are never rewritten: a span is cut back to stop short
 * of a marker it only partly covers, and dropped if inside one. */
static void clip_to_markers(struct pass *p, struct span *sp)
{
    long m;
    while (sp->a < sp->b && (m = marker_at(p, sp->a)) >= 0)
        sp->a = p->markers[m] + MARKER_LEN;
    while (sp->a < sp->b && (m = marker_at(p, sp->b - 1)) >= 0 && p->markers[m] + MARKER_LEN > sp->b)
        sp->b = p->markers[m];
}

static int span_cmp(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b > b->b ? -1 : a->b < b->b;
}

/* Runs every rule and leaves p->sp sorted and merged (no overlaps). */
static void pass_run(struct pass *p)
{
    mask_init();
    find_keywords(p);
    size_t cap = 0;
    for (const char *m = p->s; (m = memmem(m, p->len - (size_t)(m - p->s), MASK_MARKER, MARKER_LEN));
         m += MARKER_LEN) {
        if (p->n_markers == cap) {
            cap = cap ? cap * 2 : 16;
            p->markers = xrealloc(p->markers, cap * sizeof(*p->markers));
        }
        p->markers[p->n_markers++] = (size_t)(m - p->s);
    }

    run_set(p, &builtin, p->hits);
    pthread_rwlock_rdlock(&extra_lock);
    run_set(p, extra, NULL);
    pthread_rwlock_unlock(&extra_lock);

    size_t n = 0;
    for (size_t i = 0; i < p->n_sp; i++) {
        if (p->n_markers)
            clip_to_markers(p, &p->sp[i]);
        if (p->sp[i].a < p->sp[i].b)
            p->sp[n++] = p->sp[i];
    }
    if (n > 1)
        qsort(p->sp, n, sizeof(*p->sp), span_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && p->sp[i].a <= p->sp[out - 1].b) {
            if (p->sp[i].b > p->sp[out - 1].b)
                p->sp[out - 1].b = p->sp[i].b;
        } else {
            p->sp[out++] = p->sp[i];
        }
    }
    p->n_sp = out;
}

static void pass_finish(struct pass *p)
{
    for (size_t i = 0; p->hits && i < builtin.n; i++)
        free(p->hits[i].v);
    free(p->hits);
    free(p->markers);
    free(p->sp);
}

char *mask_secrets(const char *in)
{
    if (!in)
        return NULL;
    struct pass p = { .s = in, .len = strlen(in) };
    pass_run(&p);
    struct buf out;
    buf_init(&out, 0);
    size_t at = 0;
    for (size_t i = 0; i < p.n_sp; i++) {
        buf_append(&out, in + at, p.sp[i].a - at);
        buf_puts(&out, p.sp[i].repl);
        /* A masked run that swallowed a line end keeps one, so the text
         * after it stays on its own line (masking again finds nothing). */
        size_t rl = strlen(p.sp[i].repl);
        if ((rl == 0 || p.sp[i].repl[rl - 1] != '\n') && memchr(in + p.sp[i].a, '\n', p.sp[i].b - p.sp[i].a))
            buf_puts(&out, "\n");
        at = p.sp[i].b;
    }
    buf_append(&out, in + at, p.len - at);
    pass_finish(&p);
    char *r = buf_take(&out);
    return r ? r : xstrdup("");
}

size_t mask_count(const char *in)
{
    if (!in)
        return 0;
    struct pass p = { .s = in, .len = strlen(in) };
    pass_run(&p);
    size_t n = p.n_sp;
    pass_finish(&p);
    return n;
}

void mask_replace(char **s)
{
    if (!s || !*s)
        return;
    char *m = mask_secrets(*s);
    free(*s);
    *s = m;
}

static bool is_blank_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *mask_strip(const char *in)
{
    if (!in)
        return NULL;
    char *m = mask_secrets(in);
    struct buf out;
    buf_init(&out, 0);
    size_t n = strlen(m);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !is_blank_byte(m[j]))
            j++;
        if (j == i) {           /* a blank */
            buf_append(&out, m + i, 1);
            i++;
            continue;
        }
        if (!memmem(m + i, j - i, MASK_MARKER, MARKER_LEN))
            buf_append(&out, m + i, j - i);
        i = j;
    }
    free(m);
    char *r = buf_take(&out);
    return r ? r : xstrdup("");
}
