/* Names and messages of the BR_E* codes, generated from BR_ERRNO_MAP. */
#include "bookrec/error.h"

const char *br_err_name(int err)
{
    switch (err) {
#define BR__ERR_NAME(name, val, msg)                                           \
    case BR_##name:                                                            \
        return "BR_" #name;
        BR_ERRNO_MAP(BR__ERR_NAME)
#undef BR__ERR_NAME
    case 0:
        return "OK";
    }
    return "BR_UNKNOWN";
}

const char *br_strerror(int err)
{
    switch (err) {
#define BR__ERR_MSG(name, val, msg)                                            \
    case BR_##name:                                                            \
        return msg;
        BR_ERRNO_MAP(BR__ERR_MSG)
#undef BR__ERR_MSG
    case 0:
        return "success";
    }
    return "unknown error";
}
