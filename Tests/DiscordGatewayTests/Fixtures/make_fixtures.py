#!/usr/bin/env python3
"""Writes the inflater test fixtures: gateway captures compressed by Python's zlib and the
`zstandard` package — streams that Swift did not make — and manifest.json describing every
payload they must inflate to.

zlib-stream: one compressobj per connection, Z_SYNC_FLUSH after each payload (what Discord sends).
zstd-stream: one ZstdCompressor stream per connection, FLUSH_BLOCK after each payload.

A capture is a file of frames, each a little-endian uint32 length followed by that many bytes.
Run from anywhere: `python3 make_fixtures.py [--out DIR]` (needs `pip install zstandard`; writes
next to itself by default). Output is deterministic: ops/test re-runs it into a temp dir and
checks that the committed files are byte for byte what it makes.
"""
import argparse
import json
import os
import random
import struct
import zlib

import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE
EPOCH_MS = 1420070400000


def snowflake(rng, ms):
    return str(((ms - EPOCH_MS) << 22) | rng.randrange(1 << 22))


def dumps(payload):
    # Discord sends compact JSON with raw UTF-8.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def small_payloads(rng, count):
    """A session's opening and its live traffic: Hello, READY, then dispatches and ACKs."""
    guild = snowflake(rng, 1600000000000)
    payloads = [
        {"op": 10, "d": {"heartbeat_interval": 41250, "_trace": ["[\"gateway-prd\"]"]}, "s": None, "t": None},
        {"op": 0, "s": 1, "t": "READY", "d": {
            "v": 10, "session_id": "%032x" % rng.getrandbits(128), "resume_gateway_url": "wss://gateway.discord.gg",
            "user": {"id": snowflake(rng, 1500000000000), "username": "Kamii", "bot": True, "avatar": None},
            "guilds": [{"id": guild, "unavailable": True}], "shard": [0, 1],
            "application": {"id": snowflake(rng, 1500000000000), "flags": 0}}},
    ]
    seq = 2
    emojis = ["\U0001F44D", "\u2B50", "\u2764\ufe0f", "caf\u00e9", "\"quoted\"\\"]
    while len(payloads) < count:
        kind = rng.randrange(10)
        if kind == 0:
            payloads.append({"op": 11, "d": None, "s": None, "t": None})
            continue
        user = {"id": snowflake(rng, 1500000000000 + rng.randrange(10**11)), "username": "user%d" % rng.randrange(10**4),
                "discriminator": "0", "avatar": "%032x" % rng.getrandbits(128) if rng.random() < 0.7 else None}
        if kind <= 7:
            d = {"type": 0, "tts": False, "timestamp": "2026-11-30T03:28:57.123000+00:00", "pinned": False,
                 "mentions": [], "mention_roles": [], "member": {"roles": [snowflake(rng, 1600000000000)],
                 "joined_at": "2025-01-02T03:04:05.000000+00:00", "nick": None}, "id": snowflake(rng, 1790000000000),
                 "content": "" if rng.random() < 0.8 else "h\u00e9llo \\ \"world\" \n" + emojis[rng.randrange(5)],
                 "channel_id": snowflake(rng, 1600000000000), "author": user, "guild_id": guild}
            name = "MESSAGE_CREATE"
        else:
            d = {"user_id": user["id"], "message_id": snowflake(rng, 1790000000000), "channel_id": snowflake(rng, 1600000000000),
                 "emoji": {"name": emojis[rng.randrange(5)], "id": None}, "guild_id": guild}
            name = "MESSAGE_REACTION_ADD"
        payloads.append({"t": name, "s": seq, "op": 0, "d": d})
        seq += 1
    return [dumps(p) for p in payloads]


