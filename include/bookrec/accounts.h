/* The gateway's data: accounts, sessions, ratings, favorite subjects and events.
 *
 * An account is a login attached to one reader (a users row): a sign-up creates the reader
 * (source "api", external_id = username) and the account together; an operator may instead
 * attach a login to an imported reader (claim). A reader's ratings are its interactions.
 *
 * Design decisions:
 * 1. The library stores what it is given: password hashes (Argon2id strings made by the
 *    caller with libsodium), session token hashes and CSRF tokens are opaque text here, so
 *    lib/ needs no crypto library.
 * 2. account_id == user_id: one account per reader, and user ids are never reused (a
 *    deleted reader keeps its users row, marked deleted), so account ids are never reused
 *    either and no second id sequence is needed.
 * 3. Uniqueness of usernames and e-mails is case-insensitive (ASCII letters): lower-cased
 *    copies carry the UNIQUE constraints, and the spelling the user chose is kept for
 *    display. Conflicts are checked inside the write transaction (on SQLite it holds the
 *    write lock from its start), so a clash is BR_EEXIST, not a database error.
 * 4. Every input is validated here too (lengths, character sets, ranges, existence), with
 *    distinct codes the server maps to HTTP statuses: BR_EINVAL (malformed, 400),
 *    BR_ERANGE (a value outside its range, 400), BR_ELIMIT (too many, 400), BR_ENOENT
 *    (no such account / reader / book / subject / session, 404 or 401), BR_EEXIST (taken,
 *    409). Nothing is written when a call fails: every write is one transaction.
 * 5. Deleting an account removes the reader's interactions, favorites, split folds, user
 *    aggregates and sessions, and anonymizes its events, in one transaction, so no later
 *    split or training run sees the reader.
 * 6. No global state: a br_store is used by one thread at a time (one per worker thread).
 *
 * Every function returns 0 or a negative BR_E* code; BR_ESTORE means a database error
 * (reason in br_store_errmsg(st)). Out-parameters go last. */
#ifndef BOOKREC_ACCOUNTS_H
#define BOOKREC_ACCOUNTS_H

#include "bookrec/store.h"

#include <stddef.h>
#include <stdint.h>

#define BR_USERNAME_MIN 3 /* bytes; [A-Za-z0-9_.-] only */
#define BR_USERNAME_MAX 32
#define BR_EMAIL_MAX 254        /* bytes (RFC 5321 path limit); exactly one '@' */
#define BR_PWHASH_MAX 256       /* bytes of a stored password hash (printable ASCII) */
#define BR_TOKEN_HASH_MAX 128   /* bytes of a stored session-token hash (printable ASCII) */
#define BR_CSRF_MAX 128         /* bytes of a session's CSRF token (printable ASCII) */
#define BR_FAV_MAX 64           /* chosen favorite subjects of one reader */
#define BR_SUBJECT_NAME_MAX 128 /* bytes of a subject name (subjects.name) */
#define BR_RATING_PAGE_MAX 1000 /* rows of one br_rating_list page */
#define BR_EVENT_MODE_MAX 32
#define BR_EVENT_VERSION_MAX 64
/* Default retention of events: the server purges older ones (br_event_purge_older). */
#define BR_EVENT_RETENTION_DAYS 90

/* Input checks the library applies itself, exposed so that the server can reject a request
 * before the costly part (hashing a password). 1 when valid, else 0. NULL is invalid. */
int br_username_valid(const char *s);
int br_email_valid(const char *s);
/* Printable ASCII (0x21..0x7e), 1..max bytes: password hashes, token hashes, CSRF tokens. */
int br_opaque_valid(const char *s, size_t max);

/* ------------------------------------------------------------------------------------ */
/* Accounts */

typedef struct br_account {
    int64_t account_id; /* == user_id (see design decision 2) */
    int64_t user_id;
    int64_t created_at;                 /* unix seconds */
    char username[BR_USERNAME_MAX + 1]; /* as chosen (case kept) */
    char email[BR_EMAIL_MAX + 1];
    char password_hash[BR_PWHASH_MAX + 1];
} br_account;

/* Signs up: creates a reader (users row: source "api", external_id = username) and its
 * account, with favorite subjects fav[0..n_fav) stored as origin "chosen" (duplicates are
 * dropped; fav may be NULL when n_fav is 0). out (may be NULL) gets the new account.
 * BR_EINVAL: bad username, email or hash; BR_ELIMIT: n_fav > BR_FAV_MAX; BR_ENOENT: a
 * subject id not in subjects; BR_EEXIST: username or email taken (case-insensitively;
 * use br_account_by_username / _by_email to tell which). */
int br_account_create(br_store *st, const char *username, const char *email,
                      const char *password_hash, const int32_t *fav, size_t n_fav, br_account *out);

/* Attaches a login to an existing (e.g. imported) reader; its ratings and favorites stay.
 * BR_ENOENT: no such reader, or a deleted one; BR_EEXIST: that reader already has an
 * account, or the username or email is taken; BR_EINVAL as br_account_create. */
int br_account_claim(br_store *st, int64_t user_id, const char *username, const char *email,
                     const char *password_hash, br_account *out);

