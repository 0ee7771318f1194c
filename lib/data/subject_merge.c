/* The committed word lists of the subject cleaner (see subjects.h). */
#include "bookrec/subjects.h"

#include <stddef.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const br_subject_merge merge_table[] = {
    {"sci fi", "science fiction"},
};

static const char *const generic_list[] = {
    "fiction",
};

static const char *const shelf_patterns[] = {
    "to read*",
};

const br_subject_merge *br_subject_merge_table(size_t *n)
{
    *n = NELEM(merge_table);
    return merge_table;
}

const char *const *br_subject_generic_list(size_t *n)
{
    *n = NELEM(generic_list);
    return generic_list;
}

const char *const *br_subject_shelf_patterns(size_t *n)
{
    *n = NELEM(shelf_patterns);
    return shelf_patterns;
}
