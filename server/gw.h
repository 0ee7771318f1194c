/* Internal pieces shared by the gateway's files (gateway.c: core and routing; gw_books.c,
 * gw_recs.c, gw_account.c, gw_admin.c: handlers). */
#ifndef BOOKREC_SERVER_GW_H
#define BOOKREC_SERVER_GW_H

#include "gateway.h"
#include "metrics.h"

#include "bookrec/store.h"

#include <jansson.h>
#include <pthread.h>

struct br_cache;
struct br_ratelimit;

struct br_gateway {
    br_gateway_opts o;
    char db_url[1024], admin_token[256], web_dir[1024];
    br_router *router;
    br_metrics *metrics;
    struct br_cache *cache;
    struct br_ratelimit *rl;
    pthread_key_t store_key;
    pthread_mutex_t stores_mu;
    br_store **stores; /* every per-thread store, closed at free */
    size_t n_stores, cap_stores;
    int *route_ids;
};

/* One request being served. */
typedef struct gw_req {
    br_gateway *g;
    const br_http_req *req;
    br_http_resp *resp;
    br_store *st;                 /* this thread's store (gw_store) */
    const char *param[2];         /* {id} segments of the path, in order */
    char param_buf[2][128];
    json_t *body;                 /* parsed JSON body of POST/PATCH, or NULL */
    /* who is calling */
    int64_t account_id, user_id;  /* 0: anonymous */
    int auth;                     /* 0 none, 1 cookie, 2 bearer */
    char csrf[96];
    char token_hash[65];
    char ip[64];
    /* model version of this request */
    char version[80];
    int retry;                    /* a service refused the version: run the handler again */
} gw_req;

enum gw_flags {
    GW_AUTH = 1,      /* needs a signed-in reader */
    GW_MODELS = 2,    /* calls model services (restartable on 409) */
    GW_ADMIN = 4,     /* needs the admin token */
    GW_BODY = 8,      /* needs a JSON body */
};

typedef struct gw_route {
    const char *method, *pattern;
    void (*fn)(gw_req *r);
    int flags;
} gw_route;

/* Replies. gw_json steals body. */
void gw_error(gw_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void gw_json(gw_req *r, int status, json_t *body);
void gw_header(gw_req *r, const char *name, const char *value);
/* Whether a reply has been made (every reply has a body). */
static inline int gw_replied(const gw_req *r) { return r->resp->body != NULL; }

/* The request's store, or NULL after a 503 reply. */
br_store *gw_store(gw_req *r);

/* Query arguments with limits: 0, or -1 after a 400 reply. */
int gw_query_int(gw_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                 int64_t *out);
int gw_query_double(gw_req *r, const char *name, double min, double max, double def,
                    double *out);
/* A query string argument of at most max bytes (NULL when absent); -1 after a 400. */
int gw_query_str(gw_req *r, const char *name, size_t max, const char **out);
/* The {id} path segment i as a book id in [0, INT32_MAX); -1 after a 400. */
int gw_param_id(gw_req *r, int i, int64_t *out);

/* A model call within this request's version; takes req (a new reference, e.g.
 * json_pack's; NULL is fine). Returns the reply status (0: unreachable, after a 502 reply;
 * 409 sets r->retry). The reply must be freed. */
int gw_call(gw_req *r, enum br_role_id role, const char *endpoint, json_t *req,
            br_svc_reply *out);
/* Metadata of ids (in order) as a JSON array of book objects (null for unknown ids). */
json_t *gw_books(gw_req *r, const int32_t *ids, size_t n);

/* A growing text buffer (rendering replies), at most GW_BUF_MAX bytes. */
#define GW_BUF_MAX (64u << 20)
#define GW_MAX_ITEMS 100 /* books rendered in one list */
typedef struct gw_buf {
    char *p;
    size_t n, cap;
} gw_buf;
int gw_buf_add(gw_buf *b, const char *s, size_t n);
int gw_buf_printf(gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends the JSON array [{"book": metadata, "score": s}, ...] for items[offset..
 * offset+limit) of a service's ranked list (at most GW_MAX_ITEMS), splicing the metadata
 * service's pre-rendered book objects (gw_render.c); books without metadata are left out.
 * *n_out (may be NULL) gets how many were. 0, or -1 after an error reply. */
int gw_items_text(gw_req *r, const json_t *items, size_t offset, size_t limit, gw_buf *out,
                  size_t *n_out);
/* Replies head (an object, stolen) with "items": the array in items added to it. */
void gw_reply_with_items(gw_req *r, int status, json_t *head, const gw_buf *items);

/* {"book": metadata, "score": s} for items[offset..offset+limit) of a service's ranked
 * list; books without metadata are skipped. NULL after an error reply. */
json_t *gw_render_items(gw_req *r, const json_t *items, size_t offset, size_t limit);
/* page (1..50) and page_size (1..100, default 20); -1 after a 400. */
int gw_paging(gw_req *r, int64_t *page, int64_t *size);

/* The response cache (no-ops without one): 0 and a malloc'd copy on a hit. */
int gw_cache_get(gw_req *r, const char *key, char **val, size_t *len);
void gw_cache_put(gw_req *r, const char *key, const char *val, size_t len);

/* Handlers. */
void gw_books_get(gw_req *r);
void gw_books_by_isbn(gw_req *r);
void gw_books_similar(gw_req *r);
void gw_search(gw_req *r);
void gw_subjects(gw_req *r);
void gw_popular(gw_req *r);
void gw_recommendations(gw_req *r);
void gw_signup(gw_req *r);
void gw_login(gw_req *r);
void gw_logout(gw_req *r);
void gw_me_get(gw_req *r);
void gw_me_patch(gw_req *r);
void gw_me_delete(gw_req *r);
void gw_ratings_post(gw_req *r);
void gw_ratings_delete(gw_req *r);
void gw_me_ratings(gw_req *r);
void gw_events_post(gw_req *r);
void gw_health_live(gw_req *r);
void gw_health_ready(gw_req *r);
void gw_metrics(gw_req *r);
void gw_admin_reload(gw_req *r);
void gw_admin_versions(gw_req *r);
void gw_openapi(gw_req *r);

/* Serves a static file of the web UI; 1 when it answered. */
int gw_static(gw_req *r);

/* Resolves the caller from the cookie or bearer token (sets account_id, user_id, auth). */
void gw_authenticate(gw_req *r);

#endif
