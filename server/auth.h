/* Accounts' building blocks for the gateway: password hashing, session and
 * CSRF tokens, cookies and Authorization headers. No storage here: the
 * gateway keeps users and sessions in the store and calls these.
 *
 * Design decisions:
 * 1. Passwords: Argon2id through libsodium's crypto_pwhash_str with
 *    OPSLIMIT_INTERACTIVE (2 passes) and MEMLIMIT_INTERACTIVE (64 MiB), about
 *    50-100 ms on one core: the cost libsodium recommends for interactive
 *    logins. `bookrec users create|claim` hashes through the same function,
 *    so accounts made by an operator and by signup are alike. The encoded
 *    string carries its parameters, so raising them later only needs
 *    br_auth_needs_rehash at the next login. Passwords are 8..128 bytes:
 *    short ones are guessable, and the cap bounds the work an anonymous
 *    client can ask for.
 * 2. At most BR_AUTH_MAX_PARALLEL_HASHES hash or verify calls run at once
 *    (others wait): each takes 64 MiB, so memory stays bounded whatever the
 *    number of handler threads. Login attempts are rate-limited on top.
 * 3. No user enumeration by timing: for an unknown user the login handler
 *    calls br_auth_dummy_verify(pw), which verifies pw against a hash made
 *    once with the same parameters, so it costs what a wrong password
 *    costs. Call br_auth_warmup() at startup so that the first unknown-user
 *    login does not also pay for making that hash.
 * 4. Session tokens are 32 random bytes, base64url without padding (43
 *    characters). The store keeps only BLAKE2b-256(token) in hex: a leaked
 *    table does not let anyone log in, and a 256-bit random token needs no
 *    salt or slow hash. CSRF tokens have the same shape and are stored as is
 *    with the session (they are no credential alone).
 * 5. The browser gets the token in the cookie BR_AUTH_COOKIE:
 *    HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site
 *    POST, PATCH, DELETE), Path=/, Max-Age, and Secure when served over
 *    HTTPS. API clients send "Authorization: Bearer <token>" with the same
 *    tokens. When a request carries a Bearer header, the Bearer decides and
 *    any cookie is ignored.
 * 6. CSRF rule: a request authenticated by the cookie whose method is not
 *    GET, HEAD or OPTIONS (so POST, PATCH, DELETE, PUT) must carry the
 *    header BR_AUTH_CSRF_HEADER equal to the session's CSRF token, compared
 *    in constant time (sodium_memcmp); otherwise 403 and nothing written.
 *    Bearer-authenticated requests are exempt: browsers never attach an
 *    Authorization header on their own, so a forged cross-site request
 *    cannot carry one. SameSite=Lax is a second, independent layer.
 * 7. Parsers of request headers never trust their input: values are
 *    checked against the token alphabet and sizes, never truncated, and a
 *    malformed cookie of another application (localhost shares cookies
 *    across ports) does not hide ours.
 *
 * Thread-safety: every function may be called from any thread; libsodium is
 * initialised once on first use.
 */
#ifndef BOOKREC_SERVER_AUTH_H
#define BOOKREC_SERVER_AUTH_H

#include <stddef.h>

#define BR_AUTH_PASSWORD_MIN 8   /* bytes */
#define BR_AUTH_PASSWORD_MAX 128 /* bytes */
#define BR_AUTH_HASH_CAP 128     /* crypto_pwhash_STRBYTES, with the NUL */
#define BR_AUTH_MAX_PARALLEL_HASHES 4
#define BR_AUTH_TOKEN_LEN 43      /* characters of a session or CSRF token */
#define BR_AUTH_TOKEN_CAP 44      /* with the NUL */
#define BR_AUTH_TOKEN_HASH_CAP 65 /* 64 hex digits and the NUL */
#define BR_AUTH_COOKIE "bookrec_session"
#define BR_AUTH_CSRF_HEADER "X-CSRF-Token"
#define BR_AUTH_COOKIE_HEADER_MAX 16384       /* bytes of a Cookie header we parse */
#define BR_AUTH_COOKIE_MAX_AGE (400L * 86400) /* browsers cap Max-Age at 400 days */

/* Initialises libsodium (once, thread-safe). 0 or BR_EIO. Every function
 * below calls it itself; calling it first only moves the cost. */
int br_auth_init(void);
/* br_auth_init and the dummy hash of br_auth_dummy_verify. 0, BR_EIO, BR_ENOMEM. */
int br_auth_warmup(void);

