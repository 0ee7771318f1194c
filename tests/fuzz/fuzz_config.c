/* libFuzzer driver for the configuration file parser: the input is a config
 * file. It goes through a memfd so the real file path (size limit, line
 * reader, sections, quoting) is what gets exercised. Invariant: whatever the
 * input, a failed load leaves a message, and every getter still works. */
#include "bookrec/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    br_config *cfg;
    char err[512] = "", path[64];
    int fd = memfd_create("fuzz_config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size || br_config_new(&cfg) != 0) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = br_config_load_file(cfg, path, err, sizeof err);
    if (rc != 0 && err[0] == 0)
        abort(); /* every failure must say why */
    for (size_t i = 0; i < br_config_count(); i++) {
        const char *k, *v, *src, *desc;
        if (br_config_entry(cfg, i, &k, &v, &src, &desc) != 0 || !k || !v || !src)
            abort();
    }
    (void)br_config_int(cfg, "split.seed");
    (void)br_config_double(cfg, "split.cold_frac");
    br_config_free(cfg);
    close(fd);
    return 0;
}
