/* Tests of lib/data/demo.c: the synthetic Book-Crossing catalog. */
#include "harness.h"

#include "bookrec/demo.h"
#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/log.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

struct file {
    char *data;
    size_t len;
};

static int slurp(const char *dir, const char *name, struct file *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    f->data = NULL;
    f->len = 0;
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc((size_t)n + 1);
    if (!f->data || fread(f->data, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        return -1;
    }
    fclose(fp);
    f->data[n] = '\0';
    f->len = (size_t)n;
    return 0;
}

/* Plain loops, not strstr: ASan's strstr measures the whole haystack on each call. */
static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (; *s; s++)
        n += *s == *needle && strncmp(s, needle, k) == 0;
    return n;
}

/* Generates into <tmpdir>/<sub>; dir receives the path. */
static int gen(const char *sub, const br_demo_params *p, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", br_test_tmpdir(), sub);
    return br_demo_write(dir, p);
}

static void small_params(br_demo_params *p)
{
    p->seed = 7;
    p->users = 400;
    p->works = 200;
    p->ratings = 6000;
}

/* Splits one BX record (line end removed) at the ";" between quoted fields. */
static int bx_fields(char *rec, char **f, int max)
{
    int n = 0;
    if (*rec == '"')
        rec++;
    f[n++] = rec;
    for (char *s = rec; n < max && (s = strstr(s, "\";\""));) {
        *s = '\0';
        s += 3;
        f[n++] = s;
    }
    size_t l = strlen(f[n - 1]);
    if (l && f[n - 1][l - 1] == '"')
        f[n - 1][l - 1] = '\0';
    return n;
}

/* Next CRLF record of a BX file (the line end replaced by NUL), NULL at the end. */
static char *next_rec(char **cur)
{
    char *rec = *cur, *end = rec;
    while (*end && !(end[0] == '\r' && end[1] == '\n'))
        end++;
    if (!*end)
        return NULL;
    *end = '\0';
    *cur = end + 2;
    return rec;
}

/* ISBN text with hyphens removed and x upper-cased, as the importer would see it. */
static void isbn_key(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        if (*in != '-')
            out[n++] = *in == 'x' ? 'X' : *in;
    out[n] = '\0';
}

static int isbn10_ok(const char *s)
{
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        int v = (i == 9 && (s[i] == 'X' || s[i] == 'x')) ? 10 : s[i] - '0';
        if (v < 0 || v > 10 || (v == 10 && i != 9))
            return 0;
        sum += (10 - i) * v;
    }
    return sum % 11 == 0;
}

static int isbn13_ok(const char *s)
{
    int sum = 0;
    for (int i = 0; i < 13; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        sum += (i % 2 ? 3 : 1) * (s[i] - '0');
    }
    return sum % 10 == 0;
}

TEST(demo_default_params)
{
    br_demo_params p;
    br_demo_params_default(&p);
    ASSERT_EQ_INT(p.users, 3000);
    ASSERT_EQ_INT(p.works, 1500);
    ASSERT_EQ_INT(p.ratings, 60000);
}

TEST(demo_files_headers_readme_fast)
{
    br_demo_params p;
    char dir[512];
    struct file f;
    static const struct {
        const char *name, *header;
    } files[] = {
        {"BX-Users.csv", "\"User-ID\";\"Location\";\"Age\"\r\n"},
        {"BX-Books.csv", "\"ISBN\";\"Book-Title\";\"Book-Author\";\"Year-Of-Publication\";"
                         "\"Publisher\";\"Image-URL-S\";\"Image-URL-M\";\"Image-URL-L\"\r\n"},
        {"BX-Book-Ratings.csv", "\"User-ID\";\"ISBN\";\"Book-Rating\"\r\n"},
        {"book_subjects.csv", "book,subject,count\n"},
    };

    br_demo_params_default(&p);
    double t0 = br_now();
    ASSERT_OK(gen("a/b", &p, dir, sizeof dir)); /* parents are created */
    double secs = br_now() - t0;
    ASSERT_TRUE(secs < 5.0); /* < 0.1 s optimized; generous for sanitizers */

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ASSERT_OK(slurp(dir, files[i].name, &f));
        int same = strncmp(f.data, files[i].header, strlen(files[i].header)) == 0;
        free(f.data);
        ASSERT_TRUE(same);
    }
    ASSERT_OK(slurp(dir, "README.txt", &f));
    int synthetic = strstr(f.data, "SYNTHETIC") && strstr(f.data, "NOT the Book-Crossing");
    free(f.data);
    ASSERT_TRUE(synthetic);

    /* every publisher says so too, and no temporary file is left over */
    ASSERT_OK(slurp(dir, "BX-Books.csv", &f));
    size_t rows = count_str(f.data, "\r\n") - 1;
    size_t synth = count_str(f.data, "Synth");
    free(f.data);
    ASSERT_EQ_INT(synth, rows);
    DIR *dp = opendir(dir);
    ASSERT_TRUE(dp != NULL);
    int hidden = 0;
    for (struct dirent *de; (de = readdir(dp));)
        hidden += de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(dp);
    ASSERT_EQ_INT(hidden, 0);
}

