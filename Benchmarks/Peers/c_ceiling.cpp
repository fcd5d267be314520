// The "C limit" on a Kamii capture, measured in the same run as Kamii and discord.py:
// inflate (zlib or zstd, as the gateway streams them) + simdjson's On-Demand reader + an XP update,
// written the plain way in C++ with no framework around it. It is the ceiling the hot-path targets
// are read against, not a peer: no actors, no ordering guarantees, no batches for Redis.
//
// Per payload: the envelope's `t` (and `op`, `s`); for MESSAGE_CREATE, one pass over `d`'s members
// in whatever order they come (id, channel_id, guild_id, type, webhook_id, author.id/bot,
// member.roles counted), then the MEE6 rule (15-25 XP, once per 60 s per member per guild, bots
// and webhooks ignored) against a hash map per guild; for reactions and member events the ids
// Kamii reads; every other event stops at `t`.
//
// Prints one JSON line: payloads, the median pass's CPU seconds and payloads per CPU-second for
// inflate alone and for the whole, and the ratio of the two.
//
// Build: g++ -O3 -march=native -std=c++17 c_ceiling.cpp -lsimdjson -lzstd -lz (On-Demand picks its
// SIMD kernel at compile time: without -march it is the scalar fallback)
// Usage: c_ceiling CAPTURE zlib-stream|zstd-stream [PASSES]
#include <simdjson.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>


