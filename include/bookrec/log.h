/* Logging and progress lines.
 *
 * Messages go to stderr with a level; BOOKREC_LOG_LEVEL (error|warn|info|debug)
 * filters them. A progress line is printed for work that takes more than a
 * second: on a terminal it redraws one line, elsewhere it prints a line every
 * few seconds, so CI logs stay short. */
#ifndef BOOKREC_LOG_H
#define BOOKREC_LOG_H

#include <stdint.h>

enum br_log_level { BR_LOG_ERROR, BR_LOG_WARN, BR_LOG_INFO, BR_LOG_DEBUG };

void br_log_set_level(enum br_log_level level);
enum br_log_level br_log_get_level(void);
void br_log(enum br_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define br_error(...) br_log(BR_LOG_ERROR, __VA_ARGS__)
#define br_warn(...) br_log(BR_LOG_WARN, __VA_ARGS__)
#define br_info(...) br_log(BR_LOG_INFO, __VA_ARGS__)
#define br_debug(...) br_log(BR_LOG_DEBUG, __VA_ARGS__)

/* Monotonic clock in seconds. */
double br_now(void);

typedef struct br_progress {
    const char *label;
    uint64_t total; /* 0 when unknown */
    double start, last;
    int shown;
} br_progress;

void br_progress_start(br_progress *p, const char *label, uint64_t total);
/* Cheap to call per item: it reads the clock only every 4096 calls' worth of done. */
void br_progress_update(br_progress *p, uint64_t done);
/* Prints the final line (only when a line was shown, or always when verbose). */
void br_progress_end(br_progress *p, uint64_t done);

#endif
