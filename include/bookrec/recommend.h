/* Recommendation logic on trained arrays (exact; the indexes add approximate
 * search later). All vectors are float32 row-major and indexed by item_idx.
 *
 *  warm:     ALS scores u . v_i, top k, already-read books removed;
 *  cold:     a * minmax(cos(user_vec, book_vec)) + (1 - a) * minmax(prior) over the
 *            books that have a subject vector (a per request, in [0, 1]);
 *  popular:  the prior alone (readers with no history and no subjects);
 *  similar:  ALS cosine, subject cosine, or w * cos_subject + (1 - w) * cos_als.
 * "allow" (may be NULL) marks the books that may be returned (e.g. books with
 * a title); exclusions are item ids (any order). Ties go to the smaller id. */
#ifndef BOOKREC_RECOMMEND_H
#define BOOKREC_RECOMMEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_rec_filter {
    const uint8_t *allow;     /* n_items bytes, or NULL */
    const int32_t *exclude;   /* item ids, or NULL */
    size_t n_exclude;
} br_rec_filter;

/* Results: ids[k] and scores[k]; *n_out may be below k when fewer books qualify. */
int br_rec_warm(const float *item_factors, size_t n_items, size_t f, const float *user_vec,
                const br_rec_filter *flt, size_t k, int32_t *ids, float *scores, size_t *n_out);

/* book_vecs: unit-normalized subject vectors (rows of books without subjects
 * are zero and has_vec[i] = 0). user_vec need not be normalized. prior[i]:
 * the popularity prior chosen by evaluation. */
int br_rec_cold(const float *book_vecs, const uint8_t *has_vec, size_t n_items, size_t d,
                const float *user_vec, const double *prior, double a, const br_rec_filter *flt,
                size_t k, int32_t *ids, float *scores, size_t *n_out);

int br_rec_popular(const double *prior, size_t n_items, const br_rec_filter *flt, size_t k,
                   int32_t *ids, float *scores, size_t *n_out);

enum br_sim_mode { BR_SIM_ALS, BR_SIM_SUBJECT, BR_SIM_HYBRID };

/* Similar books to item q. als_unit / subj_unit: unit-normalized rows (zero
 * rows = no vector). Hybrid: w * cos_subject + (1 - w) * cos_als, a book with
 * no ALS vector (or no subject vector) contributes 0 for that half. The query
 * item is always excluded. BR_ENOENT when the query has no vector the mode needs. */
int br_rec_similar(enum br_sim_mode mode, const float *als_unit, size_t fa,
                   const float *subj_unit, size_t fs, size_t n_items, int32_t q, double w,
                   const br_rec_filter *flt, size_t k, int32_t *ids, float *scores,
                   size_t *n_out);

#endif
