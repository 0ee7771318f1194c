/* Synthetic demo catalog in the Book-Crossing format.
 *
 * On a machine without the real data, br_demo_write() writes an invented
 * catalog that the importer reads like the real one, so the demo and the
 * tests still run:
 *   BX-Users.csv, BX-Books.csv, BX-Book-Ratings.csv   original BX layout
 *       (';'-separated, every field double-quoted, latin-1, CRLF, NULL ages)
 *   book_subjects.csv                                  book,subject,count
 *   README.txt                                         says it is synthetic
 * The files carry the noise of the real data on purpose (ISBN variants,
 * editions, missing book rows, bad ages, duplicates, out-of-range ratings,
 * shelf tags), with latent genre taste so that a collaborative model has
 * something to learn. lib/data/demo.c lists every kind and its rate; README.txt
 * gives the counts actually written. Output is a pure function of the params. */
#ifndef BOOKREC_DEMO_H
#define BOOKREC_DEMO_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_demo_params {
    uint64_t seed;
    size_t users;   /* rows of BX-Users.csv, >= 1 */
    size_t works;   /* catalogued works, >= 1; each has 1-6 editions (book rows) */
    size_t ratings; /* rows of BX-Book-Ratings.csv, noise rows included */
} br_demo_params;

/* Hard limits of br_demo_write (BR_ELIMIT above them). */
#define BR_DEMO_MAX_USERS ((size_t)10000000)
#define BR_DEMO_MAX_WORKS ((size_t)2000000)
#define BR_DEMO_MAX_RATINGS ((size_t)50000000)

/* 3,000 users, 1,500 works, 60,000 ratings, seed 42. */
void br_demo_params_default(br_demo_params *p);

/* Writes the catalog into dir (created, with its parents, when missing).
 * Each file is written to a temporary name, fsync'd and renamed over any
 * previous one. Returns 0, BR_EINVAL (NULL or zero users/works), BR_ELIMIT,
 * BR_ERANGE (more ratings than users x works: a user rates a work once, and
 * nothing is created), BR_ENOMEM or BR_EIO. */
int br_demo_write(const char *dir, const br_demo_params *p);

#endif
