/* bookrec users create|claim: accounts made by an operator (demos, tests of warm readers).
 *
 * Passwords are checked and hashed by the gateway's own functions (server/auth.h: Argon2id,
 * OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE), so a login
 * through the API verifies either. The library only stores the hash (lib/ has no crypto).
 * There is no terminal prompt (scripts and tests have no tty): the password comes from
 * stdin with --password-stdin, or is generated and printed once. */
#include "cli.h"

#include "bookrec/accounts.h"
#include "bookrec/error.h"
#include "bookrec/store.h"

#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MAX 1024 /* bytes read from stdin; Argon2 takes any length, we need not */

static const char *const create_help =
    "usage: bookrec users create [--db PATH] --username U --email E [--password-stdin]\n"
    "                            [--subjects \"a,b,...\"]\n\n"
    "Creates a reader and its account, as POST /api/v1/auth/signup does.\n\n"
    "Options:\n"
    "  --db PATH          database (config db.path); migrated first\n"
    "  --username U       3..32 characters of A-Z a-z 0-9 _ . - (unique, any case)\n"
    "  --email E          one '@', at most 254 bytes (unique, any case)\n"
    "  --password-stdin   read the password from the first line of stdin; without it a\n"
    "                     random password is generated and printed once\n"
    "  --subjects LIST    favorite subjects, comma-separated names (as in GET /subjects)\n";

static const char *const claim_help =
    "usage: bookrec users claim [--db PATH] --user-id N --username U --email E\n"
    "                           [--password-stdin]\n\n"
    "Attaches a login to an existing (e.g. imported) reader, who keeps its ratings: a way\n"
    "to try the API as a warm reader.\n\n"
    "Options:\n"
    "  --db PATH          database (config db.path); migrated first\n"
    "  --user-id N        the reader's user_id\n"
    "  --username U, --email E, --password-stdin   as for bookrec users create\n";

static const char *const users_help =
    "usage: bookrec users COMMAND [OPTIONS]\n\n"
    "Commands:\n"
    "  create   create a reader and its account\n"
    "  claim    attach a login to an existing reader\n\n"
    "Run 'bookrec users COMMAND --help' for a command's options.\n";

/* The first line of stdin, without its line end; dies when empty, too long or holding a
 * NUL byte. Reads byte by byte so that a typed line needs no end-of-file. */
static void read_password(char *pw, size_t cap)
{
    size_t n = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (n + 1 >= cap)
            cli_die("users: the password is longer than %d bytes", (int)cap - 1);
        if (c == '\0')
            cli_die("users: the password contains a NUL byte");
        pw[n++] = (char)c;
    }
    if (ferror(stdin))
        cli_die("users: cannot read the password from stdin");
    if (n && pw[n - 1] == '\r')
        n--;
    pw[n] = '\0';
    if (!n)
        cli_die("users: empty password on stdin");
}

/* 16 random bytes as URL-safe base64 (22 characters). */
static void generate_password(char *pw, size_t cap)
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(pw, cap, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static void check_identity(const char *cmd, const char *username, const char *email)
{
    if (!username || !email)
        cli_die("users %s: give --username and --email (see bookrec users %s --help)", cmd, cmd);
    if (!br_username_valid(username))
        cli_die("users %s: invalid username (3..32 characters of A-Z a-z 0-9 _ . -)", cmd);
    if (!br_email_valid(email))
        cli_die("users %s: invalid email (one '@', at most %d bytes, no spaces)", cmd,
                BR_EMAIL_MAX);
}

static br_store *open_db(br_config *cfg)
{
    br_store *st;
    const char *db = br_config_str(cfg, "db.path");
    if (br_store_open(db, &st) != 0)
        cli_die("cannot open database %s: %s", db, br_store_errmsg(NULL));
    if (br_store_migrate(st, NULL) != 0)
        cli_die("cannot migrate database %s: %s", db, br_store_errmsg(st));
    return st;
}

/* "a, b,c" -> subject ids; dies naming an unknown subject. */
static size_t parse_subjects(br_store *st, const char *list, int32_t *ids, size_t cap)
{
    size_t n = 0;
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[BR_SUBJECT_NAME_MAX + 1];
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len) {
            if (len > BR_SUBJECT_NAME_MAX)
                cli_die("users: subject name too long: %.40s...", p);
            if (n == cap)
                cli_die("users: at most %zu favorite subjects", cap);
            memcpy(name, p, len);
            name[len] = '\0';
            int rc = br_subject_find(st, name, &ids[n]);
            if (rc == BR_ENOENT)
                cli_die("users: unknown subject \"%s\" (bookrec import loads subjects)", name);
            if (rc)
                cli_die("users: subject lookup failed: %s", br_store_errmsg(st));
            n++;
        }
        p = end ? end + 1 : NULL;
    }
    return n;
}

