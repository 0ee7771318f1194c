/* Import, phase 1 and 4: load the store's catalog into memory, and write back
 * only what changed (new rows inserted, changed rows updated, merged works
 * deleted and recorded as aliases). The caller wraps both in one transaction. */
#include "import_internal.h"

#include "bookrec/error.h"
#include "bookrec/isbn.h"
#include "bookrec/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *col_str(br__import *im, br_stmt *q, int c)
{
    const char *s = br_stmt_text(q, c);
    return s ? br__imp_str(im, s, strlen(s)) : NULL;
}

static int32_t col_int32(br_stmt *q, int c, int32_t null_value)
{
    return br_stmt_is_null(q, c) ? null_value : (int32_t)br_stmt_int(q, c);
}

#define PREP(sql)                                                                                  \
    do {                                                                                           \
        br_stmt_free(q);                                                                           \
        q = NULL;                                                                                  \
        if ((rc = br_store_prepare(im->st, sql, &q)) != 0)                                         \
            goto fail;                                                                             \
    } while (0)

int br__imp_load(br__import *im)
{
    br_stmt *q = NULL;
    int rc, r;

    PREP("SELECT item_idx, work_key, title, author, publisher, image_url, description, language, "
         "metadata_source, year, pages, has_title, created_import, main_subject_id FROM works "
         "ORDER BY item_idx");
    while ((r = br_stmt_step(q)) == 1) {
        struct br__work w = {0};
        w.idx = br_stmt_int(q, 0);
        w.key = col_str(im, q, 1);
        w.title = col_str(im, q, 2);
        w.author = col_str(im, q, 3);
        w.publisher = col_str(im, q, 4);
        w.image_url = col_str(im, q, 5);
        w.description = col_str(im, q, 6);
        w.language = col_str(im, q, 7);
        w.msource = col_str(im, q, 8);
        w.year = col_int32(q, 9, 0);
        w.pages = col_int32(q, 10, 0);
        w.has_title = (uint8_t)br_stmt_int(q, 11);
        w.created_import = br_stmt_int(q, 12);
        w.field_prio = w.msource ? 100 : 0; /* stored metadata is not overwritten by weaker */
        w.in_db = 1;
        w.main_subject = br_stmt_is_null(q, 13) ? -1 : br_stmt_int(q, 13);
        w.main_vocab = -1;
        size_t slot = im->works.n;
        if (!br_vec_push(&im->works, &w) || br_strmap_put(im->work_by_key, w.key, (int64_t)slot) ||
            br_intmap_put(im->work_by_idx, w.idx, (int64_t)slot))
            goto nomem;
        if (w.idx >= im->next_item)
            im->next_item = w.idx + 1;
    }
    if (r < 0)
        goto dberr;

    /* Aliases keep their numbers reserved: a new work never reuses one. */
    int64_t max_alias;
    if ((rc = br_store_query_int(im->st, "SELECT MAX(alias_idx) FROM work_aliases", -1,
                                 &max_alias)) != 0)
        goto fail;
    if (max_alias >= im->next_item)
        im->next_item = max_alias + 1;

    PREP("SELECT isbn13, item_idx, title, author, publisher, image_url, source, match_kind, year "
         "FROM editions ORDER BY isbn13");
    while ((r = br_stmt_step(q)) == 1) {
        struct br__edition e = {0};
        int64_t slot;
        snprintf(e.isbn13, sizeof e.isbn13, "%s", br_stmt_text(q, 0));
        if (!br_intmap_get(im->work_by_idx, br_stmt_int(q, 1), &slot))
            return br__imp_errorf(im, BR_ECORRUPT, "edition %s names missing work %lld", e.isbn13,
                                  (long long)br_stmt_int(q, 1));
        e.work = slot;
        e.title = col_str(im, q, 2);
        e.author = col_str(im, q, 3);
        e.publisher = col_str(im, q, 4);
        e.image_url = col_str(im, q, 5);
        e.source = col_str(im, q, 6);
        e.match = (uint8_t)br__match_parse(br_stmt_text(q, 7));
        e.year = col_int32(q, 8, 0);
        e.in_db = 1;
        br_vec_at(&im->works, struct br__work, slot).n_editions++;
        if (br_strmap_put(im->ed_by_isbn, e.isbn13, (int64_t)im->editions.n) ||
            !br_vec_push(&im->editions, &e))
            goto nomem;
    }
    if (r < 0)
        goto dberr;

    PREP("SELECT source, external_id, item_idx FROM work_external_ids");
    while ((r = br_stmt_step(q)) == 1) {
        char key[256];
        snprintf(key, sizeof key, "%s:%s", br_stmt_text(q, 0), br_stmt_text(q, 1));
        if (br_strmap_put(im->extid_to_item, key, br_stmt_int(q, 2)))
            goto nomem;
    }
    if (r < 0)
        goto dberr;

    PREP("SELECT user_id, source, external_id, location, country, age_group, age, created_import "
         "FROM users ORDER BY user_id");
    while ((r = br_stmt_step(q)) == 1) {
        struct br__user u = {0};
        char key[200];
        u.id = br_stmt_int(q, 0);
        u.source = col_str(im, q, 1);
        u.ext = col_str(im, q, 2);
        u.location = col_str(im, q, 3);
        u.country = col_str(im, q, 4);
        u.age_group = col_str(im, q, 5);
        u.age = col_int32(q, 6, -1);
        u.created_import = br_stmt_is_null(q, 7) ? 0 : br_stmt_int(q, 7);
        u.in_db = 1;
        snprintf(key, sizeof key, "%s\x1f%s", u.source, u.ext);
        if (br_strmap_put(im->user_by_ext, key, (int64_t)im->users.n) ||
            !br_vec_push(&im->users, &u))
            goto nomem;
        if (u.id >= im->next_user)
            im->next_user = u.id + 1;
    }
    if (r < 0)
        goto dberr;

    PREP("SELECT user_id, item_idx, rating, ts, source FROM interactions");
    while ((r = br_stmt_step(q)) == 1) {
        struct br__inter x = {0};
        x.user = br_stmt_int(q, 0);
        x.item = x.db_item = br_stmt_int(q, 1);
        x.rating = x.db_rating = (int16_t)br_stmt_int(q, 2);
        x.ts = x.db_ts = br_stmt_is_null(q, 3) ? 0 : br_stmt_int(q, 3);
        x.source = col_str(im, q, 4);
        x.in_db = 1;
        if (br_intmap_put(im->inter_by_pair, (x.user << 32) | x.item, (int64_t)im->inters.n) ||
            !br_vec_push(&im->inters, &x))
            goto nomem;
    }
    if (r < 0)
        goto dberr;

    PREP("SELECT item_idx, source, tag, weight FROM work_raw_tags");
    while ((r = br_stmt_step(q)) == 1) {
        struct br__rawtag t = {0};
        char key[512];
        t.item = br_stmt_int(q, 0);
        t.source = col_str(im, q, 1);
        t.tag = col_str(im, q, 2);
        t.weight = br_stmt_double(q, 3);
        t.in_db = 1;
        snprintf(key, sizeof key, "%lld\x1f%s\x1f%s", (long long)t.item, t.source, t.tag);
        if (br_strmap_put(im->rawtag_by_key, key, (int64_t)im->rawtags.n) ||
            !br_vec_push(&im->rawtags, &t))
            goto nomem;
    }
    if (r < 0)
        goto dberr;

    PREP("SELECT subject_id, name FROM subjects");
    while ((r = br_stmt_step(q)) == 1) {
        int64_t id = br_stmt_int(q, 0);
        if (br_strmap_put(im->subject_id_by_name, br_stmt_text(q, 1), id))
            goto nomem;
        if (id >= im->next_subject)
            im->next_subject = id + 1;
    }
    if (r < 0)
        goto dberr;

    if ((rc = br_store_query_int(im->st, "SELECT MAX(import_id) FROM imports", 0,
                                 &im->import_id)) != 0)
        goto fail;
    im->import_id++;
    br_stmt_free(q);
    return 0;
nomem:
    rc = br__imp_errorf(im, BR_ENOMEM, "out of memory loading the catalog");
    goto fail;
dberr:
    rc = br__imp_errorf(im, BR_ESTORE, "loading the catalog: %s", br_store_errmsg(im->st));
fail:
    br_stmt_free(q);
    return rc;
}

