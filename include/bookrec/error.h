/* Error codes of the bookrec library.
 *
 * Library functions return 0 or a negative BR_E* code; out-parameters go last.
 * The codes come from one X-macro table (as libuv's UV_ERRNO_MAP) that also
 * yields br_err_name() and br_strerror(), so the three can never disagree. */
#ifndef BOOKREC_ERROR_H
#define BOOKREC_ERROR_H

#define BR_ERRNO_MAP(X)                                                    \
    X(ENOMEM, -1, "out of memory")                                         \
    X(EINVAL, -2, "invalid argument")                                      \
    X(EIO, -3, "input/output error")                                       \
    X(ENOENT, -4, "no such file or entity")                                \
    X(ELIMIT, -5, "input exceeds a configured limit")                      \
    X(EFORMAT, -6, "malformed input")                                      \
    X(ESTORE, -7, "database error")                                        \
    X(ECORRUPT, -8, "corrupt or inconsistent data")                        \
    X(EEXIST, -9, "already exists")                                        \
    X(ERANGE, -10, "value out of range")                                   \
    X(EUNSUPPORTED, -11, "not supported")

enum br_errno {
#define BR__ERR_ENUM(name, val, msg) BR_##name = (val),
    BR_ERRNO_MAP(BR__ERR_ENUM)
#undef BR__ERR_ENUM
};

/* Symbolic name ("BR_ENOMEM") of a code; "BR_UNKNOWN" for anything else. */
const char *br_err_name(int err);
/* Human-readable message of a code. */
const char *br_strerror(int err);

#endif
