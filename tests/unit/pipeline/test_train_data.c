/* Tests of lib/pipeline/train_data.c: a synthetic catalog imported, split,
 * and loaded back for training. */
#include "harness.h"

#include "bookrec/demo.h"
#include "bookrec/error.h"
#include "bookrec/import.h"
#include "bookrec/split_run.h"
#include "bookrec/train_data.h"

#include <stdio.h>
#include <string.h>

TEST(train_data_loads_the_active_split)
{
    char dir[512], db[512], err[256];
    br_demo_params dp;
    br_store *st;
    json_t *rep = NULL;
    br_train_data d;
    br_demo_params_default(&dp);
    dp.users = 400, dp.works = 300, dp.ratings = 6000;
    snprintf(dir, sizeof dir, "%s/demo", br_test_tmpdir());
    snprintf(db, sizeof db, "%s/t.db", br_test_tmpdir());
    ASSERT_OK(br_demo_write(dir, &dp));
    ASSERT_OK(br_store_open(db, &st));
    const char *src[] = {dir};
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    json_decref(rep);
    ASSERT_EQ_INT(br_train_data_load(st, 20, &d, err, sizeof err), BR_ENOENT);
    ASSERT_TRUE(strstr(err, "bookrec split") != NULL);
    br_split_run_opts so;
    br_split_run_opts_default(&so);
    ASSERT_OK(br_split_run(st, &so, NULL, err, sizeof err));
    ASSERT_OK(br_train_data_load(st, 20, &d, err, sizeof err));
    int64_t n_inter;
    ASSERT_OK(br_store_query_int(st, "SELECT COUNT(*) FROM interactions", 0, &n_inter));
    ASSERT_EQ_INT(d.n, n_inter);
    ASSERT_CMP_INT(d.item_subjects.nnz, >, 0);
    ASSERT_CMP_INT(d.user_favs.nnz, >, 0);
    for (size_t r = 0; r < d.item_subjects.n_rows; r++)
        ASSERT_CMP_INT(d.item_subjects.indptr[r + 1] - d.item_subjects.indptr[r], <=, 20);
    br_csr train;
    ASSERT_OK(br_train_data_fold_csr(&d, BR_FOLD_TRAIN, &train));
    size_t n_train = 0;
    for (size_t i = 0; i < d.n; i++)
        n_train += d.fold[i] == BR_FOLD_TRAIN;
    ASSERT_EQ_INT(train.nnz, n_train);
    ASSERT_EQ_INT(train.n_rows, d.n_users);
    br_csr_free(&train);
    br_train_data_free(&d);
    br_train_data_free(NULL);
    br_store_close(st);
}
