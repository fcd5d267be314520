// The decoding tables of deflate's Huffman codes, shared by the decoder's files (not public).
#ifndef KAMII_DEFLATE_TABLES_H
#define KAMII_DEFLATE_TABLES_H

#include <stdint.h>

// A decoding table entry: value << 16 | extra bits << 8 | kind << 5 | code length. For a link to
// a subtable: value is the subtable's offset and "extra bits" its index width.
enum { KIND_LITERAL = 0, KIND_LENGTH = 1, KIND_END = 2, KIND_LINK = 3, KIND_INVALID = 4 };
enum { ALPHABET_LITLEN = 0, ALPHABET_DISTANCE = 1, ALPHABET_CODE_LENGTHS = 2 };

static inline uint32_t make_entry(uint32_t value, uint32_t extra, uint32_t kind, uint32_t length) {
    return value << 16 | extra << 8 | kind << 5 | length;
}
static inline unsigned entry_length(uint32_t entry) { return entry & 31u; }
static inline unsigned entry_kind(uint32_t entry) { return (entry >> 5) & 7u; }
static inline unsigned entry_extra(uint32_t entry) { return (entry >> 8) & 31u; }
static inline unsigned entry_value(uint32_t entry) { return entry >> 16; }

static inline uint32_t reverse_bits(uint32_t code, unsigned length) {
    // Deflate sends Huffman codes most significant bit first into a least-significant-first stream.
    uint32_t reversed = 0;
    for (unsigned bit = 0; bit < length; bit++) {
        reversed = reversed << 1 | (code & 1u);
        code >>= 1;
    }
    return reversed;
}

/// Builds the decoding table of a canonical Huffman code from its code lengths (see the .c file);
/// -1 for a code that is over-subscribed, or incomplete with a code past the root.
int kamii_deflate_build_table(uint32_t *table, const uint8_t *lengths, unsigned count_of_symbols, unsigned root, int alphabet);

#endif
