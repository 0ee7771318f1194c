/* Configuration: defaults < file < environment < flags (see config.h, docs/configuration.md).
 *
 * Design decisions:
 * 1. Every key lives in one X-macro table below, so adding a key is one line and the
 *    parser, the environment names, `config show` and the docs check all follow. The
 *    docs table must be kept in sync by hand; a unit test fails when a key is missing.
 * 2. Values are checked when set, never when read: a bad value fails with file:line or the
 *    variable name at startup, and the getters cannot fail. Numeric keys carry an
 *    inclusive range so "split.val_frac = 10" is caught here, not deep inside a split;
 *    checks across keys (val_frac + test_frac) stay with the module that owns them.
 * 3. Each entry records the rank of its source; a lower-ranked set is validated and then
 *    ignored, so precedence does not depend on the order the CLI loads things in.
 * 4. The text of a value is kept as written, which is what `config show` prints; the
 *    parsed number sits beside it.
 * 5. Error messages quote user text escaped (non-printable bytes as \xNN) and truncated. */
#include "bookrec/config.h"

#include "bookrec/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOLIM INFINITY

/* X(type, key, default, min, max, description). min/max bound INT and DOUBLE values
 * (inclusive; NOLIM for none) and are ignored for the others. Descriptions: one line. */
#define BR_CONFIG_KEYS(X)                                                                          \
    X(STRING, "data.dir", "../shared/data", 0, 0, "Directory of the source data sets")             \
    X(STRING, "db.path", "var/bookrec.db", 0, 0, "SQLite database file")                           \
    X(STRING, "artifacts.dir", "var/artifacts", 0, 0, "Directory of trained model artifacts")      \
    X(INT, "import.min_age", "5", 0, 200, "Youngest plausible age; others become NULL")            \
    X(INT, "import.max_age", "100", 0, 200, "Oldest plausible age; others become NULL")            \
    X(INT, "import.max_rows", "50000000", 1, 1e12, "Most rows read from one source file")          \
    X(INT, "import.max_field_bytes", "1048576", 1, 1 << 30, "Longest CSV field, in bytes")         \
    X(INT, "subjects.vocab_size", "1000", 1, 1e7, "Target size of the subject vocabulary")         \
    X(INT, "subjects.min_books", "5", 1, 1e9, "Books a subject must be on to be kept")             \
    X(INT, "split.seed", "42", 0, NOLIM, "Seed of the evaluation split")                           \
    X(DOUBLE, "split.cold_frac", "0.10", 0, 1, "Share of cold-eligible users drawn cold")          \
    X(INT, "split.cold_min_interactions", "4", 1, 1e9, "Fewest interactions of a cold user")       \
    X(INT, "split.holdout_min_interactions", "5", 4, 1e9, "Fewest interactions for val/test")      \
    X(DOUBLE, "split.val_frac", "0.10", 0, 0.5, "Share of a holdout user's pairs in val")          \
    X(DOUBLE, "split.test_frac", "0.10", 0, 0.5, "Share of a holdout user's pairs in test")        \
    X(INT, "train.min_item_interactions", "1", 0, 1e9, "Fewest train interactions of an item")     \
    X(INT, "als.factors", "64", 1, 1024, "ALS latent factors")                                     \
    X(DOUBLE, "als.regularization", "0.1", 1e-9, 1e6, "ALS L2 regularization")                    \
    X(INT, "als.iterations", "15", 0, 10000, "ALS iterations")                                     \
    X(DOUBLE, "als.alpha", "40", 0, 1e6, "ALS confidence scale: c = 1 + alpha * w(r)")            \
    X(INT, "als.cg_steps", "3", 1, 1024, "Conjugate-gradient steps per row and half-step")         \
    X(STRING, "als.weighting", "constant", 0, 0, "w(r): constant, or rating (rises with r)")       \
    X(INT, "subject.dim", "64", 1, 4096, "Subject embedding size")                                 \
    X(INT, "subject.epochs", "10", 1, 100000, "Subject model training epochs")                     \
    X(INT, "subject.max_set", "16", 1, 1024, "Subjects pooled per book or reader")                \
    X(INT, "subject.batch", "2048", 2, 65536, "Subject model batch size (triples)")                \
    X(BOOL, "subject.generic_positives", "true", 0, 0, "InfoNCE: books sharing only a generic subject are positives") \
    X(INT, "eval.bootstrap", "1000", 1, 1000000, "Bootstrap resamples for intervals")              \
    X(DOUBLE, "popularity.bayes_m", "30", 0, 1e9, "Prior weight of the Bayesian average")          \
    X(INT, "features.fav_subjects_k", "10", 1, 1e6, "Favorite subjects kept per user")             \
    X(INT, "models.warm_min_ratings", "5", 0, 1e9, "Ratings a user needs for warm models")         \
    X(STRING, "serve.listen", "127.0.0.1:8080", 0, 0, "Address of the gateway / all-in-one server") \
    X(INT, "serve.threads", "4", 1, 1024, "HTTP worker threads of a server")                     \
    X(INT, "serve.max_body", "1048576", 1024, 1 << 30, "Largest request body, in bytes")          \
    X(INT, "serve.grace_ms", "10000", 0, 3600000, "How long a service keeps the previous version") \
    X(STRING, "serve.admin_token", "", 0, 0, "Token for /admin calls (empty: admin calls refused)") \
    X(STRING, "serve.service_token", "", 0, 0, "Bearer token required between gateway and services (empty: none)") \
    X(STRING, "serve.services", "", 0, 0, "Remote services: role=URL,... (empty: all in process)") \
    X(STRING, "serve.subject_pool", "perdim", 0, 0, "Subject model served: perdim, scalar or mean") \
    X(STRING, "serve.prior", "count", 0, 0, "Cold-blend prior: count or bayes")                   \
    X(INT, "serve.cache_entries", "20000", 0, 10000000, "Cached responses (0: no cache)")          \
    X(BOOL, "serve.cookie_secure", "false", 0, 0, "Mark session cookies Secure (behind TLS)")     \
    X(INT, "serve.session_days", "14", 1, 3650, "Session lifetime in days")                       \
    X(DOUBLE, "serve.rate_ip", "200", 0, 1e9, "Requests per second per client address (0: off)") \
    X(DOUBLE, "serve.rate_user", "50", 0, 1e9, "Requests per second per signed-in reader (0: off)") \
    X(DOUBLE, "serve.rate_login", "0.2", 0, 1e9, "Login attempts per second per account name")   \
    X(STRING, "serve.web_dir", "web", 0, 0, "Directory of the web UI's static files")              \
    X(INT, "serve.event_retention_days", "90", 1, 36500, "Days events are kept")                  \
    X(STRING, "pipeline.runs_dir", "var/runs", 0, 0, "Directory of the training pipeline's runs") \
    X(DOUBLE, "pipeline.gate_floor", "0.01", 0, 1, "Gate: least ALS recall@30 on validation")   \
    X(DOUBLE, "pipeline.gate_margin", "0.01", 0, 1, "Gate: largest drop below the current version") \
    X(INT, "pipeline.keep_versions", "5", 2, 1000000, "Model versions kept after a publish")      \
    X(INT, "pipeline.keep_runs", "10", 1, 1000000, "Pipeline run directories kept")               \
    X(BOOL, "pipeline.full_retrain", "false", 0, 0, "Subject models from scratch, not warm-started") \
    X(INT, "pipeline.warm_epochs", "3", 1, 100000, "Subject model epochs when warm-started")      \
    X(STRING, "pipeline.reload_url", "", 0, 0, "Gateway admin reload URL POSTed after a publish") \
    X(STRING, "pipeline.notify_command", "", 0, 0, "sendmail-like command run on failure (message on stdin)") \
    X(STRING, "pipeline.notify_webhook", "", 0, 0, "URL that gets a JSON POST on failure")        \
    X(STRING, "log.level", "info", 0, 0, "Log level: error, warn, info or debug")