/* Dies with a message saying which of username / email clashes. */
static void die_taken(br_store *st, const char *cmd, const char *username, const char *email)
{
    if (br_account_by_username(st, username, NULL) == 0)
        cli_die("users %s: username %s is taken", cmd, username);
    if (br_account_by_email(st, email, NULL) == 0)
        cli_die("users %s: email %s belongs to another account", cmd, email);
    cli_die("users %s: a reader named %s exists already", cmd, username);
}

static int users_run(int create, int argc, char **argv)
{
    const char *cmd = create ? "create" : "claim";
    br_config *cfg = cli_config();
    const char *username = NULL, *email = NULL, *subjects = NULL, *v;
    int pw_stdin = 0, have_uid = 0;
    long long uid = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(create ? create_help : claim_help, stdout);
            br_config_free(cfg);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--username"))) {
            username = v;
        } else if ((v = cli_opt(argc, argv, &i, "--email"))) {
            email = v;
        } else if (!strcmp(argv[i], "--password-stdin")) {
            pw_stdin = 1;
        } else if (create && (v = cli_opt(argc, argv, &i, "--subjects"))) {
            subjects = v;
        } else if (!create && (v = cli_opt(argc, argv, &i, "--user-id"))) {
            char *end;
            uid = strtoll(v, &end, 10);
            if (!*v || *end || uid < 0)
                cli_die("users claim: --user-id takes a non-negative integer, not %s", v);
            have_uid = 1;
        } else {
            cli_die("users %s: unknown option %s (see bookrec users %s --help)", cmd, argv[i], cmd);
        }
    }
    if (!create && !have_uid)
        cli_die("users claim: give --user-id N (see bookrec users claim --help)");
    check_identity(cmd, username, email);
    if (sodium_init() < 0)
        cli_die("users: libsodium failed to initialize");

    char pw[PASSWORD_MAX + 1];
    if (pw_stdin)
        read_password(pw, sizeof pw);
    else
        generate_password(pw, sizeof pw);

    br_store *st = open_db(cfg);
    int32_t fav[BR_FAV_MAX];
    size_t n_fav = create && subjects ? parse_subjects(st, subjects, fav, BR_FAV_MAX) : 0;

    char hash[BR_AUTH_HASH_CAP], why[256];
    if (br_auth_password_check(pw, why, sizeof why) != 0)
        cli_die("users: %s", why);
    if (br_auth_hash_password(pw, hash, sizeof hash) != 0)
        cli_die("users: password hashing ran out of memory");

    br_account a;
    int rc = create ? br_account_create(st, username, email, hash, fav, n_fav, &a)
                    : br_account_claim(st, (int64_t)uid, username, email, hash, &a);
    if (rc == BR_EEXIST && !create && br_account_by_user(st, (int64_t)uid, NULL) == 0)
        cli_die("users claim: reader %lld already has an account", uid);
    if (rc == BR_EEXIST)
        die_taken(st, cmd, username, email);
    if (rc == BR_ENOENT && !create)
        cli_die("users claim: no reader with user id %lld (or it was deleted)", uid);
    if (rc)
        cli_die("users %s failed: %s%s%s", cmd, br_strerror(rc), rc == BR_ESTORE ? ": " : "",
                rc == BR_ESTORE ? br_store_errmsg(st) : "");

    printf("%s account %s (account_id %lld, user_id %lld)\n", create ? "created" : "claimed",
           a.username, (long long)a.account_id, (long long)a.user_id);
    if (!pw_stdin)
        printf("password: %s\n", pw);
    sodium_memzero(pw, sizeof pw);
    br_store_close(st);
    br_config_free(cfg);
    return 0;
}

int cmd_users(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(users_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "create"))
        return users_run(1, argc - 1, argv + 1);
    if (!strcmp(argv[1], "claim"))
        return users_run(0, argc - 1, argv + 1);
    fprintf(stderr, "bookrec users: unknown command '%s'\n", argv[1]);
    fputs(users_help, stderr);
    return 2;
}
