/* Model service runtime: loading, reloading, dispatch (see service.h). */
#include "service.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/snapshot.h"
#include "bookrec/version.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

extern const br_role br_role_embedder, br_role_similarity, br_role_als, br_role_metadata,
    br_role_semantic;

static const br_role *const g_roles[BR_ROLE_COUNT] = {
    &br_role_embedder, &br_role_similarity, &br_role_als, &br_role_metadata, &br_role_semantic,
};
static const char *const g_names[BR_ROLE_COUNT] = {"embedder", "similarity", "als", "metadata",
                                                   "semantic"};

const char *br_role_name(enum br_role_id r)
{
    return (unsigned)r < BR_ROLE_COUNT ? g_names[r] : "?";
}

int br_role_parse(const char *name, enum br_role_id *out)
{
    for (int i = 0; i < BR_ROLE_COUNT; i++)
        if (name && !strcmp(name, g_names[i])) {
            *out = (enum br_role_id)i;
            return 0;
        }
    return BR_EINVAL;
}

const br_role *br_role_def(enum br_role_id r)
{
    return (unsigned)r < BR_ROLE_COUNT ? g_roles[r] : NULL;
}

void br_svc_reply_free(br_svc_reply *r)
{
    if (r) {
        json_decref(r->body);
        free(r->raw);
        r->body = NULL;
        r->raw = NULL;
    }
}

void br_svc_error(br_svc_reply *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(r->body);
    free(r->raw);
    r->raw = NULL;
    r->status = status;
    /* json_string refuses invalid UTF-8; messages are ours, but be safe. */
    json_t *m = json_string(msg);
    r->body = json_pack("{s:{s:s, s:o}}", "error", "code", code, "message",
                        m ? m : json_string("(unprintable message)"));
}

struct br_service {
    const br_role *role;
    char artifacts[4096];
    br_holder *holder;
    pthread_mutex_t reload_mu; /* one reload at a time */
    atomic_long reloads, reload_failures, requests, refused_version;
    /* watcher */
    pthread_t watcher;
    int watching;
    int stop_pipe[2];
};

int br_service_new(enum br_role_id role, const br_service_opts *o, br_service **out)
{
    *out = NULL;
    if (!o || !o->artifacts || (unsigned)role >= BR_ROLE_COUNT ||
        strlen(o->artifacts) >= sizeof ((br_service *)0)->artifacts)
        return BR_EINVAL;
    br_service *s = calloc(1, sizeof *s);
    if (!s)
        return BR_ENOMEM;
    s->role = g_roles[role];
    snprintf(s->artifacts, sizeof s->artifacts, "%s", o->artifacts);
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    if (br_holder_new(o->grace_ms, &s->holder) != 0 ||
        pthread_mutex_init(&s->reload_mu, NULL) != 0) {
        br_holder_free(s->holder);
        free(s);
        return BR_ENOMEM;
    }
    *out = s;
    return 0;
}

void br_service_free(br_service *s)
{
    if (!s)
        return;
    if (s->watching) {
        (void)!write(s->stop_pipe[1], "x", 1);
        pthread_join(s->watcher, NULL);
    }
    if (s->stop_pipe[0] >= 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
    }
    br_holder_free(s->holder);
    pthread_mutex_destroy(&s->reload_mu);
    free(s);
}

enum br_role_id br_service_role(const br_service *s) { return s->role->id; }

/* Verify, load aside, swap. Called with reload_mu held. */
static int load_locked(br_service *s, const char *id, char *err, size_t errcap)
{
    char vdir[4096];
    json_t *man = NULL;
    void *model = NULL;
    const char *role = br_role_name(s->role->id);
    int rc;
    if ((rc = br_version_verify(s->artifacts, id, role, err, errcap)))
        goto fail;
    if ((rc = br_version_manifest(s->artifacts, id, &man))) {
        snprintf(err, errcap, "version %s: manifest unreadable", id);
        goto fail;
    }
    if ((rc = br_version_dir(s->artifacts, id, vdir, sizeof vdir)))
        goto fail;
    if ((rc = s->role->load(vdir, man, &model, err, errcap)))
        goto fail;
    json_decref(man);
    br_snap *snap = br_snap_new(id, model, s->role->free);
    if (!snap) {
        s->role->free(model);
        snprintf(err, errcap, "out of memory");
        rc = BR_ENOMEM;
        goto fail_counted;
    }
    br_holder_swap(s->holder, snap);
    atomic_fetch_add(&s->reloads, 1);
    br_info("%s: serving version %s", role, id);
    return 0;
fail:
    json_decref(man);
fail_counted:
    atomic_fetch_add(&s->reload_failures, 1);
    br_warn("%s: version %s refused: %s (still serving the previous one)", role, id,
            err && err[0] ? err : br_strerror(rc));
    return rc;
}