/* Binds text or NULL. */
static int bind_opt(br_stmt *q, int i, const char *s)
{
    return s ? br_stmt_bind_text(q, i, s, -1) : br_stmt_bind_null(q, i);
}

static int bind_opt_int(br_stmt *q, int i, int64_t v, int64_t null_value)
{
    return v == null_value ? br_stmt_bind_null(q, i) : br_stmt_bind_int(q, i, v);
}

static int run(br__import *im, br_stmt *q)
{
    int r = br_stmt_step(q);
    br_stmt_reset(q);
    if (r < 0)
        return br__imp_errorf(im, BR_ESTORE, "writing: %s", br_store_errmsg(im->st));
    return 0;
}

static int write_works(br__import *im)
{
    br_stmt *ins = NULL, *upd = NULL, *del = NULL, *alias = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO works (title, author, publisher, image_url, "
                               "description, language, metadata_source, year, pages, has_title, "
                               "main_subject_id, item_idx, work_key, created_import) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st,
                               "UPDATE works SET title=?, author=?, publisher=?, image_url=?, "
                               "description=?, language=?, metadata_source=?, year=?, pages=?, "
                               "has_title=?, main_subject_id=? WHERE item_idx=?",
                               &upd)) ||
        (rc = br_store_prepare(im->st, "DELETE FROM works WHERE item_idx=?", &del)) ||
        (rc = br_store_prepare(im->st, "INSERT INTO work_aliases (alias_idx, item_idx) VALUES (?,?)",
                               &alias)))
        goto fail;
    for (size_t i = 0; i < im->works.n; i++) {
        struct br__work *w = &br_vec_at(&im->works, struct br__work, i);
        if (w->dead) {
            if (!w->in_db)
                continue;
            br_stmt_bind_int(del, 1, w->idx);
            br_stmt_bind_int(alias, 1, w->idx);
            br_stmt_bind_int(alias, 2, w->alias_of);
            if ((rc = run(im, del)) || (rc = run(im, alias)))
                goto fail;
            continue;
        }
        if (w->in_db && !w->dirty)
            continue;
        br_stmt *q = w->in_db ? upd : ins;
        bind_opt(q, 1, w->title);
        bind_opt(q, 2, w->author);
        bind_opt(q, 3, w->publisher);
        bind_opt(q, 4, w->image_url);
        bind_opt(q, 5, w->description);
        bind_opt(q, 6, w->language);
        bind_opt(q, 7, w->msource);
        bind_opt_int(q, 8, w->year, 0);
        bind_opt_int(q, 9, w->pages, 0);
        br_stmt_bind_int(q, 10, w->has_title);
        bind_opt_int(q, 11, w->main_subject, -1);
        br_stmt_bind_int(q, 12, w->idx);
        if (!w->in_db) {
            br_stmt_bind_text(q, 13, w->key, -1);
            br_stmt_bind_int(q, 14, im->import_id);
        }
        if ((rc = run(im, q)))
            goto fail;
    }
