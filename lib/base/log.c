/* Logging and progress lines (see log.h). */
#include "bookrec/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_level = -1;

static int level_now(void)
{
    if (g_level < 0) {
        const char *s = getenv("BOOKREC_LOG_LEVEL");
        g_level = BR_LOG_INFO;
        if (s && !strcmp(s, "error"))
            g_level = BR_LOG_ERROR;
        else if (s && !strcmp(s, "warn"))
            g_level = BR_LOG_WARN;
        else if (s && !strcmp(s, "debug"))
            g_level = BR_LOG_DEBUG;
    }
    return g_level;
}

enum br_log_level br_log_get_level(void)
{
    return (enum br_log_level)level_now();
}

void br_log_set_level(enum br_log_level level)
{
    g_level = (int)level;
}

void br_log(enum br_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    va_list ap;
    if ((int)level > level_now())
        return;
    fprintf(stderr, "bookrec: %s: ", names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double br_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void br_progress_start(br_progress *p, const char *label, uint64_t total)
{
    p->label = label;
    p->total = total;
    p->start = p->last = br_now();
    p->shown = 0;
}

static void progress_print(br_progress *p, uint64_t done, int final)
{
    double t = br_now() - p->start;
    double rate = t > 0 ? (double)done / t : 0;
    int tty = isatty(2);
    if (p->total)
        fprintf(stderr, "%s%s: %llu/%llu (%.0f%%) %.1fs %.0f/s%s", tty ? "\r" : "", p->label,
                (unsigned long long)done, (unsigned long long)p->total,
                100.0 * (double)done / (double)p->total, t, rate, tty && !final ? "" : "\n");
    else
        fprintf(stderr, "%s%s: %llu %.1fs %.0f/s%s", tty ? "\r" : "", p->label,
                (unsigned long long)done, t, rate, tty && !final ? "" : "\n");
    p->shown = 1;
}

void br_progress_update(br_progress *p, uint64_t done)
{
    if (done & 4095)
        return;
    double now = br_now();
    double every = isatty(2) ? 0.25 : 5.0;
    if (now - p->start < 1.0 || now - p->last < every)
        return;
    p->last = now;
    if (level_now() >= BR_LOG_INFO)
        progress_print(p, done, 0);
}

void br_progress_end(br_progress *p, uint64_t done)
{
    if (level_now() < BR_LOG_INFO)
        return;
    if (p->shown || br_now() - p->start >= 1.0)
        progress_print(p, done, 1);
}
