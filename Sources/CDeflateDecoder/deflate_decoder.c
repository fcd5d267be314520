#include "CDeflateDecoder.h"
#include "deflate_tables.h"

#include <stdlib.h>
#include <string.h>

#define WINDOW 32768u
#define LITLEN_ROOT 9u
#define DISTANCE_ROOT 8u
// A subtable per root prefix its codes share, each as wide as the longest code past the root
// needs; a prefix holds at least two codes, so there are at most half the alphabet's.
#define LITLEN_TABLE ((1u << LITLEN_ROOT) + 143u * (1u << (15u - LITLEN_ROOT)))
#define DISTANCE_TABLE ((1u << DISTANCE_ROOT) + 15u * (1u << (15u - DISTANCE_ROOT)))
// A margin allocated past the arena's usable end: every step of the decoding stays within
// `capacity` (the 16-byte match copies included), so nothing should reach it.
#define SLACK 64u
// The most one step of the decoding loop writes: a match of 258 bytes, copied 16 at a time.
#define STEP (258u + 16u)

struct kamii_deflate_decoder {
    uint64_t bits;
    unsigned bit_count;
    const uint8_t *in, *end;
    uint8_t *arena;
    size_t capacity;  // arena bytes that may hold output (SLACK more are allocated)
    size_t pos;       // where the next output byte goes
    size_t start;     // the current payload's first byte
    size_t initial, retained, max_payload;
    size_t room;      // a payload starts after the window is slid down when less is left
    int header_read, ended;
    int failed;       // an error since the last reset: every call is refused until the next
    uint32_t litlen[LITLEN_TABLE];
    uint32_t distance[DISTANCE_TABLE];
    uint32_t fixed_litlen[1u << LITLEN_ROOT];
    uint32_t fixed_distance[1u << DISTANCE_ROOT];
};

static inline void refill(kamii_deflate_decoder *d) {
    if (d->end - d->in >= 8) {
        // Eight bytes at once; the ones past what fits are loaded again next time.
        uint64_t word;
        memcpy(&word, d->in, 8);
        d->bits |= word << d->bit_count;
        d->in += (63 - d->bit_count) >> 3;
        d->bit_count |= 56;
    } else {
        while (d->bit_count <= 56 && d->in < d->end) {
            d->bits |= (uint64_t)*d->in++ << d->bit_count;
            d->bit_count += 8;
        }
    }
}

static inline uint32_t take_bits(kamii_deflate_decoder *d, unsigned count) {
    uint32_t value = (uint32_t)(d->bits & ((1ull << count) - 1));
    d->bits >>= count;
    d->bit_count -= count;
    return value;
}

static inline uint32_t look_up(const uint32_t *table, unsigned root, uint64_t bits) {
    uint32_t entry = table[bits & ((1u << root) - 1)];
    if (entry_kind(entry) == KIND_LINK) entry = table[entry_value(entry) + ((bits >> root) & ((1u << entry_extra(entry)) - 1))];
    return entry;
}

/// Room for `needed` more bytes of the payload: the window slid down to the arena's start (only
/// what a match may still reach: the 32 KiB before the payload, and the payload itself), or the
/// arena grown. KAMII_DEFLATE_TOO_LARGE past the payload limit.
static int make_room(kamii_deflate_decoder *d, size_t needed) {
    size_t written = d->pos - d->start;
    if (written + needed > d->max_payload + STEP) return KAMII_DEFLATE_TOO_LARGE;
    // Everything before `pos` is this stream's output (a reset starts the arena over).
    size_t history = d->start > WINDOW ? WINDOW : d->start;
    size_t keep_from = d->start - history;
    if (keep_from > 0) {
        memmove(d->arena, d->arena + keep_from, d->pos - keep_from);
        d->pos -= keep_from;
        d->start -= keep_from;
    }
    if (d->pos + needed <= d->capacity) return KAMII_DEFLATE_OK;
    // Doubling, but never past what a payload within the limit can need (its window, itself and
    // one step): the limit bounds memory, not only the payload. (max_payload is at most 4 GiB.)
    const size_t ceiling = WINDOW + d->max_payload + STEP;
    size_t capacity = d->capacity;
    while (d->pos + needed > capacity && capacity < ceiling) capacity = capacity > ceiling / 2 ? ceiling : capacity * 2;
    if (d->pos + needed > capacity) return KAMII_DEFLATE_TOO_LARGE;
    uint8_t *arena = realloc(d->arena, capacity + SLACK);
    if (!arena) return KAMII_DEFLATE_NO_MEMORY;
    d->arena = arena;
    d->capacity = capacity;
    return KAMII_DEFLATE_OK;
}

