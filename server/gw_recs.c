/* Gateway: recommendations.
 *
 *   mode=auto        a reader with at least warm_min_ratings interactions gets behavioral
 *                    (ALS) recommendations; else, with favorite subjects (chosen at sign-up,
 *                    or subjects= for anonymous callers), subject recommendations blended
 *                    with popularity by a; else the popular list.
 *   mode=behavioral  ALS; refused (422) below warm_min_ratings.
 *   mode=subject     subject + popularity blend; refused (422) without subjects.
 * Behavioral: a reader the model was trained on, with no interaction newer than the model
 * version (ids carry their creation time), is served from the stored vector; anyone else is
 * folded in at request time from their interactions, so a new rating counts at once.
 * Books the reader has already read are excluded inside candidate generation (the
 * services take an exclude list), so no candidate is generated only to be removed.
 * The rendered page is cached under a key holding the version and the reader's state. */
#include "gw.h"


#include "bookrec/accounts.h"
#include "bookrec/catalog.h"
#include "bookrec/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_READ 5000 /* interactions considered per reader */
#define MAX_SUBJECTS BR_FAV_MAX
#define MAX_EMBED 64  /* subjects one /embed call takes */
#define MAX_K 1000    /* candidates one service call returns (docs/services.md) */

struct reader {
    int32_t items[MAX_READ];
    float ratings[MAX_READ];
    int64_t ts[MAX_READ];
    size_t n;
    int64_t newest;
    int64_t rev;                        /* state revision (cache keys) */
    const char *subjects[MAX_SUBJECTS]; /* names (anonymous) */
    char subj_buf[1024];
    int32_t fav[MAX_SUBJECTS];          /* ids (signed-in readers) */
    size_t n_subjects, n_fav;
};