int br_service_load_version(br_service *s, const char *id, char *err, size_t errcap)
{
    char ebuf[512];
    if (!err || !errcap) {
        err = ebuf;
        errcap = sizeof ebuf;
    }
    err[0] = 0;
    if (!br_version_id_valid(id)) {
        snprintf(err, errcap, "not a version id");
        return BR_EINVAL;
    }
    pthread_mutex_lock(&s->reload_mu);
    int rc = load_locked(s, id, err, errcap);
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

int br_service_reload(br_service *s, int *changed, char *err, size_t errcap)
{
    char id[BR_VERSION_ID_MAX], cur[BR_SNAP_VERSION_MAX], ebuf[512];
    int rc;
    if (!err || !errcap) {
        err = ebuf;
        errcap = sizeof ebuf;
    }
    err[0] = 0;
    if (changed)
        *changed = 0;
    pthread_mutex_lock(&s->reload_mu);
    if ((rc = br_version_current(s->artifacts, id, sizeof id))) {
        snprintf(err, errcap, "%s/CURRENT: %s", s->artifacts,
                 rc == BR_ENOENT ? "no version published yet" : "unreadable");
        goto out;
    }
    br_holder_versions(s->holder, cur, NULL, NULL);
    if (!strcmp(cur, id))
        goto out;
    if (!(rc = load_locked(s, id, err, errcap)) && changed)
        *changed = 1;
out:
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

void br_service_loaded(br_service *s, char *buf, size_t cap)
{
    char cur[BR_SNAP_VERSION_MAX], prev[BR_SNAP_VERSION_MAX];
    br_holder_versions(s->holder, cur, prev, NULL);
    snprintf(buf, cap, "%s%s%s", cur, prev[0] ? "," : "", prev);
}

void br_service_call(br_service *s, const char *endpoint, const json_t *req,
                     const char *version, br_svc_reply *out)
{
    memset(out, 0, sizeof *out);
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    const br_endpoint *ep = NULL;
    for (size_t i = 0; i < s->role->n_endpoints; i++)
        if (!strcmp(endpoint, s->role->endpoints[i].path))
            ep = &s->role->endpoints[i];
    br_snap *snap = NULL;
    if (!ep) {
        br_svc_error(out, 404, "not_found", "the %s service has no endpoint %s",
                     br_role_name(s->role->id), "with that path");
    } else if (!req || !json_is_object(req)) {
        br_svc_error(out, 400, "invalid_request", "the body must be a JSON object");
    } else if (!(snap = br_holder_acquire(s->holder, version))) {
        if (version && version[0]) {
            atomic_fetch_add(&s->refused_version, 1);
            br_svc_error(out, 409, "version_unavailable",
                         "this service does not hold the requested version");
        } else {
            br_svc_error(out, 503, "no_version", "no model version is loaded yet");
        }
    } else {
        out->status = 200;
        ep->fn(br_snap_data(snap), req, out);
        snprintf(out->version, sizeof out->version, "%s", br_snap_version(snap));
        br_snap_release(snap);
    }
    if (!out->body && !out->raw)
        br_svc_error(out, 500, "internal", "the endpoint produced no reply");
    br_service_loaded(s, out->loaded, sizeof out->loaded);
}

json_t *br_service_health(br_service *s)
{
    char cur[BR_SNAP_VERSION_MAX], prev[BR_SNAP_VERSION_MAX];
    int64_t at;
    size_t mapped = 0;
    br_holder_versions(s->holder, cur, prev, &at);
    br_snap *snap = br_holder_acquire(s->holder, NULL);
    if (snap && s->role->mapped_bytes)
        mapped = s->role->mapped_bytes(br_snap_data(snap));
    br_snap_release(snap);
    return json_pack("{s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I}", "role",
                     br_role_name(s->role->id), "version", cur[0] ? cur : NULL, "previous",
                     prev[0] ? prev : NULL, "loaded_at_ms", (json_int_t)at, "mapped_bytes",
                     (json_int_t)mapped, "reloads", (json_int_t)atomic_load(&s->reloads),
                     "reload_failures", (json_int_t)atomic_load(&s->reload_failures),
                     "requests", (json_int_t)atomic_load(&s->requests), "refused_version",
                     (json_int_t)atomic_load(&s->refused_version));
}

void br_service_stats_get(br_service *s, br_service_stats *out)
{
    out->reloads = atomic_load(&s->reloads);
    out->reload_failures = atomic_load(&s->reload_failures);
    out->requests = atomic_load(&s->requests);
    out->refused_version = atomic_load(&s->refused_version);
}

/* inotify on the artifacts directory: CURRENT is replaced by a rename, which shows as
 * IN_MOVED_TO (or IN_CLOSE_WRITE if someone writes it in place). The poll timeout also
 * drives the expiry of the previous version. */
static void *watch_main(void *arg)
{
    br_service *s = arg;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, s->artifacts, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        br_warn("%s: cannot watch %s (%s); reload with SIGHUP or POST /admin/reload",
                br_role_name(s->role->id), s->artifacts, strerror(errno));
    for (;;) {
        struct pollfd p[2] = {{s->stop_pipe[0], POLLIN, 0}, {fd, POLLIN, 0}};
        int n = poll(p, fd >= 0 ? 2 : 1, 500);
        if (n > 0 && (p[0].revents & POLLIN))
            break;
        int hit = 0;
        if (n > 0 && fd >= 0 && (p[1].revents & POLLIN)) {
            char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
            ssize_t len;
            while ((len = read(fd, buf, sizeof buf)) > 0)
                for (char *q = buf; q < buf + len;) {
                    const struct inotify_event *e = (const struct inotify_event *)q;
                    if (e->len && !strcmp(e->name, "CURRENT"))
                        hit = 1;
                    q += sizeof *e + e->len;
                }
        }
        if (hit)
            br_service_reload(s, NULL, NULL, 0);
        br_holder_expire(s->holder);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

int br_service_watch(br_service *s)
{
    if (s->watching)
        return 0;
    if (pipe2(s->stop_pipe, O_CLOEXEC) != 0)
        return BR_EIO;
    if (pthread_create(&s->watcher, NULL, watch_main, s) != 0)
        return BR_ENOMEM;
    s->watching = 1;
    return 0;
}