/* Environment names other than BOOKREC_<KEY>; applied before the canonical name, so the
 * canonical one wins when both are set. */
static const struct {
    const char *var, *key;
} g_aliases[] = {
    {"BOOKREC_DATA", "data.dir"},
};

struct keydef {
    const char *key, *def, *desc;
    enum br_config_type type;
    double min, max;
};

static const struct keydef g_keys[] = {
#define BR__CFG_DEF(type, key, def, min, max, desc) {key, def, desc, BR_CFG_##type, min, max},
    BR_CONFIG_KEYS(BR__CFG_DEF)
#undef BR__CFG_DEF
};

#define NKEYS (sizeof g_keys / sizeof g_keys[0])

struct entry {
    char *text;     /* as written; NULL = the table's default */
    char *src_name; /* "file:<path>", "env:<VAR>", "flag"; NULL = "default" */
    enum br_config_source src;
    int64_t i;
    double d;
    int b;
};

struct br_config {
    struct entry e[NKEYS];
    char *path; /* file read by br_config_load */
};

/* Formats the message into err (when given) and returns rc. */
static int errf(char *err, size_t errcap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errcap, int rc, const char *fmt, ...)
{
    va_list ap;
    if (err && errcap) {
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Printable copy of untrusted text for a message: at most 60 bytes of input. */
static const char *esc(char *buf, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;
    for (i = 0; i < n && i < 60 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (i < n && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static long find_key(const char *key, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(g_keys[i].key) == n && memcmp(g_keys[i].key, key, n) == 0)
            return (long)i;
    return -1;
}

static const char *type_name(enum br_config_type t)
{
    static const char *const names[] = {"a string", "an integer", "a number", "a boolean"};
    return names[t];
}

/* Parses text (NUL-terminated) as a value of the given type and range into *i, *d or *b.
 * Internal, exposed for the tests of types no key uses yet. */
int br__config_parse(enum br_config_type type, double min, double max, const char *text,
                     int64_t *i, double *d, int *b)
{
    char *end;
    if (text[0] == '\0')
        return BR_EINVAL;
    switch (type) {
    case BR_CFG_STRING:
        return 0;
    case BR_CFG_INT:
        if (!(text[0] == '-' || text[0] == '+' || (text[0] >= '0' && text[0] <= '9')))
            return BR_EINVAL;
        errno = 0;
        *i = strtoll(text, &end, 10);
        if (*end != '\0')
            return BR_EINVAL;
        if (errno == ERANGE || (double)*i < min || (double)*i > max)
            return BR_ERANGE;
        return 0;
    case BR_CFG_DOUBLE:
        /* strtod would also take leading spaces, "inf", "nan" and hex. */
        if (!strchr("+-.0123456789", text[0]) || strpbrk(text, "xXnN"))
            return BR_EINVAL;
        errno = 0;
        *d = strtod(text, &end);
        if (*end != '\0')
            return BR_EINVAL;
        if (errno == ERANGE || !isfinite(*d) || *d < min || *d > max)
            return BR_ERANGE;
        return 0;
    case BR_CFG_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1"))
            *b = 1;
        else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
                 !strcasecmp(text, "off") || !strcmp(text, "0"))
            *b = 0;
        else
            return BR_EINVAL;
        return 0;
    }
    return BR_EINVAL;
}

static int parse_value(const struct keydef *k, const char *text, struct entry *e)
{
    /* A string key whose default is empty is optional (a token): empty means unset. */
    if (k->type == BR_CFG_STRING && !text[0] && !k->def[0])
        return 0;
    return br__config_parse(k->type, k->min, k->max, text, &e->i, &e->d, &e->b);
}

/* Bounds of k as text: integers without a fraction, no bound as "inf". */
static void range_text(const struct keydef *k, char *lo, char *hi, size_t cap)
{
    int as_int = k->type == BR_CFG_INT;
    if (as_int && !isinf(k->min))
        snprintf(lo, cap, "%.0f", k->min);
    else
        snprintf(lo, cap, "%g", k->min);
    if (as_int && !isinf(k->max))
        snprintf(hi, cap, "%.0f", k->max);
    else
        snprintf(hi, cap, "%g", k->max);
}

/* Sets entry idx from value[0..vlen). where prefixes error messages ("f.conf:3: ",
 * "BOOKREC_SPLIT_SEED: ", ""); src_name NULL means "flag". */
static int set_index(br_config *cfg, size_t idx, const char *value, size_t vlen,
                     enum br_config_source src, const char *src_name, const char *where,
                     char *err, size_t errcap)
{
    const struct keydef *k = &g_keys[idx];
    struct entry *e = &cfg->e[idx], tmp = {0};
    char ebuf[256];
    int rc;

    if (vlen > BR_CONFIG_MAX_LINE)
        return errf(err, errcap, BR_ELIMIT, "%s%s: value longer than %d bytes", where, k->key,
                    BR_CONFIG_MAX_LINE);
    if (memchr(value, '\0', vlen))
        return errf(err, errcap, BR_EINVAL, "%s%s: NUL byte in value", where, k->key);
    tmp.text = malloc(vlen + 1);
    if (!tmp.text)
        return errf(err, errcap, BR_ENOMEM, "%sout of memory", where);
    memcpy(tmp.text, value, vlen);
    tmp.text[vlen] = '\0';
    rc = parse_value(k, tmp.text, &tmp);
    if (rc != 0 && vlen == 0) {
        rc = errf(err, errcap, rc, "%s%s: empty value", where, k->key);
    } else if (rc == BR_ERANGE) {
        char lo[32], hi[32];
        range_text(k, lo, hi, sizeof lo);
        rc = errf(err, errcap, rc, "%s%s: \"%s\" is out of range [%s, %s]", where, k->key,
                  esc(ebuf, sizeof ebuf, value, vlen), lo, hi);
    } else if (rc != 0) {
        rc = errf(err, errcap, rc, "%s%s: \"%s\" is not %s", where, k->key,
                  esc(ebuf, sizeof ebuf, value, vlen), type_name(k->type));
    }
    if (rc != 0 || src < e->src)
        goto done; /* invalid; or valid, but a higher-ranked source already set it */
    if (src_name) {
        tmp.src_name = strdup(src_name);
        if (!tmp.src_name) {
            rc = errf(err, errcap, BR_ENOMEM, "%sout of memory", where);
            goto done;
        }
    }
    tmp.src = src;
    free(e->text);
    free(e->src_name);
    *e = tmp;
    tmp.text = NULL;

done:
    free(tmp.text);
    return rc;
}

int br_config_new(br_config **out)
{
    br_config *cfg = calloc(1, sizeof *cfg);
    int rc;
    *out = NULL;
    if (!cfg)
        return BR_ENOMEM;
    for (size_t i = 0; i < NKEYS; i++) {
        rc = parse_value(&g_keys[i], g_keys[i].def, &cfg->e[i]);
        if (rc != 0) {
            /* A bad default is a bug in the table above, not a user error. */
            fprintf(stderr, "bookrec: config default of %s is invalid\n", g_keys[i].key);
            abort();
        }
        cfg->e[i].src = BR_CFG_DEFAULT;
    }
    *out = cfg;
    return 0;
}

void br_config_free(br_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        free(cfg->e[i].text);
        free(cfg->e[i].src_name);
    }
    free(cfg->path);
    free(cfg);
}

int br_config_set(br_config *cfg, const char *key, const char *value, enum br_config_source src,
                  char *err, size_t errcap)
{
    char ebuf[256];
    if (!cfg || !key || !value || src == BR_CFG_DEFAULT || src > BR_CFG_FLAG)
        return errf(err, errcap, BR_EINVAL, "br_config_set: invalid argument");
    long idx = find_key(key, strlen(key));
    if (idx < 0)
        return errf(err, errcap, BR_EINVAL, "unknown config key \"%s\"",
                    esc(ebuf, sizeof ebuf, key, strlen(key)));
    static const char *const names[] = {"default", "file", "env", "flag"};
    return set_index(cfg, (size_t)idx, value, strlen(value), src,
                     src == BR_CFG_FLAG ? NULL : names[src], "", err, errcap);
}

int br_config_set_pair(br_config *cfg, const char *pair, enum br_config_source src, char *err,
                       size_t errcap)
{
    char key[128], ebuf[256];
    const char *eq = pair ? strchr(pair, '=') : NULL;
    if (!eq)
        return errf(err, errcap, BR_EINVAL, "expected key=value, got \"%s\"",
                    pair ? esc(ebuf, sizeof ebuf, pair, strlen(pair)) : "(null)");
    size_t n = (size_t)(eq - pair);
    if (n >= sizeof key)
        return errf(err, errcap, BR_EINVAL, "unknown config key \"%s\"",
                    esc(ebuf, sizeof ebuf, pair, n));
    memcpy(key, pair, n);
    key[n] = '\0';
    return br_config_set(cfg, key, eq + 1, src, err, errcap);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **s, const char **end)
{
    while (*s < *end && is_space(**s))
        (*s)++;
    while (*end > *s && is_space((*end)[-1]))
        (*end)--;
}

static int section_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* Parses one line (no newline) of path; section is the current prefix ("" or "split."). */
static int parse_line(br_config *cfg, const char *path, size_t lineno, const char *s,
                      const char *end, char *section, size_t seccap, const char *src_name,
                      char *err, size_t errcap)
{
    char where[300], key[256], ebuf[256];
    const char *eq, *v, *vend;

    snprintf(where, sizeof where, "%s:%zu: ", path, lineno);
    trim(&s, &end);
    if (s == end || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        if (end[-1] != ']' || end - s < 3)
            return errf(err, errcap, BR_EFORMAT, "%sexpected [section]", where);
        size_t n = (size_t)(end - s - 2);
        for (size_t i = 0; i < n; i++)
            if (!section_char(s[1 + i]))
                return errf(err, errcap, BR_EFORMAT, "%sbad section name \"%s\"", where,
                            esc(ebuf, sizeof ebuf, s + 1, n));
        if (n + 2 > seccap)
            return errf(err, errcap, BR_EFORMAT, "%ssection name too long", where);
        memcpy(section, s + 1, n);
        section[n] = '.';
        section[n + 1] = '\0';
        return 0;
    }
    eq = memchr(s, '=', (size_t)(end - s));
    if (!eq)
        return errf(err, errcap, BR_EFORMAT, "%sexpected key = value, got \"%s\"", where,
                    esc(ebuf, sizeof ebuf, s, (size_t)(end - s)));
    const char *ks = s, *ke = eq;
    trim(&ks, &ke);
    if (ks == ke)
        return errf(err, errcap, BR_EFORMAT, "%smissing key before '='", where);
    int kn = snprintf(key, sizeof key, "%s%.*s", section, (int)(ke - ks), ks);
    long idx = kn > 0 && (size_t)kn < sizeof key ? find_key(key, (size_t)kn) : -1;
    if (idx < 0)
        return errf(err, errcap, BR_EINVAL, "%sunknown key \"%s\"", where,
                    esc(ebuf, sizeof ebuf, key, strlen(key)));

    v = eq + 1;
    vend = end;
    trim(&v, &vend);
    if (v < vend && *v == '"') {
        /* "quoted": \" and \\ are the only escapes; then only a comment may follow. */
        char *buf = malloc((size_t)(vend - v) + 1);
        size_t n = 0;
        const char *p = v + 1;
        if (!buf)
            return errf(err, errcap, BR_ENOMEM, "%sout of memory", where);
        for (; p < vend && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < vend && (p[1] == '"' || p[1] == '\\'))
                p++;
            buf[n++] = *p;
        }
        const char *rest = p + 1, *rend = vend;
        if (p < vend)
            trim(&rest, &rend);
        if (p >= vend || (rest < rend && *rest != '#' && *rest != ';')) {
            free(buf);
            return errf(err, errcap, BR_EFORMAT, "%s%s: %s", where, key,
                        p >= vend ? "unterminated quoted value" : "text after quoted value");
        }
        int rc = set_index(cfg, (size_t)idx, buf, n, BR_CFG_FILE, src_name, where, err, errcap);
        free(buf);
        return rc;
    }
    /* Unquoted: a '#' or ';' after whitespace starts a comment ("a#b" keeps its '#'). */
    for (const char *p = v; p < vend; p++)
        if ((*p == '#' || *p == ';') && p > v && is_space(p[-1])) {
            vend = p;
            trim(&v, &vend);
            break;
        }
    return set_index(cfg, (size_t)idx, v, (size_t)(vend - v), BR_CFG_FILE, src_name, where,
                     err, errcap);
}

int br_config_load_file(br_config *cfg, const char *path, char *err, size_t errcap)
{
    char ebuf[256], *buf = NULL, *src_name = NULL, section[128] = "";
    FILE *f = NULL;
    struct stat st;
    size_t n;
    int rc;

    if (!cfg || !path)
        return errf(err, errcap, BR_EINVAL, "br_config_load_file: invalid argument");
    esc(ebuf, sizeof ebuf, path, strlen(path));
    f = fopen(path, "rb");
    if (!f) {
        rc = errf(err, errcap, errno == ENOENT ? BR_ENOENT : BR_EIO, "config file %s: %s", ebuf,
                  strerror(errno));
        goto fail;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = errf(err, errcap, BR_EIO, "config file %s: not a regular file", ebuf);
        goto fail;
    }
    if (st.st_size > BR_CONFIG_MAX_FILE) {
        rc = errf(err, errcap, BR_ELIMIT, "config file %s: larger than %d bytes", ebuf,
                  BR_CONFIG_MAX_FILE);
        goto fail;
    }
    /* Read one byte past the limit: the file may have grown since fstat. */
    buf = malloc((size_t)BR_CONFIG_MAX_FILE + 1);
    if (!buf) {
        rc = errf(err, errcap, BR_ENOMEM, "config file %s: out of memory", ebuf);
        goto fail;
    }
    n = fread(buf, 1, (size_t)BR_CONFIG_MAX_FILE + 1, f);
    if (ferror(f)) {
        rc = errf(err, errcap, BR_EIO, "config file %s: read error", ebuf);
        goto fail;
    }
    if (n > BR_CONFIG_MAX_FILE) {
        rc = errf(err, errcap, BR_ELIMIT, "config file %s: larger than %d bytes", ebuf,
                  BR_CONFIG_MAX_FILE);
        goto fail;
    }
    src_name = malloc(strlen(path) + 6);
    if (!src_name) {
        rc = errf(err, errcap, BR_ENOMEM, "config file %s: out of memory", ebuf);
        goto fail;
    }
    sprintf(src_name, "file:%s", path);

    size_t lineno = 0, skip = n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    for (const char *s = buf + skip, *end = buf + n; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        lineno++;
        if ((size_t)(le - s) > BR_CONFIG_MAX_LINE) {
            rc = errf(err, errcap, BR_ELIMIT, "%s:%zu: line longer than %d bytes", ebuf, lineno,
                      BR_CONFIG_MAX_LINE);
            goto fail;
        }
        if (memchr(s, '\0', (size_t)(le - s))) {
            rc = errf(err, errcap, BR_EFORMAT, "%s:%zu: NUL byte", ebuf, lineno);
            goto fail;
        }
        rc = parse_line(cfg, ebuf, lineno, s, le, section, sizeof section, src_name, err,
                        errcap);
        if (rc != 0)
            goto fail;
        s = nl ? nl + 1 : end;
    }
    rc = 0;

fail:
    if (f)
        fclose(f);
    free(buf);
    free(src_name);
    return rc;
}

/* BOOKREC_ + key upper-cased with '.' -> '_'. */
static void env_name(const char *key, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "BOOKREC_");
    for (; *key && o + 1 < cap; key++)
        out[o++] = *key == '.' ? '_' : (*key >= 'a' && *key <= 'z' ? (char)(*key - 32) : *key);
    out[o] = '\0';
}

