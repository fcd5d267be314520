// The baseline of the inflate benchmarks: the same loop as Kamii's Swift inflaters, written as
// plain C calls to zlib and zstd. Measured in the same run, it tells how much the Swift layer costs.
#ifndef KAMII_C_INFLATE_BASELINE_H
#define KAMII_C_INFLATE_BASELINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct kamii_c_inflater kamii_c_inflater;

/// A zlib-stream (kind 0) or zstd-stream (kind 1) inflater with a reusable output buffer.
kamii_c_inflater *kamii_c_inflater_create(int kind, size_t initial_capacity);
void kamii_c_inflater_destroy(kamii_c_inflater *inflater);

/// Resets the stream, then inflates `count` messages in order (zlib-stream: each must end in
/// 00 00 ff ff). Returns the total number of payload bytes, or -1 on any error.
int64_t kamii_c_inflate_all(kamii_c_inflater *inflater, const uint8_t *const *messages,
                            const size_t *lengths, size_t count);

#endif
