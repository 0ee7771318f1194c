/* Import, phase 3: join what the sources staged.
 *
 * Design decisions:
 * 1. Metadata works first (goodbooks, Open Library, generic books), highest
 *    priority first. A work is found again by its source id, then by its key;
 *    a lower-priority metadata record with the same title + author key as an
 *    earlier one joins that work (Open Library's "Pride and Prejudice" is
 *    goodbooks' too).
 * 2. Every edition then finds its work, strongest evidence first: its ISBN is
 *    listed by a metadata source; its title + author match a metadata work;
 *    its title + author match other editions without metadata; else it is a
 *    work of its own, without a title when none is known (most rated
 *    Book-Crossing ISBNs). An edition already stored moves only to stronger
 *    evidence, so a re-import without the metadata sources changes nothing.
 * 3. A stored work left without editions by such moves merged into another:
 *    it dies, its item_idx becomes an alias, its interactions and tags move.
 *    Item indices are never renumbered or reused.
 * 4. One interaction per (reader, work): a second rating of the same ISBN is a
 *    duplicate (dropped, counted); ratings of two editions of one work merge,
 *    an explicit rating winning over an implicit 0, then the higher.
 */
#include "import_internal.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/subjects.h"
#include "bookrec/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORK(i) (&br_vec_at(&im->works, struct br__work, (i)))
#define EDITION(i) (&br_vec_at(&im->editions, struct br__edition, (i)))

int br__imp_user_slot(br__import *im, const char *source, const char *ext, int create,
                      int64_t *slot)
{
    char key[200];
    int n = snprintf(key, sizeof key, "%s\x1f%s", source, ext);
    if (n < 0 || (size_t)n >= sizeof key)
        return BR_ELIMIT;
    if (br_strmap_get(im->user_by_ext, key, slot))
        return 0;
    if (!create)
        return BR_ENOENT;
    struct br__user u = {0};
    u.id = im->next_user++;
    u.source = source;
    u.ext = br__imp_str(im, ext, strlen(ext));
    u.age = -1;
    *slot = (int64_t)im->users.n;
    if (!u.ext || !br_vec_push(&im->users, &u) || br_strmap_put(im->user_by_ext, key, *slot))
        return BR_ENOMEM;
    return 0;
}

