#!/usr/bin/env python3
"""A client that stops heartbeating, and one that keeps at it, against a simulator whose
heartbeat interval is short; prints one JSON object of what happened.

    python zombie.py GATEWAY_URL TOKEN INTERVAL_MS
"""
import asyncio
import json
import sys

import aiohttp

gateway, token, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000


async def main():
    out = {}
    async with aiohttp.ClientSession() as http:
        async def connect():
            ws = await http.ws_connect(gateway + "?v=10&encoding=json", timeout=aiohttp.ClientWSTimeout(ws_close=10))
            hello = await asyncio.wait_for(ws.receive_json(), timeout=5)
            out["hello_interval_ms"] = hello["d"]["heartbeat_interval"]
            return ws

        silent = await connect()
        await silent.send_json({"op": 2, "d": {"token": token, "intents": 0, "properties": {}}})
        ready = await asyncio.wait_for(silent.receive_json(), timeout=5)
        session_id, seq = ready["d"]["session_id"], ready["s"]
        while True:
            msg = await asyncio.wait_for(silent.receive(), timeout=interval * 4)
            if msg.type != aiohttp.WSMsgType.TEXT:
                out["silent_client_closed_with"] = silent.close_code
                break

        alive = await connect()
        await alive.send_json({"op": 2, "d": {"token": token, "intents": 0, "properties": {}}})
        out["beating_client_ready"] = (await asyncio.wait_for(alive.receive_json(), timeout=5)).get("t") == "READY"
        acks = 0
        for _ in range(6):
            await asyncio.sleep(interval / 2)
            await alive.send_json({"op": 1, "d": None})
            if (await asyncio.wait_for(alive.receive_json(), timeout=5))["op"] == 11:
                acks += 1
        out["beating_client_acks"] = acks
        out["beating_client_still_open"] = not alive.closed

        late = await connect()
        await late.send_json({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}})
        out["resume_of_timed_out_session"] = (await asyncio.wait_for(late.receive_json(), timeout=5))
        for ws in (silent, alive, late):
            await ws.close()
    print(json.dumps(out))


asyncio.run(main())
