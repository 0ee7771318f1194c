/* HNSW files (see hnsw.h; the format is documented in docs/indexes.md): save, open by mmap,
 * validate, accessors.
 *
 * Design decisions:
 * 1. The file is the in-memory layout: a 256-byte header, then six 64-byte aligned sections
 *    (vectors, level-0 links, levels, upper-list index, upper links, labels) at offsets that
 *    must equal the canonical layout computed from the sizes. A mapped file is used in
 *    place; no section is copied or rebuilt.
 * 2. Everything is validated before a pointer is handed out, cheapest first: magic, format
 *    version, byte order, file length, XXH64 checksum, header fields, layout, then every
 *    level, link and label (a link to a node absent from that level would send a search
 *    out of bounds). A failure names the first thing that is wrong.
 * 3. The map is populated at open (MAP_POPULATE): validation reads every page anyway, and
 *    one populate call is cheaper than ten thousand page faults.
 * 4. Saving is write-temp, fsync, rename, fsync the directory, so a reader sees the old
 *    file or the new one, never a torn one. */
#include "bookrec/error.h"
#include "bookrec/fsutil.h"
#include "hnsw_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

_Static_assert(sizeof(br__hnsw_header) == BR__HNSW_HEADER_SIZE, "header is 256 bytes");

void br_hnsw_free(br_hnsw *h)
{
    if (!h)
        return;
    br__pool_free(h->pool);
    if (h->map)
        munmap(h->map, h->map_len);
    free(h->block);
    free(h);
}

/* XXH64 of header (with its checksum field read as zero) followed by the body. */
static uint64_t image_checksum(const br__hnsw_header *hdr, const void *body, size_t body_len)
{
    br__hnsw_header copy = *hdr;
    copy.checksum = 0;
    XXH64_state_t *st = XXH64_createState();
    if (!st) /* a checksum that cannot be computed cannot match */
        return ~hdr->checksum;
    XXH64_reset(st, 0);
    XXH64_update(st, &copy, sizeof copy);
    XXH64_update(st, body, body_len);
    uint64_t d = XXH64_digest(st);
    XXH64_freeState(st);
    return d;
}

static size_t dim_pad_of(uint64_t dim, uint32_t metric)
{
    uint64_t d = dim + (metric == BR_HNSW_IP_AUGMENTED);
    return (size_t)((d + BR__HNSW_PAD - 1) / BR__HNSW_PAD * BR__HNSW_PAD);
}

