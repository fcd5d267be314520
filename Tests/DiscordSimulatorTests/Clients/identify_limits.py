#!/usr/bin/env python3
"""Walks the simulator's identify rules with plain aiohttp WebSockets: the send limit (4008),
identify buckets (op 9 for a second shard of a bucket inside the window), the session start
budget served by /gateway/bot, and the token reset when it runs out. Prints one JSON object.

    python identify_limits.py API_BASE GATEWAY_URL TOKEN
Expects a simulator with max_concurrency 2, a 1.5 s identify window, a session start limit of
4 and a send limit of 10 payloads per window.
"""
import asyncio
import json
import sys

import aiohttp

api, gateway, token = sys.argv[1:4]


async def main():
    out = {}
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": "Bot " + token}

        async def session_start_limit():
            async with http.get(api + "/gateway/bot", headers=headers) as response:
                return (await response.json())["session_start_limit"]

        async def connect():
            ws = await http.ws_connect(gateway + "?v=10&encoding=json", timeout=aiohttp.ClientWSTimeout(ws_close=10))
            hello = await asyncio.wait_for(ws.receive_json(), timeout=5)
            assert hello["op"] == 10
            return ws

        async def outcome(ws):
            # READY, op 9, or the close code.
            while True:
                msg = await asyncio.wait_for(ws.receive(), timeout=5)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    payload = json.loads(msg.data)
                    if payload.get("t") == "READY":
                        return "READY"
                    if payload["op"] == 9:
                        return "op9:" + str(payload["d"]).lower()
                    continue
                return "close:" + str(ws.close_code)

        async def identify(shard):
            ws = await connect()
            await ws.send_json({"op": 2, "d": {"token": token, "intents": 0, "properties": {}, "shard": shard}})
            return ws, await outcome(ws)

        ws = await connect()
        for _ in range(11):
            await ws.send_json({"op": 1, "d": None})
        out["eleven_sends"] = await outcome(ws)

        out["limit_before"] = await session_start_limit()
        a, out["shard_0"] = await identify([0, 4])
        b, out["shard_2_same_bucket"] = await identify([2, 4])
        c, out["shard_1_other_bucket"] = await identify([1, 4])
        await asyncio.sleep(1.6)
        b2, out["shard_2_after_window"] = await identify([2, 4])
        out["limit_after_three"] = await session_start_limit()
        d, out["shard_3"] = await identify([3, 4])
        await asyncio.sleep(1.6)
        e, out["budget_spent"] = await identify([0, 4])
        async with http.get(api + "/users/@me", headers=headers) as response:
            out["rest_after_reset"] = response.status
        # The session that identified first is still open: the reset ends it too.
        out["running_session_after_reset"] = await outcome(a)
        for socket in (ws, a, b, c, b2, d, e):
            await socket.close()
    print(json.dumps(out))


asyncio.run(main())
