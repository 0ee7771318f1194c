/* Loading the training and evaluation data from the store (see train_data.h). */
#include "bookrec/train_data.h"

#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/text.h"
#include "bookrec/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void br_train_data_free(br_train_data *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->fold);
    br_csr_free(&d->item_subjects);
    br_csr_free(&d->user_favs);
    free(d->has_title);
    free(d->author);
    memset(d, 0, sizeof *d);
}

struct trip {
    int32_t row, col;
    float w;
};

/* Loads (row, col, weight) rows of a query into a CSR, keeping at most
 * max_per_row per row in query order (the query orders by weight). */
static int load_csr(br_store *st, const char *sql, const char *bind, size_t n_rows, size_t n_cols,
                    size_t max_per_row, br_csr *out)
{
    br_stmt *q;
    br_vec t;
    int rc = br_store_prepare(st, sql, &q), r;
    if (rc)
        return rc;
    if (bind)
        br_stmt_bind_text(q, 1, bind, -1);
    br_vec_init(&t, sizeof(struct trip), 0);
    int64_t last = -1;
    size_t in_row = 0;
    while ((r = br_stmt_step(q)) == 1) {
        int64_t row = br_stmt_int(q, 0), col = br_stmt_int(q, 1);
        if (row < 0 || (size_t)row >= n_rows || col < 0 || (size_t)col >= n_cols)
            continue;
        in_row = row == last ? in_row + 1 : 1;
        last = row;
        if (in_row > max_per_row)
            continue;
        struct trip tr = {(int32_t)row, (int32_t)col, (float)br_stmt_double(q, 2)};
        if (!br_vec_push(&t, &tr)) {
            r = BR_ENOMEM;
            break;
        }
    }
    br_stmt_free(q);
    if (r < 0) {
        br_vec_free(&t);
        return r;
    }
    int32_t *rows = malloc((t.n + 1) * sizeof *rows), *cols = malloc((t.n + 1) * sizeof *cols);
    float *w = malloc((t.n + 1) * sizeof *w);
    if (!rows || !cols || !w) {
        rc = BR_ENOMEM;
    } else {
        for (size_t i = 0; i < t.n; i++) {
            struct trip *tr = &br_vec_at(&t, struct trip, i);
            rows[i] = tr->row, cols[i] = tr->col, w[i] = tr->w;
        }
        rc = br_csr_from_triples(n_rows, n_cols, rows, cols, w, t.n, out);
    }
    free(rows);
    free(cols);
    free(w);
    br_vec_free(&t);
    return rc;
}

