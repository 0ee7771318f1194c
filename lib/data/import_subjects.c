/* Import, subject phase: the vocabulary is rebuilt from every raw tag in the
 * store (plus this import's), so adding one source later gives the same
 * vocabulary as importing everything at once. It uses catalog tag counts
 * only, never interactions, which is why it may be built at import time. */
#include "import_internal.h"

#include "bookrec/error.h"
#include "bookrec/subjects.h"

#include <stdio.h>
#include <string.h>

int br__imp_subjects(br__import *im, json_t *report)
{
    br_subject_vocab *v = NULL;
    br_subject_params p;
    int rc;
    if (!im->subjects_changed)
        return 0;
    br_subject_params_default(&p);
    p.vocab_size = im->o->vocab_size;
    p.min_books = im->o->min_books;
    if ((rc = br_subject_vocab_new(&v)))
        return rc;
    for (size_t i = 0; i < im->rawtags.n; i++) {
        struct br__rawtag *t = &br_vec_at(&im->rawtags, struct br__rawtag, i);
        if (!t->dead && (rc = br_subject_vocab_add(v, t->item, t->tag, strlen(t->tag), t->weight)))
            goto out;
    }
    if ((rc = br_subject_vocab_build(v, &p)))
        goto out;
    for (size_t id = 0; id < br_subject_vocab_size(v); id++) {
        struct br__subj s = {0};
        s.name = br__imp_str(im, br_subject_vocab_name(v, id), strlen(br_subject_vocab_name(v, id)));
        s.n_books = (int64_t)br_subject_vocab_books(v, id);
        s.generic = (uint8_t)br_subject_vocab_generic(v, id);
        if (!s.name || !br_vec_push(&im->subjs, &s)) {
            rc = BR_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < im->works.n; i++) {
        struct br__work *w = &br_vec_at(&im->works, struct br__work, i);
        const int32_t *ids;
        const float *wt;
        size_t n = 0;
        if (w->dead)
            continue;
        w->main_vocab = br_subject_vocab_main(v, w->idx); /* to an id when written */
        if (br_subject_vocab_item(v, w->idx, &ids, &wt, &n) != 0)
            continue;
        for (size_t k = 0; k < n; k++) {
            struct br__wsubj ws = {w->idx, ids[k], wt[k]};
            if (!br_vec_push(&im->wsubjs, &ws)) {
                rc = BR_ENOMEM;
                goto out;
            }
        }
    }
    for (int r = 1; r < BR_SUBJECT_REASON_COUNT; r++) {
        uint64_t n = br_subject_vocab_rejected(v, (br_subject_reason)r);
        char key[64];
        snprintf(key, sizeof key, "subject_tag_%s", br_subject_reason_name((br_subject_reason)r));
        if (n)
            br__imp_reject(im, key, n);
    }
    json_t *shelf = json_array();
    for (size_t i = 0; i < br_subject_vocab_shelf_count(v) && i < 100; i++) {
        br_subject_info info;
        if (br_subject_vocab_shelf(v, i, &info) == 0)
            json_array_append_new(shelf, json_string(info.name));
    }
    json_object_set_new(report, "shelf_tags_removed", shelf);
out:
    br_subject_vocab_free(v);
    return rc;
}
