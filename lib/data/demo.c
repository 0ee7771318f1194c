/* Synthetic Book-Crossing catalog for demos and tests (see demo.h).
 *
 * Design decisions:
 * 1. Own PRNG: xoshiro256** seeded through splitmix64, with one stream per purpose
 *    and per-index streams for titles, authors and each user's ratings, so that
 *    changing one part does not reshuffle the rest. Floating point uses only
 *    + - * / (IEEE rounds them exactly) and no libm, so a seed gives the same bytes
 *    on any IEEE platform whose compiler does not fuse a*b+c (GCC in ISO C mode
 *    does not).
 * 2. Latent taste: 64 genres in 9 families. A work has 1-4 genres (extras 75% from
 *    the primary's family) and a quality; a user prefers 2-6 genres from one or two
 *    families. 80% of a user's picks come from a preferred genre, weighted by
 *    popularity, and explicit ratings are 1-2 points higher on preferred genres.
 *    Half of the title nouns come from the family's word list (a content signal).
 *    The genres are the works' subjects in book_subjects.csv.
 * 3. Popularity is Zipf-like: work weight 1/(rank+3), user activity 1/(rank+5), over
 *    random rank permutations. 35% of the users never rate (62% in BX).
 * 4. Missing book rows: a pool of 2 x works "uncatalogued" works (genres, one ISBN,
 *    no book row, no subjects) receives 24% of the regular ratings; with the junk
 *    ISBNs that makes ~25% of the rating rows without a book row (BX: 24%).
 * 5. Ratings are streamed user by user (users in id order, a user's rows sorted by
 *    ISBN text as in the original file); a per-work stamp holding the last user id
 *    keeps a user's works distinct without clearing a set (other editions of a rated
 *    work are deliberate noise). The rating count is exact: noise rows replace regular
 *    ones. A user rates at most a third of all works (catalogued or not), i.e. `works`
 *    ratings, which bounds the retries.
 * 6. Files are written to ".NAME.tmp", fsync'd and renamed, then the directory is
 *    fsync'd. All text is ASCII or latin-1 (the original's encoding); the BX files
 *    use CRLF, book_subjects.csv and README.txt use LF.
 *
 * Noise, as a rate per row of its file (the rate measured in BX, QUIRKS.md, in []):
 *   users    Age NULL 40% [40%]; 0-4 0.3% [0.3%], half of them 0; 104-244 0.3% [0.13%,
 *            doubled so that the default holds a few]; location without a usable
 *            country 1.6% [1.6%]; four parts 0.5% [0.5%]; one or two parts 0.2%; one
 *            location with a quoted newline [one]; ~10% of locations with accents.
 *   books    1-6 editions per work (mean 1.7): same title and author, another ISBN;
 *            45% of the later editions have the title upper-cased, lower-cased or with
 *            " (Paperback)". ISBN-10 is the main form; 3% of editions hyphenated ISBN-13
 *            ("978-0-4521-7731-3"); 5% of the X check digits written 'x'. "&amp;" in
 *            ~0.6% of the works' titles [0.6%] and in the publisher "Synthetic &amp; Sons";
 *            latin-1 accents in ~5% of titles, ~10% of authors, two publishers. Year 0 2% [1.8%],
 *            after 2004 0.03% [0.03%]. Every publisher is "Synthetic ...", image URLs
 *            point at example.invalid.
 *   ratings  0 (implicit) ~40% [41%]; explicit 1-10 mostly 5-10 (mean ~7.5); no book row
 *            ~25% [24%]; 'x' for 5% of X check digits; zero-stripped 1% of ISBNs starting
 *            with 0; spaces inside 0.03%; ASIN-like "B000..." 0.1% [0.03%]; "9.78E+12"
 *            0.05%; wrong ISBN-10 check digit 0.1% [0.1%]; plain ISBN-13 for the ISBN-13
 *            editions (~3% of catalogued rows); duplicate (user, ISBN) rows 0.2%, half of
 *            them with another value; another edition of a work the user rated 0.15%; out
 *            of range 11 and -1 0.03% each.
 *   subjects Every work: its genres (counts proportional to popularity, falling from the
 *            primary genre), 12% of them also in a variant spelling ("space-opera",
 *            "Space Opera"), shelf tags: to-read 98%, favorites 70%, currently-reading
 *            60%, owned 55%, ... and generic fiction/non-fiction 85%, general 5%.
 */
#include "bookrec/demo.h"
#include "bookrec/error.h"
#include "bookrec/fsutil.h"
#include "bookrec/hashmap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