TEST(demo_row_counts)
{
    br_demo_params p;
    char dir[512];
    struct file f;
    small_params(&p);
    ASSERT_OK(gen("d", &p, dir, sizeof dir));

    /* one location holds a quoted LF: records end with CRLF */
    ASSERT_OK(slurp(dir, "BX-Users.csv", &f));
    size_t users = count_str(f.data, "\r\n") - 1;
    free(f.data);
    ASSERT_EQ_INT(users, p.users);

    /* exact: duplicates and junk rows replace regular ones */
    ASSERT_OK(slurp(dir, "BX-Book-Ratings.csv", &f));
    size_t ratings = count_str(f.data, "\r\n") - 1, lf = count_str(f.data, "\n");
    free(f.data);
    ASSERT_EQ_INT(ratings, p.ratings);
    ASSERT_EQ_INT(lf, p.ratings + 1);

    ASSERT_OK(slurp(dir, "BX-Books.csv", &f));
    size_t books = count_str(f.data, "\r\n") - 1;
    free(f.data);
    ASSERT_CMP_INT(books, >, p.works); /* several editions per work */
    ASSERT_CMP_INT(books, <=, 6 * p.works);

    /* one book (edition) per work; counts positive */
    br_strmap *seen;
    ASSERT_OK(br_strmap_new(&seen));
    ASSERT_OK(slurp(dir, "book_subjects.csv", &f));
    int bad = 0;
    char *cur = strchr(f.data, '\n') + 1;
    for (char *nl; (nl = strchr(cur, '\n')); cur = nl + 1) {
        *nl = '\0';
        char *c1 = strchr(cur, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c2 || atol(c2 + 1) < 1) {
            bad++;
            continue;
        }
        if (br_strmap_putn(seen, cur, (size_t)(c1 - cur), 1))
            bad++;
    }
    free(f.data);
    size_t nbooks = br_strmap_size(seen);
    br_strmap_free(seen);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(nbooks, p.works);
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    struct file a, b;
    if (slurp(d1, name, &a) || slurp(d2, name, &b))
        return -1;
    int same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    free(a.data);
    free(b.data);
    return same;
}

TEST(demo_same_seed_same_bytes)
{
    static const char *const names[] = {"BX-Users.csv", "BX-Books.csv", "BX-Book-Ratings.csv",
                                        "book_subjects.csv", "README.txt"};
    br_demo_params p;
    char d1[512], d2[512], d3[512];
    small_params(&p);
    ASSERT_OK(gen("s1", &p, d1, sizeof d1));
    ASSERT_OK(gen("s2", &p, d2, sizeof d2));
    ASSERT_OK(br_demo_write(d2, &p)); /* rewriting over existing files */
    p.seed = 8;
    ASSERT_OK(gen("s3", &p, d3, sizeof d3));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ASSERT_EQ_INT(same_file(d1, d2, names[i]), 1);
        ASSERT_EQ_INT(same_file(d1, d3, names[i]), 0);
    }
}

