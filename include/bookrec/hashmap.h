/* Hash maps: string -> int64 (keys copied into the map's own arena) and
 * int64 -> int64. Open addressing with linear probing, xxh64 hashes, load
 * factor at most 1/2. No deletion: the importer and the split only add. */
#ifndef BOOKREC_HASHMAP_H
#define BOOKREC_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_strmap br_strmap;

int br_strmap_new(br_strmap **out);
void br_strmap_free(br_strmap *m);
/* 1 and *val when found, 0 when not. */
int br_strmap_get(const br_strmap *m, const char *key, int64_t *val);
int br_strmap_getn(const br_strmap *m, const char *key, size_t len, int64_t *val);
/* Inserts or overwrites. 0 or BR_ENOMEM. */
int br_strmap_put(br_strmap *m, const char *key, int64_t val);
int br_strmap_putn(br_strmap *m, const char *key, size_t len, int64_t val);
size_t br_strmap_size(const br_strmap *m);
/* Iteration: i from 0 while br_strmap_iter returns 1. */
int br_strmap_iter(const br_strmap *m, size_t *i, const char **key, int64_t *val);

typedef struct br_intmap br_intmap;

int br_intmap_new(br_intmap **out);
void br_intmap_free(br_intmap *m);
int br_intmap_get(const br_intmap *m, int64_t key, int64_t *val);
int br_intmap_put(br_intmap *m, int64_t key, int64_t val);
size_t br_intmap_size(const br_intmap *m);
int br_intmap_iter(const br_intmap *m, size_t *i, int64_t *key, int64_t *val);

#endif
