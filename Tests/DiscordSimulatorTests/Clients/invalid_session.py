#!/usr/bin/env python3
"""Drives the simulator's gateway with raw aiohttp WebSockets through an op 9 (the test injects
one into each identified connection) and prints, as one JSON object, what followed:

- after_invalid_session: the close code a presence update got on the invalidated connection;
- identified_again: whether an identify on the invalidated connection got a READY of a new session;
- ready_version_9: READY's `v` on a `v=9` connection.

    python invalid_session.py GATEWAY_URL TOKEN
"""
import asyncio
import json
import sys

import aiohttp

gateway, token = sys.argv[1:3]
IDENTIFY = {"op": 2, "d": {"token": token, "intents": 513, "properties": {"os": "linux", "browser": "test", "device": "test"}}}
PRESENCE = {"op": 3, "d": {"status": "online", "since": None, "activities": [], "afk": False}}


async def receive_until(ws, wanted):
    """Payloads until one `wanted` accepts (returned), or the close code if the server closes first."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout=20)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code
        payload = json.loads(msg.data)
        if wanted(payload):
            return payload


async def identified(session, query="?v=10&encoding=json"):
    ws = await session.ws_connect(gateway + query, timeout=aiohttp.ClientWSTimeout(ws_close=10))
    hello = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert hello["op"] == 10, hello
    await ws.send_json(IDENTIFY)
    ready = await receive_until(ws, lambda p: p["t"] == "READY")
    assert isinstance(ready, dict), ready
    return ws, ready


async def main():
    results = {}
    async with aiohttp.ClientSession() as session:
        # The test injects op 9 once this connection is identified.
        ws, _ = await identified(session)
        assert (await receive_until(ws, lambda p: p["op"] == 9))["d"] is False
        await ws.send_json(PRESENCE)
        results["after_invalid_session"] = await receive_until(ws, lambda p: False)
        await ws.close()

        # And once more into this one, which identifies again on the same connection.
        ws, first = await identified(session)
        assert (await receive_until(ws, lambda p: p["op"] == 9))["d"] is False
        await ws.send_json(IDENTIFY)
        again = await receive_until(ws, lambda p: p["t"] == "READY")
        results["identified_again"] = isinstance(again, dict) and again["d"]["session_id"] != first["d"]["session_id"]
        await ws.close(code=1000)

        ws, ready = await identified(session, "?v=9&encoding=json")
        results["ready_version_9"] = ready["d"]["v"]
        await ws.close(code=1000)
    print(json.dumps(results))


asyncio.run(main())