/* "title key|author key", or 0 when the title is unknown. */
static size_t ta_key(const char *title, const char *author, char *out, size_t cap)
{
    char t[256], a[128];
    if (!title)
        return 0;
    size_t tn = br_title_key(title, t, sizeof t);
    if (tn == 0)
        return 0;
    size_t an = author ? br_author_key(author, a, sizeof a) : 0;
    int n = snprintf(out, cap, "%.*s|%.*s", (int)tn, t, (int)an, a);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int64_t new_work(br__import *im, const char *key)
{
    struct br__work w = {0};
    w.idx = im->next_item++;
    w.key = br__imp_str(im, key, strlen(key));
    w.main_subject = -1;
    w.main_vocab = -1;
    w.dirty = 1;
    int64_t slot = (int64_t)im->works.n;
    if (!w.key || !br_vec_push(&im->works, &w) || br_strmap_put(im->work_by_key, w.key, slot) ||
        br_intmap_put(im->work_by_idx, w.idx, slot))
        return -1;
    return slot;
}

static void set_str(struct br__work *w, const char **field, const char *v, int overwrite)
{
    if (!v || (*field && !overwrite) || (*field && !strcmp(*field, v)))
        return;
    *field = v;
    w->dirty = 1;
}

static void set_int(struct br__work *w, int32_t *field, int32_t v, int overwrite)
{
    if (!v || (*field && !overwrite) || *field == v)
        return;
    *field = v;
    w->dirty = 1;
}

static int cmp_mwork_prio(const void *a, const void *b, void *ctx)
{
    const int64_t *x = a, *y = b;
    br__import *im = ctx;
    const struct br__mwork *p = &br_vec_at(&im->mworks, struct br__mwork, *x);
    const struct br__mwork *q = &br_vec_at(&im->mworks, struct br__mwork, *y);
    if (p->prio != q->prio)
        return q->prio - p->prio;
    return *x < *y ? -1 : *x > *y;
}

static int resolve_mworks(br__import *im)
{
    char key[512];
    int rc = 0;
    /* Metadata works stored by earlier imports match by title + author too. */
    for (size_t i = 0; i < im->works.n; i++) {
        struct br__work *w = WORK(i);
        if (w->msource && ta_key(w->title, w->author, key, sizeof key) &&
            !br_strmap_get(im->mwork_by_ta, key, NULL) &&
            br_strmap_put(im->mwork_by_ta, key, (int64_t)i))
            return BR_ENOMEM;
    }
    int64_t *order = malloc((im->mworks.n + 1) * sizeof *order);
    if (!order)
        return BR_ENOMEM;
    for (size_t i = 0; i < im->mworks.n; i++)
        order[i] = (int64_t)i;
    qsort_r(order, im->mworks.n, sizeof *order, cmp_mwork_prio, im);

    for (size_t k = 0; k < im->mworks.n; k++) {
        struct br__mwork *m = &br_vec_at(&im->mworks, struct br__mwork, order[k]);
        int64_t slot = -1, item;
        snprintf(key, sizeof key, "%s:%s", m->ext_source, m->ext_id);
        if (br_strmap_get(im->extid_to_item, key, &item))
            br_intmap_get(im->work_by_idx, item, &slot);
        if (slot < 0)
            br_strmap_get(im->work_by_key, m->key, &slot);
        if (slot < 0 && m->prio < 90) {
            /* Goodreads works are distinct by definition; others may join one. */
            if ((ta_key(m->title, m->author, key, sizeof key) &&
                 br_strmap_get(im->mwork_by_ta, key, &slot)) ||
                (ta_key(m->alt_title, m->author, key, sizeof key) &&
                 br_strmap_get(im->mwork_by_ta, key, &slot)))
                br__imp_clean(im, "metadata_works_joined_by_title_author", 1);
        }
        if (slot >= 0 && WORK(slot)->dead)
            slot = -1;
        if (slot < 0 && (slot = new_work(im, m->key)) < 0) {
            rc = BR_ENOMEM;
            break;
        }
        m->work = slot;
        struct br__work *w = WORK(slot);
        int over = m->prio > w->field_prio;
        set_str(w, &w->title, m->title, over);
        set_str(w, &w->author, m->author, over);
        set_str(w, &w->publisher, m->publisher, over);
        set_str(w, &w->image_url, m->image_url, over);
        set_str(w, &w->description, m->description, over);
        set_str(w, &w->language, m->language, over);
        set_int(w, &w->year, m->year, over);
        set_int(w, &w->pages, m->pages, over);
        if (!w->msource || over)
            set_str(w, &w->msource, m->ext_source, 1);
        if (over)
            w->field_prio = m->prio;
        const char *titles[2] = {m->title, m->alt_title};
        for (int t = 0; t < 2; t++)
            if (ta_key(titles[t], m->author, key, sizeof key) &&
                !br_strmap_get(im->mwork_by_ta, key, NULL) &&
                br_strmap_put(im->mwork_by_ta, key, slot)) {
                rc = BR_ENOMEM;
                goto out;
            }
    }
out:
    free(order);
    return rc;
}

/* The edition slot for an ISBN, created when new. */
static int edition_slot(br__import *im, const char *isbn13, const char *source, int64_t *slot)
{
    if (br_strmap_get(im->ed_by_isbn, isbn13, slot))
        return 0;
    struct br__edition e = {0};
    memcpy(e.isbn13, isbn13, 14);
    e.work = -1;
    e.source = source;
    e.dirty = 1;
    *slot = (int64_t)im->editions.n;
    if (!br_vec_push(&im->editions, &e) || br_strmap_put(im->ed_by_isbn, isbn13, *slot))
        return BR_ENOMEM;
    return 0;
}

/* Picks the work of an edition and moves it there when the evidence is
 * stronger than what placed it before. */
static int place_edition(br__import *im, int64_t es)
{
    char key[512];
    struct br__edition *e = EDITION(es);
    int64_t m, target = -1;
    int match;
    if (br_strmap_get(im->mwork_by_isbn, e->isbn13, &m)) {
        target = br_vec_at(&im->mworks, struct br__mwork, m).work;
        match = BR__M_ISBN;
    } else if (ta_key(e->title, e->author, key, sizeof key) &&
               br_strmap_get(im->mwork_by_ta, key, &target)) {
        match = BR__M_TA;
    } else if (e->title && ta_key(e->title, e->author, key + 3, sizeof key - 3)) {
        memcpy(key, "ta:", 3);
        match = BR__M_OWN_TA;
    } else {
        snprintf(key, sizeof key, "isbn:%s", e->isbn13);
        match = BR__M_OWN_ISBN;
    }
    if (e->work >= 0 && e->match >= match)
        return 0; /* stored placement is at least as good */
    if (target < 0 && !br_strmap_get(im->work_by_key, key, &target) &&
        (target = new_work(im, key)) < 0)
        return BR_ENOMEM;
    if (e->work == target) {
        if (e->match != match) {
            e->match = (uint8_t)match;
            e->dirty = 1;
        }
        return 0;
    }
    if (e->work >= 0) {
        WORK(e->work)->n_editions--;
        if (WORK(e->work)->n_editions == 0 && WORK(e->work)->in_db) {
            WORK(e->work)->dead = 1;
            WORK(e->work)->alias_of = target; /* a slot for now */
        }
        br__imp_clean(im, "editions_moved_to_better_work", 1);
    }
    e->work = target;
    e->match = (uint8_t)match;
    e->dirty = 1;
    WORK(target)->n_editions++;
    WORK(target)->dead = 0;
    return 0;
}

static void edition_fill(struct br__edition *e, const struct br__sedition *s)
{
    int changed = 0;
#define FILL(f)                                                                                    \
    if (s->f && !e->f) {                                                                           \
        e->f = s->f;                                                                               \
        changed = 1;                                                                               \
    }
    FILL(title)
    FILL(author)
    FILL(publisher)
    FILL(image_url)
#undef FILL
    if (s->year && !e->year) {
        e->year = s->year;
        changed = 1;
    }
    if (changed)
        e->dirty = 1;
}

static int resolve_editions(br__import *im)
{
    int rc;
    int64_t slot;
    /* Staged book-list editions, then ISBNs only metadata, ratings or tags name. */
    for (size_t i = 0; i < im->seditions.n; i++) {
        struct br__sedition *s = &br_vec_at(&im->seditions, struct br__sedition, i);
        if ((rc = edition_slot(im, s->isbn13, s->source, &slot)))
            return rc;
        edition_fill(EDITION(slot), s);
    }
    size_t it = 0;
    const char *isbn;
    int64_t m;
    while (br_strmap_iter(im->mwork_by_isbn, &it, &isbn, &m))
        if ((rc = edition_slot(im, isbn, br_vec_at(&im->mworks, struct br__mwork, m).ext_source,
                               &slot)))
            return rc;
    for (size_t i = 0; i < im->sratings.n; i++) {
        struct br__srating *r = &br_vec_at(&im->sratings, struct br__srating, i);
        if (r->isbn13[0] && (rc = edition_slot(im, r->isbn13, r->source, &slot)))
            return rc;
    }
    for (size_t i = 0; i < im->stags.n; i++) {
        struct br__stag *t = &br_vec_at(&im->stags, struct br__stag, i);
        if (t->mwork < 0 && t->item < 0 && t->isbn13[0] &&
            (rc = edition_slot(im, t->isbn13, t->source, &slot)))
            return rc;
    }
    /* Stored editions come first in ISBN order, new ones in source order: the
     * same input always yields the same "ta:" keys and the same new indices. */
    for (size_t i = 0; i < im->editions.n; i++)
        if ((rc = place_edition(im, (int64_t)i)))
            return rc;
    return 0;
}

/* Final living work of a dead one (aliases may chain within one import). */
static int64_t live_slot(br__import *im, int64_t slot)
{
    for (int guard = 0; WORK(slot)->dead && guard < 64; guard++)
        slot = WORK(slot)->alias_of;
    return slot;
}

static int resolve_aliases(br__import *im)
{
    for (size_t i = 0; i < im->works.n; i++) {
        struct br__work *w = WORK(i);
        if (!w->dead)
            continue;
        int64_t to = live_slot(im, (int64_t)i);
        w->alias_of = WORK(to)->idx;
        int64_t pair[2] = {w->idx, WORK(to)->idx};
        if (!br_vec_push(&im->aliases, &pair[0]) || !br_vec_push(&im->aliases, &pair[1]))
            return BR_ENOMEM;
        br__imp_clean(im, "works_merged_into_alias", 1);
    }
    if (im->aliases.n == 0)
        return 0;
    /* Move interactions and tags of dead works. */
    for (size_t i = 0; i < im->inters.n; i++) {
        struct br__inter *x = &br_vec_at(&im->inters, struct br__inter, i);
        int64_t slot, other;
        if (x->dead || !br_intmap_get(im->work_by_idx, x->item, &slot) || !WORK(slot)->dead)
            continue;
        int64_t to = WORK(live_slot(im, slot))->idx;
        if (br_intmap_get(im->inter_by_pair, (x->user << 32) | to, &other)) {
            struct br__inter *y = &br_vec_at(&im->inters, struct br__inter, other);
            if (!y->dead) {
                if ((x->rating > 0 && y->rating == 0) || x->rating > y->rating) {
                    y->rating = x->rating;
                    y->dirty = 1;
                }
                x->dead = 1;
                br__imp_clean(im, "interactions_merged_by_work_merge", 1);
                continue;
            }
        }
        x->item = to;
        x->dirty = 1;
        if (br_intmap_put(im->inter_by_pair, (x->user << 32) | to, (int64_t)i))
            return BR_ENOMEM;
    }
    for (size_t i = 0, n = im->rawtags.n; i < n; i++) {
        struct br__rawtag *t = &br_vec_at(&im->rawtags, struct br__rawtag, i);
        int64_t slot;
        if (t->dead || !br_intmap_get(im->work_by_idx, t->item, &slot) || !WORK(slot)->dead)
            continue;
        struct br__rawtag moved = *t;
        char key[512];
        t->dead = 1;
        im->subjects_changed = 1;
        moved.item = WORK(live_slot(im, slot))->idx;
        moved.in_db = 0;
        snprintf(key, sizeof key, "%lld\x1f%s\x1f%s", (long long)moved.item, moved.source,
                 moved.tag);
        if (br_strmap_get(im->rawtag_by_key, key, NULL))
            continue;
        if (br_strmap_put(im->rawtag_by_key, key, (int64_t)im->rawtags.n) ||
            !br_vec_push(&im->rawtags, &moved))
            return BR_ENOMEM;
    }
    return 0;
}

/* Works without metadata take their fields from their editions. */
static void work_fields_from_editions(br__import *im)
{
    for (size_t i = 0; i < im->editions.n; i++) {
        struct br__edition *e = EDITION(i);
        struct br__work *w = WORK(e->work);
        int over = w->field_prio < 10 && e->title && w->title && !w->msource &&
                   /* a properly cased title beats a lower-cased source's */
                   strcmp(e->title, w->title) && !strpbrk(w->title, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
                   strpbrk(e->title, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        set_str(w, &w->title, e->title, over);
        set_str(w, &w->author, e->author, over);
        set_str(w, &w->publisher, e->publisher, 0);
        set_str(w, &w->image_url, e->image_url, 0);
        set_int(w, &w->year, e->year, 0);
    }
    for (size_t i = 0; i < im->seditions.n; i++) {
        struct br__sedition *s = &br_vec_at(&im->seditions, struct br__sedition, i);
        int64_t slot;
        if (!br_strmap_get(im->ed_by_isbn, s->isbn13, &slot))
            continue;
        struct br__work *w = WORK(EDITION(slot)->work);
        set_str(w, &w->description, s->description, 0);
        set_int(w, &w->pages, s->pages, 0);
    }
    for (size_t i = 0; i < im->works.n; i++) {
        struct br__work *w = WORK(i);
        uint8_t has = w->title != NULL;
        if (w->has_title != has) {
            w->has_title = has;
            w->dirty = 1;
        }
    }
}

static int resolve_ratings(br__import *im)
{
    br_strmap *seen;
    int rc = br_strmap_new(&seen);
    if (rc)
        return rc;
    for (size_t i = 0; i < im->sratings.n; i++) {
        struct br__srating *r = &br_vec_at(&im->sratings, struct br__srating, i);
        struct br__user *u = &br_vec_at(&im->users, struct br__user, r->user);
        int64_t slot = -1, xi;
        char key[96];
        if (r->isbn13[0]) {
            snprintf(key, sizeof key, "%lld:%s", (long long)r->user, r->isbn13);
            if (br_strmap_get(seen, key, NULL)) {
                br__imp_reject(im, "rating_duplicate", 1);
                continue;
            }
            if ((rc = br_strmap_put(seen, key, 1)))
                break;
            int64_t es;
            br_strmap_get(im->ed_by_isbn, r->isbn13, &es);
            slot = EDITION(es)->work;
        } else if (r->mwork >= 0) {
            slot = br_vec_at(&im->mworks, struct br__mwork, r->mwork).work;
        } else if (!br_intmap_get(im->work_by_idx, r->item, &slot)) {
            br__imp_reject(im, "rating_unknown_item", 1);
            continue;
        }
        int64_t item = WORK(live_slot(im, slot))->idx;
        uint64_t pair = ((uint64_t)u->id << 32) | (uint64_t)item;
        if (br_intmap_get(im->inter_by_pair, (int64_t)pair, &xi)) {
            struct br__inter *x = &br_vec_at(&im->inters, struct br__inter, xi);
            if (x->dead)
                goto fresh;
            if (x->touched) { /* a second edition of the same work in this import */
                br__imp_clean(im, "ratings_merged_same_work", 1);
                if ((r->rating > 0 && x->rating == 0) || r->rating > x->rating)
                    x->rating = r->rating;
                if (r->ts > x->ts)
                    x->ts = r->ts;
                continue;
            }
            x->touched = 1;
            x->rating = r->rating;
            x->ts = r->ts;
            continue;
        }
    fresh:;
        struct br__inter x = {0};
        x.user = u->id;
        x.item = item;
        x.rating = r->rating;
        x.ts = r->ts;
        x.source = r->source;
        x.dirty = 1;
        x.touched = 1;
        if (!br_vec_push(&im->inters, &x) ||
            br_intmap_put(im->inter_by_pair, (int64_t)pair, (int64_t)im->inters.n - 1)) {
            rc = BR_ENOMEM;
            break;
        }
    }
    br_strmap_free(seen);
    /* A stored interaction is written only when its value really changed. */
    for (size_t i = 0; i < im->inters.n && !rc; i++) {
        struct br__inter *x = &br_vec_at(&im->inters, struct br__inter, i);
        if (!x->in_db || x->dead)
            continue;
        if (x->rating != x->db_rating || x->item != x->db_item || x->ts != x->db_ts) {
            if (!x->dirty && x->item == x->db_item)
                br__imp_clean(im, "ratings_updated", 1);
            x->dirty = 1;
        }
    }
    return rc;
}

static int resolve_tags(br__import *im)
{
    char key[512];
    for (size_t i = 0; i < im->stags.n; i++) {
        struct br__stag *t = &br_vec_at(&im->stags, struct br__stag, i);
        int64_t slot = -1, es;
        if (t->mwork >= 0)
            slot = br_vec_at(&im->mworks, struct br__mwork, t->mwork).work;
        else if (t->item >= 0)
            br_intmap_get(im->work_by_idx, t->item, &slot);
        else if (br_strmap_get(im->ed_by_isbn, t->isbn13, &es))
            slot = EDITION(es)->work;
        if (slot < 0) {
            br__imp_reject(im, "tag_unknown_book", 1);
            continue;
        }
        struct br__rawtag r = {0};
        r.item = WORK(live_slot(im, slot))->idx;
        r.source = t->source;
        r.tag = t->tag;
        r.weight = t->weight;
        snprintf(key, sizeof key, "%lld\x1f%s\x1f%s", (long long)r.item, r.source, r.tag);
        int64_t have;
        if (br_strmap_get(im->rawtag_by_key, key, &have)) {
            struct br__rawtag *h = &br_vec_at(&im->rawtags, struct br__rawtag, have);
            if (!h->in_db) /* the same tag twice in this import (several editions) */
                h->weight += r.weight;
            continue;
        }
        im->subjects_changed = 1;
        if (br_strmap_put(im->rawtag_by_key, key, (int64_t)im->rawtags.n) ||
            !br_vec_push(&im->rawtags, &r))
            return BR_ENOMEM;
    }
    return 0;
}

int br__imp_resolve(br__import *im)
{
    int rc;
    if ((rc = resolve_mworks(im)) || (rc = resolve_editions(im)) || (rc = resolve_aliases(im)))
        return rc;
    work_fields_from_editions(im);
    if ((rc = resolve_ratings(im)) || (rc = resolve_tags(im)))
        return rc;
    return 0;
}