fail:
    br_stmt_free(ins);
    br_stmt_free(upd);
    br_stmt_free(del);
    br_stmt_free(alias);
    return rc;
}

static int write_editions(br__import *im)
{
    br_stmt *ins = NULL, *upd = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO editions (item_idx, title, author, publisher, "
                               "image_url, source, match_kind, year, isbn10, isbn13) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st,
                               "UPDATE editions SET item_idx=?, title=?, author=?, publisher=?, "
                               "image_url=?, source=?, match_kind=?, year=? WHERE isbn13=?",
                               &upd)))
        goto fail;
    for (size_t i = 0; i < im->editions.n; i++) {
        struct br__edition *e = &br_vec_at(&im->editions, struct br__edition, i);
        if (e->in_db && !e->dirty)
            continue;
        br_stmt *q = e->in_db ? upd : ins;
        br_stmt_bind_int(q, 1, br_vec_at(&im->works, struct br__work, e->work).idx);
        bind_opt(q, 2, e->title);
        bind_opt(q, 3, e->author);
        bind_opt(q, 4, e->publisher);
        bind_opt(q, 5, e->image_url);
        br_stmt_bind_text(q, 6, e->source, -1);
        br_stmt_bind_text(q, 7, br__match_name(e->match), -1);
        bind_opt_int(q, 8, e->year, 0);
        if (e->in_db) {
            br_stmt_bind_text(q, 9, e->isbn13, 13);
        } else {
            char isbn10[11];
            if (br_isbn13_to_10(e->isbn13, isbn10) == 0)
                br_stmt_bind_text(q, 9, isbn10, 10);
            else
                br_stmt_bind_null(q, 9);
            br_stmt_bind_text(q, 10, e->isbn13, 13);
        }
        if ((rc = run(im, q)))
            goto fail;
    }
