/* Import orchestration (see import.h and import_internal.h): load the stored
 * catalog, parse the sources, resolve, build the subject vocabulary, write
 * what changed and the report, all inside one transaction. */
#include "import_internal.h"

#include "bookrec/error.h"
#include "bookrec/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void br_import_opts_default(br_import_opts *o)
{
    o->min_age = 5;
    o->max_age = 100;
    o->max_rows = 50000000;
    o->max_field = 1 << 20;
    o->vocab_size = 1000;
    o->min_books = 5;
}

static const char *const match_names[] = {"", "own_isbn", "own_title_author", "title_author",
                                          "isbn"};

const char *br__match_name(int m)
{
    return m >= BR__M_OWN_ISBN && m <= BR__M_ISBN ? match_names[m] : "own_isbn";
}

int br__match_parse(const char *s)
{
    for (int m = BR__M_OWN_ISBN; s && m <= BR__M_ISBN; m++)
        if (!strcmp(s, match_names[m]))
            return m;
    return BR__M_OWN_ISBN;
}

static void bump(json_t *obj, const char *key, uint64_t n)
{
    json_t *v = json_object_get(obj, key);
    json_int_t have = v ? json_integer_value(v) : 0;
    json_object_set_new(obj, key, json_integer(have + (json_int_t)n));
}

void br__imp_reject(br__import *im, const char *reason, uint64_t n)
{
    bump(im->rejected, reason, n);
}

void br__imp_clean(br__import *im, const char *what, uint64_t n)
{
    bump(im->cleaned, what, n);
}

const char *br__imp_str(br__import *im, const char *s, size_t len)
{
    return br_arena_strndup(im->strs, s, len);
}