/* Checks the structure in buf and points h into it (decision 2). */
static int validate(const void *buf, size_t len, char *err, size_t errcap, br_hnsw *h)
{
    const char *b = buf;
    if ((uintptr_t)buf % 8)
        return br_errf(err, errcap, BR_EINVAL, "buffer is not 8-byte aligned");
    if (len < 8 || memcmp(b, BR__HNSW_MAGIC, 8) != 0)
        return br_errf(err, errcap, BR_EFORMAT, "not an HNSW index (bad magic)");
    if (len < BR__HNSW_HEADER_SIZE)
        return br_errf(err, errcap, BR_ECORRUPT, "truncated: %zu bytes, the header alone is %u",
                       len, BR__HNSW_HEADER_SIZE);
    br__hnsw_header hd;
    memcpy(&hd, b, sizeof hd);
    if (hd.version != BR__HNSW_VERSION)
        return br_errf(err, errcap, BR_EFORMAT, "format version %u, this build reads %u",
                       hd.version, BR__HNSW_VERSION);
    if (hd.endian != BR__HNSW_ENDIAN)
        return br_errf(err, errcap, BR_EFORMAT, "written with another byte order");
    if (hd.header_size != BR__HNSW_HEADER_SIZE)
        return br_errf(err, errcap, BR_ECORRUPT, "header size %u, expected %u", hd.header_size,
                       BR__HNSW_HEADER_SIZE);
    if (hd.file_size != len)
        return br_errf(err, errcap, BR_ECORRUPT, "%s: the header says %llu bytes, there are %zu",
                       hd.file_size > len ? "truncated" : "trailing bytes",
                       (unsigned long long)hd.file_size, len);
    uint64_t sum = image_checksum(&hd, b + BR__HNSW_HEADER_SIZE, len - BR__HNSW_HEADER_SIZE);
    if (sum != hd.checksum)
        return br_errf(err, errcap, BR_ECORRUPT,
                       "checksum mismatch: header 0x%016llx, content 0x%016llx",
                       (unsigned long long)hd.checksum, (unsigned long long)sum);

    /* Fields. The checksum matched, so a bad value means a bad writer: still refuse it. */
    if (hd.metric != BR_HNSW_IP && hd.metric != BR_HNSW_COSINE &&
        hd.metric != BR_HNSW_IP_AUGMENTED)
        return br_errf(err, errcap, BR_ECORRUPT, "unknown metric %u", hd.metric);
    if (hd.n == 0 || hd.n > BR__HNSW_MAX_N || hd.dim == 0 || hd.dim > BR__HNSW_MAX_DIM ||
        hd.dim_pad != dim_pad_of(hd.dim, hd.metric) || hd.M < 2 || hd.M > BR__HNSW_MAX_M ||
        hd.M0 != 2 * hd.M || hd.ef_construction == 0 || hd.ef_construction > BR__HNSW_MAX_EF ||
        hd.max_level > BR__HNSW_MAX_LEVEL || hd.entry >= hd.n ||
        hd.n_upper > hd.n * BR__HNSW_MAX_LEVEL || hd.n_upper >= BR__NO_UPPER ||
        hd.split_dim >= hd.dim)
        return br_errf(err, errcap, BR_ECORRUPT,
                       "bad sizes (n %llu, dim %u/%u, M %u/%u, ef_construction %u, max level "
                       "%u, entry %u, upper lists %llu, split %u)",
                       (unsigned long long)hd.n, hd.dim, hd.dim_pad, hd.M, hd.M0,
                       hd.ef_construction, hd.max_level, hd.entry, (unsigned long long)hd.n_upper,
                       hd.split_dim);
    br__hnsw_layout lay;
    if (br__hnsw_layout_of(hd.n, hd.dim_pad, hd.M, hd.M0, hd.n_upper, &lay) ||
        lay.file_size != hd.file_size || memcmp(lay.off, hd.off, sizeof lay.off) != 0)
        return br_errf(err, errcap, BR_ECORRUPT, "section layout disagrees with the sizes");

    h->metric = hd.metric;
    h->n = (size_t)hd.n;
    h->dim = hd.dim;
    h->dim_pad = hd.dim_pad;
    h->M = hd.M;
    h->M0 = hd.M0;
    h->ef_construction = hd.ef_construction;
    h->max_level = hd.max_level;
    h->entry = hd.entry;
    h->split_dim = hd.split_dim;
    h->seed = hd.seed;
    h->n_upper = (size_t)hd.n_upper;
    /* The sections are read-only when mapped; the casts only share the struct with build. */
    h->vec = (float *)(uintptr_t)(b + lay.off[SEC_VEC]);
    h->links0 = (uint32_t *)(uintptr_t)(b + lay.off[SEC_LINKS0]);
    h->level = (uint8_t *)(uintptr_t)(b + lay.off[SEC_LEVEL]);
    h->upper_idx = (uint32_t *)(uintptr_t)(b + lay.off[SEC_UPPER_IDX]);
    h->upper = (uint32_t *)(uintptr_t)(b + lay.off[SEC_UPPER]);
    h->labels = (int32_t *)(uintptr_t)(b + lay.off[SEC_LABELS]);

    /* Levels and the upper-list index (canonical: running sum of levels). */
    uint64_t at = 0;
    for (size_t i = 0; i < h->n; i++) {
        uint32_t l = h->level[i];
        if (l > h->max_level)
            return br_errf(err, errcap, BR_ECORRUPT, "node %zu: level %u above the top %u", i, l,
                           h->max_level);
        if (h->upper_idx[i] != (l ? (uint32_t)at : BR__NO_UPPER))
            return br_errf(err, errcap, BR_ECORRUPT, "node %zu: bad upper-list index", i);
        at += l;
    }
    if (at != h->n_upper || h->level[h->entry] != h->max_level)
        return br_errf(err, errcap, BR_ECORRUPT,
                       "levels disagree with the header (upper lists, entry point)");
    /* Links: counts within bounds, targets present at that level. */
    for (size_t i = 0; i < h->n; i++) {
        for (uint32_t l = 0; l <= h->level[i]; l++) {
            const uint32_t *lk = br__links(h, (uint32_t)i, l);
            if (lk[0] > (l ? h->M : h->M0))
                return br_errf(err, errcap, BR_ECORRUPT, "node %zu level %u: %u links", i, l,
                               lk[0]);
            for (uint32_t j = 0; j < lk[0]; j++)
                if (lk[1 + j] >= h->n || h->level[lk[1 + j]] < l)
                    return br_errf(err, errcap, BR_ECORRUPT,
                                   "node %zu level %u: link to %u, absent from that level", i, l,
                                   lk[1 + j]);
        }
    }
    for (size_t i = 0; i < h->n; i++)
        /* Below INT32_MAX: label_bound (largest + 1) must fit in an int32. */
        if (h->labels[i] < 0 || h->labels[i] == INT32_MAX ||
            (i > 0 && h->labels[i] <= h->labels[i - 1]))
            return br_errf(err, errcap, BR_ECORRUPT, "labels not increasing at node %zu", i);
    h->label_bound = h->labels[h->n - 1] + 1;
    return 0;
}