/* Lookups; BR_ENOENT when there is none. By username and email case-insensitively (an
 * invalid username or email is simply not found). */
int br_account_by_username(br_store *st, const char *username, br_account *out);
int br_account_by_email(br_store *st, const char *email, br_account *out);
int br_account_by_id(br_store *st, int64_t account_id, br_account *out);
int br_account_by_user(br_store *st, int64_t user_id, br_account *out);

/* What br_account_update changes: NULL / set_fav == 0 leaves a field as it is. */
typedef struct br_account_changes {
    const char *email;
    const char *password_hash;
    int set_fav; /* 1: replace the chosen favorites with fav[0..n_fav) (0 clears) */
    const int32_t *fav;
    size_t n_fav;
} br_account_changes;

/* PATCH /me: applies ch in one transaction. out (may be NULL) gets the account after it.
 * BR_ENOENT: no such account, or an unknown subject; BR_EEXIST: the new email belongs to
 * another account; BR_EINVAL / BR_ELIMIT as br_account_create. */
int br_account_update(br_store *st, int64_t account_id, const br_account_changes *ch,
                      br_account *out);

/* DELETE /me: removes the account, its sessions, the reader's interactions, favorites,
 * split_folds rows and user aggregates, and sets account_id = 0 on its events, all in one
 * transaction. The users row stays, with deleted_at set and its personal columns cleared
 * (a sign-up's external_id becomes "deleted-<user_id>", freeing the username), so the
 * user_id is never reused. Work aggregates still count the reader until the next
 * `bookrec split` recomputes them. BR_ENOENT when there is no such account. */
int br_account_delete(br_store *st, int64_t account_id);

/* ------------------------------------------------------------------------------------ */
/* Sessions: the server makes a random token, gives it to the client and stores only its
 * hash (hex, say) with a CSRF token and an expiry. */

/* BR_ENOENT: no such account; BR_EEXIST: that token hash is stored already; BR_EINVAL:
 * bad token hash / csrf (br_opaque_valid with BR_TOKEN_HASH_MAX / BR_CSRF_MAX). */
int br_session_create(br_store *st, int64_t account_id, const char *token_hash, const char *csrf,
                      int64_t expires_at);
/* The session of a token hash that has not expired (expires_at > now): its account and
 * (csrf_out may be NULL) its CSRF token, copied into csrf_out[0..cap), cap > BR_CSRF_MAX
 * being always enough (BR_ERANGE when it does not fit). BR_ENOENT when missing or
 * expired. Read-only: expired rows go with br_session_purge_expired. */
int br_session_lookup(br_store *st, const char *token_hash, int64_t now, int64_t *account_id,
                      char *csrf_out, size_t cap);
/* Logout. BR_ENOENT when no such session (the caller may ignore it). */
int br_session_delete(br_store *st, const char *token_hash);
/* Ends every session of an account except keep_token_hash (NULL: all), e.g. after a
 * password change. 0 also when there were none. */
int br_session_delete_account(br_store *st, int64_t account_id, const char *keep_token_hash);
/* Deletes every session with expires_at <= now. */
int br_session_purge_expired(br_store *st, int64_t now);

/* ------------------------------------------------------------------------------------ */
/* Ratings: a reader's interactions. rating 1..10, or 0 = read without a rating. */

typedef struct br_rating_row {
    int64_t item_idx;
    int64_t ts; /* unix seconds; 0 when unknown (imported without a time) */
    int rating;
} br_rating_row;

/* Keyset cursor: the (ts, item_idx) of the last row of the previous page. */
typedef struct br_rating_cursor {
    int64_t ts;
    int64_t item_idx;
} br_rating_cursor;

/* Upsert of the reader's interaction with a book: rating and ts replace the old ones,
 * source becomes "api". Bumps the reader's state revision. BR_ERANGE: rating outside
 * 0..10 or ts < 0; BR_ENOENT: no such (or a deleted) reader, or item_idx not in works. */
int br_rating_put(br_store *st, int64_t user_id, int64_t item_idx, int rating, int64_t ts);
/* Removes it (whatever its source). BR_ENOENT when the reader has no interaction with it.
 * Its split_folds rows stay: training joins folds with interactions, so they are inert,
 * and a book rated again keeps its fold. */
int br_rating_delete(br_store *st, int64_t user_id, int64_t item_idx);
/* The reader's interaction with one book ("my rating" on a book page); BR_ENOENT if none. */
int br_rating_get(br_store *st, int64_t user_id, int64_t item_idx, br_rating_row *out);
/* One page of the reader's interactions, newest first: ordered by (ts desc, item_idx desc),
 * a total order (item_idx is unique per reader), starting strictly after *after (NULL: the
 * first page). rows gets up to cap (1..BR_RATING_PAGE_MAX, else BR_ERANGE) rows, *n their
 * number, *more (may be NULL) 1 when another page follows. Pages never repeat or skip a
 * row that keeps its (ts, item_idx) while the client pages; a row added or re-rated
 * meanwhile (with ts = now, newer than the cursor) shows on a fresh first page instead. An
 * invalid cursor (negative) is BR_EINVAL. */