int br_train_data_load(br_store *st, size_t max_set, br_train_data *d, char *err, size_t errcap)
{
    br_stmt *q = NULL;
    int rc, r;
    int64_t v;
    memset(d, 0, sizeof *d);
    if (err && errcap)
        err[0] = 0;
    /* A database never imported into gets the schema, then the clear message below. */
    if ((rc = br_store_migrate(st, NULL)) ||
        (rc = br_store_prepare(st, "SELECT split_id FROM splits WHERE active = 1", &q)))
        goto fail;
    r = br_stmt_step(q);
    if (r == 1)
        snprintf(d->split_id, sizeof d->split_id, "%s", br_stmt_text(q, 0));
    br_stmt_free(q);
    q = NULL;
    if (r != 1) {
        snprintf(err, errcap, "no active split: run bookrec split first");
        return r < 0 ? BR_ESTORE : BR_ENOENT;
    }
    if ((rc = br_store_query_int(st, "SELECT MAX(user_id) FROM users", 0, &v)))
        goto fail;
    d->n_users = (size_t)v + 1;
    if ((rc = br_store_query_int(st, "SELECT MAX(item_idx) FROM works", 0, &v)))
        goto fail;
    d->n_items = (size_t)v + 1;
    if ((rc = br_store_query_int(st, "SELECT MAX(subject_id) FROM subjects", 0, &v)))
        goto fail;
    d->n_subjects = (size_t)v + 1;

    br_vec xs, fs;
    br_vec_init(&xs, sizeof(br_interaction), 0);
    br_vec_init(&fs, 1, 0);
    if ((rc = br_store_prepare(st,
                               "SELECT f.user_id, f.item_idx, i.rating, i.ts, f.fold "
                               "FROM split_folds f JOIN interactions i ON i.user_id = f.user_id "
                               "AND i.item_idx = f.item_idx WHERE f.split_id = ? "
                               "ORDER BY f.user_id, f.item_idx",
                               &q)))
        goto fail;
    br_stmt_bind_text(q, 1, d->split_id, -1);
    while ((r = br_stmt_step(q)) == 1) {
        br_interaction it = {br_stmt_int(q, 0), br_stmt_int(q, 1), (float)br_stmt_int(q, 2),
                             br_stmt_is_null(q, 3) ? 0 : br_stmt_int(q, 3)};
        uint8_t f = (uint8_t)br_stmt_int(q, 4);
        if (!br_vec_push(&xs, &it) || !br_vec_push(&fs, &f)) {
            r = BR_ENOMEM;
            break;
        }
    }
    br_stmt_free(q);
    q = NULL;
    d->x = xs.data;
    d->fold = fs.data;
    d->n = xs.n;
    if (r < 0) {
        rc = r;
        goto fail;
    }
    /* Book subjects, strongest first; reader favorites, chosen ones first. */
    if ((rc = load_csr(st,
                       "SELECT item_idx, subject_id, weight FROM work_subjects "
                       "ORDER BY item_idx, weight DESC, subject_id",
                       NULL, d->n_items, d->n_subjects, max_set, &d->item_subjects)) ||
        (rc = load_csr(st,
                       "SELECT user_id, subject_id, score FROM user_fav_subjects "
                       "ORDER BY user_id, origin, score DESC, subject_id",
                       NULL, d->n_users, d->n_subjects, max_set, &d->user_favs)))
        goto fail;

    d->has_title = calloc(d->n_items, 1);
    d->author = malloc(d->n_items * sizeof *d->author);
    br_strmap *authors = NULL;
    if (!d->has_title || !d->author || br_strmap_new(&authors)) {
        rc = BR_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < d->n_items; i++)
        d->author[i] = -1;
    if ((rc = br_store_prepare(st, "SELECT item_idx, has_title, author FROM works", &q))) {
        br_strmap_free(authors);
        goto fail;
    }
    while ((r = br_stmt_step(q)) == 1) {
        int64_t i = br_stmt_int(q, 0), g;
        const char *a = br_stmt_text(q, 2);
        char key[128];
        if (i < 0 || (size_t)i >= d->n_items)
            continue;
        d->has_title[i] = br_stmt_int(q, 1) != 0;
        if (!a || br_author_key(a, key, sizeof key) == 0)
            continue;
        if (!br_strmap_get(authors, key, &g)) {
            g = (int64_t)br_strmap_size(authors);
            if (br_strmap_put(authors, key, g)) {
                r = BR_ENOMEM;
                break;
            }
        }
        d->author[i] = (int32_t)g;
    }
    br_stmt_free(q);
    q = NULL;
    br_strmap_free(authors);
    if (r < 0) {
        rc = r;
        goto fail;
    }
    return 0;
fail:
    br_stmt_free(q);
    if (err && errcap && !err[0])
        snprintf(err, errcap, "loading training data: %s", br_store_errmsg(st));
    br_train_data_free(d);
    return rc ? rc : BR_ESTORE;
}

int br_train_data_fold_csr(const br_train_data *d, int fold, br_csr *out)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->fold[i] == fold;
    int32_t *rows = malloc((n + 1) * sizeof *rows), *cols = malloc((n + 1) * sizeof *cols);
    float *vals = malloc((n + 1) * sizeof *vals);
    int rc = BR_ENOMEM;
    if (rows && cols && vals) {
        size_t j = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->fold[i] == fold) {
                rows[j] = (int32_t)d->x[i].user;
                cols[j] = (int32_t)d->x[i].item;
                vals[j++] = d->x[i].rating;
            }
        rc = br_csr_from_triples(d->n_users, d->n_items, rows, cols, vals, n, out);
    }
    free(rows);
    free(cols);
    free(vals);
    return rc;
}