TEST(demo_isbn_forms)
{
    br_demo_params p;
    char dir[512], *fl[8], *rec, *cur;
    struct file f;
    br_demo_params_default(&p);
    ASSERT_OK(gen("i", &p, dir, sizeof dir));

    /* books: valid ISBN-10 main form, some hyphenated ISBN-13, some lower-case x */
    size_t rows = 0, ten = 0, bad = 0, h13 = 0, lowx = 0;
    ASSERT_OK(slurp(dir, "BX-Books.csv", &f));
    cur = f.data;
    next_rec(&cur);
    while ((rec = next_rec(&cur))) {
        if (bx_fields(rec, fl, 8) != 8) {
            bad++;
            continue;
        }
        rows++;
        size_t n = strlen(fl[0]);
        if (n == 10) {
            ten++;
            bad += !isbn10_ok(fl[0]);
            lowx += fl[0][9] == 'x';
        } else if (n == 17 && strncmp(fl[0], "978-", 4) == 0) {
            char k[32];
            isbn_key(fl[0], k, sizeof k);
            h13++;
            bad += strlen(k) != 13 || !isbn13_ok(k);
        } else {
            bad++;
        }
    }
    free(f.data);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_CMP_INT(ten * 100, >=, rows * 90);
    ASSERT_CMP_INT(h13, >, 0);
    ASSERT_CMP_INT(lowx, >, 0);

    /* ratings: the real data's spellings and junk */
    size_t r13 = 0, rlowx = 0, stripped = 0, asin = 0, flt = 0, badck = 0, spaces = 0;
    ASSERT_OK(slurp(dir, "BX-Book-Ratings.csv", &f));
    cur = f.data;
    next_rec(&cur);
    while ((rec = next_rec(&cur))) {
        ASSERT_EQ_INT(bx_fields(rec, fl, 3), 3);
        const char *s = fl[1];
        size_t n = strlen(s);
        if (strncmp(s, "B000", 4) == 0)
            asin++;
        else if (strcmp(s, "9.78E+12") == 0)
            flt++;
        else if (strchr(s, ' '))
            spaces++;
        else if (n == 13)
            r13 += isbn13_ok(s);
        else if (n < 10)
            stripped++;
        else if (n == 10 && !isbn10_ok(s))
            badck++;
        else if (n == 10 && s[9] == 'x')
            rlowx++;
    }
    free(f.data);
    ASSERT_CMP_INT(r13, >, 0);
    ASSERT_CMP_INT(rlowx, >, 0);
    ASSERT_CMP_INT(stripped, >, 0);
    ASSERT_CMP_INT(asin, >, 0);
    ASSERT_CMP_INT(flt, >, 0);
    ASSERT_CMP_INT(badck, >, 0);
    ASSERT_CMP_INT(spaces, >, 0);
}

TEST(demo_latin1_and_entities)
{
    br_demo_params p;
    char dir[512];
    struct file f;
    br_demo_params_default(&p);
    ASSERT_OK(gen("l", &p, dir, sizeof dir));

    /* a byte >= 0x80 followed by ASCII cannot be UTF-8: the file is latin-1 */
    int latin1 = 0;
    ASSERT_OK(slurp(dir, "BX-Books.csv", &f));
    for (size_t i = 0; i + 1 < f.len; i++)
        latin1 += (unsigned char)f.data[i] >= 0x80 && (unsigned char)f.data[i + 1] < 0x80;
    int amp = strstr(f.data, "&amp;") != NULL;
    free(f.data);
    ASSERT_CMP_INT(latin1, >, 0);
    ASSERT_TRUE(amp);

    ASSERT_OK(slurp(dir, "book_subjects.csv", &f));
    int high = 0;
    for (size_t i = 0; i < f.len; i++)
        high += (unsigned char)f.data[i] >= 0x80;
    int shelf = strstr(f.data, ",to-read,") && strstr(f.data, ",owned,");
    free(f.data);
    ASSERT_EQ_INT(high, 0);
    ASSERT_TRUE(shelf);
}

TEST(demo_ratings_distribution)
{
    br_demo_params p;
    char dir[512], *fl[3], *rec, *cur, prev[64] = "";
    struct file f;
    size_t hist[13] = {0}, total = 0, dups = 0;
    br_demo_params_default(&p);
    ASSERT_OK(gen("r", &p, dir, sizeof dir));

    ASSERT_OK(slurp(dir, "BX-Book-Ratings.csv", &f));
    cur = f.data;
    next_rec(&cur);
    while ((rec = next_rec(&cur))) {
        ASSERT_EQ_INT(bx_fields(rec, fl, 3), 3);
        int v = atoi(fl[2]);
        hist[v < -1 ? 0 : v > 11 ? 12 : v + 1]++;
        total++;
        /* rows are sorted by ISBN within a user: duplicates are adjacent */
        char key[64];
        snprintf(key, sizeof key, "%s;%s", fl[0], fl[1]);
        dups += strcmp(key, prev) == 0;
        memcpy(prev, key, sizeof key);
    }
    free(f.data);
    size_t implicit = hist[1], explicit = 0, high = 0;
    for (int v = 1; v <= 10; v++)
        explicit += hist[v + 1];
    for (int v = 5; v <= 10; v++)
        high += hist[v + 1];
    ASSERT_EQ_INT(total, p.ratings);
    ASSERT_CMP_INT(implicit * 100, >=, total * 30);
    ASSERT_CMP_INT(implicit * 100, <=, total * 50);
    ASSERT_CMP_INT(explicit * 100, >=, total * 45);
    ASSERT_CMP_INT(high * 100, >=, explicit * 85); /* mostly 5-10 */
    ASSERT_CMP_INT(hist[12], >, 0);               /* 11 */
    ASSERT_CMP_INT(hist[0], >, 0);                /* -1 */
    ASSERT_CMP_INT(dups, >, 0);
    ASSERT_CMP_INT(dups * 100, <, total);
}

