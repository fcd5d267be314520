#!/usr/bin/env python3
"""Checks the heartbeat and stream faults with a plain aiohttp WebSocket on zlib-stream, asking
for each fault through the simulator's control endpoint; prints one JSON object of findings.

    python heartbeat_faults.py API_BASE GATEWAY_URL TOKEN
"""
import asyncio
import json
import sys
import zlib

import aiohttp

api, gateway, token = sys.argv[1:4]
control = api.split("/api/")[0] + "/_simulator/fault"


async def main():
    findings = {}
    inflater = zlib.decompressobj()

    async def next_payload(ws, timeout=5):
        msg = await asyncio.wait_for(ws.receive(), timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            return {"closed": msg.type.name}
        return json.loads(inflater.decompress(msg.data))

    async with aiohttp.ClientSession() as session:
        async def fault(kind, **params):
            async with session.post(control, params=dict(kind=kind, **params)) as response:
                return (await response.json())["sessions"]

        async with session.ws_connect(gateway + "?v=10&encoding=json&compress=zlib-stream") as ws:
            assert (await next_payload(ws))["op"] == 10
            # No GUILDS intent: nothing follows READY unless a fault asks for it.
            await ws.send_json({"op": 2, "d": {"token": token, "intents": 0, "properties": {}}})
            while (await next_payload(ws)).get("t") != "READY":
                pass

            findings["request_heartbeat_sessions"] = await fault("request-heartbeat")
            findings["server_asked_for_heartbeat"] = (await next_payload(ws))["op"] == 1

            await ws.send_json({"op": 1, "d": 1})
            findings["ack_before_silence"] = (await next_payload(ws))["op"] == 11
            await fault("stop-acks")
            await asyncio.sleep(0.2)
            await ws.send_json({"op": 1, "d": 1})
            try:
                await next_payload(ws, timeout=1.5)
                findings["ack_after_silence"] = True
            except asyncio.TimeoutError:
                findings["ack_after_silence"] = False

            await fault("corrupt")
            await fault("request-heartbeat")
            try:
                await next_payload(ws)
                findings["corrupt_message_refused"] = False
            except zlib.error as error:
                findings["corrupt_message_refused"] = True
                findings["zlib_says"] = str(error)

            findings["unknown_kind_status"] = (await session.post(control, params={"kind": "nonsense"})).status
    print(json.dumps(findings))


asyncio.run(main())
