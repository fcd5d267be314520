#ifndef KAMII_STRING_SCAN_H
#define KAMII_STRING_SCAN_H

#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

/// A mask of the 16 bytes at `bytes` (bit i for byte i) that end a JSON string's plain run: a
/// quote, a backslash or a control character. The caller guarantees 16 readable bytes. One vector
/// compare per kind of byte: Swift's SIMD types do not reliably lower to these instructions.
static inline uint32_t kamii_string_specials16(const void *bytes) {
#if defined(__SSE2__)
    __m128i vector = _mm_loadu_si128((const __m128i *)bytes);
    __m128i quotes = _mm_cmpeq_epi8(vector, _mm_set1_epi8('"'));
    __m128i backslashes = _mm_cmpeq_epi8(vector, _mm_set1_epi8('\\'));
    // Unsigned "below 0x20": the byte is unchanged by clamping it to at most 0x1F.
    __m128i controls = _mm_cmpeq_epi8(_mm_min_epu8(vector, _mm_set1_epi8(0x1F)), vector);
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quotes, backslashes), controls));
#elif defined(__ARM_NEON)
    uint8x16_t vector = vld1q_u8((const uint8_t *)bytes);
    uint8x16_t special = vorrq_u8(vorrq_u8(vceqq_u8(vector, vdupq_n_u8('"')), vceqq_u8(vector, vdupq_n_u8('\\'))),
                                  vcltq_u8(vector, vdupq_n_u8(0x20)));
    // Narrow each byte's mask to four bits, then keep one bit of each nibble.
    uint64_t nibbles = vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(special), 4)), 0);
    uint32_t mask = 0;
    for (int index = 0; index < 16; index++) mask |= (uint32_t)((nibbles >> (4 * index)) & 1) << index;
    return mask;
#else
    const uint8_t *byte = (const uint8_t *)bytes;
    uint32_t mask = 0;
    for (int index = 0; index < 16; index++) {
        if (byte[index] == '"' || byte[index] == '\\' || byte[index] < 0x20) mask |= 1u << index;
    }
    return mask;
#endif
}

#endif
