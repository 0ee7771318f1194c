/* Passwords, tokens, cookies and Authorization headers (see auth.h).
 *
 * Design decisions beyond the header's:
 * 1. sodium_init runs under pthread_once; its result is kept, so a failure
 *    (no entropy source) is reported by every call rather than ignored.
 * 2. The dummy hash is made lazily under a mutex (not pthread_once, whose
 *    routine cannot fail): a failed attempt (out of memory) is retried by
 *    the next call. Its password is random and thrown away.
 * 3. The parallel-hash limit is a counting semaphore built from a mutex and
 *    a condition variable, so that it needs no initialisation call.
 * 4. Header parsers work on the caller's string in place and copy only the
 *    value asked for, after checking its length against cap: a value is
 *    returned whole or not at all.
 */
#include "auth.h"

#include "bookrec/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOKEN_BYTES 32
#define HASH_BYTES 32

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = BR_EIO;

static void init_once(void)
{
    g_init_rc = sodium_init() < 0 ? BR_EIO : 0;
}

int br_auth_init(void)
{
    pthread_once(&g_once, init_once);
    return g_init_rc;
}

/* ---- bounded parallelism of Argon2id calls ---- */

static pthread_mutex_t g_sem_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_sem_cv = PTHREAD_COND_INITIALIZER;
static int g_sem_busy;

static void sem_enter(void)
{
    pthread_mutex_lock(&g_sem_mu);
    while (g_sem_busy >= BR_AUTH_MAX_PARALLEL_HASHES)
        pthread_cond_wait(&g_sem_cv, &g_sem_mu);
    g_sem_busy++;
    pthread_mutex_unlock(&g_sem_mu);
}

static void sem_leave(void)
{
    pthread_mutex_lock(&g_sem_mu);
    g_sem_busy--;
    pthread_cond_signal(&g_sem_cv);
    pthread_mutex_unlock(&g_sem_mu);
}

/* ---- passwords ---- */

int br_auth_password_check(const char *pw, char *err, size_t errcap)
{
    size_t n = pw ? strnlen(pw, BR_AUTH_PASSWORD_MAX + 1) : 0;
    if (n < BR_AUTH_PASSWORD_MIN) {
        if (err && errcap)
            snprintf(err, errcap, "password must be at least %d bytes", BR_AUTH_PASSWORD_MIN);
        return BR_EINVAL;
    }
    if (n > BR_AUTH_PASSWORD_MAX) {
        if (err && errcap)
            snprintf(err, errcap, "password must be at most %d bytes", BR_AUTH_PASSWORD_MAX);
        return BR_ELIMIT;
    }
    return 0;
}

/* The caller holds a semaphore slot. */
static int hash_locked(const char *pw, char *out)
{
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return BR_ENOMEM; /* libsodium's only failure here: the memory */
    return 0;
}

int br_auth_hash_password(const char *pw, char *out, size_t cap)
{
    int rc;
    if (out && cap)
        out[0] = '\0';
    if ((rc = br_auth_init()) != 0)
        return rc;
    if ((rc = br_auth_password_check(pw, NULL, 0)) != 0)
        return rc;
    if (!out || cap < BR_AUTH_HASH_CAP)
        return BR_EINVAL;
    sem_enter();
    rc = hash_locked(pw, out);
    sem_leave();
    return rc;
}

int br_auth_verify_password(const char *hash, const char *pw)
{
    if (br_auth_init() != 0 || !hash || br_auth_password_check(pw, NULL, 0) != 0)
        return 0;
    /* crypto_pwhash_str_verify reads a fixed-size array: never hand it a
     * string that does not fit one. */
    if (strnlen(hash, BR_AUTH_HASH_CAP) >= BR_AUTH_HASH_CAP)
        return 0;
    sem_enter();
    int ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    sem_leave();
    return ok;
}

static pthread_mutex_t g_dummy_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_dummy[BR_AUTH_HASH_CAP];
static int g_dummy_ready; /* under g_dummy_mu; set once, never cleared */

static int dummy_hash(char *out)
{
    int rc = 0;
    pthread_mutex_lock(&g_dummy_mu);
    if (!g_dummy_ready) {
        unsigned char raw[24];
        char pw[sizeof raw * 2 + 1];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
        sem_enter();
        rc = hash_locked(pw, g_dummy);
        sem_leave();
        g_dummy_ready = rc == 0;
        sodium_memzero(pw, sizeof pw);
    }
    if (rc == 0)
        memcpy(out, g_dummy, BR_AUTH_HASH_CAP);
    pthread_mutex_unlock(&g_dummy_mu);
    return rc;
}

int br_auth_warmup(void)
{
    char h[BR_AUTH_HASH_CAP];
    int rc = br_auth_init();
    return rc ? rc : dummy_hash(h);
}

int br_auth_dummy_verify(const char *pw)
{
    char h[BR_AUTH_HASH_CAP];
    if (br_auth_init() != 0 || dummy_hash(h) != 0)
        return 0;
    /* Same path as a real verify: the limits are checked there too. */
    (void)br_auth_verify_password(h, pw);
    return 0;
}