static int set_from_env(br_config *cfg, size_t idx, const char *var, char *err, size_t errcap)
{
    char src_name[160], where[160];
    const char *v = getenv(var);
    if (!v)
        return 0;
    snprintf(src_name, sizeof src_name, "env:%s", var);
    snprintf(where, sizeof where, "%s: ", var);
    return set_index(cfg, idx, v, strlen(v), BR_CFG_ENV, src_name, where, err, errcap);
}

int br_config_load_env(br_config *cfg, char *err, size_t errcap)
{
    char var[128];
    int rc;
    if (!cfg)
        return errf(err, errcap, BR_EINVAL, "br_config_load_env: invalid argument");
    for (size_t i = 0; i < sizeof g_aliases / sizeof g_aliases[0]; i++) {
        long idx = find_key(g_aliases[i].key, strlen(g_aliases[i].key));
        if (idx < 0) {
            fprintf(stderr, "bookrec: config alias %s names unknown key %s\n", g_aliases[i].var,
                    g_aliases[i].key);
            abort();
        }
        rc = set_from_env(cfg, (size_t)idx, g_aliases[i].var, err, errcap);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        env_name(g_keys[i].key, var, sizeof var);
        rc = set_from_env(cfg, i, var, err, errcap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int br_config_load(br_config *cfg, const char *path, char *err, size_t errcap)
{
    int rc;
    if (!cfg)
        return errf(err, errcap, BR_EINVAL, "br_config_load: invalid argument");
    if (!path || !*path)
        path = getenv("BOOKREC_CONFIG");
    if ((!path || !*path) && access("bookrec.conf", F_OK) == 0)
        path = "bookrec.conf";
    if (path && *path) {
        rc = br_config_load_file(cfg, path, err, errcap);
        if (rc != 0)
            return rc;
        free(cfg->path);
        cfg->path = strdup(path);
        if (!cfg->path)
            return errf(err, errcap, BR_ENOMEM, "out of memory");
    }
    return br_config_load_env(cfg, err, errcap);
}

const char *br_config_path(const br_config *cfg)
{
    return cfg ? cfg->path : NULL;
}

/* Index of key for a getter; an unknown key or wrong type is a bug in the caller. */
static size_t getter_index(const char *key, int type, const char *getter)
{
    long idx = key ? find_key(key, strlen(key)) : -1;
    if (idx < 0) {
        fprintf(stderr, "bookrec: %s: unknown config key \"%s\"\n", getter, key ? key : "(null)");
        abort();
    }
    if (type >= 0 && g_keys[idx].type != (enum br_config_type)type) {
        fprintf(stderr, "bookrec: %s: config key %s is %s\n", getter, key,
                type_name(g_keys[idx].type));
        abort();
    }
    return (size_t)idx;
}

const char *br_config_str(const br_config *cfg, const char *key)
{
    size_t i = getter_index(key, -1, "br_config_str");
    return cfg->e[i].text ? cfg->e[i].text : g_keys[i].def;
}

int64_t br_config_int(const br_config *cfg, const char *key)
{
    return cfg->e[getter_index(key, BR_CFG_INT, "br_config_int")].i;
}

double br_config_double(const br_config *cfg, const char *key)
{
    return cfg->e[getter_index(key, BR_CFG_DOUBLE, "br_config_double")].d;
}

int br_config_bool(const br_config *cfg, const char *key)
{
    return cfg->e[getter_index(key, BR_CFG_BOOL, "br_config_bool")].b;
}

size_t br_config_count(void)
{
    return NKEYS;
}

int br_config_entry(const br_config *cfg, size_t i, const char **key, const char **value,
                    const char **source, const char **desc)
{
    if (!cfg)
        return BR_EINVAL;
    if (i >= NKEYS)
        return BR_ERANGE;
    if (key)
        *key = g_keys[i].key;
    if (value)
        *value = cfg->e[i].text ? cfg->e[i].text : g_keys[i].def;
    if (source)
        *source = cfg->e[i].src_name ? cfg->e[i].src_name
                                     : (cfg->e[i].src == BR_CFG_FLAG ? "flag" : "default");
    if (desc)
        *desc = g_keys[i].desc;
    return 0;
}

const char *br_config_default(size_t i)
{
    return i < NKEYS ? g_keys[i].def : NULL;
}