TEST(demo_users_noise)
{
    br_demo_params p;
    char dir[512];
    struct file f;
    br_demo_params_default(&p);
    ASSERT_OK(gen("u", &p, dir, sizeof dir));
    ASSERT_OK(slurp(dir, "BX-Users.csv", &f));
    size_t nulls = count_str(f.data, ";NULL\r\n");
    int zero = strstr(f.data, ";\"0\"\r\n") != NULL, a150 = strstr(f.data, ";\"150\"\r\n") != NULL,
        a244 = strstr(f.data, ";\"244\"\r\n") != NULL, na = strstr(f.data, "n/a") != NULL;
    /* the one location with a quoted newline: an LF not preceded by CR */
    int bare_lf = 0;
    for (size_t i = 1; i < f.len; i++)
        bare_lf += f.data[i] == '\n' && f.data[i - 1] != '\r';
    free(f.data);
    ASSERT_CMP_INT(nulls * 100, >=, p.users * 35);
    ASSERT_CMP_INT(nulls * 100, <=, p.users * 45);
    ASSERT_TRUE(zero && a150 && a244 && na);
    ASSERT_EQ_INT(bare_lf, 1);
}

/* Work keys from BX-Books.csv (lower-cased title without " (paperback)" + author) and
 * ISBN -> work, as an importer merging editions would build them. */
struct catalog {
    br_strmap *work_of_isbn, *work_of_key, *subject_id;
    uint64_t *mask; /* per work: genre subjects */
    size_t nworks;
};

static int catalog_load(const char *dir, struct catalog *c)
{
    struct file f;
    char *fl[8], *rec, *cur, key[512], ik[32];
    int rc = -1;
    memset(c, 0, sizeof *c);
    if (br_strmap_new(&c->work_of_isbn) || br_strmap_new(&c->work_of_key) ||
        br_strmap_new(&c->subject_id) || slurp(dir, "BX-Books.csv", &f))
        return -1;
    cur = f.data;
    next_rec(&cur);
    while ((rec = next_rec(&cur))) {
        if (bx_fields(rec, fl, 8) != 8)
            goto out;
        char *t = fl[1], *pb = strstr(t, " (Paperback)");
        if (pb)
            *pb = '\0';
        for (char *s = t; *s; s++)
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s - 'A' + 'a');
        snprintf(key, sizeof key, "%s|%s", t, fl[2]);
        int64_t w;
        if (!br_strmap_get(c->work_of_key, key, &w)) {
            w = (int64_t)c->nworks++;
            br_strmap_put(c->work_of_key, key, w);
        }
        isbn_key(fl[0], ik, sizeof ik);
        br_strmap_put(c->work_of_isbn, ik, w);
    }
    free(f.data);
    c->mask = calloc(c->nworks + 1, sizeof *c->mask);
    if (!c->mask || slurp(dir, "book_subjects.csv", &f))
        return -1;
    /* genre subjects only: not shelf tags, generic tags or variant spellings */
    static const char *const skip[] = {"to-read", "currently-reading", "favorites", "owned",
                                       "books-i-own", "default", "kindle", "library",
                                       "wish-list", "general", "fiction", "non-fiction"};
    cur = strchr(f.data, '\n') + 1;
    for (char *nl; (nl = strchr(cur, '\n')); cur = nl + 1) {
        *nl = '\0';
        char *c1 = strchr(cur, ','), *c2 = strchr(c1 + 1, ',');
        *c1 = *c2 = '\0';
        const char *subj = c1 + 1;
        int drop = strchr(subj, '-') != NULL;
        for (const char *s = subj; *s; s++)
            drop |= *s >= 'A' && *s <= 'Z';
        for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++)
            drop |= strcmp(subj, skip[k]) == 0;
        int64_t w, id;
        if (drop || !br_strmap_get(c->work_of_isbn, cur, &w))
            continue;
        if (!br_strmap_get(c->subject_id, subj, &id)) {
            id = (int64_t)br_strmap_size(c->subject_id);
            br_strmap_put(c->subject_id, subj, id);
        }
        if (id < 64)
            c->mask[w] |= (uint64_t)1 << id;
    }
    rc = 0;