static int decode_codes(kamii_deflate_decoder *d, const uint32_t *litlen, const uint32_t *distance, const char **detail) {
    for (;;) {
        if (d->pos + STEP > d->capacity) {
            int status = make_room(d, STEP);
            if (status) return status;
        }
        uint8_t *const out = d->arena;
        size_t pos = d->pos;
        // Until the arena's end is near: the state in locals.
        const size_t limit = d->capacity - STEP;
        while (pos <= limit) {
            refill(d);
            uint32_t entry = look_up(litlen, LITLEN_ROOT, d->bits);
            unsigned length = entry_length(entry), kind = entry_kind(entry);
            if (kind == KIND_INVALID || length == 0) {
                // Out of input, the bits looked up were padding: the block was cut short.
                if (d->in == d->end && d->bit_count < 15) { *detail = "the payload ends inside a block"; return KAMII_DEFLATE_TRUNCATED; }
                *detail = "invalid literal/length code";
                return KAMII_DEFLATE_CORRUPT;
            }
            if (length > d->bit_count) { d->pos = pos; *detail = "the payload ends inside a block"; return KAMII_DEFLATE_TRUNCATED; }
            d->bits >>= length;
            d->bit_count -= length;
            if (kind == KIND_LITERAL) {
                out[pos++] = (uint8_t)entry_value(entry);
                continue;
            }
            if (kind == KIND_END) {
                d->pos = pos;
                return KAMII_DEFLATE_OK;
            }
            unsigned extra = entry_extra(entry);
            if (extra > d->bit_count) { *detail = "the payload ends inside a block"; return KAMII_DEFLATE_TRUNCATED; }
            size_t match = entry_value(entry) + take_bits(d, extra);
            refill(d);
            entry = look_up(distance, DISTANCE_ROOT, d->bits);
            length = entry_length(entry);
            if (entry_kind(entry) != KIND_LENGTH || length == 0) { d->pos = pos; *detail = "invalid distance code"; return KAMII_DEFLATE_CORRUPT; }
            if (length > d->bit_count) { *detail = "the payload ends inside a block"; return KAMII_DEFLATE_TRUNCATED; }
            d->bits >>= length;
            d->bit_count -= length;
            extra = entry_extra(entry);
            if (extra > d->bit_count) { *detail = "the payload ends inside a block"; return KAMII_DEFLATE_TRUNCATED; }
            size_t back = entry_value(entry) + take_bits(d, extra);
            if (back > pos) { *detail = "a distance reaches before the stream's start"; return KAMII_DEFLATE_CORRUPT; }
            uint8_t *to = out + pos;
            const uint8_t *from = to - back;
            if (back >= 16) {
                // Sixteen at a time; up to 15 bytes past the match land in the slack or are overwritten next.
                for (size_t done = 0; done < match; done += 16) memcpy(to + done, from + done, 16);
            } else if (back == 1) {
                memset(to, from[0], match);
            } else {
                for (size_t done = 0; done < match; done++) to[done] = from[done];
            }
            pos += match;
            if (pos - d->start > d->max_payload) { d->pos = pos; *detail = "the payload passes the size limit"; return KAMII_DEFLATE_TOO_LARGE; }
        }
        d->pos = pos;
        if (pos - d->start > d->max_payload) { *detail = "the payload passes the size limit"; return KAMII_DEFLATE_TOO_LARGE; }
    }
}

