"""discord.py's gateway decode path on a Kamii capture, for the same-run comparison of `ops/bench`.

Replays the capture's frames through exactly what discord.py 2.7 does with each WebSocket message
(`DiscordWebSocket.received_message`): its decompression context (zstd-stream: the zstandard
`decompressobj`; zlib-stream: its zlib context, buffered to the Z_SYNC_FLUSH suffix), `.decode('utf-8')`,
then `utils._from_json` (orjson when installed, else json.loads), then the envelope reads
(`t`, `op`, `d`, `s`). Prints one JSON line: payloads, CPU seconds (median of the passes), payloads
per CPU-second, and which JSON library ran.

Usage: discordpy_decode.py CAPTURE --compress zlib-stream|zstd-stream [--passes N]
"""
import argparse
import json
import struct
import sys
import time
import zlib

from discord import utils


class ZlibContext:
    """discord.py's _ZlibDecompressionContext (defined only when no zstd library is importable)."""

    def __init__(self):
        self.buffer = bytearray()
        self.context = zlib.decompressobj()

    def decompress(self, data):
        self.buffer.extend(data)
        if len(data) < 4 or data[-4:] != b'\x00\x00\xff\xff':
            return None
        msg = self.context.decompress(self.buffer)
        self.buffer = bytearray()
        return msg.decode('utf-8')


def frames(path):
    with open(path, 'rb') as capture:
        data = capture.read()
    offset, out = 0, []
    while offset < len(data):
        (length,) = struct.unpack_from('<I', data, offset)
        out.append(data[offset + 4:offset + 4 + length])
        offset += 4 + length
    return out


def replay(messages, compression):
    context = ZlibContext() if compression == 'zlib-stream' else utils._ZstdDecompressionContext()
    payloads = 0
    for message in messages:
        text = context.decompress(message)
        if text is None:
            continue
        msg = utils._from_json(text)
        event, op, data, seq = msg.get('t'), msg.get('op'), msg.get('d'), msg.get('s')
        payloads += 1
    return payloads


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('capture')
    parser.add_argument('--compress', required=True, choices=['zlib-stream', 'zstd-stream'])
    parser.add_argument('--passes', type=int, default=5)
    args = parser.parse_args()
    messages = frames(args.capture)
    samples = []
    payloads = 0
    for _ in range(args.passes):
        started = time.process_time()
        payloads = replay(messages, args.compress)
        samples.append(time.process_time() - started)
    samples.sort()
    cpu = samples[len(samples) // 2]
    json.dump({
        'library': 'discord.py', 'compression': args.compress, 'payloads': payloads, 'cpu_seconds': cpu,
        'payloads_per_cpu_second': payloads / cpu, 'json': 'orjson' if utils.HAS_ORJSON else 'json',
    }, sys.stdout)
    print()


if __name__ == '__main__':
    main()
