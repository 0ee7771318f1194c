/* Hash maps (see hashmap.h). */
#include "bookrec/hashmap.h"
#include "bookrec/arena.h"
#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct sslot {
    const char *key; /* NULL = empty */
    uint32_t len;
    uint64_t hash;
    int64_t val;
};

struct br_strmap {
    struct sslot *slots;
    size_t cap, n;
    br_arena *keys;
};

int br_strmap_new(br_strmap **out)
{
    br_strmap *m = calloc(1, sizeof *m);
    if (!m || br_arena_new(0, &m->keys) != 0)
        goto fail;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots)
        goto fail;
    *out = m;
    return 0;
fail:
    br_strmap_free(m);
    return BR_ENOMEM;
}

void br_strmap_free(br_strmap *m)
{
    if (!m)
        return;
    br_arena_free(m->keys);
    free(m->slots);
    free(m);
}

static struct sslot *sfind(const br_strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct sslot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

int br_strmap_getn(const br_strmap *m, const char *key, size_t len, int64_t *val)
{
    struct sslot *s = sfind(m, key, len, XXH3_64bits(key, len));
    if (!s->key)
        return 0;
    if (val)
        *val = s->val;
    return 1;
}

int br_strmap_get(const br_strmap *m, const char *key, int64_t *val)
{
    return br_strmap_getn(m, key, strlen(key), val);
}

static int sgrow(br_strmap *m)
{
    size_t ncap = m->cap * 2;
    struct sslot *old = m->slots, *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return BR_ENOMEM;
    size_t ocap = m->cap;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *sfind(m, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
    return 0;
}

int br_strmap_putn(br_strmap *m, const char *key, size_t len, int64_t val)
{
    if (len > UINT32_MAX)
        return BR_ELIMIT;
    uint64_t h = XXH3_64bits(key, len);
    struct sslot *s = sfind(m, key, len, h);
    if (s->key) {
        s->val = val;
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap) {
        if (sgrow(m) != 0)
            return BR_ENOMEM;
        s = sfind(m, key, len, h);
    }
    char *k = br_arena_strndup(m->keys, key, len);
    if (!k)
        return BR_ENOMEM;
    *s = (struct sslot){k, (uint32_t)len, h, val};
    m->n++;
    return 0;
}

int br_strmap_put(br_strmap *m, const char *key, int64_t val)
{
    return br_strmap_putn(m, key, strlen(key), val);
}

size_t br_strmap_size(const br_strmap *m)
{
    return m->n;
}

int br_strmap_iter(const br_strmap *m, size_t *i, const char **key, int64_t *val)
{
    for (; *i < m->cap; (*i)++) {
        struct sslot *s = &m->slots[*i];
        if (s->key) {
            *key = s->key;
            *val = s->val;
            (*i)++;
            return 1;
        }
    }
    return 0;
}

struct islot {
    int64_t key, val;
    int used;
};

struct br_intmap {
    struct islot *slots;
    size_t cap, n;
};

int br_intmap_new(br_intmap **out)
{
    br_intmap *m = calloc(1, sizeof *m);
    if (!m)
        return BR_ENOMEM;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return BR_ENOMEM;
    }
    *out = m;
    return 0;
}

void br_intmap_free(br_intmap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

static struct islot *ifind(const br_intmap *m, int64_t key)
{
    size_t mask = m->cap - 1;
    for (size_t i = XXH3_64bits(&key, sizeof key) & mask;; i = (i + 1) & mask)
        if (!m->slots[i].used || m->slots[i].key == key)
            return &m->slots[i];
}

int br_intmap_get(const br_intmap *m, int64_t key, int64_t *val)
{
    struct islot *s = ifind(m, key);
    if (!s->used)
        return 0;
    if (val)
        *val = s->val;
    return 1;
}

int br_intmap_put(br_intmap *m, int64_t key, int64_t val)
{
    struct islot *s = ifind(m, key);
    if (s->used) {
        s->val = val;
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t ocap = m->cap;
        struct islot *old = m->slots, *ns = calloc(ocap * 2, sizeof *ns);
        if (!ns)
            return BR_ENOMEM;
        m->slots = ns;
        m->cap = ocap * 2;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].used)
                *ifind(m, old[i].key) = old[i];
        free(old);
        s = ifind(m, key);
    }
    *s = (struct islot){key, val, 1};
    m->n++;
    return 0;
}

size_t br_intmap_size(const br_intmap *m)
{
    return m->n;
}

int br_intmap_iter(const br_intmap *m, size_t *i, int64_t *key, int64_t *val)
{
    for (; *i < m->cap; (*i)++) {
        if (m->slots[*i].used) {
            *key = m->slots[*i].key;
            *val = m->slots[*i].val;
            (*i)++;
            return 1;
        }
    }
    return 0;
}
