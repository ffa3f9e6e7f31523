// libfuse3 low-level API. Wrapped only by GranaryFUSE.
#pragma once
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

// libfuse >= 3.17 turns fuse_session_new into a macro Swift cannot import; a static inline
// function keeps the same Swift source building against 3.14 and newer.
static inline struct fuse_session *granary_fuse_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *op, size_t op_size, void *userdata) {
    return fuse_session_new(args, op, op_size, userdata);
}
