#!/usr/bin/env python3
"""Drives the simulator's gateway with raw aiohttp WebSockets (no Discord library) through each
identify mistake and prints, as one JSON object, the close code each one got.

    python close_codes.py GATEWAY_URL TOKEN
"""
import asyncio
import base64
import json
import os
import struct
import sys
from urllib.parse import urlparse

import aiohttp

gateway, token = sys.argv[1:3]


def identify(**changes):
    d = {"token": token, "intents": 513, "properties": {"os": "linux", "browser": "test", "device": "test"}}
    d.update(changes)
    return {"op": 2, "d": d}


CASES = {
    "bad_token": [identify(token="wrong")],
    "invalid_intents": [identify(intents=1 << 40)],
    "disallowed_intents": [identify(intents=513 | (1 << 8))],
    "bad_shard": [identify(shard=[2, 2])],
    "shard_of_strings": [identify(shard=["0", "2"])],
    "shard_of_booleans": [identify(shard=[False, True])],
    # A whole number: not a fraction (not read as 513), not a boolean.
    "intents_fraction": [identify(intents=513.5)],
    "intents_boolean": [identify(intents=True)],
    "before_identify": [{"op": 3, "d": {"status": "online", "since": None, "activities": [], "afk": False}}],
    "second_identify": [identify(), identify()],
    # "An invalid payload for an opcode" (4001): a presence update whose `d` is not an object, a
    # member request for no guild.
    "presence_not_an_object": [identify(), {"op": 3, "d": 5}],
    "members_of_no_guild": [identify(), {"op": 8, "d": {"query": "", "limit": 0}}],
    "not_json": ["{not json"],
    # Required since v8; Discord answers an identify without them with 4013.
    "no_intents": [{"op": 2, "d": {k: v for k, v in identify()["d"].items() if k != "intents"}}],
    # Payloads over 4,096 bytes: 4002.
    "too_large": [{"op": 1, "d": None, "padding": "x" * 4_100}],
}

# Gateway versions Discord does not serve: Hello, then 4012 (nothing sent).
VERSIONS = {"version_6": "?v=6&encoding=json", "no_version": "?encoding=json"}


async def close_code(session, messages, query="?v=10&encoding=json"):
    async with session.ws_connect(gateway + query, timeout=aiohttp.ClientWSTimeout(ws_close=10)) as ws:
        hello = await asyncio.wait_for(ws.receive_json(), timeout=10)
        assert hello["op"] == 10, hello
        for message in messages:
            await ws.send_str(message if isinstance(message, str) else json.dumps(message))
        while True:
            msg = await asyncio.wait_for(ws.receive(), timeout=10)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return ws.close_code


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(length)


async def raw_frame_closes(frame):
    """Sends `frame` as written (bytes no WebSocket library would send) after Hello; returns the
    close code of the first close frame and how many close frames came before the server hung up."""
    url = urlparse(gateway)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /?v=10&encoding=json HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    opcode, hello = await asyncio.wait_for(read_frame(reader), timeout=10)
    assert opcode == 1 and json.loads(hello)["op"] == 10, hello
    writer.write(frame)
    codes = []
    while True:
        try:
            opcode, data = await asyncio.wait_for(read_frame(reader), timeout=10)
        except asyncio.IncompleteReadError:
            writer.close()
            return codes[0], len(codes)
        if opcode == 8:
            codes.append(struct.unpack("!H", data[:2])[0])


def unmasked_frame():
    """A frame without a mask key (every WebSocket library masks): RFC 6455 has the server close
    the connection with 1002."""
    payload = json.dumps({"op": 1, "d": None}).encode()
    return bytes([0x81, len(payload)]) + payload


def huge_frame_header():
    """The header of a masked text frame of just over 1 MiB (the simulator's frame limit): a payload
    far over Discord's 4,096 bytes, refused from its length alone."""
    return bytes([0x81, 0x80 | 127]) + struct.pack("!Q", (1 << 20) + 1) + os.urandom(4)


async def main():
    async with aiohttp.ClientSession() as session:
        results = {name: await close_code(session, messages) for name, messages in CASES.items()}
        results.update({name: await close_code(session, [], query) for name, query in VERSIONS.items()})
    results["unmasked_frame"], results["unmasked_frame_closes"] = await raw_frame_closes(unmasked_frame())
    results["huge_frame"], results["huge_frame_closes"] = await raw_frame_closes(huge_frame_header())
    print(json.dumps(results))


asyncio.run(main())
