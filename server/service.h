/* A model service: one role (embedder, similarity, als, metadata, semantic), the version it
 * has loaded (a snapshot holder, bookrec/snapshot.h), its endpoints, and reloading.
 *
 * Design decisions:
 * 1. One call path for every transport: br_service_call(endpoint, JSON request, version)
 *    -> reply (status, JSON body, version that answered, versions loaded). The HTTP front
 *    (service_http.c) and the in-process client (svc_client.c) both go through it, so the
 *    all-in-one server and the five-process deployment run the same code.
 * 2. A request names the version it wants (or none: the current one). The service answers
 *    from exactly that version, current or previous within the grace period, or refuses with
 *    409 version_unavailable; never silently from another (docs/services.md).
 * 3. Reload: read CURRENT; if it names a new version, verify this role's files (checksums),
 *    load them aside (mmap + validation against the manifest's dims), then swap. A failure is
 *    counted and logged and changes nothing. Reloads are serialized; requests never wait.
 * 4. Roles are tables (br_role): a loader, a destructor and endpoint functions. A role knows
 *    nothing about HTTP.
 */
#ifndef BOOKREC_SERVER_SERVICE_H
#define BOOKREC_SERVER_SERVICE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum br_role_id {
    BR_ROLE_EMBEDDER,
    BR_ROLE_SIMILARITY,
    BR_ROLE_ALS,
    BR_ROLE_METADATA,
    BR_ROLE_SEMANTIC,
    BR_ROLE_COUNT
};

const char *br_role_name(enum br_role_id r);
/* 0 and *out, or BR_EINVAL for an unknown name. */
int br_role_parse(const char *name, enum br_role_id *out);

typedef struct br_svc_reply {
    int status;        /* HTTP status: 200, 4xx, 5xx */
    json_t *body;      /* owned: the reply, or {"error": {...}} */
    char *raw;         /* owned: the reply as JSON text, when the service rendered it so
                          (pre-rendered book metadata spliced together: body is then NULL),
                          or as it came over HTTP (beside the parsed body) */
    size_t raw_len;
    char version[80];  /* the version that answered ("" when none did) */
    char loaded[200];  /* the versions this service holds: "current" or "current,previous" */
} br_svc_reply;

void br_svc_reply_free(br_svc_reply *r);
/* Sets status and an {"error":{"code","message"}} body. */
void br_svc_error(br_svc_reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct br_endpoint {
    const char *path; /* "/similar" */
    /* Fills out->status and out->body from req (a JSON object) on the model. */
    void (*fn)(const void *model, const json_t *req, br_svc_reply *out);
} br_endpoint;

typedef struct br_role {
    enum br_role_id id;
    /* Loads this role's files of the version in vdir; manifest is its manifest.json.
     * err gets a one-line reason on failure. */
    int (*load)(const char *vdir, const json_t *manifest, void **model, char *err,
                size_t errcap);
    void (*free)(void *model);
    /* Bytes of artifact files the model maps (for /health and the benchmarks). */
    size_t (*mapped_bytes)(const void *model);
    const br_endpoint *endpoints;
    size_t n_endpoints;
} br_role;

const br_role *br_role_def(enum br_role_id r);

typedef struct br_service_opts {
    const char *artifacts; /* the artifacts directory (version.h) */
    int64_t grace_ms;      /* how long the previous version stays loaded */
} br_service_opts;

typedef struct br_service br_service;

/* A service with nothing loaded yet. */
int br_service_new(enum br_role_id role, const br_service_opts *o, br_service **out);
void br_service_free(br_service *s);
enum br_role_id br_service_role(const br_service *s);

/* Loads the version CURRENT names unless it is already current. *changed (may be NULL)
 * says whether a new version was swapped in. 0; or the reason it was refused (the service
 * keeps what it had): BR_ENOENT (no CURRENT, no such version), BR_ECORRUPT, BR_EFORMAT... */
int br_service_reload(br_service *s, int *changed, char *err, size_t errcap);
/* Loads a named version (not necessarily CURRENT), e.g. to verify answers offline. */
int br_service_load_version(br_service *s, const char *id, char *err, size_t errcap);

/* Serves one request. version NULL or "": the current version. Always fills out. */
void br_service_call(br_service *s, const char *endpoint, const json_t *req,
                     const char *version, br_svc_reply *out);

/* {"role", "version", "previous", "loaded_at", "mapped_bytes", "reloads", "reload_failures",
 *  "requests", "refused_version"} */
json_t *br_service_health(br_service *s);
/* "current" or "current,previous" into buf (160 bytes). */
void br_service_loaded(br_service *s, char *buf, size_t cap);

/* Watches CURRENT with inotify and reloads when it changes; also expires the previous
 * version after its grace period. A background thread until br_service_free. */
int br_service_watch(br_service *s);

/* Counters for /metrics. */
typedef struct br_service_stats {
    long reloads, reload_failures, requests, refused_version;
} br_service_stats;
void br_service_stats_get(br_service *s, br_service_stats *out);

#endif
