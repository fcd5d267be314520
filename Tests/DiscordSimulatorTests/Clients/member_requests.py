#!/usr/bin/env python3
"""Identifies to the simulator with a plain aiohttp WebSocket and sends Request Guild Members
(op 8) in each of its forms; prints, as one JSON object, what each got back.

    python member_requests.py GATEWAY_URL TOKEN GUILD_ID PREFIX MEMBER_ID
"""
import asyncio
import json
import sys

import aiohttp

gateway, token, guild_id, prefix, member_id = sys.argv[1:6]


async def collect_chunks(ws, nonce):
    members, not_found, chunks = [], [], 0
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), timeout=5)
        if msg.get("t") != "GUILD_MEMBERS_CHUNK" or msg["d"].get("nonce") != nonce:
            continue
        chunks += 1
        members += [m["user"]["username"] for m in msg["d"]["members"]]
        not_found += [str(x) for x in msg["d"]["not_found"]]
        if msg["d"]["chunk_index"] + 1 == msg["d"]["chunk_count"]:
            return {"members": members, "not_found": not_found, "chunks": chunks}


async def answers_until_marker(ws, event, items, nonce):
    """The guilds of the `event` dispatches that answer what was just sent, and how many `items`
    they held; a member request sent after it marks where those answers end."""
    await ws.send_json({"op": 8, "d": {"guild_id": guild_id, "user_ids": [member_id], "nonce": nonce}})
    answers = {"members": [], "not_found": [], "chunks": 0}
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), timeout=5)
        if msg.get("t") == event:
            answers["members"].append(msg["d"]["guild_id"])
            answers["chunks"] += len(msg["d"][items])
        if msg.get("t") == "GUILD_MEMBERS_CHUNK" and msg["d"].get("nonce") == nonce:
            return answers


async def main():
    results = {}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(gateway + "?v=10&encoding=json", timeout=aiohttp.ClientWSTimeout(ws_close=10)) as ws:
            await asyncio.wait_for(ws.receive_json(), timeout=10)
            await ws.send_json({"op": 2, "d": {"token": token, "intents": 1 | 2, "properties": {}}})
            requests = {
                "all": {"guild_id": guild_id, "query": "", "limit": 0},
                "prefix": {"guild_id": int(guild_id), "query": prefix, "limit": 2},
                "users": {"guild_id": guild_id, "user_ids": [member_id, "1"]},
            }
            for name, d in requests.items():
                nonce = name + '-"quoted"'
                await ws.send_json({"op": 8, "d": dict(d, nonce=nonce)})
                results[name] = await collect_chunks(ws, nonce)
            # The whole guild again at once: Discord's RATE_LIMITED, not the members.
            await ws.send_json({"op": 8, "d": {"guild_id": guild_id, "query": "", "limit": 0, "nonce": "again"}})
            while True:
                msg = await asyncio.wait_for(ws.receive_json(), timeout=5)
                if msg.get("t") == "GUILD_MEMBERS_CHUNK" and msg["d"].get("nonce") == "again":
                    results["again"] = {"members": [m["user"]["username"] for m in msg["d"]["members"]], "not_found": [], "chunks": -1}
                    break
                if msg.get("t") == "RATE_LIMITED":
                    d = msg["d"]
                    results["again"] = {
                        "members": [str(d["opcode"]), d["meta"]["guild_id"], d["meta"]["nonce"]],
                        "not_found": ["waits" if 25 < d["retry_after"] <= 30 else "bad retry_after %r" % d["retry_after"]],
                        "chunks": 0,
                    }
                    break
            # Request Soundboard Sounds (op 31) and Request Channel Info (op 43), each for the guild
            # and one the session does not have.
            await ws.send_json({"op": 31, "d": {"guild_ids": [guild_id, "1"]}})
            results["sounds"] = await answers_until_marker(ws, "SOUNDBOARD_SOUNDS", "soundboard_sounds", "after-sounds")
            await ws.send_json({"op": 43, "d": {"guild_id": guild_id, "fields": ["status", "voice_start_time"]}})
            await ws.send_json({"op": 43, "d": {"guild_id": "1", "fields": ["status"]}})
            results["channels"] = await answers_until_marker(ws, "CHANNEL_INFO", "channels", "after-channels")
        # Without GUILD_MEMBERS an empty query is ignored whatever its limit; a prefix is answered.
        async with session.ws_connect(gateway + "?v=10&encoding=json", timeout=aiohttp.ClientWSTimeout(ws_close=10)) as ws:
            await asyncio.wait_for(ws.receive_json(), timeout=10)
            await asyncio.sleep(0.3)  # past the identify window the test sets
            await ws.send_json({"op": 2, "d": {"token": token, "intents": 1, "properties": {}}})
            while (await asyncio.wait_for(ws.receive_json(), timeout=10)).get("t") != "READY":
                pass
            await ws.send_json({"op": 8, "d": {"guild_id": guild_id, "query": "", "limit": 5, "nonce": "empty"}})
            await ws.send_json({"op": 8, "d": {"guild_id": guild_id, "query": prefix, "limit": 1, "nonce": "prefix"}})
            answered = []
            while True:
                msg = await asyncio.wait_for(ws.receive_json(), timeout=5)
                if msg.get("t") == "GUILD_MEMBERS_CHUNK":
                    answered.append(msg["d"]["nonce"])
                    if msg["d"]["nonce"] == "prefix":
                        break
            results["without_intent"] = {"members": answered, "not_found": [], "chunks": 0}
    print(json.dumps(results))


asyncio.run(main())