namespace {

struct Frame { size_t offset, length; };

double cpu_seconds() {
    timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

class Inflater {
public:
    explicit Inflater(bool zstd) : zstd_(zstd), output_(1 << 20) {}
    ~Inflater() { close(); }

    void reset() {
        close();
        if (zstd_) {
            dctx_ = ZSTD_createDCtx();
        } else {
            std::memset(&stream_, 0, sizeof stream_);
            inflateInit(&stream_);
            inflateValidate(&stream_, 0);  // as Kamii and the C inflate baseline: no Adler-32
            open_ = true;
        }
    }

    // The payload of one frame (a whole message: the captures hold one per frame), or size 0.
    std::string_view inflate(const uint8_t *frame, size_t length) {
        size_t produced = 0;
        if (zstd_) {
            ZSTD_inBuffer in{frame, length, 0};
            for (;;) {
                ZSTD_outBuffer out{output_.data(), output_.size() - simdjson::SIMDJSON_PADDING, produced};
                size_t status = ZSTD_decompressStream(dctx_, &out, &in);
                if (ZSTD_isError(status)) return {};
                produced = out.pos;
                if (in.pos == in.size && out.pos < out.size) break;
                if (out.pos == out.size) output_.resize(output_.size() * 2);
            }
        } else {
            stream_.next_in = const_cast<Bytef *>(frame);
            stream_.avail_in = static_cast<uInt>(length);
            for (;;) {
                stream_.next_out = output_.data() + produced;
                stream_.avail_out = static_cast<uInt>(output_.size() - simdjson::SIMDJSON_PADDING - produced);
                int status = ::inflate(&stream_, Z_SYNC_FLUSH);
                produced = output_.size() - simdjson::SIMDJSON_PADDING - stream_.avail_out;
                if (status != Z_OK && status != Z_BUF_ERROR) return {};
                if (stream_.avail_in == 0 && stream_.avail_out > 0) break;
                if (stream_.avail_out == 0) output_.resize(output_.size() * 2);
            }
        }
        return {reinterpret_cast<const char *>(output_.data()), produced};
    }

    size_t capacity() const { return output_.size(); }

private:
    void close() {
        if (dctx_) ZSTD_freeDCtx(dctx_);
        dctx_ = nullptr;
        if (open_) inflateEnd(&stream_);
        open_ = false;
    }

    bool zstd_;
    ZSTD_DCtx *dctx_ = nullptr;
    z_stream stream_{};
    bool open_ = false;
    std::vector<uint8_t> output_;
};

uint64_t snowflake(simdjson::ondemand::value value) {
    std::string_view text;
    if (value.get_string().get(text)) return 0;
    uint64_t result = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return 0;
        result = result * 10 + uint64_t(c - '0');
    }
    return result;
}

struct Guild {
    std::unordered_map<uint64_t, uint64_t> last_xp;  // member -> ms of their last XP
    std::unordered_map<uint64_t, int64_t> xp;
};

struct Totals { uint64_t payloads = 0, messages = 0, grants = 0, xp = 0, other = 0; };

void message_create(simdjson::ondemand::object d, std::unordered_map<uint64_t, Guild> &guilds, Totals &totals) {
    uint64_t id = 0, channel = 0, guild = 0, author = 0, roles = 0;
    int64_t type = 0;
    bool bot = false, webhook = false;
    for (auto field : d) {
        std::string_view key = field.unescaped_key().value_unsafe();
        simdjson::ondemand::value value = field.value().value_unsafe();
        if (key == "id") id = snowflake(value);
        else if (key == "channel_id") channel = snowflake(value);
        else if (key == "guild_id") guild = snowflake(value);
        else if (key == "type") { if (value.get_int64().get(type)) type = -1; }
        else if (key == "webhook_id") webhook = !value.is_null();
        else if (key == "author") {
            simdjson::ondemand::object user;
            if (value.get_object().get(user)) continue;
            for (auto member : user) {
                std::string_view name = member.unescaped_key().value_unsafe();
                if (name == "id") author = snowflake(member.value().value_unsafe());
                else if (name == "bot") { bool flag = false; if (!member.value().get_bool().get(flag)) bot = flag; }
            }
        } else if (key == "member") {
            simdjson::ondemand::object member;
            if (value.get_object().get(member)) continue;
            for (auto entry : member) {
                if (entry.unescaped_key().value_unsafe() != "roles") continue;
                simdjson::ondemand::array list;
                if (entry.value().get_array().get(list)) continue;
                for (auto role : list) { if (snowflake(role.value_unsafe())) roles++; }
            }
        }
    }
    totals.messages++;
    totals.other += roles;
    if (!id || !channel || !guild || !author || bot || webhook || (type != 0 && type != 19)) return;
    uint64_t time = (id >> 22) + 1420070400000ULL;
    Guild &state = guilds[guild];
    auto [last, fresh] = state.last_xp.try_emplace(author, time);
    if (!fresh) {
        if (time < last->second + 60000) return;
        last->second = time;
    }
    int64_t grant = 15 + int64_t((id * 0x9E3779B97F4A7C15ULL) >> 32) % 11;
    state.xp[author] += grant;
    totals.grants++;
    totals.xp += uint64_t(grant);
}

void ids(simdjson::ondemand::object d, Totals &totals) {
    for (auto field : d) {
        std::string_view key = field.unescaped_key().value_unsafe();
        simdjson::ondemand::value value = field.value().value_unsafe();
        if (key == "user_id" || key == "message_id" || key == "guild_id") totals.other += snowflake(value) & 1;
        else if (key == "user") {
            simdjson::ondemand::object user;
            if (value.get_object().get(user)) continue;
            for (auto member : user) {
                if (member.unescaped_key().value_unsafe() == "id") totals.other += snowflake(member.value().value_unsafe()) & 1;
            }
        }
    }
}

Totals pass(const std::vector<uint8_t> &capture, const std::vector<Frame> &frames, Inflater &inflater, bool decode) {
    inflater.reset();
    simdjson::ondemand::parser parser;
    std::unordered_map<uint64_t, Guild> guilds;
    Totals totals;
    for (const Frame &frame : frames) {
        std::string_view payload = inflater.inflate(capture.data() + frame.offset, frame.length);
        if (payload.empty()) continue;
        totals.payloads++;
        if (!decode) continue;
        simdjson::ondemand::document doc;
        if (parser.iterate(payload.data(), payload.size(), inflater.capacity()).get(doc)) continue;
        simdjson::ondemand::object envelope;
        if (doc.get_object().get(envelope)) continue;
        std::string_view event;
        simdjson::ondemand::object d;
        for (auto field : envelope) {
            std::string_view key = field.unescaped_key().value_unsafe();
            simdjson::ondemand::value value = field.value().value_unsafe();
            if (key == "t") { if (value.get_string().get(event)) event = {}; }
            else if (key == "d") {
                // Discord sends `t` before `d` (and so does the simulator); this ceiling does not
                // handle the other order.
                if (event.empty() || value.get_object().get(d)) break;
                if (event == "MESSAGE_CREATE") message_create(d, guilds, totals);
                else if (event.rfind("MESSAGE_REACTION_", 0) == 0 || event.rfind("GUILD_MEMBER_", 0) == 0) ids(d, totals);
                break;
            }
        }
    }
    return totals;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s CAPTURE zlib-stream|zstd-stream [PASSES]\n", argv[0]);
        return 2;
    }
    bool zstd = std::string(argv[2]) == "zstd-stream";
    int passes = argc > 3 ? std::atoi(argv[3]) : 5;
    FILE *file = std::fopen(argv[1], "rb");
    if (!file) { std::perror(argv[1]); return 1; }
    std::vector<uint8_t> capture;
    uint8_t chunk[1 << 16];
    for (size_t read; (read = std::fread(chunk, 1, sizeof chunk, file)) > 0;) capture.insert(capture.end(), chunk, chunk + read);
    std::fclose(file);
    std::vector<Frame> frames;
    for (size_t offset = 0; offset + 4 <= capture.size();) {
        uint32_t length;
        std::memcpy(&length, capture.data() + offset, 4);
        frames.push_back({offset + 4, length});
        offset += 4 + length;
    }
    Inflater inflater(zstd);
    std::vector<double> inflateOnly, whole;
    Totals totals;
    for (int p = 0; p < passes; p++) {
        double start = cpu_seconds();
        pass(capture, frames, inflater, false);
        inflateOnly.push_back(cpu_seconds() - start);
        start = cpu_seconds();
        totals = pass(capture, frames, inflater, true);
        whole.push_back(cpu_seconds() - start);
    }
    std::sort(inflateOnly.begin(), inflateOnly.end());
    std::sort(whole.begin(), whole.end());
    double alone = inflateOnly[inflateOnly.size() / 2], all = whole[whole.size() / 2];
    // The version's parts, not SIMDJSON_VERSION: a bare 3.0.1 in Debian 12, a quoted string since 3.1.
    std::printf("{\"library\": \"C++ ceiling (%s + simdjson %d.%d.%d On-Demand + XP)\", \"compression\": \"%s\", \"payloads\": %llu, "
                "\"messages\": %llu, \"grants\": %llu, \"inflate_payloads_per_cpu_second\": %.0f, "
                "\"payloads_per_cpu_second\": %.0f, \"vs_inflate\": %.3f}\n",
                zstd ? "zstd" : "zlib", int(simdjson::SIMDJSON_VERSION_MAJOR), int(simdjson::SIMDJSON_VERSION_MINOR),
                int(simdjson::SIMDJSON_VERSION_REVISION), argv[2], (unsigned long long)totals.payloads,
                (unsigned long long)totals.messages, (unsigned long long)totals.grants, totals.payloads / alone,
                totals.payloads / all, alone / all);
    return 0;
}