/* Unix time of a version id "YYYYMMDD-HHMMSS-mmm-xxxxxxxx" (UTC). */
static int64_t version_time(const char *v)
{
    struct tm tm = {0};
    if (sscanf(v, "%4d%2d%2d-%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static json_t *id_array(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

/* Candidates from a service reply's items, or NULL after an error reply. */
static json_t *behavioral(gw_req *r, struct reader *rd, size_t k)
{
    br_svc_reply rep;
    json_t *items = NULL;
    int warm = 0;
    if (gw_call(r, BR_ROLE_ALS, "/is_warm", json_pack("{s:I}", "user", (json_int_t)r->user_id),
                &rep) == 200)
        warm = json_is_true(json_object_get(rep.body, "warm"));
    br_svc_reply_free(&rep);
    if (gw_replied(r) || r->retry)
        return NULL;
    int st;
    if (warm && rd->newest < version_time(r->version)) {
        st = gw_call(r, BR_ROLE_ALS, "/als_recs",
                     json_pack("{s:I, s:I, s:o}", "user", (json_int_t)r->user_id, "k",
                               (json_int_t)k, "exclude", id_array(rd->items, rd->n)),
                     &rep);
    } else {
        json_t *in = json_array();
        for (size_t i = 0; i < rd->n && i < 1000; i++)
            json_array_append_new(in, json_pack("{s:i, s:i}", "item", rd->items[i], "rating",
                                                (int)rd->ratings[i]));
        st = gw_call(r, BR_ROLE_ALS, "/fold_in",
                     json_pack("{s:o, s:I}", "interactions", in, "k", (json_int_t)k), &rep);
    }
    if (st == 200)
        items = json_incref(json_object_get(rep.body, "items"));
    else if (st && !r->retry)
        gw_error(r, 502, "service_error", "the als service refused the request");
    br_svc_reply_free(&rep);
    return items;
}

static json_t *by_subjects(gw_req *r, struct reader *rd, double a, size_t k)
{
    br_svc_reply rep;
    json_t *subs = json_array(), *items = NULL;
    for (size_t i = 0; i < rd->n_fav && json_array_size(subs) < MAX_EMBED; i++)
        json_array_append_new(subs, json_integer(rd->fav[i]));
    for (size_t i = 0; i < rd->n_subjects && json_array_size(subs) < MAX_EMBED; i++)
        json_array_append_new(subs, json_string(rd->subjects[i]));
    int st = gw_call(r, BR_ROLE_EMBEDDER, "/embed", json_pack("{s:o}", "subjects", subs), &rep);
    if (st == 422) {
        br_svc_reply_free(&rep);
        gw_error(r, 422, "unknown_subjects", "none of these subjects is known");
        return NULL;
    }
    json_t *vec = st == 200 ? json_incref(json_object_get(rep.body, "vector")) : NULL;
    br_svc_reply_free(&rep);
    if (!vec)
        return NULL;
    st = gw_call(r, BR_ROLE_SIMILARITY, "/subject_recs",
                 json_pack("{s:o, s:I, s:f, s:o}", "vector", vec, "k", (json_int_t)k, "a", a,
                           "exclude", id_array(rd->items, rd->n)),
                 &rep);
    if (st == 200)
        items = json_incref(json_object_get(rep.body, "items"));
    br_svc_reply_free(&rep);
    return items;
}

static json_t *popular(gw_req *r, struct reader *rd, size_t k)
{
    br_svc_reply rep;
    json_t *items = NULL;
    /* The popular list is shared: take enough to drop what this reader has read. */
    size_t want = k + rd->n < 1000 ? k + rd->n : 1000;
    if (gw_call(r, BR_ROLE_METADATA, "/popular", json_pack("{s:I}", "k", (json_int_t)want),
                &rep) == 200) {
        items = json_array();
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(rep.body, "items"), i, it)
        {
            int32_t id = (int32_t)json_integer_value(json_object_get(it, "id"));
            int read = 0;
            for (size_t j = 0; j < rd->n && !read; j++)
                read = rd->items[j] == id;
            if (!read && json_array_size(items) < k)
                json_array_append(items, it);
        }
    }
    br_svc_reply_free(&rep);
    return items;
}

/* The reader's interactions and subjects. -1 after an error reply. */
static int load_reader(gw_req *r, struct reader *rd, const char *subjects)
{
    if (subjects) {
        snprintf(rd->subj_buf, sizeof rd->subj_buf, "%s", subjects);
        for (char *p = rd->subj_buf; *p && rd->n_subjects < MAX_SUBJECTS;) {
            size_t len = strcspn(p, ",");
            char *next = p + len + (p[len] == ',');
            p[len] = 0;
            if (len)
                rd->subjects[rd->n_subjects++] = p;
            p = next;
        }
    }
    if (!r->user_id)
        return 0;
    br_store *st = gw_store(r);
    if (!st)
        return -1;
    br_user_state us;
    int rc = br_user_interactions(st, r->user_id, rd->items, rd->ratings, rd->ts, MAX_READ,
                                  &rd->n);
    if (rc == BR_ELIMIT) /* a reader of more than MAX_READ books: the first MAX_READ */
        rd->n = MAX_READ, rc = 0;
    if (rc || br_fav_get(st, r->user_id, rd->fav, MAX_SUBJECTS, &rd->n_fav) != 0 ||
        br_user_state_get(st, r->user_id, &us) != 0) {
        gw_error(r, 500, "internal", "could not read the reader's history");
        return -1;
    }
    rd->rev = us.rev;
    for (size_t i = 0; i < rd->n; i++)
        if (rd->ts[i] > rd->newest)
            rd->newest = rd->ts[i];
    return 0;
}

void gw_recommendations(gw_req *r)
{
    const char *mode, *subjects;
    double a;
    int64_t page, size;
    if (gw_query_str(r, "mode", 16, &mode) || gw_query_double(r, "a", 0, 1, 0.8, &a) ||
        gw_query_str(r, "subjects", 1000, &subjects) || gw_paging(r, &page, &size))
        return;
    if (!mode)
        mode = "auto";
    if (strcmp(mode, "auto") && strcmp(mode, "subject") && strcmp(mode, "behavioral")) {
        gw_error(r, 400, "bad_request", "mode must be auto, subject or behavioral");
        return;
    }
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        gw_error(r, 500, "internal", "out of memory");
        return;
    }
    if (load_reader(r, rd, subjects))
        goto out;
    size_t warm_min = (size_t)r->g->o.warm_min_ratings;
    int can_behave = r->user_id && rd->n >= warm_min && rd->n > 0;
    int has_subjects = rd->n_fav + rd->n_subjects > 0;
    const char *use;
    if (!strcmp(mode, "behavioral") && !can_behave) {
        gw_error(r, 422, "not_enough_ratings",
                 "behavioral recommendations need %zu rated or read books (you have %zu)",
                 warm_min, rd->n);
        goto out;
    }
    if (!strcmp(mode, "subject") && !has_subjects) {
        gw_error(r, 422, "no_subjects", "choose favorite subjects (or pass subjects=...)");
        goto out;
    }
    use = !strcmp(mode, "auto") ? (can_behave ? "behavioral" : has_subjects ? "subject"
                                                                              : "popular")
                                : mode;
    if (br_router_pick(r->g->router, r->version, sizeof r->version) != 0) {
        gw_error(r, 503, "no_model", "no model version is loaded by every service yet");
        goto out;
    }
    /* The state revision changes with every rating and every change of favorites;
     * subjects= counts for signed-in readers too (it adds to their favorites). */
    char key[1400];
    snprintf(key, sizeof key, "recs|%s|u%lld|r%lld|n%zu|t%lld|%s|a%.3f|p%lld|s%lld|%s",
             r->version, (long long)r->user_id, (long long)rd->rev, rd->n,
             (long long)rd->newest, use, a, (long long)page, (long long)size,
             subjects ? subjects : "");
    char *hit;
    size_t hit_len;
    if (gw_cache_get(r, key, &hit, &hit_len) == 0) {
        br_http_resp_json_text(r->resp, 200, hit, hit_len);
        free(hit);
        gw_header(r, "X-Cache", "hit");
        goto out;
    }
    /* One more than the page needs (has_more), within what a service returns: pages
     * beyond MAX_K candidates are empty. */
    size_t k = (size_t)(page * size) + 1 < MAX_K ? (size_t)(page * size) + 1 : MAX_K;
    json_t *cands = !strcmp(use, "behavioral") ? behavioral(r, rd, k)
                    : !strcmp(use, "subject")  ? by_subjects(r, rd, a, k)
                                               : popular(r, rd, k);
    if (!cands) {
        if (!r->resp->status && !r->retry) /* a service refused the request */
            gw_error(r, 502, "service_error", "a model service refused the request");
        goto out;
    }
    size_t from = (size_t)((page - 1) * size);
    gw_buf items = {0};
    int more = json_array_size(cands) > from + (size_t)size;
    int rc = gw_items_text(r, cands, from, (size_t)size, &items, NULL);
    json_decref(cands);
    if (rc)
        goto out;
    const char *reason = !strcmp(use, "behavioral") ? "from what you have rated and read"
                         : !strcmp(use, "subject")  ? "from your favorite subjects and what is popular"
                                                    : "popular with readers";
    gw_reply_with_items(r, 200,
                        json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:b, s:s, s:I, s:I}", "mode",
                                  use, "requested", mode, "reason", reason, "a", a, "page",
                                  (json_int_t)page, "page_size", (json_int_t)size, "has_more",
                                  more, "version", r->version, "ratings", (json_int_t)rd->n,
                                  "warm_min_ratings", (json_int_t)warm_min),
                        &items);
    free(items.p);
    if (r->resp->status != 200)
        goto out;
    const char *text = r->resp->body;
    gw_cache_put(r, key, text, r->resp->body_len);
    gw_header(r, "X-Cache", "miss");
out:
    free(rd);
}
