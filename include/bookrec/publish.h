/* Building a model version from a trained model (br_train_run's directory) and the catalog,
 * and publishing it into an artifacts directory (version.h).
 *
 * A version has one subdirectory per model service; each service owns its files and
 * reads nothing else, so that a service host needs only its own role's files:
 *   embedder/    subject_emb.npy, attn_w.npy, attn_b.npy (the served pooling kind),
 *                params.json, subjects.txt (subject names, line i = subject id i)
 *   similarity/  book_vectors.npy (unit subject vectors), has_subject.npy (u8), prior.npy
 *                (f64, the cold-blend prior), allow.npy (u8: books that may be shown),
 *                subject.hnsw, als.hnsw (cosine), hybrid.hnsw
 *   als/         user_factors.npy, item_factors.npy, als_users.npy (sorted ids of the
 *                readers in the model), allow.npy, items_mips.hnsw (maximum inner product)
 *   metadata/    books.jsonl + books_offsets.npy (bookmeta.h), popular.npy (i32 ids, best
 *                first), popular_scores.npy (f32)
 *   semantic/    lexical.idx (lexical.h)
 * and manifest.json (version.h): id, created_at, code_commit, split_id, params (training,
 * plus "serving": pool, prior, cold_a), metrics, dims, files. */
#ifndef BOOKREC_PUBLISH_H
#define BOOKREC_PUBLISH_H

#include "bookrec/store.h"
#include "bookrec/version.h"

#include <jansson.h>

typedef struct br_publish_opts {
    const char *artifacts;  /* artifacts directory (created when missing) */
    const char *model_dir;  /* a br_train_run output directory */
    const char *pool;       /* subject model served: "perdim" (default), "scalar", "mean" */
    const char *prior;      /* "count" (default) or "bayes" */
    double cold_a;          /* default blend weight of subject vs prior; default 0.8 */
    const char *id;         /* NULL: a new id */
    int activate;           /* switch CURRENT to it when written */
    const json_t *metrics;  /* evaluation report for the manifest, or NULL */
    int threads;            /* index builds; 0 = OpenMP default */
    uint64_t seed;          /* index build seed; 0 = 42 */
} br_publish_opts;

void br_publish_opts_default(br_publish_opts *o);

/* Writes the version (staged, then committed: version.h) and activates it when asked.
 * id_out (BR_VERSION_ID_MAX bytes) gets its id. err gets a one-line reason on failure;
 * a failure leaves no version and CURRENT unchanged. */
int br_publish(br_store *st, const br_publish_opts *o, char *id_out, char *err, size_t errcap);

#endif