enum stream {
    S_WORKS = 1, S_EDITIONS, S_ISBN, S_ORDER, S_TITLE, S_AUTHOR, S_TASTE, S_USERS,
    S_RATINGS, S_SUBJECTS
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void rng_init(rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = mix64(seed + 0x9E3779B97F4A7C15u) ^ mix64((stream << 40) ^ index);
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15u;
        r->s[i] = mix64(x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* [0, 1) */
static double rng_unif(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* [0, n), n < 2^32: multiply-shift (Lemire) without the rejection step, bias < 2^-32. */
static uint32_t rng_below(rng *r, size_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_chance(rng *r, double p)
{
    return rng_unif(r) < p;
}

/* Approximately standard normal: Irwin-Hall with four uniforms (no libm, bounded). */
static double rng_normal(rng *r)
{
    double s = rng_unif(r) + rng_unif(r) + rng_unif(r) + rng_unif(r);
    return (s - 2.0) * 1.7320508075688772;
}

/* Index i of the first cum[i] > u * cum[n-1]; cum is non-decreasing, n >= 1. */
static size_t pick_cum(rng *r, const double *cum, size_t n)
{
    double x = rng_unif(r) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

struct wstr {
    const char *s;
    int w;
};

static size_t pick_wstr(rng *r, const struct wstr *t, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += t[i].w;
    int x = (int)rng_below(r, (size_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < t[i].w)
            return i;
        x -= t[i].w;
    }
    return n - 1;
}

static void shuffle(rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Vocabulary (invented; latin-1 bytes as octal escapes, which a letter cannot extend) */

enum { NFAM = 9 };

static const struct genre {
    const char *name;
    int family;
} genres[] = {
    {"fantasy", 0}, {"epic fantasy", 0}, {"urban fantasy", 0}, {"science fiction", 0},
    {"space opera", 0}, {"cyberpunk", 0}, {"dystopia", 0}, {"time travel", 0},
    {"steampunk", 0}, {"mythology", 0},
    {"horror", 1}, {"gothic", 1}, {"ghost stories", 1}, {"paranormal", 1},
    {"mystery", 2}, {"cozy mystery", 2}, {"detective", 2}, {"police procedural", 2},
    {"crime", 2}, {"thriller", 2}, {"psychological thriller", 2}, {"legal thriller", 2},
    {"espionage", 2}, {"true crime", 2},
    {"romance", 3}, {"historical romance", 3}, {"regency romance", 3},
    {"paranormal romance", 3}, {"romantic comedy", 3}, {"chick lit", 3},
    {"literary fiction", 4}, {"classics", 4}, {"contemporary fiction", 4},
    {"historical fiction", 4}, {"family saga", 4}, {"short stories", 4}, {"poetry", 4},
    {"humor", 4}, {"war fiction", 4}, {"western", 4}, {"adventure", 4},
    {"young adult", 5}, {"middle grade", 5}, {"picture books", 5}, {"coming of age", 5},
    {"history", 6}, {"military history", 6}, {"biography", 6}, {"memoir", 6},
    {"politics", 6}, {"travel", 6},
    {"philosophy", 7}, {"psychology", 7}, {"self-help", 7}, {"business", 7},
    {"religion", 7}, {"popular science", 7}, {"nature", 7},
    {"cooking", 8}, {"art", 8}, {"music", 8}, {"sports", 8}, {"graphic novels", 8},
    {"gardening", 8},
};
#define NGENRES COUNT(genres)
_Static_assert(COUNT(genres) <= 64, "genre sets are 64-bit masks");

/* Share of works and of users' primary tastes per family. */
static const int fam_weight[NFAM] = {18, 7, 17, 13, 20, 8, 8, 5, 4};
static const int fam_fiction[NFAM] = {1, 1, 1, 1, 1, 1, 0, 0, 0};

static const char *const fam_nouns[NFAM][8] = {
    {"Dragon", "Starship", "Sorcerer", "Citadel", "Portal", "Android", "Prophecy", "Nebula"},
    {"Crypt", "Shadow", "Raven", "Manor", "Bones", "Specter", "Hunger", "Moor"},
    {"Alibi", "Witness", "Verdict", "Cipher", "Detective", "Ransom", "Suspect", "Motive"},
    {"Heart", "Duke", "Bride", "Kiss", "Promise", "Summer", "Waltz", "Sweetheart"},
    {"River", "Orchard", "Daughter", "Winter", "House", "Harvest", "Letters", "Widow"},
    {"Treehouse", "Secret", "Dragonfly", "Friend", "Summer Camp", "Puppy", "Spell",
     "Sister"},
    {"Empire", "Revolution", "General", "Voyage", "Republic", "Frontier", "Campaign",
     "Dynasty"},
    {"Mind", "Habit", "Soul", "Universe", "Question", "Leader", "Path", "Atom"},
    {"Kitchen", "Canvas", "Melody", "Garden", "Season", "Recipe", "Stadium", "Brushstroke"},
};

static const char *const nouns[] = {
    "Lantern", "Cartographer", "Harbor", "Tide", "Clockmaker", "Archive", "Meridian",
    "Lighthouse", "Violin", "Sparrow", "Atlas", "Compass", "Ferry", "Observatory", "Bell",
    "Island", "Mirror", "Engine", "Kingdom", "Map", "Apprentice", "Weaver", "Orchid",
    "Station", "Bridge", "Tower", "Glassblower", "Beekeeper", "Ledger", "Almanac",
};

static const char *const adjs[] = {
    "Silent", "Crimson", "Hollow", "Forgotten", "Glass", "Northern", "Last", "Hidden",
    "Paper", "Midnight", "Copper", "Wandering", "Quiet", "Burning", "Salt", "Velvet",
    "Distant", "Broken", "Golden", "Iron", "Seventh", "Borrowed", "Amber", "Restless",
};

static const char *const accented_nouns[] = {
    "Caf\351", "Fa\347ade", "Soir\351e", "R\352ve", "Cr\350me", "Se\361ora",
    "Ni\361o", "Fianc\351e", "D\351j\340 Vu", "M\344rchen",
};

static const char *const first_names[] = {
    "Mara", "Tobias", "Elena", "Hollis", "Ada", "Silas", "Priya", "Owen", "Ingrid", "Felix",
    "Nadia", "Jonah", "Clara", "Rafael", "Maeve", "Theo", "Lucia", "Emmett", "Greta",
    "Idris", "Vera", "Caleb", "Noor", "Milo", "Harriet", "Ezra", "Wren", "Dmitri",
};
static const char *const first_names_accented[] = {
    "Zo\351", "Ana\357s", "J\374rgen", "Ren\351e", "Bj\366rn", "In\351s", "Se\341n",
    "Fran\347ois",
};
static const char *const last_names[] = {
    "Ashcombe", "Whitlow", "Penhallow", "Marchetti", "Okafor", "Lindqvist", "Draycott",
    "Fenwick", "Calloway", "Abernathy", "Quill", "Thistlewood", "Harrowgate", "Vance",
    "Moreau", "Castellan", "Brightwater", "Stroud", "Kaminski", "Oyelaran", "Haverford",
    "Greer", "Wexley", "Larkspur", "Dunmore", "Sato", "Varga", "Albrecht", "Nakamura",
    "Ferreira", "Holloway", "Pemberton",
};
static const char *const last_names_accented[] = {
    "M\374ller", "Ib\341\361ez", "Lef\350vre", "Sj\366berg", "Garc\355a",
    "Ferr\351", "N\372\361ez", "Cl\351ment",
};

/* Publishers per ISBN registration group: every one says "Synthetic". */
enum { PUB_FR = 4, PUB_DE = 5, PUB_ES = 7 };
static const struct wstr publishers[] = {
    {"Synthetic Press", 40}, {"Synthetic Press Paperbacks", 15}, {"Synthetic House", 12},
    {"Synthetic &amp; Sons", 8}, {"\311ditions Synth\351tiques", 0},
    {"Synthetic Verlag", 0}, {"Synthetic Classics", 8}, {"Synthetic Espa\361a", 0},
};

/* ISBN-10 registration groups, roughly as in Book-Crossing (English first). */
static const struct wstr isbn_groups[] = {
    {"0", 50}, {"1", 10}, {"3", 12}, {"2", 8}, {"84", 6}, {"88", 4}, {"85", 3}, {"90", 3},
    {"87", 2}, {"91", 2},
};

/* "city, state, country", lower-case as in BX; weights roughly as BX's countries. */
static const struct wstr locations[] = {
    {"new york, new york, usa", 6}, {"seattle, washington, usa", 5},
    {"austin, texas, usa", 5}, {"portland, oregon, usa", 5}, {"chicago, illinois, usa", 5},
    {"san diego, california, usa", 5}, {"boston, massachusetts, usa", 5},
    {"denver, colorado, usa", 4}, {"atlanta, georgia, usa", 4},
    {"madison, wisconsin, usa", 3}, {"tucson, arizona, usa", 3},
    {"richmond, virginia, usa", 3}, {"toronto, ontario, canada", 4},
    {"vancouver, british columbia, canada", 3}, {"montr\351al, quebec, canada", 2},
    {"london, england, united kingdom", 4}, {"manchester, england, united kingdom", 2},
    {"edinburgh, scotland, united kingdom", 1}, {"berlin, berlin, germany", 2},
    {"m\374nchen, bayern, germany", 1}, {"k\366ln, nordrhein-westfalen, germany", 1},
    {"barcelona, catalunya, spain", 2}, {"m\341laga, andaluc\355a, spain", 1},
    {"paris, \356le-de-france, france", 1}, {"sydney, new south wales, australia", 2},
    {"melbourne, victoria, australia", 2}, {"lisboa, lisboa, portugal", 1},
    {"s\343o paulo, s\343o paulo, brazil", 1}, {"milano, lombardia, italy", 1},
    {"z\374rich, zurich, switzerland", 1}, {"amsterdam, noord-holland, netherlands", 1},
    {"g\366teborg, v\344stra g\366taland, sweden", 1}, {"auckland, auckland, new zealand", 1},
    {"kuala lumpur, kuala lumpur, malaysia", 1},
};

static const struct shelf {
    const char *name;
    double p, factor;
} shelves[] = {
    {"to-read", 0.98, 2.5}, {"currently-reading", 0.60, 0.3}, {"favorites", 0.70, 0.4},
    {"owned", 0.55, 0.25}, {"books-i-own", 0.40, 0.2}, {"default", 0.20, 0.05},
    {"kindle", 0.25, 0.08}, {"library", 0.15, 0.05}, {"wish-list", 0.20, 0.05},
    {"general", 0.05, 0.02},
};

/* ---- Rates (see the opening comment) ---- */

#define P_INACTIVE 0.35
#define P_ORPHAN 0.24
#define P_TASTE 0.80
#define P_DUP 0.002
#define P_OTHER_ED 0.005 /* tried; lands on a work with several editions ~30% */
#define P_ASIN 0.001
#define P_FLOAT 0.0005
#define P_BADCHECK 0.001
#define P_RANGE 0.0003 /* each of 11 and -1 */
#define P_LOWER_X 0.05
#define P_ZERO_STRIP 0.01
#define P_SPACES 0.0003
#define P_ED13 0.03
#define P_YEAR0 0.02
#define P_YEAR_FUTURE 0.0003
#define P_AGE_NULL 0.40
#define P_AGE_LOW 0.003
#define P_AGE_HIGH 0.003
#define P_LOC_NOCOUNTRY 0.016
#define P_LOC_MANY 0.005
#define P_LOC_FEW 0.002
#define P_AMP 0.05      /* of the "X and Y" titles, 1 pattern in 8 */
#define P_ACCENT 0.04   /* per noun of a title */
#define P_SUBJ_VARIANT 0.12

/* ---- Data ---- */

enum { ED_10, ED_10_LOWER, ED_13 };
enum { TV_SAME, TV_UPPER, TV_LOWER, TV_PAPERBACK };

struct work {
    double weight; /* popularity */
    double quality;
    uint64_t gmask;
    uint16_t fmask;
    uint8_t family, ngenres, genres[4];
    uint8_t neds;      /* catalogued works: 1-6 editions; uncatalogued: 1 */
    uint32_t first_ed; /* index into demo.eds */
    uint32_t author;
    int year;
};

struct edition {
    uint32_t work;
    char isbn[11]; /* canonical ISBN-10, upper-case X */
    uint8_t form, title_var, publisher;
    int year; /* as written: 0 is the original's "unknown" */
};

/* Sampling tables over works [first, first + n). */
struct pool {
    size_t first, n;
    double *cum;   /* n cumulative weights */
    size_t *goff;  /* NGENRES + 1 offsets into gwork/gcum */
    uint32_t *gwork;
    double *gcum;  /* cumulative within each genre's segment */
};

struct user {
    uint64_t gmask;
    uint16_t fmask;
    uint8_t npref, pref[6];
    uint8_t active;
    double bias, p0; /* p0: chance that a rating is implicit (0) */
    double weight;   /* activity */
    uint32_t quota;
};

struct counts {
    size_t book_rows, books13, books_lower_x, titles_amp, titles_latin1, year0, year_future;
    size_t active_users, age_null, age_low, age_high, loc_nocountry, loc_many, loc_few,
        loc_newline;
    size_t r_implicit, r_explicit, r_orphan, r_isbn13, r_lower_x, r_zero_stripped,
        r_spaces, r_asin, r_float, r_badcheck, r_dup, r_other_ed, r_11, r_minus1;
    size_t subj_rows, subj_variant, subj_shelf;
};

struct demo {
    const br_demo_params *p;
    size_t nworks, norphans, nitems; /* items = catalogued works, then uncatalogued */
    struct work *works;
    size_t neds, nisbn; /* catalogued editions (book rows); + one per uncatalogued */
    struct edition *eds;
    struct pool pools[2];
    size_t nauthors;
    struct user *users;
    uint32_t *seen; /* per work: id of the last user who rated it */
    size_t fam_first[NFAM], fam_n[NFAM];
    struct counts c;
};

/* ---- ISBN helpers (lib/data/isbn.c is the real module; this is all the demo needs) */

static char isbn10_check(const char d[9])
{
    int s = 0;
    for (int i = 0; i < 9; i++)
        s += (10 - i) * (d[i] - '0');
    int c = (11 - s % 11) % 11;
    return c == 10 ? 'X' : (char)('0' + c);
}

static char isbn13_check(const char d[12])
{
    int s = 0;
    for (int i = 0; i < 12; i++)
        s += (i % 2 ? 3 : 1) * (d[i] - '0');
    return (char)('0' + (10 - s % 10) % 10);
}

static void isbn10_to_13(const char in[10], char out[14])
{
    memcpy(out, "978", 3);
    memcpy(out + 3, in, 9);
    out[12] = isbn13_check(out);
    out[13] = '\0';
}

/* Group and publisher lengths for hyphenation: plausible, not the real range table. */
static void isbn_parts(const char isbn[10], int *glen, int *plen)
{
    *glen = isbn[0] <= '3' ? 1 : 2;
    *plen = 3 + (isbn[*glen] - '0') % 3;
}

/* "978-0-4521-7731-3" (sep '-') of an ISBN-10, or "0 4521 7731 X" (sep ' ', no 978). */
static void isbn_split(const char isbn[10], int with978, char sep, char *out)
{
    char d13[14];
    const char *d = isbn;
    int glen, plen, n = 0;
    isbn_parts(isbn, &glen, &plen);
    if (with978) {
        isbn10_to_13(isbn, d13);
        n += sprintf(out + n, "978%c", sep);
        d = d13 + 3;
    }
    sprintf(out + n, "%.*s%c%.*s%c%.*s%c%c", glen, d, sep, plen, d + glen, sep,
            9 - glen - plen, d + glen + plen, sep, d[9]);
}

/* Canonical text of an edition's ISBN: ISBN-10, or 13 digits for ISBN-13 editions. */
static void isbn_canonical(const struct edition *e, char out[14])
{
    if (e->form == ED_13)
        isbn10_to_13(e->isbn, out);
    else
        memcpy(out, e->isbn, 11);
}

static int gen_isbn(rng *r, br_intmap *used, char out[11])
{
    for (;;) {
        const char *g = isbn_groups[pick_wstr(r, isbn_groups, COUNT(isbn_groups))].s;
        size_t n = strlen(g);
        memcpy(out, g, n);
        for (size_t i = n; i < 9; i++)
            out[i] = (char)('0' + rng_below(r, 10));
        int64_t body = 0;
        for (int i = 0; i < 9; i++)
            body = body * 10 + (out[i] - '0');
        if (br_intmap_get(used, body, NULL))
            continue;
        int rc = br_intmap_put(used, body, 1);
        if (rc)
            return rc;
        out[9] = isbn10_check(out);
        out[10] = '\0';
        return 0;
    }
}

/* ---- Text ---- */

struct sbuf {
    char *s;
    size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (k > b->cap - 1 - b->n)
        k = b->cap - 1 - b->n;
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static void ascii_case(char *s, int upper)
{
    for (; *s; s++) {
        if (upper && *s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
        else if (!upper && *s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

static const char *title_noun(rng *r, int family, int *accented)
{
    if (rng_chance(r, P_ACCENT)) {
        *accented = 1;
        return accented_nouns[rng_below(r, COUNT(accented_nouns))];
    }
    if (rng_chance(r, 0.55))
        return fam_nouns[family][rng_below(r, 8)];
    return nouns[rng_below(r, COUNT(nouns))];
}

/* Title of catalogued work t, a pure function of (seed, t). %A adjective, %N noun,
 * %P first name, %& " and " or " &amp; ", %d a number. Returns flags: 1 accented,
 * 2 entity. */
static int make_title(const struct demo *d, size_t t, char *buf, size_t cap)
{
    static const char *const fiction[] = {
        "The %A %N", "The %N of %A %N", "%P's %N", "A %N for %P", "The %N%&the %N",
        "%A %N: A Novel", "Letters from the %A %N", "The %A %N (%A %N Cycle, Book %d)",
    };
    static const char *const nonfiction[] = {
        "A Short History of the %N", "The %N Handbook", "Understanding the %A %N",
        "The Art of the %N", "%N%&%N", "The %A %N: A Memoir", "Notes on the %A %N",
        "The %N Book",
    };
    const struct work *w = &d->works[t];
    rng r;
    rng_init(&r, d->p->seed, S_TITLE, t);
    const char *pat = fam_fiction[w->family] ? fiction[rng_below(&r, 8)]
                                             : nonfiction[rng_below(&r, 8)];
    struct sbuf b = {buf, 0, cap};
    int flags = 0, accented = 0;
    char num[16], one[2] = {0, 0};
    buf[0] = '\0';
    for (const char *s = pat; *s; s++) {
        if (*s != '%') {
            one[0] = *s;
            sb_add(&b, one);
            continue;
        }
        switch (*++s) {
        case 'A':
            sb_add(&b, adjs[rng_below(&r, COUNT(adjs))]);
            break;
        case 'N':
            sb_add(&b, title_noun(&r, w->family, &accented));
            break;
        case 'P':
            sb_add(&b, first_names[rng_below(&r, COUNT(first_names))]);
            break;
        case 'd':
            snprintf(num, sizeof num, "%u", 1 + rng_below(&r, 6));
            sb_add(&b, num);
            break;
        case '&':
            if (rng_chance(&r, P_AMP)) {
                sb_add(&b, " &amp; ");
                flags |= 2;
            } else {
                sb_add(&b, " and ");
            }
            break;
        }
    }
    return flags | accented;
}

/* Author a, a pure function of (seed, a): about 10% carry latin-1 accents. */
static void make_author(const struct demo *d, uint32_t a, char *buf, size_t cap)
{
    rng r;
    rng_init(&r, d->p->seed, S_AUTHOR, a);
    const char *f = rng_chance(&r, 0.05)
                        ? first_names_accented[rng_below(&r, COUNT(first_names_accented))]
                        : first_names[rng_below(&r, COUNT(first_names))];
    const char *l = rng_chance(&r, 0.05)
                        ? last_names_accented[rng_below(&r, COUNT(last_names_accented))]
                        : last_names[rng_below(&r, COUNT(last_names))];
    if (rng_chance(&r, 0.3))
        snprintf(buf, cap, "%s %c. %s", f, (char)('A' + rng_below(&r, 26)), l);
    else
        snprintf(buf, cap, "%s %s", f, l);
}

/* ---- Output files ---- */

struct out {
    FILE *f;
    char tmp[PATH_MAX], path[PATH_MAX];
};

static int out_open(struct out *o, const char *dir, const char *name)
{
    int n1 = snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    int n2 = snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp", dir, name);
    o->f = NULL;
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof o->path || (size_t)n2 >= sizeof o->tmp)
        return BR_EINVAL;
    o->f = fopen(o->tmp, "wb");
    if (!o->f)
        return BR_EIO;
    setvbuf(o->f, NULL, _IOFBF, 1 << 16);
    return 0;
}

/* Publishes the file; on any error removes the temporary and returns BR_EIO. */
static int out_commit(struct out *o)
{
    int rc = 0;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0)
        rc = BR_EIO;
    if (fclose(o->f) != 0 && rc == 0)
        rc = BR_EIO;
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) != 0)
        rc = BR_EIO;
    if (rc)
        unlink(o->tmp);
    return rc;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    struct stat st;
    if (n == 0 || n >= sizeof buf)
        return BR_EINVAL;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return BR_EIO;
        buf[i] = c;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return BR_EIO;
    return 0;
}

/* ---- Generation ---- */

static int pick_family(rng *r)
{
    int total = 0, x;
    for (int f = 0; f < NFAM; f++)
        total += fam_weight[f];
    x = (int)rng_below(r, (size_t)total);
    for (int f = 0; f < NFAM; f++) {
        if (x < fam_weight[f])
            return f;
        x -= fam_weight[f];
    }
    return NFAM - 1;
}

/* A genre of family f; the first listed (the broad one) twice as likely. */
static int pick_genre_in(const struct demo *d, rng *r, int f)
{
    size_t k = rng_below(r, d->fam_n[f] + 1);
    return (int)(d->fam_first[f] + (k == 0 ? 0 : k - 1));
}

static int has_genre(const uint8_t *g, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (g[i] == x)
            return 1;
    return 0;
}

/* Genres, quality and popularity of every work; editions and ISBNs of the catalogue. */
static int gen_works(struct demo *d)
{
    rng r, re, ri;
    br_intmap *used = NULL;
    uint32_t *perm = NULL;
    int rc;

    rng_init(&r, d->p->seed, S_WORKS, 0);
    rng_init(&re, d->p->seed, S_EDITIONS, 0);
    rng_init(&ri, d->p->seed, S_ISBN, 0);
    perm = malloc(d->nitems * sizeof *perm);
    if (!perm)
        return BR_ENOMEM;
    if ((rc = br_intmap_new(&used)))
        goto fail;

    for (size_t t = 0; t < d->nitems; t++) {
        struct work *w = &d->works[t];
        double u = rng_unif(&r);
        int f = pick_family(&r);
        int n = u < 0.35 ? 1 : u < 0.75 ? 2 : u < 0.93 ? 3 : 4;
        w->family = (uint8_t)f;
        w->genres[0] = (uint8_t)pick_genre_in(d, &r, f);
        w->ngenres = 1;
        for (int tries = 0; w->ngenres < n && tries < 32; tries++) {
            int g = rng_chance(&r, 0.75) ? pick_genre_in(d, &r, f)
                                         : pick_genre_in(d, &r, pick_family(&r));
            if (!has_genre(w->genres, w->ngenres, g))
                w->genres[w->ngenres++] = (uint8_t)g;
        }
        for (int i = 0; i < w->ngenres; i++) {
            w->gmask |= (uint64_t)1 << w->genres[i];
            w->fmask |= (uint16_t)(1u << genres[w->genres[i]].family);
        }
        w->quality = rng_normal(&r);
        w->author = rng_below(&r, d->nauthors);
        /* skewed to the years before the 2004 crawl */
        w->year = 2004 - (int)(rng_unif(&r) * rng_unif(&r) * 60.0);
        u = rng_unif(&r);
        w->neds = t >= d->nworks ? 1
                  : u < 0.60     ? 1
                  : u < 0.82     ? 2
                  : u < 0.92     ? 3
                  : u < 0.97     ? 4
                  : u < 0.99     ? 5
                                 : 6;
    }
    /* Zipf ranks, independently within the catalogue and the uncatalogued pool */
    for (int pool = 0; pool < 2; pool++) {
        size_t first = pool ? d->nworks : 0, n = pool ? d->norphans : d->nworks;
        for (size_t i = 0; i < n; i++)
            perm[i] = (uint32_t)i;
        shuffle(&r, perm, n);
        for (size_t i = 0; i < n; i++)
            d->works[first + i].weight = 1.0 / ((double)perm[i] + 3.0);
    }

    d->neds = 0;
    for (size_t t = 0; t < d->nworks; t++)
        d->neds += d->works[t].neds;
    d->nisbn = d->neds + d->norphans;
    d->eds = calloc(d->nisbn, sizeof *d->eds);
    if (!d->eds) {
        rc = BR_ENOMEM;
        goto fail;
    }
    size_t e = 0;
    for (size_t t = 0; t < d->nitems; t++) {
        struct work *w = &d->works[t];
        w->first_ed = (uint32_t)e;
        for (int k = 0; k < w->neds; k++, e++) {
            struct edition *ed = &d->eds[e];
            ed->work = (uint32_t)t;
            if ((rc = gen_isbn(&ri, used, ed->isbn)))
                goto fail;
            if (t >= d->nworks)
                continue; /* uncatalogued: only the ISBN is ever written */
            double u = rng_unif(&re);
            ed->form = rng_chance(&re, P_ED13)                               ? ED_13
                       : ed->isbn[9] == 'X' && rng_chance(&re, P_LOWER_X) ? ED_10_LOWER
                                                                            : ED_10;
            ed->title_var = k == 0    ? TV_SAME
                            : u < 0.15 ? TV_UPPER
                            : u < 0.25 ? TV_LOWER
                            : u < 0.45 ? TV_PAPERBACK
                                       : TV_SAME;
            if (ed->isbn[0] == '2')
                ed->publisher = PUB_FR;
            else if (ed->isbn[0] == '3')
                ed->publisher = PUB_DE;
            else if (ed->isbn[0] == '8' && ed->isbn[1] == '4')
                ed->publisher = PUB_ES;
            else
                ed->publisher = (uint8_t)pick_wstr(&re, publishers, COUNT(publishers));
            ed->year = w->year;
            if (k > 0 && w->year < 2004)
                ed->year += (int)rng_below(&re, (size_t)(2004 - w->year + 1));
            if (rng_chance(&re, P_YEAR0))
                ed->year = 0;
            else if (rng_chance(&re, P_YEAR_FUTURE))
                ed->year = 2010 + (int)rng_below(&re, 41);
        }
    }
    rc = 0;
fail:
    br_intmap_free(used);
    free(perm);
    return rc;
}

static int build_pool(struct demo *d, struct pool *pl, size_t first, size_t n)
{
    pl->first = first;
    pl->n = n;
    pl->cum = malloc((n ? n : 1) * sizeof *pl->cum);
    pl->goff = calloc(NGENRES + 1, sizeof *pl->goff);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += d->works[first + i].ngenres;
    pl->gwork = malloc((total ? total : 1) * sizeof *pl->gwork);
    pl->gcum = malloc((total ? total : 1) * sizeof *pl->gcum);
    if (!pl->cum || !pl->goff || !pl->gwork || !pl->gcum)
        return BR_ENOMEM;

    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const struct work *w = &d->works[first + i];
        s += w->weight;
        pl->cum[i] = s;
        for (int k = 0; k < w->ngenres; k++)
            pl->goff[w->genres[k] + 1]++;
    }
    for (size_t g = 0; g < NGENRES; g++)
        pl->goff[g + 1] += pl->goff[g];
    size_t *fill = calloc(NGENRES, sizeof *fill);
    if (!fill)
        return BR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct work *w = &d->works[first + i];
        for (int k = 0; k < w->ngenres; k++) {
            size_t g = w->genres[k], at = pl->goff[g] + fill[g]++;
            pl->gwork[at] = (uint32_t)(first + i);
            pl->gcum[at] = w->weight + (at > pl->goff[g] ? pl->gcum[at - 1] : 0.0);
        }
    }
    free(fill);
    return 0;
}

static void free_pool(struct pool *pl)
{
    free(pl->cum);
    free(pl->goff);
    free(pl->gwork);
    free(pl->gcum);
}

/* Tastes, activity and rating quotas. */
static int gen_users(struct demo *d)
{
    const br_demo_params *p = d->p;
    size_t nu = p->users, cap = d->nitems / 3, nactive = 0;
    uint32_t *act = NULL;
    double *cum = NULL;
    rng r;
    int rc;

    if (cap == 0)
        cap = 1;
    rng_init(&r, p->seed, S_TASTE, 0);
    for (size_t i = 0; i < nu; i++) {
        struct user *u = &d->users[i];
        int f1 = pick_family(&r), f2 = rng_chance(&r, 0.7) ? pick_family(&r) : f1;
        int n1 = 2 + (int)rng_below(&r, 3), n2 = f2 == f1 ? 0 : (int)rng_below(&r, 3);
        for (int k = 0, tries = 0; k < n1 + n2 && tries < 64; tries++) {
            int g = pick_genre_in(d, &r, k < n1 ? f1 : f2);
            if (has_genre(u->pref, u->npref, g))
                continue;
            u->pref[u->npref++] = (uint8_t)g;
            u->gmask |= (uint64_t)1 << g;
            u->fmask |= (uint16_t)(1u << genres[g].family);
            k++;
        }
        u->bias = 0.7 * rng_normal(&r);
        u->p0 = 0.12 + 0.35 * rng_unif(&r);
        u->active = !rng_chance(&r, P_INACTIVE);
        nactive += u->active;
    }
    if (nactive == 0 || nactive * cap < p->ratings) {
        /* too few active users to hold the ratings: everybody rates */
        for (size_t i = 0; i < nu; i++)
            d->users[i].active = 1;
        nactive = nu;
    }
    if (nactive * cap < p->ratings)
        return BR_ERANGE;

    act = malloc(nactive * sizeof *act);
    cum = malloc(nactive * sizeof *cum);
    if (!act || !cum) {
        rc = BR_ENOMEM;
        goto fail;
    }
    for (size_t i = 0, k = 0; i < nu; i++)
        if (d->users[i].active)
            act[k++] = (uint32_t)i;
    /* activity rank: a permutation; the heaviest 1% rate mostly implicitly, as in BX */
    uint32_t *rank = malloc(nactive * sizeof *rank);
    if (!rank) {
        rc = BR_ENOMEM;
        goto fail;
    }
    for (size_t k = 0; k < nactive; k++)
        rank[k] = (uint32_t)k;
    shuffle(&r, rank, nactive);
    double s = 0;
    for (size_t k = 0; k < nactive; k++) {
        struct user *u = &d->users[act[k]];
        u->weight = 1.0 / ((double)rank[k] + 5.0);
        if (rank[k] < nactive / 100)
            u->p0 = 0.70;
        s += u->weight;
        cum[k] = s;
    }
    free(rank);

    /* quotas: floor of the expected share, the remainder drawn by weight, capped */
    size_t assigned = 0;
    for (size_t k = 0; k < nactive; k++) {
        struct user *u = &d->users[act[k]];
        size_t q = (size_t)((double)p->ratings * (u->weight / s));
        u->quota = (uint32_t)(q < cap ? q : cap);
        assigned += u->quota;
    }
    for (size_t fails = 0, sweep = 0; assigned < p->ratings;) {
        if (fails > 64) {
            /* near capacity: fill the users up in order, O(users) in all */
            struct user *u = &d->users[act[sweep++]];
            size_t add = cap - u->quota, left = p->ratings - assigned;
            add = add < left ? add : left;
            u->quota += (uint32_t)add;
            assigned += add;
            continue;
        }
        struct user *u = &d->users[act[pick_cum(&r, cum, nactive)]];
        if (u->quota >= cap) {
            fails++;
            continue;
        }
        u->quota++;
        assigned++;
        fails = 0; /* only a run of misses means the weight sits on full users */
    }
    for (size_t k = 0; k < nactive; k++)
        d->c.active_users += d->users[act[k]].quota > 0;
    rc = 0;
fail:
    free(act);
    free(cum);
    return rc;
}

static int write_users(struct demo *d, const char *dir)
{
    struct out o;
    rng r;
    int rc;
    size_t newline_at = d->p->users >= 50 ? d->p->users / 2 : (size_t)-1;
    char loc[160];

    if ((rc = out_open(&o, dir, "BX-Users.csv")))
        return rc;
    rng_init(&r, d->p->seed, S_USERS, 0);
    fputs("\"User-ID\";\"Location\";\"Age\"\r\n", o.f);
    for (size_t i = 0; i < d->p->users; i++) {
        const char *base = locations[pick_wstr(&r, locations, COUNT(locations))].s;
        const char *c1 = strchr(base, ','), *c2 = strrchr(base, ',');
        int city = (int)(c1 - base), state = (int)(c2 - c1 - 2);
        double u = rng_unif(&r);
        if (i == newline_at) {
            /* the one quoted newline of the real file */
            snprintf(loc, sizeof loc, "%.*s,\n%s", city, base, c1 + 2);
            d->c.loc_newline++;
        } else if (u < P_LOC_NOCOUNTRY) {
            static const char *const bad[] = {"n/a, n/a, n/a", ", , ", "%s, %s, ",
                                              "%s, %s, n/a"};
            unsigned k = rng_below(&r, 4);
            if (k < 2)
                snprintf(loc, sizeof loc, "%s", bad[k]);
            else
                snprintf(loc, sizeof loc, "%.*s, %.*s, %s", city, base, state, c1 + 2,
                         k == 2 ? "" : "n/a");
            d->c.loc_nocountry++;
        } else if (u < P_LOC_NOCOUNTRY + P_LOC_MANY) {
            snprintf(loc, sizeof loc, "%.*s, old town, %s", city, base, c1 + 2);
            d->c.loc_many++;
        } else if (u < P_LOC_NOCOUNTRY + P_LOC_MANY + P_LOC_FEW) {
            if (rng_chance(&r, 0.5))
                snprintf(loc, sizeof loc, "%.*s", city, base);
            else
                snprintf(loc, sizeof loc, "%.*s,%s", city, base, c2 + 1);
            d->c.loc_few++;
        } else {
            snprintf(loc, sizeof loc, "%s", base);
        }

        fprintf(o.f, "\"%zu\";\"%s\";", i + 1, loc);
        u = rng_unif(&r);
        if (u < P_AGE_NULL) {
            fputs("NULL\r\n", o.f); /* unquoted, as in the original */
            d->c.age_null++;
        } else if (u < P_AGE_NULL + P_AGE_LOW) {
            fprintf(o.f, "\"%u\"\r\n", rng_chance(&r, 0.5) ? 0 : rng_below(&r, 5));
            d->c.age_low++;
        } else if (u < P_AGE_NULL + P_AGE_LOW + P_AGE_HIGH) {
            static const int high[] = {104, 113, 150, 201, 230, 244};
            /* in turn, so that a few rows already show each */
            fprintf(o.f, "\"%d\"\r\n", high[d->c.age_high % COUNT(high)]);
            d->c.age_high++;
        } else {
            double a = 35.0 + 13.0 * rng_normal(&r);
            int age = a < 10 ? 10 : a > 90 ? 90 : (int)a;
            fprintf(o.f, "\"%d\"\r\n", age);
        }
    }
    return out_commit(&o);
}

static void edition_title(const struct demo *d, const struct edition *e, char *buf,
                          size_t cap, int *flags)
{
    int f = make_title(d, e->work, buf, cap);
    if (flags)
        *flags = f;
    switch (e->title_var) {
    case TV_UPPER:
        ascii_case(buf, 1);
        break;
    case TV_LOWER:
        ascii_case(buf, 0);
        break;
    case TV_PAPERBACK: {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, " (Paperback)");
        break;
    }
    }
}

static int write_books(struct demo *d, const char *dir)
{
    struct out o;
    uint32_t *order = malloc((d->neds ? d->neds : 1) * sizeof *order);
    char title[256], author[96], isbn[24], url[16];
    rng r;
    int rc;

    if (!order)
        return BR_ENOMEM;
    if ((rc = out_open(&o, dir, "BX-Books.csv"))) {
        free(order);
        return rc;
    }
    rng_init(&r, d->p->seed, S_ORDER, 0);
    for (size_t i = 0; i < d->neds; i++)
        order[i] = (uint32_t)i;
    shuffle(&r, order, d->neds); /* editions of a work are not adjacent in BX either */

    fputs("\"ISBN\";\"Book-Title\";\"Book-Author\";\"Year-Of-Publication\";\"Publisher\";"
          "\"Image-URL-S\";\"Image-URL-M\";\"Image-URL-L\"\r\n",
          o.f);
    for (size_t i = 0; i < d->neds; i++) {
        const struct edition *e = &d->eds[order[i]];
        int flags;
        edition_title(d, e, title, sizeof title, &flags);
        make_author(d, d->works[e->work].author, author, sizeof author);
        if (e->form == ED_13) {
            isbn_split(e->isbn, 1, '-', isbn);
            isbn10_to_13(e->isbn, url);
            d->c.books13++;
        } else {
            memcpy(isbn, e->isbn, 11);
            memcpy(url, e->isbn, 11);
            if (e->form == ED_10_LOWER) {
                isbn[9] = 'x';
                d->c.books_lower_x++;
            }
        }
        d->c.titles_amp += (flags & 2) != 0;
        d->c.titles_latin1 += (flags & 1) != 0;
        d->c.year0 += e->year == 0;
        d->c.year_future += e->year > 2004;
        fprintf(o.f, "\"%s\";\"%s\";\"%s\";\"%d\";\"%s\"", isbn, title, author, e->year,
                publishers[e->publisher].s);
        static const char *const sizes[] = {"THUMBZZZ", "MZZZZZZZ", "LZZZZZZZ"};
        for (int k = 0; k < 3; k++)
            fprintf(o.f, ";\"http://images.example.invalid/synthetic/%s.01.%s.jpg\"", url,
                    sizes[k]);
        fputs("\r\n", o.f);
    }
    d->c.book_rows = d->neds;
    free(order);
    return out_commit(&o);
}

struct tag {
    char name[48];
    long count;
};

static int tag_cmp(const void *a, const void *b)
{
    const struct tag *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static long tag_count(rng *r, double base, double factor)
{
    double c = base * factor * (0.7 + 0.6 * rng_unif(r));
    return c < 1.0 ? 1 : c > 1e9 ? 1000000000L : (long)c;
}

/* A spelling the cleaner must fold: "space-opera" or "Space Opera" / "Fantasy". */
static void subject_variant(rng *r, const char *name, char *out, size_t cap)
{
    int hyphen = strchr(name, ' ') && rng_chance(r, 0.5);
    snprintf(out, cap, "%s", name);
    for (char *s = out; *s; s++) {
        if (hyphen && *s == ' ')
            *s = '-';
        else if (!hyphen && (s == out || s[-1] == ' ') && *s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
    }
}

static int write_subjects(struct demo *d, const char *dir)
{
    struct out o;
    struct tag tags[4 * 2 + COUNT(shelves) + 1];
    char isbn[14];
    double total = 0;
    rng r;
    int rc;

    if ((rc = out_open(&o, dir, "book_subjects.csv")))
        return rc;
    rng_init(&r, d->p->seed, S_SUBJECTS, 0);
    for (size_t t = 0; t < d->nworks; t++)
        total += d->works[t].weight;
    fputs("book,subject,count\n", o.f);
    for (size_t t = 0; t < d->nworks; t++) {
        const struct work *w = &d->works[t];
        static const double gfactor[4] = {1.0, 0.55, 0.35, 0.25};
        double base = w->weight / total * 100.0 * (double)d->nworks;
        size_t n = 0;
        for (int k = 0; k < w->ngenres; k++) {
            const char *name = genres[w->genres[k]].name;
            snprintf(tags[n].name, sizeof tags[n].name, "%s", name);
            tags[n++].count = tag_count(&r, base, gfactor[k]);
            if (rng_chance(&r, P_SUBJ_VARIANT)) {
                subject_variant(&r, name, tags[n].name, sizeof tags[n].name);
                tags[n++].count = tag_count(&r, base, 0.1 * gfactor[k]);
                d->c.subj_variant++;
            }
        }
        for (size_t k = 0; k < COUNT(shelves); k++) {
            if (!rng_chance(&r, shelves[k].p))
                continue;
            snprintf(tags[n].name, sizeof tags[n].name, "%s", shelves[k].name);
            tags[n++].count = tag_count(&r, base, shelves[k].factor);
            d->c.subj_shelf++;
        }
        if (rng_chance(&r, 0.85)) {
            snprintf(tags[n].name, sizeof tags[n].name, "%s",
                     fam_fiction[w->family] ? "fiction" : "non-fiction");
            tags[n++].count = tag_count(&r, base, 0.6);
            d->c.subj_shelf++;
        }
        qsort(tags, n, sizeof tags[0], tag_cmp);
        isbn_canonical(&d->eds[w->first_ed + rng_below(&r, w->neds)], isbn);
        for (size_t k = 0; k < n; k++)
            fprintf(o.f, "%s,%s,%ld\n", isbn, tags[k].name, tags[k].count);
        d->c.subj_rows += n;
    }
    return out_commit(&o);
}

/* ---- Ratings ---- */

struct rrow {
    char isbn[24];
    int value;
    int nobook;  /* no row in BX-Books.csv */
    uint32_t ed; /* edition, UINT32_MAX for junk */
};

static int rrow_cmp(const void *a, const void *b)
{
    const struct rrow *x = a, *y = b;
    int c = strcmp(x->isbn, y->isbn);
    return c ? c : (x->value > y->value) - (x->value < y->value);
}

/* A work the user has not rated yet: by taste, else by popularity, else any. The pool
 * (catalogued or not) is drawn once, so that retries keep the share without a book row. */
static uint32_t pick_work(struct demo *d, rng *r, const struct user *u, uint32_t uid)
{
    int orphan = rng_chance(r, P_ORPHAN);
    const struct pool *pl = &d->pools[orphan];
    uint32_t w;
    for (int tries = 0; tries < 24; tries++) {
        if (rng_chance(r, P_TASTE)) {
            size_t g = u->pref[rng_below(r, u->npref)];
            size_t a = pl->goff[g], n = pl->goff[g + 1] - a;
            w = n ? pl->gwork[a + pick_cum(r, pl->gcum + a, n)]
                  : (uint32_t)(pl->first + pick_cum(r, pl->cum, pl->n));
        } else {
            w = (uint32_t)(pl->first + pick_cum(r, pl->cum, pl->n));
        }
        if (d->seen[w] != uid)
            goto got;
    }
    /* a heavy user has rated most of what taste picks: an unseen work of the pool,
     * at last of any (a user rates at most a third of them) */
    for (int tries = 0; tries < 64; tries++) {
        w = (uint32_t)(pl->first + rng_below(r, pl->n));
        if (d->seen[w] != uid)
            goto got;
    }
    do
        w = rng_below(r, d->nitems);
    while (d->seen[w] == uid);
got:
    d->seen[w] = uid;
    return w;
}

/* An edition of work w other than `not` (or any when not is UINT32_MAX); the first
 * edition is the common one. */
static uint32_t pick_edition(const struct demo *d, rng *r, uint32_t w, uint32_t not)
{
    const struct work *wk = &d->works[w];
    uint32_t e;
    if (not != UINT32_MAX) {
        e = wk->first_ed + rng_below(r, wk->neds - 1u);
        return e >= not ? e + 1 : e;
    }
    e = wk->first_ed;
    if (wk->neds > 1 && !rng_chance(r, 0.6))
        e += 1 + rng_below(r, wk->neds - 1u);
    return e;
}

static int rating_value(rng *r, const struct user *u, const struct work *w)
{
    if (rng_chance(r, u->p0))
        return 0;
    double aff = !w ? 0.0 : (w->gmask & u->gmask) ? 0.8 : (w->fmask & u->fmask) ? -0.3 : -1.3;
    if (rng_chance(r, 0.06))
        return 5; /* the "average" spike of BX */
    double x = 7.6 + (w ? 0.8 * w->quality : 0.0) + u->bias + aff + 1.1 * rng_normal(r);
    return x < 1.0 ? 1 : x > 10.0 ? 10 : (int)(x + 0.5);
}

/* The ISBN text a rating row carries for edition e, with the real data's spellings. */
static void rating_isbn(struct demo *d, rng *r, const struct edition *e, char *out)
{
    if (e->form == ED_13) {
        isbn10_to_13(e->isbn, out);
        d->c.r_isbn13++;
        return;
    }
    memcpy(out, e->isbn, 11);
    if (out[9] == 'X' && rng_chance(r, P_LOWER_X)) {
        out[9] = 'x';
        d->c.r_lower_x++;
    } else if (out[0] == '0' && rng_chance(r, P_ZERO_STRIP)) {
        size_t z = strspn(out, "0");
        memmove(out, out + z, 11 - z);
        d->c.r_zero_stripped++;
    } else if (rng_chance(r, P_SPACES)) {
        isbn_split(e->isbn, 0, ' ', out);
        d->c.r_spaces++;
    }
}

/* Junk ISBNs: 1 ASIN, 2 float-mangled, 3 wrong check digit, 0 none. */
static int junk_isbn(struct demo *d, rng *r, char *out)
{
    double u = rng_unif(r);
    if (u < P_ASIN) {
        static const char an[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        memcpy(out, "B000", 4);
        for (int i = 4; i < 10; i++)
            out[i] = an[rng_below(r, sizeof an - 1)];
        out[10] = '\0';
        d->c.r_asin++;
        return 1;
    }
    if (u < P_ASIN + P_FLOAT) {
        strcpy(out, "9.78E+12");
        d->c.r_float++;
        return 2;
    }
    if (u < P_ASIN + P_FLOAT + P_BADCHECK && d->neds) {
        const struct edition *e = &d->eds[rng_below(r, d->neds)];
        memcpy(out, e->isbn, 11);
        char c = out[9] == 'X' ? '0' : out[9];
        out[9] = (char)('0' + (c - '0' + 1 + (int)rng_below(r, 9)) % 10); /* != c */
        d->c.r_badcheck++;
        return 3;
    }
    return 0;
}

static int write_ratings(struct demo *d, const char *dir)
{
    struct out o;
    struct rrow *rows = NULL;
    size_t maxq = 0;
    int rc;

    for (size_t i = 0; i < d->p->users; i++)
        if (d->users[i].quota > maxq)
            maxq = d->users[i].quota;
    rows = malloc((maxq ? maxq : 1) * sizeof *rows);
    if (!rows)
        return BR_ENOMEM;
    if ((rc = out_open(&o, dir, "BX-Book-Ratings.csv"))) {
        free(rows);
        return rc;
    }
    fputs("\"User-ID\";\"ISBN\";\"Book-Rating\"\r\n", o.f);
    for (size_t i = 0; i < d->p->users; i++) {
        const struct user *u = &d->users[i];
        uint32_t uid = (uint32_t)(i + 1);
        rng r;
        rng_init(&r, d->p->seed, S_RATINGS, i);
        for (size_t k = 0; k < u->quota; k++) {
            struct rrow *row = &rows[k];
            if (k > 0 && rng_chance(&r, P_DUP)) {
                /* the same pair again, half of the time with another value */
                *row = rows[rng_below(&r, k)];
                if (rng_chance(&r, 0.5))
                    row->value = row->value == 0 ? 1 + (int)rng_below(&r, 10) : 0;
                d->c.r_dup++;
                continue;
            }
            const struct work *w = NULL;
            uint32_t other = k > 0 && rng_chance(&r, P_OTHER_ED) ? rows[rng_below(&r, k)].ed
                                                                   : UINT32_MAX;
            if (other != UINT32_MAX && d->works[d->eds[other].work].neds > 1) {
                /* another edition of a work the user has rated: merged by the importer */
                row->ed = pick_edition(d, &r, d->eds[other].work, other);
                d->c.r_other_ed++;
            } else if (junk_isbn(d, &r, row->isbn)) {
                row->ed = UINT32_MAX;
            } else {
                row->ed = pick_edition(d, &r, pick_work(d, &r, u, uid), UINT32_MAX);
            }
            if (row->ed != UINT32_MAX) {
                const struct edition *e = &d->eds[row->ed];
                w = &d->works[e->work];
                rating_isbn(d, &r, e, row->isbn);
            }
            row->nobook = !w || (size_t)(w - d->works) >= d->nworks;
            row->value = rating_value(&r, u, w);
            double x = rng_unif(&r);
            if (x < P_RANGE) {
                row->value = 11;
                d->c.r_11++;
            } else if (x < 2 * P_RANGE) {
                row->value = -1;
                d->c.r_minus1++;
            }
        }
        qsort(rows, u->quota, sizeof *rows, rrow_cmp);
        for (size_t k = 0; k < u->quota; k++) {
            fprintf(o.f, "\"%u\";\"%s\";\"%d\"\r\n", uid, rows[k].isbn, rows[k].value);
            d->c.r_orphan += rows[k].nobook;
            if (rows[k].value == 0)
                d->c.r_implicit++;
            else if (rows[k].value >= 1 && rows[k].value <= 10)
                d->c.r_explicit++;
        }
    }
    free(rows);
    return out_commit(&o);
}

static int write_readme(const struct demo *d, const char *dir)
{
    const struct counts *c = &d->c;
    const br_demo_params *p = d->p;
    struct out o;
    int rc;

    if ((rc = out_open(&o, dir, "README.txt")))
        return rc;
    fprintf(o.f,
            "SYNTHETIC DATA - this is NOT the Book-Crossing dataset.\n"
            "\n"
            "Written by `bookrec demo-data` (br_demo_write) with seed %llu for %zu users,\n"
            "%zu works and %zu ratings. Every user, location choice, title, author,\n"
            "publisher (\"Synthetic ...\"), ISBN, subject count and rating here is invented\n"
            "by a pseudo-random generator; image URLs point at example.invalid. It exists\n"
            "so that the bookrec demo and tests run without the real data. The same seed\n"
            "gives the same bytes.\n"
            "\n"
            "Files\n"
            "  BX-Users.csv, BX-Books.csv, BX-Book-Ratings.csv: the original Book-Crossing\n"
            "    layout: ';'-separated, every field double-quoted, latin-1, CRLF line ends,\n"
            "    NULL (unquoted) for a missing age.\n"
            "  book_subjects.csv: book,subject,count (ASCII, LF). book is the ISBN of one\n"
            "    edition of a work; subjects are synthetic genres plus shelf noise\n"
            "    (to-read, owned, favorites, ...) for the subject cleaner to remove.\n"
            "\n"
            "Structure: works have 1-4 genres; users prefer a few genres, rate mostly in\n"
            "them and rate them higher; popularity and activity are Zipf-like.\n"
            "\n"
            "Noise written on purpose (see lib/data/demo.c for the rates):\n"
            "  users   %zu rows, %zu who rate; age NULL %zu, age 0-4 %zu, age over 100 %zu;\n"
            "          location without a usable country %zu, four parts %zu, one or two\n"
            "          parts %zu, with a quoted newline %zu\n"
            "  books   %zu rows for %zu works (editions); hyphenated ISBN-13 %zu; lower-case\n"
            "          x %zu; titles with &amp; %zu, with latin-1 accents %zu; year 0 %zu,\n"
            "          year after 2004 %zu\n"
            "  ratings %zu rows: implicit 0 %zu, explicit 1-10 %zu, out of range 11 %zu and\n"
            "          -1 %zu; without a book row %zu; ISBN-13 %zu, lower-case x %zu,\n"
            "          zero-stripped %zu, spaces inside %zu, ASIN-like %zu, 9.78E+12 %zu,\n"
            "          wrong check digit %zu; duplicate (user, ISBN) rows %zu; another\n"
            "          edition of a work the user rated %zu\n"
            "  subjects %zu rows: variant spellings %zu, shelf and generic tags %zu\n",
            (unsigned long long)p->seed, p->users, p->works, p->ratings, p->users,
            c->active_users, c->age_null, c->age_low, c->age_high, c->loc_nocountry,
            c->loc_many, c->loc_few, c->loc_newline, c->book_rows, d->nworks, c->books13,
            c->books_lower_x, c->titles_amp, c->titles_latin1, c->year0, c->year_future,
            p->ratings, c->r_implicit, c->r_explicit, c->r_11, c->r_minus1, c->r_orphan,
            c->r_isbn13, c->r_lower_x, c->r_zero_stripped, c->r_spaces, c->r_asin,
            c->r_float, c->r_badcheck, c->r_dup, c->r_other_ed, c->subj_rows, c->subj_variant,
            c->subj_shelf);
    return out_commit(&o);
}

void br_demo_params_default(br_demo_params *p)
{
    p->seed = 42;
    p->users = 3000;
    p->works = 1500;
    p->ratings = 60000;
}

int br_demo_write(const char *dir, const br_demo_params *p)
{
    struct demo d;
    int rc;

    memset(&d, 0, sizeof d);
    if (!dir || !p || p->users == 0 || p->works == 0)
        return BR_EINVAL;
    if (p->users > BR_DEMO_MAX_USERS || p->works > BR_DEMO_MAX_WORKS ||
        p->ratings > BR_DEMO_MAX_RATINGS)
        return BR_ELIMIT;

    d.p = p;
    d.nworks = p->works;
    d.norphans = 2 * p->works;
    d.nitems = d.nworks + d.norphans;
    d.nauthors = p->works / 3 + 1;
    for (size_t g = NGENRES; g-- > 0;) {
        d.fam_first[genres[g].family] = g;
        d.fam_n[genres[g].family]++;
    }
    d.works = calloc(d.nitems, sizeof *d.works);
    d.users = calloc(p->users, sizeof *d.users);
    if (!d.works || !d.users) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = gen_works(&d)))
        goto fail;
    if ((rc = build_pool(&d, &d.pools[0], 0, d.nworks)) ||
        (rc = build_pool(&d, &d.pools[1], d.nworks, d.norphans)))
        goto fail;
    d.seen = calloc(d.nitems, sizeof *d.seen);
    if (!d.seen) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = gen_users(&d)))
        goto fail;
    /* only now: a refused request leaves no directory behind */
    if ((rc = make_dirs(dir)))
        goto fail;
    if ((rc = write_users(&d, dir)) || (rc = write_books(&d, dir)) ||
        (rc = write_subjects(&d, dir)) || (rc = write_ratings(&d, dir)) ||
        (rc = write_readme(&d, dir)))
        goto fail;
    rc = br_fsync_dir(dir);
fail:
    free_pool(&d.pools[0]);
    free_pool(&d.pools[1]);
    free(d.seen);
    free(d.eds);
    free(d.works);
    free(d.users);
    return rc;
}
