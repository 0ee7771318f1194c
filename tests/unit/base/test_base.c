/* Tests of lib/base: errors, arena, hash maps, vectors. */
#include "harness.h"

#include "bookrec/arena.h"
#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/vec.h"

#include <stdio.h>

TEST(error_names_and_messages)
{
    ASSERT_EQ_STR(br_err_name(BR_ENOMEM), "BR_ENOMEM");
    ASSERT_EQ_STR(br_strerror(BR_ELIMIT), "input exceeds a configured limit");
    ASSERT_EQ_STR(br_err_name(0), "OK");
    ASSERT_EQ_STR(br_err_name(-999), "BR_UNKNOWN");
}

TEST(arena_alloc_align_limit_reset)
{
    br_arena *a;
    ASSERT_OK(br_arena_new(1 << 16, &a));
    char *s = br_arena_strdup(a, "hello");
    ASSERT_EQ_STR(s, "hello");
    void *p = br_arena_alloc(a, 3);
    ASSERT_EQ_INT((uintptr_t)p % 16, 0);
    ASSERT_TRUE(br_arena_alloc(a, 1 << 17) == NULL); /* over the limit */
    for (int i = 0; i < 1000; i++)
        ASSERT_TRUE(br_arena_alloc(a, 32) != NULL);
    br_arena_reset(a);
    ASSERT_CMP_INT(br_arena_used(a), ==, 0);
    ASSERT_TRUE(br_arena_strdup(a, "again") != NULL);
    br_arena_free(a);
    br_arena_free(NULL);
}

TEST(strmap_put_get_grow_iter)
{
    br_strmap *m;
    char key[32];
    int64_t v;
    ASSERT_OK(br_strmap_new(&m));
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(br_strmap_put(m, key, i * 2));
    }
    ASSERT_EQ_INT(br_strmap_size(m), 10000);
    ASSERT_OK(br_strmap_put(m, "k7", -1)); /* overwrite */
    ASSERT_EQ_INT(br_strmap_size(m), 10000);
    ASSERT_TRUE(br_strmap_get(m, "k7", &v));
    ASSERT_EQ_INT(v, -1);
    ASSERT_TRUE(br_strmap_get(m, "k9999", &v));
    ASSERT_EQ_INT(v, 19998);
    ASSERT_TRUE(!br_strmap_get(m, "k10000", &v));
    ASSERT_TRUE(br_strmap_getn(m, "k12xyz", 3, &v));
    ASSERT_EQ_INT(v, 24);
    size_t it = 0, seen = 0;
    const char *k;
    while (br_strmap_iter(m, &it, &k, &v))
        seen++;
    ASSERT_EQ_INT(seen, 10000);
    br_strmap_free(m);
}

TEST(intmap_put_get_grow)
{
    br_intmap *m;
    int64_t v;
    ASSERT_OK(br_intmap_new(&m));
    for (int64_t i = -5000; i < 5000; i++)
        ASSERT_OK(br_intmap_put(m, i * 7919, i));
    ASSERT_EQ_INT(br_intmap_size(m), 10000);
    ASSERT_TRUE(br_intmap_get(m, -4999 * 7919, &v));
    ASSERT_EQ_INT(v, -4999);
    ASSERT_TRUE(!br_intmap_get(m, 1, &v));
    br_intmap_free(m);
}

TEST(vec_push_and_limit)
{
    br_vec v;
    br_vec_init(&v, sizeof(int), 100);
    for (int i = 0; i < 100; i++)
        ASSERT_TRUE(br_vec_push(&v, &i) != NULL);
    ASSERT_TRUE(br_vec_push(&v, NULL) == NULL);
    ASSERT_EQ_INT(br_vec_at(&v, int, 99), 99);
    br_vec_free(&v);
}