int br_auth_needs_rehash(const char *hash)
{
    if (br_auth_init() != 0 || !hash || strnlen(hash, BR_AUTH_HASH_CAP) >= BR_AUTH_HASH_CAP)
        return 1;
    return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

/* ---- tokens ---- */

int br_auth_new_token(char *out, size_t cap)
{
    unsigned char raw[TOKEN_BYTES];
    int rc = br_auth_init();
    if (rc)
        return rc;
    if (!out || cap < BR_AUTH_TOKEN_CAP)
        return BR_EINVAL;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, cap, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

int br_auth_new_csrf(char *out, size_t cap)
{
    return br_auth_new_token(out, cap);
}

static int is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int br_auth_token_valid(const char *token)
{
    if (!token)
        return 0;
    for (size_t i = 0; i < BR_AUTH_TOKEN_LEN; i++)
        if (!is_b64url((unsigned char)token[i]))
            return 0; /* also stops at a NUL */
    return token[BR_AUTH_TOKEN_LEN] == '\0';
}

int br_auth_token_hash(const char *token, char out_hex[BR_AUTH_TOKEN_HASH_CAP])
{
    unsigned char h[HASH_BYTES];
    int rc = br_auth_init();
    out_hex[0] = '\0';
    if (rc)
        return rc;
    if (!br_auth_token_valid(token))
        return BR_EFORMAT;
    crypto_generichash(h, sizeof h, (const unsigned char *)token, BR_AUTH_TOKEN_LEN, NULL, 0);
    sodium_bin2hex(out_hex, BR_AUTH_TOKEN_HASH_CAP, h, sizeof h);
    return 0;
}

/* ---- CSRF ---- */

int br_auth_csrf_required(const char *method, int by_cookie)
{
    if (!by_cookie)
        return 0;
    if (method && (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS")))
        return 0;
    return 1; /* unknown methods too: fail closed */
}

int br_auth_csrf_equal(const char *expected, const char *got)
{
    if (br_auth_init() != 0 || !expected || !got)
        return 0;
    size_t n = strlen(expected);
    /* The length is no secret (all our tokens have one length); an empty
     * expected token would match an empty header. */
    if (n == 0 || strnlen(got, n + 1) != n)
        return 0;
    return sodium_memcmp(expected, got, n) == 0;
}

/* ---- cookies ---- */

static int finish(int n, char *out, size_t cap)
{
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return BR_ELIMIT;
    }
    return 0;
}

int br_auth_session_cookie(char *out, size_t cap, const char *token, long max_age_s, int secure)
{
    if (!out)
        return BR_EINVAL;
    if (cap)
        out[0] = '\0';
    if (!br_auth_token_valid(token))
        return BR_EFORMAT; /* also what keeps ';' and CR/LF out of the header */
    if (max_age_s < 1 || max_age_s > BR_AUTH_COOKIE_MAX_AGE)
        return BR_ERANGE;
    int n = snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%ld%s",
                     BR_AUTH_COOKIE, token, max_age_s, secure ? "; Secure" : "");
    return finish(n, out, cap);
}

int br_auth_clear_cookie(char *out, size_t cap, int secure)
{
    if (!out)
        return BR_EINVAL;
    int n = snprintf(out, cap,
                     "%s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; "
                     "Expires=Thu, 01 Jan 1970 00:00:00 GMT%s",
                     BR_AUTH_COOKIE, secure ? "; Secure" : "");
    return finish(n, out, cap);
}

/* RFC 6265 cookie-octet: visible ASCII but DQUOTE, comma, semicolon, backslash. */
static int is_cookie_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

int br_auth_cookie_get(const char *cookie_header, const char *name, char *out, size_t cap)
{
    if (!out || !cap || !name || !name[0])
        return BR_EINVAL;
    out[0] = '\0';
    if (!cookie_header)
        return BR_ENOENT;
    if (strnlen(cookie_header, BR_AUTH_COOKIE_HEADER_MAX + 1) > BR_AUTH_COOKIE_HEADER_MAX)
        return BR_ELIMIT;
    size_t name_len = strlen(name);
    const char *p = cookie_header;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *ns = p, *ne = eq;
            while (ns < ne && is_ws(*ns))
                ns++;
            while (ne > ns && is_ws(ne[-1]))
                ne--;
            if ((size_t)(ne - ns) == name_len && !memcmp(ns, name, name_len)) {
                const char *vs = eq + 1, *ve = end;
                while (vs < ve && is_ws(*vs))
                    vs++;
                while (ve > vs && is_ws(ve[-1]))
                    ve--;
                if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
                    vs++;
                    ve--;
                }
                size_t len = (size_t)(ve - vs);
                for (const char *v = vs; v < ve; v++)
                    if (!is_cookie_octet((unsigned char)*v))
                        return BR_EFORMAT;
                if (len >= cap)
                    return BR_ELIMIT;
                memcpy(out, vs, len);
                out[len] = '\0';
                return 0;
            }
        }
        p = *end ? end + 1 : end;
    }
    return BR_ENOENT;
}

/* ---- Authorization: Bearer ---- */

static int is_token68(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int br_auth_bearer(const char *authorization, char *out, size_t cap)
{
    if (!out || !cap)
        return BR_EINVAL;
    out[0] = '\0';
    if (!authorization)
        return BR_ENOENT;
    const char *p = authorization;
    while (is_ws(*p))
        p++;
    const char *scheme = p;
    while (*p && !is_ws(*p))
        p++;
    if (p - scheme != 6 || strncasecmp(scheme, "Bearer", 6) != 0)
        return BR_ENOENT;
    while (is_ws(*p))
        p++;
    const char *ts = p;
    while (is_token68((unsigned char)*p))
        p++;
    if (p == ts)
        return BR_EFORMAT;
    while (*p == '=')
        p++;
    const char *te = p;
    while (is_ws(*p))
        p++;
    if (*p)
        return BR_EFORMAT;
    size_t len = (size_t)(te - ts);
    if (len >= cap)
        return BR_ELIMIT;
    memcpy(out, ts, len);
    out[len] = '\0';
    return 0;
}
