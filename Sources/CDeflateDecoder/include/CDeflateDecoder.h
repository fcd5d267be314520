#ifndef KAMII_DEFLATE_DECODER_H
#define KAMII_DEFLATE_DECODER_H

#include <stddef.h>
#include <stdint.h>

/// A decoder of one zlib stream made of sync-flushed payloads — Discord's zlib-stream transport
/// compression — written for its case: many small payloads, each a few dynamic Huffman blocks
/// that reach back into the payloads before it.
///
/// It decodes into an arena that keeps the last 32 KiB of output (the deflate window) right before
/// the payload it writes, so a payload is a slice of the arena: there is no window to copy each
/// payload into, and its Huffman tables are laid out by doubling rather than one entry at a time
/// (docs/PERFORMANCE.md has the figures against zlib). Memory is explicit: the arena starts at
/// `initial_capacity` past the window, grows for an outsized payload up to `max_payload` and is
/// returned to its first size before the next one when it grew past `retained_capacity`.
///
/// Every input is untrusted: any byte sequence gives a payload or an error, never a read or a
/// write outside the input and the arena. The zlib header is checked; the Adler-32 of the stream,
/// only ever compared at its end (which Discord never sends), is not computed.
typedef struct kamii_deflate_decoder kamii_deflate_decoder;

enum {
    KAMII_DEFLATE_OK = 0,
    /// The bytes are not a valid zlib/deflate stream.
    KAMII_DEFLATE_CORRUPT = 1,
    /// The bytes end inside a block (a payload cut short).
    KAMII_DEFLATE_TRUNCATED = 2,
    /// The payload inflates past `max_payload`.
    KAMII_DEFLATE_TOO_LARGE = 3,
    /// The arena could not grow.
    KAMII_DEFLATE_NO_MEMORY = 4,
};

/// Nil when the memory for the arena cannot be had.
kamii_deflate_decoder *kamii_deflate_create(size_t initial_capacity, size_t retained_capacity, size_t max_payload);
void kamii_deflate_destroy(kamii_deflate_decoder *decoder);
/// Forgets the stream: the next payload starts a new one (with its zlib header).
void kamii_deflate_reset(kamii_deflate_decoder *decoder);

/// Decodes one payload from all of its compressed bytes (`length` > 0). On KAMII_DEFLATE_OK,
/// `*payload` and `*payload_length` are the decoded bytes, valid until the next call. Any other
/// result leaves the stream unusable until a reset (every later call is refused with
/// KAMII_DEFLATE_CORRUPT); `*detail` then says what was wrong (a static string). `*ended` is set to 1 when the payload's last block was marked final (the stream ended:
/// nothing may follow it).
int kamii_deflate_payload(
    kamii_deflate_decoder *decoder, const uint8_t *input, size_t length, const uint8_t **payload, size_t *payload_length,
    int *ended, const char **detail);

/// The arena's size now (history, payload room and slack), for tests of the shrink-back rule.
size_t kamii_deflate_capacity(const kamii_deflate_decoder *decoder);
/// The arena's start, for tests that payloads are decoded in place.
const uint8_t *kamii_deflate_arena(const kamii_deflate_decoder *decoder);

#endif
