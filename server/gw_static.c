/* Gateway: the web UI's static files (HTML, CSS, ES modules) from serve.web_dir.
 *
 * Paths are checked before any file is opened: only [A-Za-z0-9._-] segments, no segment
 * starting with '.', so nothing outside web_dir can be named. A path without an extension
 * that is not a file gets index.html (the UI routes on the client). Files are read per
 * request (small, and the page cache holds them); Cache-Control keeps browsers from
 * asking again for a few minutes. */
#include "gw.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_BYTES (4u << 20)

static const struct {
    const char *ext, *type;
} g_types[] = {
    {".html", "text/html; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json"},          {".svg", "image/svg+xml"},
    {".png", "image/png"},                  {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},  {".webmanifest", "application/manifest+json"},
};

static int safe_path(const char *p)
{
    if (p[0] != '/' || strlen(p) > 200)
        return 0;
    for (const char *s = p; *s; s++) {
        char c = *s;
        if (c == '/' && (s[1] == '.' || s[1] == '/'))
            return 0;
        if (!(c == '/' || c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') ||
              (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > STATIC_MAX_BYTES) {
        close(fd);
        return -1;
    }
    *buf = malloc((size_t)sb.st_size + 1);
    ssize_t n = *buf ? read(fd, *buf, (size_t)sb.st_size) : -1;
    close(fd);
    if (n != sb.st_size) {
        free(*buf);
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

/* 1 when it answered (a file, or index.html for a client-side route), else 0. */
int gw_static(gw_req *r)
{
    const char *dir = r->g->web_dir, *p = r->req->path;
    char path[1400];
    char *buf;
    size_t len;
    if (!dir[0] || (strcmp(r->req->method, "GET") && strcmp(r->req->method, "HEAD")) ||
        !safe_path(p))
        return 0;
    const char *slash = strrchr(p, '/'), *dot = strrchr(p, '.');
    int has_ext = dot && dot > slash;
    snprintf(path, sizeof path, "%s%s%s", dir, p, p[strlen(p) - 1] == '/' ? "index.html" : "");
    if (read_file(path, &buf, &len) != 0) {
        if (has_ext)
            return 0;
        snprintf(path, sizeof path, "%s/index.html", dir);
        if (read_file(path, &buf, &len) != 0)
            return 0;
        dot = ".html";
    } else if (!has_ext) {
        dot = ".html";
    }
    const char *type = "application/octet-stream";
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (!strcmp(dot, g_types[i].ext))
            type = g_types[i].type;
    free(r->resp->body);
    r->resp->status = 200;
    r->resp->content_type = type;
    r->resp->body = buf;
    r->resp->body_len = len;
    gw_header(r, "Cache-Control", "public, max-age=300");
    gw_header(r, "X-Content-Type-Options", "nosniff");
    if (!strcmp(dot, ".html"))
        gw_header(r, "Content-Security-Policy",
                  "default-src 'self'; img-src 'self' data: https: http:; "
                  "style-src 'self'; script-src 'self'; connect-src 'self'");
    return 1;
}