static int decode_dynamic(kamii_deflate_decoder *d, const char **detail) {
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    refill(d);
    if (d->bit_count < 14) { *detail = "the payload ends inside a block header"; return KAMII_DEFLATE_TRUNCATED; }
    unsigned literal_codes = take_bits(d, 5) + 257, distance_codes = take_bits(d, 5) + 1, length_codes = take_bits(d, 4) + 4;
    if (literal_codes > 286 || distance_codes > 30) { *detail = "too many length or distance symbols"; return KAMII_DEFLATE_CORRUPT; }
    uint8_t code_length_lengths[19] = {0};
    for (unsigned i = 0; i < length_codes; i++) {
        refill(d);
        if (d->bit_count < 3) { *detail = "the payload ends inside a block header"; return KAMII_DEFLATE_TRUNCATED; }
        code_length_lengths[order[i]] = (uint8_t)take_bits(d, 3);
    }
    uint32_t code_length_table[128];
    if (kamii_deflate_build_table(code_length_table, code_length_lengths, 19, 7, ALPHABET_CODE_LENGTHS)) { *detail = "invalid code lengths set"; return KAMII_DEFLATE_CORRUPT; }
    uint8_t lengths[286 + 30];
    unsigned filled = 0, total = literal_codes + distance_codes;
    while (filled < total) {
        refill(d);
        uint32_t entry = code_length_table[d->bits & 127u];
        unsigned length = entry_length(entry);
        if (entry_kind(entry) == KIND_INVALID || length == 0) { *detail = "invalid code lengths set"; return KAMII_DEFLATE_CORRUPT; }
        if (length > d->bit_count) { *detail = "the payload ends inside a block header"; return KAMII_DEFLATE_TRUNCATED; }
        d->bits >>= length;
        d->bit_count -= length;
        unsigned symbol = entry_value(entry), repeat, extra, base;
        uint8_t value = 0;
        if (symbol < 16) {
            lengths[filled++] = (uint8_t)symbol;
            continue;
        }
        if (symbol == 16) {
            if (filled == 0) { *detail = "a repeat with no length before it"; return KAMII_DEFLATE_CORRUPT; }
            value = lengths[filled - 1];
            extra = 2, base = 3;
        } else if (symbol == 17) {
            extra = 3, base = 3;
        } else {
            extra = 7, base = 11;
        }
        if (extra > d->bit_count) { *detail = "the payload ends inside a block header"; return KAMII_DEFLATE_TRUNCATED; }
        repeat = base + take_bits(d, extra);
        if (filled + repeat > total) { *detail = "too many code lengths"; return KAMII_DEFLATE_CORRUPT; }
        memset(lengths + filled, value, repeat);
        filled += repeat;
    }
    if (lengths[256] == 0) { *detail = "no end-of-block code"; return KAMII_DEFLATE_CORRUPT; }
    if (kamii_deflate_build_table(d->litlen, lengths, literal_codes, LITLEN_ROOT, ALPHABET_LITLEN)) { *detail = "invalid literal/lengths set"; return KAMII_DEFLATE_CORRUPT; }
    if (kamii_deflate_build_table(d->distance, lengths + literal_codes, distance_codes, DISTANCE_ROOT, ALPHABET_DISTANCE)) { *detail = "invalid distances set"; return KAMII_DEFLATE_CORRUPT; }
    return decode_codes(d, d->litlen, d->distance, detail);
}

/// To the byte boundary; whole bytes still in the bit buffer go back to the input (they came from
/// it: the buffer is empty at every payload's start).
static void align_to_byte(kamii_deflate_decoder *d) {
    unsigned drop = d->bit_count & 7u;
    d->bits >>= drop;
    d->bit_count -= drop;
    d->in -= d->bit_count >> 3;
    d->bits = 0;
    d->bit_count = 0;
}

