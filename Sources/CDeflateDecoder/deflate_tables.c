#include "deflate_tables.h"

#include <string.h>

static const uint16_t length_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t distance_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static inline uint32_t symbol_entry(unsigned symbol, unsigned length, int alphabet) {
    if (alphabet == ALPHABET_LITLEN) {
        if (symbol < 256) return make_entry(symbol, 0, KIND_LITERAL, length);
        if (symbol == 256) return make_entry(0, 0, KIND_END, length);
        if (symbol < 286) return make_entry(length_base[symbol - 257], length_extra[symbol - 257], KIND_LENGTH, length);
        return make_entry(0, 0, KIND_INVALID, length);
    }
    if (alphabet == ALPHABET_DISTANCE) {
        return symbol < 30 ? make_entry(distance_base[symbol], distance_extra[symbol], KIND_LENGTH, length) : make_entry(0, 0, KIND_INVALID, length);
    }
    return make_entry(symbol, 0, KIND_LITERAL, length);
}

/// Builds the decoding table of a canonical Huffman code from its code lengths; -1 for a code
/// that is over-subscribed, or incomplete with a code past the root. Codes no longer than the
/// root are laid out by doubling: with the symbols in canonical order, once the codes of length l
/// are placed the table's first 2^l slots are final, and the next length starts from that table
/// copied after itself — each slot written once, in whole runs.
int kamii_deflate_build_table(uint32_t *table, const uint8_t *lengths, unsigned count_of_symbols, unsigned root, int alphabet) {
    // Four histograms side by side: one would wait on each count it just stored.
    unsigned partial[4][16] = {{0}}, count[16], longest = 0, symbol = 0;
    for (; symbol + 4 <= count_of_symbols; symbol += 4) {
        partial[0][lengths[symbol]]++;
        partial[1][lengths[symbol + 1]]++;
        partial[2][lengths[symbol + 2]]++;
        partial[3][lengths[symbol + 3]]++;
    }
    for (; symbol < count_of_symbols; symbol++) partial[0][lengths[symbol]]++;
    for (unsigned length = 0; length < 16; length++) {
        count[length] = partial[0][length] + partial[1][length] + partial[2][length] + partial[3][length];
        if (length && count[length]) longest = length;
    }
    count[0] = 0;
    int left = 1;
    for (unsigned length = 1; length < 16; length++) {
        left = left * 2 - (int)count[length];
        if (left < 0) return -1;
    }
    const unsigned root_size = 1u << root;
    unsigned next_code[16], code = 0;
    for (unsigned length = 1; length < 16; length++) {
        code = (code + count[length - 1]) << 1;
        next_code[length] = code;
    }
    if (left > 0 || longest == 0) {
        // Incomplete (a distance code of one symbol, or none): the codes placed one by one over
        // invalid entries, which a stream that uses them is refused by.
        if (longest > root) return -1;
        for (unsigned slot = 0; slot < root_size; slot++) table[slot] = make_entry(0, 0, KIND_INVALID, 0);
        for (unsigned s = 0; s < count_of_symbols; s++) {
            unsigned length = lengths[s];
            if (!length) continue;
            uint32_t entry = symbol_entry(s, length, alphabet);
            for (uint32_t slot = reverse_bits(next_code[length]++, length); slot < root_size; slot += 1u << length) table[slot] = entry;
        }
        return 0;
    }
    unsigned sorted[320], end_of_length[17];
    end_of_length[1] = 0;
    for (unsigned length = 1; length < 16; length++) end_of_length[length + 1] = end_of_length[length] + count[length];
    for (unsigned s = 0; s < count_of_symbols; s++) {
        if (lengths[s]) sorted[end_of_length[lengths[s]]++] = s;
    }
    // end_of_length[l] now ends the symbols of length l.
    unsigned index = 0, length = 1;
    while (count[length] == 0) length++;
    uint32_t codeword = 0, size = 1u << (length < root ? length : root);
    while (length <= root) {
        for (unsigned k = 0; k < count[length]; k++) {
            table[codeword] = symbol_entry(sorted[index++], length, alphabet);
            if (codeword == size - 1) {
                // All ones: the last code no longer than the root. The table is copied up to the root.
                for (; length < root; length++) {
                    memcpy(table + size, table, size * sizeof *table);
                    size <<= 1;
                }
                goto longer;
            }
            // The next codeword of this length, in bit-reversed order: add one from the top bit.
            uint32_t bit = 1u << (31 - __builtin_clz(codeword ^ (size - 1)));
            codeword = (codeword & (bit - 1)) | bit;
        }
        do {
            length++;
            if (length <= root) {
                memcpy(table + size, table, size * sizeof *table);
                size <<= 1;
            }
        } while (length <= root && count[length] == 0);
    }
longer:
    if (longest > root) {
        const unsigned sub_bits = longest - root;
        unsigned free_slot = root_size, first_code[16];
        memcpy(first_code, next_code, sizeof first_code);
        // The prefixes of the longer codes were not written by this build: cleared, then linked.
        for (unsigned l = root + 1; l <= longest; l++) {
            for (unsigned k = 0; k < count[l]; k++) table[reverse_bits(first_code[l] + k, l) & (root_size - 1)] = make_entry(0, 0, KIND_INVALID, 0);
        }
        for (unsigned l = root + 1; l <= longest; l++) {
            for (unsigned k = end_of_length[l] - count[l]; k < end_of_length[l]; k++) {
                uint32_t reversed = reverse_bits(next_code[l]++, l), prefix = reversed & (root_size - 1), link = table[prefix];
                if (entry_kind(link) != KIND_LINK) {
                    link = make_entry(free_slot, sub_bits, KIND_LINK, 0);
                    table[prefix] = link;
                    free_slot += 1u << sub_bits;
                }
                uint32_t *sub = table + entry_value(link), entry = symbol_entry(sorted[k], l, alphabet);
                for (uint32_t slot = reversed >> root; slot < (1u << sub_bits); slot += 1u << (l - root)) sub[slot] = entry;
            }
        }
    }
    return 0;
}
