/* bookrec serve: the model services, one role per process or all in one. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "http.h"
#include "service.h"
#include "gateway.h"
#include "svc_client.h"
#include "svc_host.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void)
{
    printf("usage: bookrec serve [--role ROLE] [--listen HOST:PORT] [--artifacts DIR]\n"
           "                     [--db PATH] [--threads N]\n\n"
           "Without --role: everything in one process on http://127.0.0.1:8080 (PORT\n"
           "overrides the port): the gateway (public API under /api/v1, docs/api.md; the\n"
           "web UI), calling the five model services in process without HTTP, which also\n"
           "answer their own endpoints on the same listener (docs/services.md).\n"
           "With --role gateway: the gateway alone, reaching the services over HTTP at the\n"
           "URLs in serve.services (role=URL,...).\n"
           "With --role embedder|similarity|als|metadata|semantic: one model service,\n"
           "on 127.0.0.1:8091..8095 by default (in that order).\n\n"
           "Each service loads the version artifacts/CURRENT names (bookrec publish), and\n"
           "reloads when CURRENT changes (inotify), on SIGHUP, or on POST /admin/reload.\n"
           "A version that fails validation is refused and the current one keeps serving;\n"
           "the previous version stays loaded for serve.grace_ms, for requests that name\n"
           "it (X-Model-Version).\n\n"
           "Options:\n"
           "  --role ROLE         gateway, or one model service (default: everything)\n"
           "  --listen HOST:PORT  address (config serve.listen; port 0 picks a free one,\n"
           "                      printed at start)\n"
           "  --artifacts DIR     artifacts directory (config artifacts.dir)\n"
           "  --db PATH           database of accounts and ratings (config db.path)\n"
           "  --threads N         HTTP worker threads (config serve.threads)\n\n"
           "Configuration (bookrec config show; BOOKREC_SERVE_* environment variables):\n"
           "  serve.admin_token    token for /admin/reload and /api/v1/admin (empty: disabled)\n"
           "  serve.service_token  bearer token between the gateway and the services\n"
           "  serve.services       role=URL,... for --role gateway\n"
           "  serve.grace_ms       how long the previous version is kept\n"
           "  serve.max_body       largest request body in bytes\n"
           "  serve.cache_entries  cached responses (0: off); serve.rate_ip, serve.rate_user,\n"
           "                       serve.rate_login: rate limits; serve.session_days;\n"
           "                       serve.cookie_secure; serve.web_dir; serve.event_retention_days\n"
           "  models.warm_min_ratings  ratings that switch a reader to behavioral recommendations\n"
           "Environment: PORT overrides the gateway's port.\n"
           "Signals: SIGHUP reloads; SIGINT and SIGTERM stop after in-flight requests.\n");
}

/* Everything in one listener: the gateway's paths go to the gateway, the rest (model
 * endpoints, /health, /admin/reload) to the services' host. */
struct both {
    br_gateway *gw;
    br_svc_host *host;
};

static void handle_both(void *ctx, const br_http_req *req, br_http_resp *resp)
{
    struct both *b = ctx;
    const char *p = req->path;
    if (!strncmp(p, "/api/", 5) || !strncmp(p, "/health/", 8) || !strcmp(p, "/metrics") ||
        ((!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) &&
         strcmp(p, "/health") != 0))
        br_gateway_handle(b->gw, req, resp);
    else
        br_svc_host_handle(b->host, req, resp);
}

/* Where a key's value came from ("default", "file", "env", "flag"). */
static const char *source_of(const br_config *cfg, const char *key)
{
    for (size_t i = 0; i < br_config_count(); i++) {
        const char *k, *src;
        if (br_config_entry(cfg, i, &k, NULL, &src, NULL) == 0 && !strcmp(k, key))
            return src;
    }
    return "";
}

static br_gateway *make_gateway(br_config *cfg, br_svc_client **clients)
{
    br_gateway_opts go;
    br_gateway *gw;
    char err[512];
    br_gateway_opts_default(&go);
    go.db_url = br_config_str(cfg, "db.path");
    memcpy(go.clients, clients, sizeof go.clients);
    go.admin_token = br_config_str(cfg, "serve.admin_token");
    go.max_body = (size_t)br_config_int(cfg, "serve.max_body");
    go.cache_entries = (int)br_config_int(cfg, "serve.cache_entries");
    go.warm_min_ratings = (int)br_config_int(cfg, "models.warm_min_ratings");
    go.cookie_secure = br_config_bool(cfg, "serve.cookie_secure");
    go.session_ttl_s = br_config_int(cfg, "serve.session_days") * 86400;
    go.rate_ip = br_config_double(cfg, "serve.rate_ip");
    go.burst_ip = go.rate_ip > 0.5 ? 2 * go.rate_ip : 1; /* a bucket holds at least one */
    go.rate_user = br_config_double(cfg, "serve.rate_user");
    go.burst_user = go.rate_user > 0.5 ? 2 * go.rate_user : 1;
    go.rate_login = br_config_double(cfg, "serve.rate_login");
    go.web_dir = br_config_str(cfg, "serve.web_dir");
    go.event_retention_days = br_config_int(cfg, "serve.event_retention_days");
    if (br_gateway_new(&go, &gw, err, sizeof err) != 0)
        cli_die("serve: %s", err);
    return gw;
}