static int decode_stored(kamii_deflate_decoder *d, const char **detail) {
    align_to_byte(d);
    if (d->end - d->in < 4) { *detail = "the payload ends inside a block header"; return KAMII_DEFLATE_TRUNCATED; }
    size_t length = (size_t)d->in[0] | (size_t)d->in[1] << 8, complement = (size_t)d->in[2] | (size_t)d->in[3] << 8;
    if ((length ^ 0xffffu) != complement) { *detail = "invalid stored block lengths"; return KAMII_DEFLATE_CORRUPT; }
    d->in += 4;
    if ((size_t)(d->end - d->in) < length) { *detail = "the payload ends inside a stored block"; return KAMII_DEFLATE_TRUNCATED; }
    if (d->pos + length + STEP > d->capacity) {
        int status = make_room(d, length + STEP);
        if (status) { *detail = status == KAMII_DEFLATE_TOO_LARGE ? "the payload passes the size limit" : "out of memory"; return status; }
    }
    memcpy(d->arena + d->pos, d->in, length);
    d->pos += length;
    d->in += length;
    if (d->pos - d->start > d->max_payload) { *detail = "the payload passes the size limit"; return KAMII_DEFLATE_TOO_LARGE; }
    return KAMII_DEFLATE_OK;
}

static void build_fixed_tables(kamii_deflate_decoder *d) {
    uint8_t lengths[288];
    memset(lengths, 8, 144);
    memset(lengths + 144, 9, 112);
    memset(lengths + 256, 7, 24);
    memset(lengths + 280, 8, 8);
    kamii_deflate_build_table(d->fixed_litlen, lengths, 288, LITLEN_ROOT, ALPHABET_LITLEN);
    memset(lengths, 5, 30);
    // Symbols 30 and 31 have codes too (never valid): the code is complete with them.
    memset(lengths + 30, 5, 2);
    kamii_deflate_build_table(d->fixed_distance, lengths, 32, DISTANCE_ROOT, ALPHABET_DISTANCE);
}

kamii_deflate_decoder *kamii_deflate_create(size_t initial_capacity, size_t retained_capacity, size_t max_payload) {
    kamii_deflate_decoder *d = malloc(sizeof *d);
    if (!d) return NULL;
    d->initial = WINDOW + initial_capacity + STEP;
    d->retained = WINDOW + (retained_capacity > initial_capacity ? retained_capacity : initial_capacity) + STEP;
    d->max_payload = max_payload;
    d->room = initial_capacity / 4 > STEP ? initial_capacity / 4 : STEP;
    d->capacity = d->initial;
    d->arena = malloc(d->capacity + SLACK);
    if (!d->arena) {
        free(d);
        return NULL;
    }
    build_fixed_tables(d);
    kamii_deflate_reset(d);
    return d;
}

void kamii_deflate_destroy(kamii_deflate_decoder *d) {
    if (!d) return;
    free(d->arena);
    free(d);
}

void kamii_deflate_reset(kamii_deflate_decoder *d) {
    d->bits = 0;
    d->bit_count = 0;
    d->in = d->end = NULL;
    d->pos = d->start = 0;
    d->header_read = 0;
    d->ended = 0;
    d->failed = 0;
    if (d->capacity > d->retained) {
        uint8_t *arena = realloc(d->arena, d->initial + SLACK);
        if (arena) {
            d->arena = arena;
            d->capacity = d->initial;
        }
    }
}

size_t kamii_deflate_capacity(const kamii_deflate_decoder *d) { return d->capacity + SLACK; }

const uint8_t *kamii_deflate_arena(const kamii_deflate_decoder *d) { return d->arena; }

