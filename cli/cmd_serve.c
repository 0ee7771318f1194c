/* bookrec serve: the model services, one role per process or all in one. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "http.h"
#include "service.h"
#include "svc_host.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void)
{
    printf("usage: bookrec serve [--role ROLE] [--listen HOST:PORT] [--artifacts DIR]\n"
           "                     [--threads N]\n\n"
           "Runs model services over HTTP. With --role, one service: embedder, similarity,\n"
           "als, metadata or semantic. Without it, all five in one process on one listener\n"
           "(endpoint names are unique across roles).\n\n"
           "Each service loads the version artifacts/CURRENT names (bookrec publish), and\n"
           "reloads when CURRENT changes (inotify), on SIGHUP, or on POST /admin/reload.\n"
           "A version that fails validation is refused and the current one keeps serving;\n"
           "the previous version stays loaded for serve.grace_ms, for requests that name\n"
           "it (X-Model-Version). docs/services.md lists every endpoint.\n\n"
           "Options:\n"
           "  --role ROLE         one service (default: all five)\n"
           "  --listen HOST:PORT  address (config serve.listen, default 127.0.0.1:8090;\n"
           "                      port 0 picks a free one, printed at start)\n"
           "  --artifacts DIR     artifacts directory (config artifacts.dir)\n"
           "  --threads N         HTTP worker threads (config serve.threads)\n\n"
           "Configuration (bookrec config show; BOOKREC_SERVE_* environment variables):\n"
           "  serve.admin_token    bearer token for /admin/reload (empty: admin disabled)\n"
           "  serve.service_token  bearer token every call but /health must carry\n"
           "  serve.grace_ms       how long the previous version is kept\n"
           "  serve.max_body       largest request body in bytes\n"
           "Signals: SIGHUP reloads; SIGINT and SIGTERM stop after in-flight requests.\n");
}

int cmd_serve(int argc, char **argv)
{
    br_config *cfg = cli_config();
    const char *role = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--role"))) {
            role = v;
        } else if ((v = cli_opt(argc, argv, &i, "--listen"))) {
            cli_flag(cfg, "serve.listen", v);
        } else if ((v = cli_opt(argc, argv, &i, "--artifacts"))) {
            cli_flag(cfg, "artifacts.dir", v);
        } else if ((v = cli_opt(argc, argv, &i, "--threads"))) {
            cli_flag(cfg, "serve.threads", v);
        } else {
            cli_die("serve: unknown argument %s (see bookrec serve --help)", argv[i]);
        }
    }
    enum br_role_id only = BR_ROLE_COUNT;
    if (role && br_role_parse(role, &only) != 0)
        cli_die("serve: unknown role %s (embedder, similarity, als, metadata or semantic)", role);
    const char *artifacts = br_config_str(cfg, "artifacts.dir");
    mkdir(artifacts, 0755); /* so that it can be watched before the first publish */

    /* Signals are taken by sigwait below; every thread made from here on blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    br_service *svcs[BR_ROLE_COUNT];
    size_t n = 0;
    br_service_opts so = {.artifacts = artifacts, .grace_ms = br_config_int(cfg, "serve.grace_ms")};
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
    br_svc_host_opts ho = {.admin_token = br_config_str(cfg, "serve.admin_token"),
                           .service_token = br_config_str(cfg, "serve.service_token"),
                           .max_body = (size_t)br_config_int(cfg, "serve.max_body")};
    br_svc_host *host;
    if (br_svc_host_new(svcs, n, &ho, &host) != 0)
        cli_die("serve: out of memory");
    br_http_server_opts hs = {.listen = br_config_str(cfg, "serve.listen"),
                              .max_body = ho.max_body,
                              .threads = (unsigned)br_config_int(cfg, "serve.threads")};
    br_http_server *srv;
    char err[512];
    if (br_http_server_start(&hs, br_svc_host_handle, host, &srv, err, sizeof err) != 0)
        cli_die("serve: cannot listen on %s: %s", hs.listen, err);
    char addr[300];
    snprintf(addr, sizeof addr, "%s", hs.listen);
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = 0;
    printf("bookrec serve: %s listening on http://%s:%u (artifacts %s)\n",
           role ? role : "all services", addr[0] ? addr : "0.0.0.0", br_http_server_port(srv),
           artifacts);
    fflush(stdout);

    for (;;) {
        int sig;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            int refused = br_svc_host_reload(host, NULL);
            br_info("serve: SIGHUP: reloaded%s", refused ? " (some versions refused)" : "");
            continue;
        }
        br_info("serve: stopping");
        break;
    }
    br_http_server_stop(srv);
    br_svc_host_free(host);
    for (size_t i = 0; i < n; i++)
        br_service_free(svcs[i]);
    br_config_free(cfg);
    return 0;
}