out:
    free(f.data);
    return rc;
}

static void catalog_free(struct catalog *c)
{
    br_strmap_free(c->work_of_isbn);
    br_strmap_free(c->work_of_key);
    br_strmap_free(c->subject_id);
    free(c->mask);
}

/* Latent taste: two works rated by one user share a genre far more often than two
 * random rating rows do. */
TEST(demo_taste_structure)
{
    br_demo_params p;
    char dir[512], *fl[3], *rec, *cur, ik[32], prev_user[32] = "";
    struct file f;
    struct catalog c;
    uint64_t user_masks[50], *all = NULL;
    size_t nu = 0, nall = 0, pairs = 0, shared = 0;

    br_demo_params_default(&p);
    ASSERT_OK(gen("t", &p, dir, sizeof dir));
    ASSERT_OK(catalog_load(dir, &c));
    ASSERT_OK(slurp(dir, "BX-Book-Ratings.csv", &f));
    all = malloc(p.ratings * sizeof *all);
    ASSERT_TRUE(all != NULL);
    cur = f.data;
    next_rec(&cur);
    while ((rec = next_rec(&cur))) {
        int64_t w;
        bx_fields(rec, fl, 3);
        if (strcmp(fl[0], prev_user) != 0) {
            snprintf(prev_user, sizeof prev_user, "%s", fl[0]);
            nu = 0;
        }
        isbn_key(fl[1], ik, sizeof ik);
        if (!br_strmap_get(c.work_of_isbn, ik, &w) || !c.mask[w])
            continue;
        all[nall++] = c.mask[w];
        if (nu == 50)
            continue;
        for (size_t k = 0; k < nu; k++) {
            pairs++;
            shared += (user_masks[k] & c.mask[w]) != 0;
        }
        user_masks[nu++] = c.mask[w];
    }
    free(f.data);
    catalog_free(&c);

    uint64_t x = 12345, rnd_shared = 0;
    for (size_t k = 0; k < pairs; k++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        size_t i = (size_t)((x >> 33) % nall);
        x = x * 6364136223846793005u + 1442695040888963407u;
        size_t j = (size_t)((x >> 33) % nall);
        rnd_shared += (all[i] & all[j]) != 0;
    }
    free(all);
    ASSERT_CMP_INT(nall * 100, >=, p.ratings * 50); /* most rows map to a work */
    ASSERT_CMP_INT(pairs, >, 10000);
    if (getenv("BR_TEST_VERBOSE"))
        fprintf(stderr, "    same-user pairs sharing a genre %.3f, random %.3f\n",
                (double)shared / (double)pairs, (double)rnd_shared / (double)pairs);
    ASSERT_CMP_INT(shared * 10, >=, rnd_shared * 15);
}

TEST(demo_errors)
{
    br_demo_params p;
    char path[400], dir[512];
    small_params(&p);

    /* a directory under a regular file cannot be created */
    snprintf(path, sizeof path, "%s/plain", br_test_tmpdir());
    FILE *fp = fopen(path, "w");
    ASSERT_TRUE(fp != NULL);
    fclose(fp);
    snprintf(dir, sizeof dir, "%s/sub", path);
    int rc = br_demo_write(dir, &p);
    ASSERT_CMP_INT(rc, <, 0);
    ASSERT_EQ_INT(br_demo_write(path, &p), BR_EIO); /* the path itself is a file */

    ASSERT_EQ_INT(br_demo_write(NULL, &p), BR_EINVAL);
    ASSERT_EQ_INT(br_demo_write(dir, NULL), BR_EINVAL);
    p.users = 0;
    ASSERT_EQ_INT(br_demo_write(dir, &p), BR_EINVAL);
    small_params(&p);
    p.works = BR_DEMO_MAX_WORKS + 1;
    ASSERT_EQ_INT(br_demo_write(dir, &p), BR_ELIMIT);

    /* more ratings than the ISBNs can hold: refused before anything is created */
    small_params(&p);
    p.users = 2;
    p.works = 3;
    snprintf(dir, sizeof dir, "%s/never", br_test_tmpdir());
    ASSERT_EQ_INT(br_demo_write(dir, &p), BR_ERANGE);
    struct stat st;
    ASSERT_TRUE(stat(dir, &st) != 0);

    /* the smallest catalog works */
    p.users = 1;
    p.works = 1;
    p.ratings = 1;
    ASSERT_OK(br_demo_write(dir, &p));
}
