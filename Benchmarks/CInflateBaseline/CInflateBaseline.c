#include "CInflateBaseline.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

struct kamii_c_inflater {
    int kind;
    z_stream zlib;
    ZSTD_DCtx *zstd;
    uint8_t *output;
    size_t capacity;
};

kamii_c_inflater *kamii_c_inflater_create(int kind, size_t initial_capacity) {
    kamii_c_inflater *inflater = calloc(1, sizeof(kamii_c_inflater));
    if (!inflater) return NULL;
    inflater->kind = kind;
    inflater->capacity = initial_capacity;
    inflater->output = malloc(initial_capacity);
    if (kind == 0) {
        if (inflateInit(&inflater->zlib) != Z_OK) return NULL;
        /* As ZlibStreamInflater: no Adler-32 of a stream whose end never comes. */
        inflateValidate(&inflater->zlib, 0);
    } else {
        inflater->zstd = ZSTD_createDCtx();
    }
    return inflater;
}

void kamii_c_inflater_destroy(kamii_c_inflater *inflater) {
    if (inflater->kind == 0) inflateEnd(&inflater->zlib); else ZSTD_freeDCtx(inflater->zstd);
    free(inflater->output);
    free(inflater);
}

static int grow(kamii_c_inflater *inflater) {
    uint8_t *bigger = realloc(inflater->output, inflater->capacity * 2);
    if (!bigger) return 0;
    inflater->output = bigger;
    inflater->capacity *= 2;
    return 1;
}

static int64_t inflate_zlib(kamii_c_inflater *inflater, const uint8_t *message, size_t length) {
    static const uint8_t suffix[4] = {0x00, 0x00, 0xff, 0xff};
    if (length < 4 || memcmp(message + length - 4, suffix, 4) != 0) return -1;
    z_stream *stream = &inflater->zlib;
    stream->next_in = (Bytef *)message;
    stream->avail_in = (uInt)length;
    size_t produced = 0;
    for (;;) {
        stream->next_out = inflater->output + produced;
        stream->avail_out = (uInt)(inflater->capacity - produced);
        int status = inflate(stream, Z_SYNC_FLUSH);
        produced = inflater->capacity - stream->avail_out;
        if (status != Z_OK && status != Z_BUF_ERROR) return -1;
        if (stream->avail_out == 0) {
            if (!grow(inflater)) return -1;
            continue;
        }
        return (int64_t)produced;
    }
}

static int64_t inflate_zstd(kamii_c_inflater *inflater, const uint8_t *message, size_t length) {
    ZSTD_inBuffer input = {message, length, 0};
    size_t produced = 0;
    for (;;) {
        ZSTD_outBuffer output = {inflater->output + produced, inflater->capacity - produced, 0};
        size_t hint = ZSTD_decompressStream(inflater->zstd, &output, &input);
        if (ZSTD_isError(hint)) return -1;
        produced += output.pos;
        if (output.pos == output.size) {
            if (!grow(inflater)) return -1;
            continue;
        }
        if (input.pos == input.size) return (int64_t)produced;
    }
}

int64_t kamii_c_inflate_all(kamii_c_inflater *inflater, const uint8_t *const *messages,
                            const size_t *lengths, size_t count) {
    if (inflater->kind == 0) {
        inflateReset(&inflater->zlib);
        inflateValidate(&inflater->zlib, 0);
    } else {
        ZSTD_DCtx_reset(inflater->zstd, ZSTD_reset_session_only);
    }
    int64_t total = 0;
    for (size_t index = 0; index < count; index++) {
        int64_t produced = inflater->kind == 0 ? inflate_zlib(inflater, messages[index], lengths[index])
                                               : inflate_zstd(inflater, messages[index], lengths[index]);
        if (produced < 0) return -1;
        total += produced;
    }
    return total;
}