fail:
    br_stmt_free(ins);
    br_stmt_free(upd);
    return rc;
}

static int write_users(br__import *im)
{
    br_stmt *ins = NULL, *upd = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO users (location, country, age, age_group, user_id, "
                               "source, external_id, created_import) VALUES (?,?,?,?,?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st,
                               "UPDATE users SET location=?, country=?, age=?, age_group=? "
                               "WHERE user_id=?",
                               &upd)))
        goto fail;
    for (size_t i = 0; i < im->users.n; i++) {
        struct br__user *u = &br_vec_at(&im->users, struct br__user, i);
        if (u->in_db && !u->dirty)
            continue;
        br_stmt *q = u->in_db ? upd : ins;
        bind_opt(q, 1, u->location);
        bind_opt(q, 2, u->country);
        bind_opt_int(q, 3, u->age, -1);
        bind_opt(q, 4, u->age_group);
        br_stmt_bind_int(q, 5, u->id);
        if (!u->in_db) {
            br_stmt_bind_text(q, 6, u->source, -1);
            br_stmt_bind_text(q, 7, u->ext, -1);
            br_stmt_bind_int(q, 8, im->import_id);
        }
        if ((rc = run(im, q)))
            goto fail;
    }
fail:
    br_stmt_free(ins);
    br_stmt_free(upd);
    return rc;
}

static int write_inters(br__import *im)
{
    br_stmt *ins = NULL, *upd = NULL, *del = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO interactions (rating, ts, source, user_id, item_idx) "
                               "VALUES (?,?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st,
                               "UPDATE interactions SET rating=?, ts=?, source=?, item_idx=? "
                               "WHERE user_id=? AND item_idx=?",
                               &upd)) ||
        (rc = br_store_prepare(im->st, "DELETE FROM interactions WHERE user_id=? AND item_idx=?",
                               &del)))
        goto fail;
    br_progress prog;
    br_progress_start(&prog, "import: writing interactions", im->inters.n);
    /* Deletions first: a merged interaction may free the key another moves to. */
    for (size_t i = 0; i < im->inters.n; i++) {
        struct br__inter *x = &br_vec_at(&im->inters, struct br__inter, i);
        if (!x->dead || !x->in_db)
            continue;
        br_stmt_bind_int(del, 1, x->user);
        br_stmt_bind_int(del, 2, x->db_item);
        if ((rc = run(im, del)))
            goto fail;
    }
    for (size_t i = 0; i < im->inters.n; i++) {
        struct br__inter *x = &br_vec_at(&im->inters, struct br__inter, i);
        br_progress_update(&prog, i);
        if (x->dead || (x->in_db && !x->dirty))
            continue;
        br_stmt *q = x->in_db ? upd : ins;
        br_stmt_bind_int(q, 1, x->rating);
        bind_opt_int(q, 2, x->ts, 0);
        br_stmt_bind_text(q, 3, x->source, -1);
        if (x->in_db) {
            br_stmt_bind_int(q, 4, x->item);
            br_stmt_bind_int(q, 5, x->user);
            br_stmt_bind_int(q, 6, x->db_item);
        } else {
            br_stmt_bind_int(q, 4, x->user);
            br_stmt_bind_int(q, 5, x->item);
        }
        if ((rc = run(im, q)))
            goto fail;
    }
    br_progress_end(&prog, im->inters.n);
    /* A reader who deleted their account stays deleted: a re-import of the source they
     * came from must not bring their ratings back into training (accounts.h). */
    rc = br_store_exec(im->st, "DELETE FROM interactions WHERE user_id IN "
                               "(SELECT user_id FROM users WHERE deleted_at IS NOT NULL)");
