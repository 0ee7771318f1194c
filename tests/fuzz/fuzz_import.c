/* libFuzzer driver for the importer's source parsers: the first byte picks a
 * format, the rest is the file. The import runs for real into an in-memory
 * SQLite database, so field cleaning, Open Library JSON lines, resolution and
 * the write all see the input. Invariant: it returns 0 or a BR_E* code with a
 * message, and a report, never a crash or a leak. */
#include "bookrec/error.h"
#include "bookrec/import.h"
#include "bookrec/log.h"
#include "bookrec/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const formats[] = {
    "bx-users",     "bx-books", "bx-ratings", "gb-books",        "gb-tags",
    "gb-book-tags", "descriptions", "ol-works", "ol-search",   "ol-dump",
    "generic-books", "generic-subjects", "generic-ratings", NULL /* detect */};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    br_log_set_level(BR_LOG_ERROR);
    const char *fmt = formats[data[0] % (sizeof formats / sizeof formats[0])];
    int fd = memfd_create("fuzz_import", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        return 0;
    }
    char spec[96], err[512] = "";
    if (fmt)
        snprintf(spec, sizeof spec, "%s=/proc/self/fd/%d", fmt, fd);
    else
        snprintf(spec, sizeof spec, "/proc/self/fd/%d", fd);
    br_store *st;
    if (br_store_open(":memory:", &st) != 0) {
        close(fd);
        return 0;
    }
    br_import_opts o;
    br_import_opts_default(&o);
    o.max_rows = 10000;
    o.max_field = 4096;
    o.min_books = 1;
    const char *src[] = {spec};
    json_t *rep = NULL;
    int rc = br_import_run(st, src, 1, &o, &rep, err, sizeof err);
    if (rc > 0 || (rc < 0 && err[0] == 0) || !rep)
        abort();
    json_decref(rep);
    br_store_close(st);
    close(fd);
    return 0;
}
