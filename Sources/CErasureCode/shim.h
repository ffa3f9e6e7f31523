// liberasurecode. Wrapped only by GranaryErasure.
// erasurecode.h pulls in a config header that defines _GNU_SOURCE; include the system headers
// that depend on it first, or a clean build fails on fd_set (see PLATFORM.md).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/select.h>
#include <syslog.h>
#include <malloc.h>  // mallopt: keep liberasurecode's per-call fragment allocations on the heap
#include <erasurecode.h>
#include <erasurecode_version.h>

// Benchmark baseline: liberasurecode driven from C, so `granary bench ec` can compare the Swift
// codec with what a C caller gets from the same descriptor. The loops and the clock live here,
// not in Swift, so nothing Swift adds is inside the measured time.
#include <string.h>
#include <time.h>

static inline int64_t granary_bench_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_nsec;
}

// Encodes `data` `iterations` times, releasing every result as a caller that is done with its
// fragments would. Returns the elapsed nanoseconds, or liberasurecode's (negative) error.
static inline int64_t granary_bench_encode(int desc, const char *data, uint64_t len, int iterations) {
    int64_t start = granary_bench_now_ns();
    for (int i = 0; i < iterations; i++) {
        char **data_frags = NULL;
        char **parity_frags = NULL;
        uint64_t frag_len = 0;
        int rc = liberasurecode_encode(desc, data, len, &data_frags, &parity_frags, &frag_len);
        if (rc != 0) return rc < 0 ? rc : -rc;
        liberasurecode_encode_cleanup(desc, data_frags, parity_frags);
    }
    return granary_bench_now_ns() - start;
}

// Decodes the original data from `count` whole fragments `iterations` times, releasing every
// result. Returns the elapsed nanoseconds, or liberasurecode's (negative) error.
static inline int64_t granary_bench_decode(int desc, char **fragments, int count, uint64_t frag_len, int iterations) {
    int64_t start = granary_bench_now_ns();
    for (int i = 0; i < iterations; i++) {
        char *out = NULL;
        uint64_t out_len = 0;
        int rc = liberasurecode_decode(desc, fragments, count, frag_len, 0, &out, &out_len);
        if (rc != 0) return rc < 0 ? rc : -rc;
        liberasurecode_decode_cleanup(desc, out);
    }
    return granary_bench_now_ns() - start;
}

// As granary_bench_decode, but each result is copied into the caller's `out` (`out_len` bytes)
// before it is released: what a C caller that wants the data in its own buffer does.
static inline int64_t granary_bench_decode_into(int desc, char **fragments, int count, uint64_t frag_len,
                                                char *out, uint64_t out_len, int iterations) {
    int64_t start = granary_bench_now_ns();
    for (int i = 0; i < iterations; i++) {
        char *decoded = NULL;
        uint64_t decoded_len = 0;
        int rc = liberasurecode_decode(desc, fragments, count, frag_len, 0, &decoded, &decoded_len);
        if (rc != 0) return rc < 0 ? rc : -rc;
        if (decoded_len != out_len) {
            liberasurecode_decode_cleanup(desc, decoded);
            return -EINVALIDPARAMS;
        }
        memcpy(out, decoded, out_len);
        liberasurecode_decode_cleanup(desc, decoded);
    }
    return granary_bench_now_ns() - start;
}

// Decodes once, exactly as the timed loop does, and compares with `expected`, so a baseline that
// decodes wrongly cannot look fast. Returns 1 when equal, 0 when not, or liberasurecode's error.
static inline int granary_bench_decode_matches(int desc, char **fragments, int count, uint64_t frag_len,
                                               const char *expected, uint64_t expected_len) {
    char *out = NULL;
    uint64_t out_len = 0;
    int rc = liberasurecode_decode(desc, fragments, count, frag_len, 0, &out, &out_len);
    if (rc != 0) return rc < 0 ? rc : -rc;
    int same = out_len == expected_len && (expected_len == 0 || memcmp(out, expected, expected_len) == 0);
    liberasurecode_decode_cleanup(desc, out);
    return same;
}
