/* libFuzzer driver for the HNSW index loader (lib/index/hnsw_io.c): the input is an index
 * file. It is loaded three ways: as a buffer (br_hnsw_parse), through a real file and mmap
 * (br_hnsw_open via a memfd), and as a buffer again after its checksum has been recomputed,
 * so that the structural checks behind the checksum are reached too (the fuzzer cannot
 * forge an XXH64). Invariants: a failure always says why; an index that loads answers a
 * search (with exclusions and a filter) with labels it holds, or -1, and never crashes.
 * Seeds: tests/fuzz/corpus/hnsw_load/, written by the unit test hnsw_write_fuzz_seeds. */
#include "../../lib/index/hnsw_internal.h"
#include "bookrec/hnsw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

static void exercise(br_hnsw *h)
{
    size_t dim = br_hnsw_dim(h), bound = (size_t)br_hnsw_label_bound(h);
    float *q = calloc(dim, sizeof *q);
    /* Labels may legally reach INT32_MAX: filter only where the mask is small. */
    uint8_t *allow = bound <= (1u << 16) ? malloc(bound) : NULL;
    if (!q)
        abort();
    for (size_t j = 0; j < dim; j++)
        q[j] = (float)(j % 3) - 1.0f;
    if (allow) {
        memset(allow, 1, bound);
        allow[0] = 0;
    }
    int32_t excl[2] = {1, -5}, ids[8];
    float sc[8];
    br_hnsw_search_opts o = {.ef = 16, .exclude = excl, .n_exclude = 2, .allow = allow};
    if (br_hnsw_search(h, q, 8, &o, ids, sc) != 0)
        abort();
    for (int i = 0; i < 8; i++)
        if (ids[i] < -1 || ids[i] >= br_hnsw_label_bound(h) || (allow && ids[i] == 0) ||
            ids[i] == 1)
            abort();
    (void)br_hnsw_get_vector(h, ids[0] >= 0 ? ids[0] : 0, q);
    free(q);
    free(allow);
}

static void load_buffer(const uint8_t *data, size_t size)
{
    char err[256] = "";
    br_hnsw *h = NULL;
    int rc = br_hnsw_parse(data, size, err, sizeof err, &h);
    if (rc != 0 && (err[0] == 0 || h != NULL))
        abort(); /* every failure must say why, and hand out nothing */
    if (rc == 0) {
        exercise(h);
        br_hnsw_free(h);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An 8-aligned private copy: the loader requires the alignment the mapping gives. */
    uint8_t *buf = aligned_alloc(64, size / 64 * 64 + 64);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    load_buffer(buf, size);

    int fd = memfd_create("fuzz_hnsw", 0);
    if (fd >= 0) {
        char path[64], err[256] = "";
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        br_hnsw *h = NULL;
        if (write(fd, buf, size) == (ssize_t)size) {
            int rc = br_hnsw_open(path, err, sizeof err, &h);
            if (rc != 0 && err[0] == 0)
                abort();
            if (rc == 0) {
                exercise(h);
                br_hnsw_free(h);
            }
        }
        close(fd);
    }

    if (size >= sizeof(br__hnsw_header)) {
        br__hnsw_header *hd = (br__hnsw_header *)buf;
        hd->checksum = 0;
        hd->checksum = XXH64(buf, size, 0);
        load_buffer(buf, size);
    }
    free(buf);
    return 0;
}
