#!/usr/bin/env python3
"""Identifies with a plain aiohttp WebSocket, takes READY and the GUILD_CREATEs, then resumes the
session from BACK dispatches back (3 unless given; negative: ahead of the session) on a new
connection (after WAIT seconds without one, if given); prints, as one JSON object, the sequence
numbers and event names the resume replayed and what followed, or the op 9 or the close code it got
instead (after a 4007, also what a resume from the session's last `s` then gets).

    python replay.py GATEWAY_URL TOKEN [WAIT [BACK]]
"""
import asyncio
import json
import sys

import aiohttp

gateway, token = sys.argv[1:3]
wait = float(sys.argv[3]) if len(sys.argv) > 3 else 0
back = int(sys.argv[4]) if len(sys.argv) > 4 else 3


async def main():
    async with aiohttp.ClientSession() as http:
        async def connect():
            ws = await http.ws_connect(gateway + "?v=10&encoding=json", timeout=aiohttp.ClientWSTimeout(ws_close=10))
            assert (await asyncio.wait_for(ws.receive_json(), timeout=5))["op"] == 10
            return ws

        first = await connect()
        await first.send_json({"op": 2, "d": {"token": token, "intents": 1, "properties": {}}})
        seen = []
        while True:
            try:
                payload = await asyncio.wait_for(first.receive_json(), timeout=1.0)
            except asyncio.TimeoutError:
                break
            seen.append((payload["s"], payload["t"]))
            if payload["t"] == "READY":
                session_id = payload["d"]["session_id"]
        last = seen[-1][0]
        await first.close(code=4000)
        await asyncio.sleep(wait)

        second = await connect()
        await second.send_json({"op": 6, "d": {"token": token, "session_id": session_id, "seq": last - back}})
        replayed = []
        invalid_session = None
        close_code = None
        while True:
            message = await asyncio.wait_for(second.receive(), timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                close_code = second.close_code
                break
            payload = json.loads(message.data)
            if payload["op"] == 9:
                invalid_session = payload["d"]
                break
            replayed.append([payload["s"], payload["t"]])
            if payload["t"] == "RESUMED":
                break
        await second.close()
        # After 4007 (Invalid seq: start a new session) the session is gone: a resume from where
        # it was gets op 9 (or RESUMED, were it still there).
        retried = None
        if close_code == 4007:
            third = await connect()
            await third.send_json({"op": 6, "d": {"token": token, "session_id": session_id, "seq": last}})
            while retried is None:
                payload = await asyncio.wait_for(third.receive_json(), timeout=5)
                if payload["op"] == 9:
                    retried = {"invalid_session": payload["d"]}
                elif payload["t"] == "RESUMED":
                    retried = {"resumed": True}
            await third.close()
    print(json.dumps({"first": [list(x) for x in seen], "replayed": replayed, "invalid_session": invalid_session,
                      "close_code": close_code, "retried": retried}))


asyncio.run(main())