int br_rating_list(br_store *st, int64_t user_id, const br_rating_cursor *after,
                   br_rating_row *rows, size_t cap, size_t *n, int *more);
/* All of the reader's interactions in item order (for fold-in and for removing read books):
 * items / ratings / ts (each may be NULL) get the first min(cap, total); *n gets the total.
 * BR_ELIMIT when total > cap (call again with a larger buffer). */
int br_user_interactions(br_store *st, int64_t user_id, int32_t *items, float *ratings, int64_t *ts,
                         size_t cap, size_t *n);
/* Newest ts over the reader's interactions (0 when none): a warm reader with ratings newer
 * than the model gets fold-in. */
int br_user_newest_ts(br_store *st, int64_t user_id, int64_t *ts);

/* A reader's state for cache keys: rev changes with every rating put/delete and every
 * change of chosen favorites, so a key holding it never serves a stale list. */
typedef struct br_user_state {
    int64_t rev;
    int64_t n_interactions;
    int64_t newest_ts;
} br_user_state;
/* BR_ENOENT for no such (or a deleted) reader. */
int br_user_state_get(br_store *st, int64_t user_id, br_user_state *out);

/* ------------------------------------------------------------------------------------ */
/* Favorite subjects */

/* The reader's chosen favorites (origin "chosen", not those derived by `bookrec split`),
 * by subject id: ids get the first min(cap, total), *n the total; BR_ELIMIT when
 * total > cap. */
int br_fav_get(br_store *st, int64_t user_id, int32_t *ids, size_t cap, size_t *n);
/* Replaces the reader's chosen favorites (n == 0 clears them; duplicates are dropped).
 * Choosing any also drops the derived ones (chosen favorites take their place). Bumps the
 * state revision. BR_ENOENT: no such reader or an unknown subject; BR_ELIMIT: n >
 * BR_FAV_MAX. */
int br_fav_set(br_store *st, int64_t user_id, const int32_t *ids, size_t n);

/* Subject id of a name as a user types it: cleaned the way imported tags are
 * (br_subject_canon), then looked up. BR_ENOENT when it is no subject. */
int br_subject_find(br_store *st, const char *name, int32_t *id);
/* Name of a subject id into buf[0..cap) (BR_ERANGE when it does not fit; BR_SUBJECT_NAME_MAX
 * + 1 bytes always do). BR_ENOENT when there is none. */
int br_subject_name_get(br_store *st, int32_t id, char *buf, size_t cap);

/* ------------------------------------------------------------------------------------ */
/* Events: impressions and clicks, for click-through rates. They do not feed training.
 * Retention: the server deletes events older than BR_EVENT_RETENTION_DAYS (90 days by
 * default) with br_event_purge_older. */

typedef enum br_event_type { BR_EVENT_IMPRESSION = 0, BR_EVENT_CLICK = 1 } br_event_type;
#define BR_EVENT_TYPE_COUNT 2

typedef enum br_event_surface {
    BR_SURFACE_RECOMMENDATIONS = 0,
    BR_SURFACE_SIMILAR = 1,
    BR_SURFACE_SEARCH = 2,
    BR_SURFACE_CHAT = 3
} br_event_surface;
#define BR_SURFACE_COUNT 4

/* "impression" / "click"; "recommendations" / "similar" / "search" / "chat". Names of
 * values out of range are "?". Parsers return BR_EINVAL for anything else (NULL too). */
const char *br_event_type_name(br_event_type t);
const char *br_event_surface_name(br_event_surface s);
int br_event_type_parse(const char *s, br_event_type *out);
int br_event_surface_parse(const char *s, br_event_surface *out);

typedef struct br_event {
    int64_t ts;         /* unix seconds, >= 0 */
    int64_t account_id; /* 0 = anonymous (not checked against accounts) */
    br_event_type type;
    br_event_surface surface;
    const char *mode;    /* 0..BR_EVENT_MODE_MAX bytes of [A-Za-z0-9_.:+-]; NULL = "" */
    int64_t item_idx;    /* must be in works */
    const char *version; /* model version, 0..BR_EVENT_VERSION_MAX bytes, same charset */
} br_event;

/* BR_EINVAL: bad type, surface, mode or version; BR_ERANGE: ts < 0 or account_id < 0;
 * BR_ENOENT: item_idx not in works. */
int br_event_insert(br_store *st, const br_event *e);
/* Deletes the events with ts < before_ts (retention). */
int br_event_purge_older(br_store *st, int64_t before_ts);

typedef struct br_event_count {
    br_event_surface surface;
    char mode[BR_EVENT_MODE_MAX + 1];
    int64_t impressions;
    int64_t clicks;
} br_event_count;

/* Impressions and clicks per (surface, mode) over events with since <= ts < until, ordered
 * by surface name then mode: rows gets the first min(cap, total) groups, *n the total
 * (BR_ELIMIT when total > cap). CTR = clicks / impressions. */
int br_event_counts(br_store *st, int64_t since, int64_t until, br_event_count *rows, size_t cap,
                    size_t *n);

#endif