int br__imp_errorf(br__import *im, int rc, const char *fmt, ...)
{
    va_list ap;
    if (im->err && im->errcap && !im->err[0]) {
        va_start(ap, fmt);
        vsnprintf(im->err, im->errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int state_new(br__import *im)
{
    br_vec_init(&im->works, sizeof(struct br__work), 0);
    br_vec_init(&im->editions, sizeof(struct br__edition), 0);
    br_vec_init(&im->users, sizeof(struct br__user), 0);
    br_vec_init(&im->inters, sizeof(struct br__inter), 0);
    br_vec_init(&im->rawtags, sizeof(struct br__rawtag), 0);
    br_vec_init(&im->aliases, sizeof(int64_t), 0);
    br_vec_init(&im->mworks, sizeof(struct br__mwork), 0);
    br_vec_init(&im->seditions, sizeof(struct br__sedition), 0);
    br_vec_init(&im->stags, sizeof(struct br__stag), 0);
    br_vec_init(&im->sratings, sizeof(struct br__srating), 0);
    br_vec_init(&im->tag_name_vec, sizeof(const char *), 0);
    br_vec_init(&im->subjs, sizeof(struct br__subj), 0);
    br_vec_init(&im->wsubjs, sizeof(struct br__wsubj), 0);
    im->rejected = json_object();
    im->cleaned = json_object();
    im->sources = json_array();
    if (br_arena_new(0, &im->strs) || br_strmap_new(&im->work_by_key) ||
        br_strmap_new(&im->ed_by_isbn) || br_strmap_new(&im->user_by_ext) ||
        br_strmap_new(&im->extid_to_item) || br_strmap_new(&im->rawtag_by_key) ||
        br_intmap_new(&im->work_by_idx) || br_intmap_new(&im->inter_by_pair) ||
        br_strmap_new(&im->mwork_by_key) || br_strmap_new(&im->mwork_by_isbn) ||
        br_strmap_new(&im->mwork_by_ta) || br_strmap_new(&im->gr_book) ||
        br_strmap_new(&im->generic_book) || br_strmap_new(&im->tag_names) ||
        br_strmap_new(&im->subject_id_by_name) || !im->rejected || !im->cleaned || !im->sources)
        return BR_ENOMEM;
    im->next_item = 0;
    im->next_user = 1;
    im->next_subject = 1;
    return 0;
}

static void state_free(br__import *im)
{
    br_vec *vecs[] = {&im->works,   &im->editions,     &im->users,  &im->inters,
                      &im->rawtags, &im->aliases,      &im->mworks, &im->seditions,
                      &im->stags,   &im->sratings,     &im->tag_name_vec, &im->subjs,
                      &im->wsubjs};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        br_vec_free(vecs[i]);
    br_strmap *sm[] = {im->work_by_key,   im->ed_by_isbn,   im->user_by_ext, im->extid_to_item,
                       im->rawtag_by_key, im->mwork_by_key, im->mwork_by_isbn, im->mwork_by_ta,
                       im->gr_book,       im->generic_book, im->tag_names,
                       im->subject_id_by_name};
    for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++)
        br_strmap_free(sm[i]);
    br_intmap_free(im->work_by_idx);
    br_intmap_free(im->inter_by_pair);
    br_arena_free(im->strs);
    json_decref(im->rejected);
    json_decref(im->cleaned);
    json_decref(im->sources);
}

static int q_int(br__import *im, const char *sql, json_t *report, const char *key)
{
    int64_t v;
    int rc = br_store_query_int(im->st, sql, 0, &v);
    if (rc)
        return br__imp_errorf(im, rc, "report query failed: %s", br_store_errmsg(im->st));
    json_object_set_new(report, key, json_integer(v));
    return 0;
}

/* Totals read back from the store after the write, so the report describes
 * the database, not only this import's input. */
static int report_totals(br__import *im, json_t *report)
{
    static const struct {
        const char *key, *sql;
    } q[] = {
        {"users", "SELECT COUNT(*) FROM users"},
        {"works", "SELECT COUNT(*) FROM works"},
        {"works_without_title", "SELECT COUNT(*) FROM works WHERE has_title = 0"},
        {"work_aliases", "SELECT COUNT(*) FROM work_aliases"},
        {"editions", "SELECT COUNT(*) FROM editions"},
        {"ratings_kept", "SELECT COUNT(*) FROM interactions"},
        {"ratings_explicit", "SELECT COUNT(*) FROM interactions WHERE rating > 0"},
        {"ratings_implicit", "SELECT COUNT(*) FROM interactions WHERE rating = 0"},
        {"users_with_ratings", "SELECT COUNT(DISTINCT user_id) FROM interactions"},
        {"works_with_ratings", "SELECT COUNT(DISTINCT item_idx) FROM interactions"},
        /* Editions known from ratings or book lists that found a metadata work. */
        {"editions_matched_to_metadata",
         "SELECT COUNT(*) FROM editions e JOIN works w ON w.item_idx = e.item_idx "
         "WHERE w.metadata_source IS NOT NULL AND e.match_kind IN ('isbn', 'title_author') "
         "AND e.source NOT IN ('goodreads_work', 'openlibrary', 'generic_work')"},
        {"editions_matched_by_isbn",
         "SELECT COUNT(*) FROM editions e JOIN works w ON w.item_idx = e.item_idx "
         "WHERE w.metadata_source IS NOT NULL AND e.match_kind = 'isbn' "
         "AND e.source NOT IN ('goodreads_work', 'openlibrary', 'generic_work')"},
        {"editions_matched_by_title_author",
         "SELECT COUNT(*) FROM editions e WHERE e.match_kind = 'title_author'"},
        {"metadata_works_matched",
         "SELECT COUNT(DISTINCT e.item_idx) FROM editions e JOIN works w "
         "ON w.item_idx = e.item_idx WHERE w.metadata_source IS NOT NULL "
         "AND e.match_kind IN ('isbn', 'title_author') "
         "AND e.source NOT IN ('goodreads_work', 'openlibrary', 'generic_work')"},
        {"goodbooks_works_matched",
         "SELECT COUNT(DISTINCT e.item_idx) FROM editions e JOIN works w "
         "ON w.item_idx = e.item_idx WHERE w.metadata_source = 'goodreads_work' "
         "AND e.match_kind IN ('isbn', 'title_author') "
         "AND e.source NOT IN ('goodreads_work', 'openlibrary', 'generic_work')"},
        /* The same, for Book-Crossing editions onto goodbooks-10k works only. */
        {"bx_editions_matched_to_goodbooks",
         "SELECT COUNT(*) FROM editions e JOIN works w ON w.item_idx = e.item_idx "
         "WHERE w.metadata_source = 'goodreads_work' AND e.source = 'bx' "
         "AND e.match_kind IN ('isbn', 'title_author')"},
        {"goodbooks_works_matched_by_bx",
         "SELECT COUNT(DISTINCT e.item_idx) FROM editions e JOIN works w "
         "ON w.item_idx = e.item_idx WHERE w.metadata_source = 'goodreads_work' "
         "AND e.source = 'bx' AND e.match_kind IN ('isbn', 'title_author')"},
        {"ratings_on_goodbooks_works",
         "SELECT COUNT(*) FROM interactions i JOIN works w ON w.item_idx = i.item_idx "
         "WHERE w.metadata_source = 'goodreads_work'"},
        {"ratings_on_metadata_works",
         "SELECT COUNT(*) FROM interactions i JOIN works w ON w.item_idx = i.item_idx "
         "WHERE w.metadata_source IS NOT NULL"},
        {"works_with_subjects", "SELECT COUNT(DISTINCT item_idx) FROM work_subjects"},
        {"ratings_on_works_with_subjects",
         "SELECT COUNT(*) FROM interactions WHERE item_idx IN "
         "(SELECT DISTINCT item_idx FROM work_subjects)"},
        {"subject_vocab_size", "SELECT COUNT(*) FROM subjects WHERE n_books > 0"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int rc = q_int(im, q[i].sql, report, q[i].key);
        if (rc)
            return rc;
    }
    br_stmt *st;
    int rc = br_store_prepare(im->st,
                              "SELECT name, n_books FROM subjects WHERE n_books > 0 "
                              "ORDER BY n_books DESC, name LIMIT 30",
                              &st);
    if (rc)
        return rc;
    json_t *top = json_array();
    while ((rc = br_stmt_step(st)) == 1)
        json_array_append_new(top, json_pack("{s:s, s:I}", "subject", br_stmt_text(st, 0),
                                             "books", (json_int_t)br_stmt_int(st, 1)));
    br_stmt_free(st);
    json_object_set_new(report, "top_subjects", top);
    return rc < 0 ? BR_ESTORE : 0;
}

static int cmp_rank(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return br__imp_source_rank(*x) - br__imp_source_rank(*y);
}

int br_import_run(br_store *st, const char *const *sources, size_t nsources,
                  const br_import_opts *o, json_t **report, char *errbuf, size_t errcap)
{
    br__import im = {0};
    br_import_opts dflt;
    json_t *rep = json_object();
    const char **order = NULL;
    double t0 = br_now();
    int rc = BR_ENOMEM;
    if (!o) {
        br_import_opts_default(&dflt);
        o = &dflt;
    }
    im.st = st;
    im.o = o;
    im.err = errbuf;
    im.errcap = errcap;
    if (errbuf && errcap)
        errbuf[0] = 0;
    if (report)
        *report = NULL;
    if (!rep || (rc = state_new(&im)))
        goto fail;
    if (nsources == 0) {
        rc = br__imp_errorf(&im, BR_EINVAL, "no sources given");
        goto fail;
    }
    if ((rc = br_store_migrate(st, NULL))) {
        br__imp_errorf(&im, rc, "migrating the database: %s", br_store_errmsg(st));
        goto fail;
    }
    if ((rc = br_store_begin(st))) {
        br__imp_errorf(&im, rc, "begin: %s", br_store_errmsg(st));
        goto fail;
    }
    if ((rc = br__imp_load(&im)))
        goto rollback;
    double t_load = br_now();
    /* Metadata before what refers to it, whatever the command-line order. */
    order = malloc(nsources * sizeof *order);
    if (!order) {
        rc = BR_ENOMEM;
        goto rollback;
    }
    memcpy(order, sources, nsources * sizeof *order);
    qsort(order, nsources, sizeof *order, cmp_rank);
    for (size_t i = 0; i < nsources; i++)
        if ((rc = br__imp_source(&im, order[i])))
            goto rollback;
    double t_parse = br_now();
    if ((rc = br__imp_resolve(&im))) {
        br__imp_errorf(&im, rc, "resolving works: %s", br_strerror(rc));
        goto rollback;
    }
    if ((rc = br__imp_subjects(&im, rep))) {
        br__imp_errorf(&im, rc, "building the subject vocabulary: %s", br_strerror(rc));
        goto rollback;
    }
    double t_resolve = br_now();
    /* The report is stored with the import, so it is written last. */
    json_object_set(rep, "sources", im.sources);
    json_object_set(rep, "rejected", im.rejected);
    json_object_set(rep, "cleaned", im.cleaned);
    json_object_set_new(rep, "import_id", json_integer(im.import_id));
    json_object_set_new(rep, "rows_read", json_integer((json_int_t)im.rows_read));
    if ((rc = br__imp_write(&im, "{}"))) {
        br__imp_errorf(&im, rc, "writing: %s", br_store_errmsg(st));
        goto rollback;
    }
    if ((rc = report_totals(&im, rep)))
        goto rollback;
    double t_write = br_now();
    json_object_set_new(rep, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f}", "load", t_load - t0, "parse",
                                  t_parse - t_load, "resolve", t_resolve - t_parse, "write",
                                  t_write - t_resolve, "total", t_write - t0));
    json_object_set_new(rep, "rows_per_second",
                        json_real(t_write > t0 ? (double)im.rows_read / (t_write - t0) : 0));
    {
        char *text = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
        br_stmt *q = NULL;
        rc = text ? br_store_prepare(st, "UPDATE imports SET report = ? WHERE import_id = ?", &q)
                  : BR_ENOMEM;
        if (!rc) {
            br_stmt_bind_text(q, 1, text, -1);
            br_stmt_bind_int(q, 2, im.import_id);
            rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
        }
        br_stmt_free(q);
        free(text);
        if (rc)
            goto rollback;
    }
    if ((rc = br_store_commit(st))) {
        br__imp_errorf(&im, rc, "commit: %s", br_store_errmsg(st));
        goto fail;
    }
    free(order);
    state_free(&im);
    if (report)
        *report = rep;
    else
        json_decref(rep);
    return 0;
rollback:
    br_store_rollback(st);
fail:
    if (!errbuf || !errbuf[0])
        br__imp_errorf(&im, rc, "%s", br_strerror(rc));
    json_object_set(rep, "rejected", im.rejected);
    free(order);
    state_free(&im);
    if (report)
        *report = rep;
    else
        json_decref(rep);
    return rc;
}