fail:
    br_stmt_free(ins);
    br_stmt_free(upd);
    br_stmt_free(del);
    return rc;
}

static int write_external_ids(br__import *im)
{
    br_stmt *ins = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO work_external_ids (source, external_id, item_idx) "
                               "VALUES (?,?,?)",
                               &ins)))
        return rc;
    for (size_t i = 0; i < im->mworks.n; i++) {
        struct br__mwork *m = &br_vec_at(&im->mworks, struct br__mwork, i);
        char key[256];
        int64_t have;
        struct br__work *w = &br_vec_at(&im->works, struct br__work, m->work);
        snprintf(key, sizeof key, "%s:%s", m->ext_source, m->ext_id);
        if (br_strmap_get(im->extid_to_item, key, &have))
            continue; /* moved ones were updated by the alias pass */
        if (br_strmap_put(im->extid_to_item, key, w->idx)) {
            rc = BR_ENOMEM;
            break;
        }
        br_stmt_bind_text(ins, 1, m->ext_source, -1);
        br_stmt_bind_text(ins, 2, m->ext_id, -1);
        br_stmt_bind_int(ins, 3, w->idx);
        if ((rc = run(im, ins)))
            break;
    }
    br_stmt_free(ins);
    return rc;
}

static int write_rawtags(br__import *im)
{
    br_stmt *ins = NULL, *del = NULL;
    int rc;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO work_raw_tags (item_idx, source, tag, weight) "
                               "VALUES (?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st,
                               "DELETE FROM work_raw_tags WHERE item_idx=? AND source=? AND tag=?",
                               &del)))
        goto fail;
    for (size_t i = 0; i < im->rawtags.n; i++) {
        struct br__rawtag *t = &br_vec_at(&im->rawtags, struct br__rawtag, i);
        if (t->dead && t->in_db) {
            br_stmt_bind_int(del, 1, t->item);
            br_stmt_bind_text(del, 2, t->source, -1);
            br_stmt_bind_text(del, 3, t->tag, -1);
            if ((rc = run(im, del)))
                goto fail;
        } else if (!t->dead && !t->in_db) {
            br_stmt_bind_int(ins, 1, t->item);
            br_stmt_bind_text(ins, 2, t->source, -1);
            br_stmt_bind_text(ins, 3, t->tag, -1);
            br_stmt_bind_double(ins, 4, t->weight);
            if ((rc = run(im, ins)))
                goto fail;
        }
    }
fail:
    br_stmt_free(ins);
    br_stmt_free(del);
    return rc;
}

/* The vocabulary is derived data: rewritten whole when it changed. Subject
 * ids are kept by name, so a subject keeps its id across imports. */