static int decode_payload(
    kamii_deflate_decoder *d, const uint8_t *input, size_t length, const uint8_t **payload, size_t *payload_length, int *ended,
    const char **detail) {
    if (d->ended) { *detail = "data after the end of the zlib stream"; return KAMII_DEFLATE_CORRUPT; }
    if (length == 0) { *detail = "an empty payload"; return KAMII_DEFLATE_TRUNCATED; }
    // A payload that decoded ended between blocks with every bit used: nothing carries over.
    d->bits = 0;
    d->bit_count = 0;
    // The window to the arena's start when the room after it runs short, and an arena grown for an
    // outsized payload back to its first size.
    size_t history = d->pos > WINDOW ? WINDOW : d->pos;
    if (d->capacity > d->retained || d->pos + d->room + STEP > d->capacity) {
        size_t keep_from = d->pos - history;
        memmove(d->arena, d->arena + keep_from, history);
        d->pos = history;
        if (d->capacity > d->retained) {
            uint8_t *arena = realloc(d->arena, d->initial + SLACK);
            if (arena) {
                d->arena = arena;
                d->capacity = d->initial;
            }
        }
    }
    d->start = d->pos;
    d->in = input;
    d->end = input + length;
    if (!d->header_read) {
        if (length < 2) { *detail = "the payload ends inside the zlib header"; return KAMII_DEFLATE_TRUNCATED; }
        unsigned cmf = input[0], flg = input[1];
        if ((cmf & 15u) != 8 || (cmf >> 4) > 7) { *detail = "not a deflate stream with a window of at most 32 KiB"; return KAMII_DEFLATE_CORRUPT; }
        if ((cmf << 8 | flg) % 31 != 0) { *detail = "incorrect header check"; return KAMII_DEFLATE_CORRUPT; }
        if (flg & 0x20u) { *detail = "a preset dictionary is asked for"; return KAMII_DEFLATE_CORRUPT; }
        d->in += 2;
        d->header_read = 1;
    }
    for (;;) {
        refill(d);
        // Refilled with whatever input is left: none is. A sync-flushed payload ends there, on a
        // byte boundary, between blocks.
        if (d->bit_count == 0) break;
        if (d->bit_count < 3) {
            *detail = "the payload ends inside a deflate block";
            return KAMII_DEFLATE_TRUNCATED;
        }
        unsigned final = take_bits(d, 1), type = take_bits(d, 2);
        int status;
        if (type == 0) status = decode_stored(d, detail);
        else if (type == 1) status = decode_codes(d, d->fixed_litlen, d->fixed_distance, detail);
        else if (type == 2) status = decode_dynamic(d, detail);
        else { *detail = "invalid block type"; return KAMII_DEFLATE_CORRUPT; }
        if (status) return status;
        if (final) {
            // The stream ended (Discord never ends it): nothing may follow, in this payload or after it.
            d->ended = 1;
            *ended = 1;
            align_to_byte(d);
            // The 4-byte Adler-32 trailer may follow; it is not compared (never computed).
            size_t rest = (size_t)(d->end - d->in);
            if (rest != 0 && rest != 4) { *detail = "data after the end of the zlib stream"; return KAMII_DEFLATE_CORRUPT; }
            break;
        }
    }
    *payload = d->arena + d->start;
    *payload_length = d->pos - d->start;
    return KAMII_DEFLATE_OK;
}

int kamii_deflate_payload(
    kamii_deflate_decoder *d, const uint8_t *input, size_t length, const uint8_t **payload, size_t *payload_length, int *ended,
    const char **detail) {
    *detail = "";
    *ended = 0;
    // The state an error leaves (bits of another input among them) is not decoded on from.
    if (d->failed) { *detail = "an earlier payload failed; reset first"; return KAMII_DEFLATE_CORRUPT; }
    int status = decode_payload(d, input, length, payload, payload_length, ended, detail);
    if (status != KAMII_DEFLATE_OK) d->failed = 1;
    return status;
}