def large_payload(rng, min_bytes):
    """A GUILD_CREATE of a big guild, at least `min_bytes` long."""
    members = []
    size = 0
    while size < min_bytes:
        member = {"user": {"id": snowflake(rng, 1500000000000 + rng.randrange(10**11)), "username": "member%d" % len(members),
                           "avatar": None, "discriminator": "0"},
                  "roles": [], "joined_at": "2024-05-06T07:08:09.000000+00:00", "deaf": False, "mute": False}
        members.append(member)
        size += len(dumps(member)) + 1
    return dumps({"t": "GUILD_CREATE", "s": 1, "op": 0, "d": {"id": snowflake(rng, 1500000000000), "name": "Big Guild",
                  "member_count": len(members), "large": True, "members": members, "channels": [], "roles": []}})


class ZlibStream:
    def __init__(self):
        self.c = zlib.compressobj()

    def message(self, payload):
        return self.c.compress(payload) + self.c.flush(zlib.Z_SYNC_FLUSH)

    def empty_flush(self):
        # An empty stored block, as a sender that flushes with nothing pending writes it.
        # (Python's flush() returns nothing at all in that case.)
        return b"\x00\x00\x00\xff\xff"


class ZstdStream:
    def __init__(self):
        self.c = zstandard.ZstdCompressor(level=3).compressobj()

    def message(self, payload):
        return self.c.compress(payload) + self.c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def empty_flush(self):
        # An empty raw block that is not the last: the block header alone.
        return b"\x00\x00\x00"


def describe(payload, frame):
    envelope = json.loads(payload)
    return {"frame": frame, "length": len(payload), "crc32": zlib.crc32(payload),
            "op": envelope["op"], "s": envelope.get("s"), "t": envelope.get("t")}


def write_capture(name, compression, frames, payloads, manifest):
    with open(os.path.join(OUT, name), "wb") as f:
        for frame in frames:
            f.write(struct.pack("<I", len(frame)))
            f.write(frame)
    manifest[name] = {"compression": compression, "frames": len(frames), "payloads": payloads}


def one_frame_per_message(stream, payloads):
    frames, described = [], []
    for payload in payloads:
        frames.append(stream.message(payload))
        described.append(describe(payload, len(frames) - 1))
    return frames, described


def main():
    manifest = {}
    for prefix, compression, stream_type in [("zlib", "zlib-stream", ZlibStream), ("zstd", "zstd-stream", ZstdStream)]:
        rng = random.Random(2026 if prefix == "zlib" else 2027)

        # Many small messages, one frame each.
        frames, described = one_frame_per_message(stream_type(), small_payloads(rng, 300))
        write_capture(prefix + "-small.capture", compression, frames, described, manifest)

        # A 1 MB payload between two small ones.
        stream = stream_type()
        payloads = small_payloads(rng, 2)[:1] + [large_payload(rng, 1 << 20)] + small_payloads(rng, 3)[2:]
        frames, described = one_frame_per_message(stream, payloads)
        write_capture(prefix + "-large.capture", compression, frames, described, manifest)

        # Empty frames, and a flush that carries no payload, between real messages.
        stream = stream_type()
        payloads = small_payloads(rng, 4)
        frames, described = [b""], []
        for index, payload in enumerate(payloads):
            frames.append(stream.message(payload))
            described.append(describe(payload, len(frames) - 1))
            frames.append(b"" if index % 2 == 0 else stream.empty_flush())
        write_capture(prefix + "-empty-frames.capture", compression, frames, described, manifest)

    # zlib-stream only: payloads split over many frames, with a split inside the 00 00 ff ff marker.
    rng = random.Random(2028)
    stream = ZlibStream()
    payloads = small_payloads(rng, 40)
    frames, described = [], []
    for index, payload in enumerate(payloads):
        message = stream.message(payload)
        if index % 5 == 3 and len(message) > 12:
            cuts = sorted(set(rng.randrange(1, len(message) - 1) for _ in range(6)) | {len(message) - 1})
            start = 0
            for cut in cuts:
                frames.append(message[start:cut])
                start = cut
            frames.append(message[start:])
        else:
            frames.append(message)
        described.append(describe(payload, len(frames) - 1))
    write_capture("zlib-split.capture", "zlib-stream", frames, described, manifest)

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=HERE, help="directory to write the fixtures to")
    OUT = parser.parse_args().out
    main()