static int write_subjects(br__import *im)
{
    br_stmt *ins = NULL, *ws = NULL;
    int rc;
    if (!im->subjects_changed)
        return 0;
    if ((rc = br_store_exec(im->st, "UPDATE subjects SET n_books = 0; DELETE FROM work_subjects;")) ||
        (rc = br_store_prepare(im->st,
                               "INSERT INTO subjects (subject_id, name, n_books, generic) "
                               "VALUES (?,?,?,?)",
                               &ins)) ||
        (rc = br_store_prepare(im->st, "UPDATE subjects SET n_books=?, generic=? WHERE subject_id=?",
                               &ws)))
        goto fail;
    for (size_t i = 0; i < im->subjs.n; i++) {
        struct br__subj *s = &br_vec_at(&im->subjs, struct br__subj, i);
        int64_t id;
        if (br_strmap_get(im->subject_id_by_name, s->name, &id)) {
            s->id = id;
            br_stmt_bind_int(ws, 1, s->n_books);
            br_stmt_bind_int(ws, 2, s->generic);
            br_stmt_bind_int(ws, 3, id);
            if ((rc = run(im, ws)))
                goto fail;
            continue;
        }
        s->id = im->next_subject++;
        br_stmt_bind_int(ins, 1, s->id);
        br_stmt_bind_text(ins, 2, s->name, -1);
        br_stmt_bind_int(ins, 3, s->n_books);
        br_stmt_bind_int(ins, 4, s->generic);
        if ((rc = run(im, ins)) || (rc = br_strmap_put(im->subject_id_by_name, s->name, s->id)))
            goto fail;
    }
    br_stmt_free(ins);
    ins = NULL;
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO work_subjects (item_idx, subject_id, weight) "
                               "VALUES (?,?,?)",
                               &ins)))
        goto fail;
    for (size_t i = 0; i < im->wsubjs.n; i++) {
        struct br__wsubj *x = &br_vec_at(&im->wsubjs, struct br__wsubj, i);
        br_stmt_bind_int(ins, 1, x->item);
        br_stmt_bind_int(ins, 2, br_vec_at(&im->subjs, struct br__subj, x->subj).id);
        br_stmt_bind_double(ins, 3, x->weight);
        if ((rc = run(im, ins)))
            goto fail;
    }
fail:
    br_stmt_free(ins);
    br_stmt_free(ws);
    return rc;
}

int br__imp_write(br__import *im, const char *report_json)
{
    br_stmt *q = NULL;
    int rc;
    /* Subjects first: works reference main_subject_id by the ids assigned here. */
    if ((rc = write_subjects(im)))
        return rc;
    for (size_t i = 0; i < im->works.n && im->subjects_changed; i++) {
        struct br__work *w = &br_vec_at(&im->works, struct br__work, i);
        int64_t id = w->main_vocab >= 0 ? br_vec_at(&im->subjs, struct br__subj, w->main_vocab).id
                                        : -1;
        if (id != w->main_subject) {
            w->main_subject = id;
            w->dirty = 1;
        }
    }
    if ((rc = write_works(im)) || (rc = write_editions(im)) || (rc = write_external_ids(im)) ||
        (rc = write_users(im)) || (rc = write_inters(im)) || (rc = write_rawtags(im)))
        return rc;
    /* Aliases made earlier, and source ids, that pointed at a work merged now
     * follow it. */
    if (im->aliases.n) {
        br_stmt *fa = NULL, *fx = NULL;
        if ((rc = br_store_prepare(im->st, "UPDATE work_aliases SET item_idx=? WHERE item_idx=?",
                                   &fa)) == 0 &&
            (rc = br_store_prepare(im->st,
                                   "UPDATE work_external_ids SET item_idx=? WHERE item_idx=?",
                                   &fx)) == 0) {
            for (size_t i = 0; i < im->aliases.n && !rc; i += 2) {
                int64_t from = br_vec_at(&im->aliases, int64_t, i);
                int64_t to = br_vec_at(&im->aliases, int64_t, i + 1);
                br_stmt *qs[2] = {fa, fx};
                for (int k = 0; k < 2 && !rc; k++) {
                    br_stmt_bind_int(qs[k], 1, to);
                    br_stmt_bind_int(qs[k], 2, from);
                    rc = run(im, qs[k]);
                }
            }
        }
        br_stmt_free(fa);
        br_stmt_free(fx);
        if (rc)
            return rc;
    }
    if ((rc = br_store_prepare(im->st,
                               "INSERT INTO imports (import_id, started_at, finished_at, report) "
                               "VALUES (?,?,?,?)",
                               &q)))
        return rc;
    br_stmt_bind_int(q, 1, im->import_id);
    br_stmt_bind_int(q, 2, (int64_t)time(NULL));
    br_stmt_bind_int(q, 3, (int64_t)time(NULL));
    br_stmt_bind_text(q, 4, report_json, -1);
    rc = run(im, q);
    br_stmt_free(q);
    return rc;
}