int cmd_serve(int argc, char **argv)
{
    br_config *cfg = cli_config();
    const char *role = NULL, *v;
    int listen_given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--role"))) {
            role = v;
        } else if ((v = cli_opt(argc, argv, &i, "--listen"))) {
            cli_flag(cfg, "serve.listen", v);
            listen_given = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--artifacts"))) {
            cli_flag(cfg, "artifacts.dir", v);
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--threads"))) {
            cli_flag(cfg, "serve.threads", v);
        } else {
            cli_die("serve: unknown argument %s (see bookrec serve --help)", argv[i]);
        }
    }
    enum br_role_id only = BR_ROLE_COUNT;
    int gateway_only = role && !strcmp(role, "gateway");
    if (role && !gateway_only && br_role_parse(role, &only) != 0)
        cli_die("serve: unknown role %s (gateway, embedder, similarity, als, metadata or "
                "semantic)", role);
    const char *artifacts = br_config_str(cfg, "artifacts.dir");
    char listen[300];
    snprintf(listen, sizeof listen, "%s", br_config_str(cfg, "serve.listen"));
    const char *port = getenv("PORT");
    if (only != BR_ROLE_COUNT && !listen_given && !strcmp(source_of(cfg, "serve.listen"), "default"))
        snprintf(listen, sizeof listen, "127.0.0.1:%d", 8091 + (int)only);
    else if (only == BR_ROLE_COUNT && !listen_given && port && *port) {
        char *c = strrchr(listen, ':');
        if (c)
            snprintf(c + 1, sizeof listen - (size_t)(c + 1 - listen), "%s", port);
    }

    /* Signals are taken by sigwait below; every thread made from here on blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    br_service *svcs[BR_ROLE_COUNT] = {0};
    size_t n = 0;
    if (!gateway_only) {
        mkdir(artifacts, 0755); /* so that it can be watched before the first publish */
        br_service_opts so = {.artifacts = artifacts,
                              .grace_ms = br_config_int(cfg, "serve.grace_ms")};
        for (int r = 0; r < BR_ROLE_COUNT; r++) {
            if (only != BR_ROLE_COUNT && r != (int)only)
                continue;
            if (br_service_new((enum br_role_id)r, &so, &svcs[n]) != 0)
                cli_die("serve: out of memory");
            char err[512];
            if (br_service_reload(svcs[n], NULL, err, sizeof err) != 0)
                br_warn("%s: nothing loaded yet: %s", br_role_name((enum br_role_id)r), err);
            if (br_service_watch(svcs[n]) != 0)
                cli_die("serve: cannot start the reload watcher");
            n++;
        }
    }
    br_svc_host_opts ho = {.admin_token = br_config_str(cfg, "serve.admin_token"),
                           .service_token = br_config_str(cfg, "serve.service_token"),
                           .max_body = (size_t)br_config_int(cfg, "serve.max_body")};
    br_svc_host *host = NULL;
    if (n && br_svc_host_new(svcs, n, &ho, &host) != 0)
        cli_die("serve: out of memory");
    br_svc_client *clients[BR_ROLE_COUNT] = {0};
    br_gateway *gw = NULL;
    struct both both = {0};
    br_http_handler handler = br_svc_host_handle;
    void *ctx = host;
    if (only == BR_ROLE_COUNT) {
        char err[512];
        if (br_svc_clients_open(gateway_only ? br_config_str(cfg, "serve.services") : "",
                                ho.service_token, gateway_only ? NULL : svcs, clients, err,
                                sizeof err) != 0)
            cli_die("serve: %s", err);
        gw = make_gateway(cfg, clients);
        both.gw = gw;
        both.host = host;
        handler = gateway_only ? br_gateway_handle : handle_both;
        ctx = gateway_only ? (void *)gw : (void *)&both;
    }
    br_http_server_opts hs = {.listen = listen,
                              .max_body = ho.max_body,
                              .threads = (unsigned)br_config_int(cfg, "serve.threads")};
    br_http_server *srv;
    char err[512];
    if (br_http_server_start(&hs, handler, ctx, &srv, err, sizeof err) != 0)
        cli_die("serve: cannot listen on %s: %s", hs.listen, err);
    char addr[300];
    snprintf(addr, sizeof addr, "%s", hs.listen);
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = 0;
    printf("bookrec serve: %s listening on http://%s:%u (artifacts %s)\n",
           role ? role : "gateway and all services", addr[0] ? addr : "0.0.0.0",
           br_http_server_port(srv), artifacts);
    fflush(stdout);

    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            int refused = host ? br_svc_host_reload(host, NULL) : 0;
            br_info("serve: SIGHUP: reloaded%s", refused ? " (some versions refused)" : "");
            continue;
        }
        br_info("serve: stopping");
        break;
    }
    br_http_server_stop(srv);
    br_gateway_free(gw);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        br_svc_client_free(clients[r]);
    br_svc_host_free(host);
    for (size_t i = 0; i < n; i++)
        br_service_free(svcs[i]);
    br_config_free(cfg);
    return 0;
}