static int finish_open(br_hnsw *h, char *err, size_t errcap)
{
    h->dot = br__dot_select();
    h->dot_many = br__dot_many_select();
    if (br__pool_new(h->n, h->dim_pad, h->M0, &h->pool))
        return br_errf(err, errcap, BR_ENOMEM, "out of memory");
    return 0;
}

int br_hnsw_parse(const void *buf, size_t len, char *err, size_t errcap, br_hnsw **out)
{
    if (!buf || !out)
        return br_errf(err, errcap, BR_EINVAL, "NULL argument");
    *out = NULL;
    br_hnsw *h = calloc(1, sizeof *h);
    if (!h)
        return br_errf(err, errcap, BR_ENOMEM, "out of memory");
    int rc = validate(buf, len, err, errcap, h);
    if (!rc)
        rc = finish_open(h, err, errcap);
    if (rc) {
        br_hnsw_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int br_hnsw_open(const char *path, char *err, size_t errcap, br_hnsw **out)
{
    if (!path || !out)
        return br_errf(err, errcap, BR_EINVAL, "NULL argument");
    *out = NULL;
    int rc;
    char why[200] = "";
    br_hnsw *h = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return br_errf(err, errcap, errno == ENOENT ? BR_ENOENT : BR_EIO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = br_errf(err, errcap, BR_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 8) {
        rc = br_errf(err, errcap, S_ISREG(st.st_mode) ? BR_ECORRUPT : BR_EIO, "%s: %s", path,
                     S_ISREG(st.st_mode) ? "truncated (under 8 bytes)" : "not a regular file");
        goto fail;
    }
    rc = BR_ENOMEM;
    if (!(h = calloc(1, sizeof *h)))
        goto fail;
    h->map_len = (size_t)st.st_size;
    h->map = mmap(NULL, h->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (h->map == MAP_FAILED) {
        h->map = NULL;
        rc = br_errf(err, errcap, BR_EIO, "%s: mmap: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    rc = validate(h->map, h->map_len, why, sizeof why, h);
    if (!rc)
        rc = finish_open(h, why, sizeof why);
    if (rc) {
        br_errf(err, errcap, rc, "%s: %s", path, why);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    br_hnsw_free(h);
    return rc;
}

int br_hnsw_save(const br_hnsw *h, const char *path)
{
    if (!h || !path)
        return BR_EINVAL;
    br__hnsw_layout lay;
    int rc = br__hnsw_layout_of(h->n, h->dim_pad, h->M, h->M0, h->n_upper, &lay);
    if (rc)
        return rc;
    const char *image = h->map ? h->map : h->block;
    br__hnsw_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, BR__HNSW_MAGIC, 8);
    hd.version = BR__HNSW_VERSION;
    hd.header_size = BR__HNSW_HEADER_SIZE;
    hd.endian = BR__HNSW_ENDIAN;
    hd.metric = h->metric;
    hd.file_size = lay.file_size;
    hd.n = h->n;
    hd.n_upper = h->n_upper;
    hd.seed = h->seed;
    hd.dim = (uint32_t)h->dim;
    hd.dim_pad = (uint32_t)h->dim_pad;
    hd.M = h->M;
    hd.M0 = h->M0;
    hd.ef_construction = h->ef_construction;
    hd.max_level = h->max_level;
    hd.entry = h->entry;
    hd.split_dim = h->split_dim;
    memcpy(hd.off, lay.off, sizeof hd.off);
    size_t body_len = (size_t)lay.file_size - BR__HNSW_HEADER_SIZE;
    hd.checksum = image_checksum(&hd, image + BR__HNSW_HEADER_SIZE, body_len);

    br_atomic_file af;
    if ((rc = br_atomic_begin(path, &af)))
        return rc;
    rc = br_write_all(af.fd, &hd, sizeof hd);
    if (!rc)
        rc = br_write_all(af.fd, image + BR__HNSW_HEADER_SIZE, body_len);
    return br_atomic_end(&af, rc);
}

size_t br_hnsw_size(const br_hnsw *h)
{
    return h->n;
}

size_t br_hnsw_dim(const br_hnsw *h)
{
    return h->dim;
}

enum br_hnsw_metric br_hnsw_metric_of(const br_hnsw *h)
{
    return (enum br_hnsw_metric)h->metric;
}

int32_t br_hnsw_label_bound(const br_hnsw *h)
{
    return h->label_bound;
}

uint32_t br_hnsw_split_dim(const br_hnsw *h)
{
    return h->split_dim;
}

size_t br_hnsw_memory(const br_hnsw *h)
{
    return h->map ? h->map_len : h->block_len;
}

int br_hnsw_get_vector(const br_hnsw *h, int32_t label, float *out)
{
    if (!h || !out)
        return BR_EINVAL;
    int64_t node = br__hnsw_node_of(h, label);
    if (node < 0)
        return BR_ENOENT;
    memcpy(out, br__vec(h, (uint32_t)node), h->dim * sizeof *out);
    return 0;
}