/* Checks the password limits: 0, BR_EINVAL (NULL or shorter than
 * BR_AUTH_PASSWORD_MIN bytes), BR_ELIMIT (longer than BR_AUTH_PASSWORD_MAX);
 * err (may be NULL) gets a message for the client that never quotes pw. */
int br_auth_password_check(const char *pw, char *err, size_t errcap);

/* Argon2id hash of pw as an encoded string ("$argon2id$v=19$m=65536,t=2,...")
 * into out[cap]. 0; BR_EINVAL/BR_ELIMIT as br_auth_password_check, or cap <
 * BR_AUTH_HASH_CAP; BR_ENOMEM when the 64 MiB could not be had; BR_EIO. */
int br_auth_hash_password(const char *pw, char *out, size_t cap);

/* 1 when pw matches the encoded hash, 0 otherwise (also for a malformed hash
 * or a pw outside the limits, which costs nothing: the limits do not depend
 * on the user). */
int br_auth_verify_password(const char *hash, const char *pw);

/* Costs what br_auth_verify_password costs for a wrong password; always 0. */
int br_auth_dummy_verify(const char *pw);

/* 1 when hash was made with other parameters than the current ones (rehash
 * after a successful login), 0 otherwise. */
int br_auth_needs_rehash(const char *hash);

/* A new session token (BR_AUTH_TOKEN_LEN characters of [A-Za-z0-9_-]) into
 * out[cap]. 0, or BR_EINVAL when cap < BR_AUTH_TOKEN_CAP. */
int br_auth_new_token(char *out, size_t cap);
/* A new CSRF token, same shape. */
int br_auth_new_csrf(char *out, size_t cap);

/* 1 when token has the shape of our tokens, 0 otherwise. */
int br_auth_token_valid(const char *token);

/* Hex of BLAKE2b-256(token), what the store keeps and looks up. 0, or
 * BR_EFORMAT when token does not have our tokens' shape (so garbage never
 * reaches a query). */
int br_auth_token_hash(const char *token, char out_hex[BR_AUTH_TOKEN_HASH_CAP]);

/* 1 when the method needs a CSRF header under the rule above, given how the
 * request was authenticated (by_cookie 1: the session cookie; 0: Bearer or
 * anonymous). */
int br_auth_csrf_required(const char *method, int by_cookie);
/* 1 when got (the X-CSRF-Token header, may be NULL) equals expected (the
 * session's token), in constant time; 0 otherwise. */
int br_auth_csrf_equal(const char *expected, const char *got);

/* The value of a Set-Cookie header carrying token:
 * "bookrec_session=<token>; Path=/; HttpOnly; SameSite=Lax; Max-Age=<n>"
 * and "; Secure" when secure. 0; BR_EFORMAT token not of our shape;
 * BR_ERANGE max_age_s outside 1..BR_AUTH_COOKIE_MAX_AGE; BR_ELIMIT cap too
 * small (out is then ""). */
int br_auth_session_cookie(char *out, size_t cap, const char *token, long max_age_s, int secure);
/* The Set-Cookie value that removes the session cookie (logout): empty
 * value, Max-Age=0 and an Expires in the past, same attributes. */
int br_auth_clear_cookie(char *out, size_t cap, int secure);

/* Finds cookie name in a Cookie request header ("a=1; b=2", spaces and tabs
 * around names and values ignored, a value in double quotes unquoted, pairs
 * without '=' skipped; the first of duplicates wins, as browsers send the
 * most specific first). Copies its value (possibly empty) into out[cap]. 0; BR_ENOENT
 * absent (or header NULL); BR_EFORMAT the value has a character outside
 * RFC 6265's cookie-octet; BR_ELIMIT value longer than cap - 1 or header
 * longer than BR_AUTH_COOKIE_HEADER_MAX. out is "" unless 0. */
int br_auth_cookie_get(const char *cookie_header, const char *name, char *out, size_t cap);

/* The token of an Authorization header "Bearer <token>" (scheme
 * case-insensitive, spaces around the token ignored; token68 alphabet
 * [A-Za-z0-9-._~+/] then '='s) into out[cap]. 0; BR_ENOENT header NULL,
 * empty or another scheme; BR_EFORMAT a Bearer header with a missing or
 * malformed token; BR_ELIMIT token longer than cap - 1. out is "" unless 0. */
int br_auth_bearer(const char *authorization, char *out, size_t cap);

#endif
