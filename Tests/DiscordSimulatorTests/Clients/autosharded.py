#!/usr/bin/env python3
"""discord.py's AutoShardedClient against the simulator: it asks /gateway/bot how many shards to
run, identifies each (max_concurrency at a time), and must receive every guild once, on the shard
Discord's formula puts it on, and every message of the traffic. Prints one JSON object.

    python autosharded.py API_BASE GATEWAY_URL TOKEN
"""
import asyncio
import json
import sys

import discord
import yarl

api, gateway, token = sys.argv[1:4]
discord.http.Route.BASE = api
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

client = discord.AutoShardedClient(intents=discord.Intents.default())
report = {"shard_count": None, "shards_ready": [], "guilds_by_shard": {}, "messages_by_author": {}, "messages": 0}
last_event = 0.0


def touch():
    global last_event
    last_event = asyncio.get_running_loop().time()


@client.event
async def on_shard_ready(shard_id):
    report["shards_ready"].append(shard_id)
    touch()


@client.event
async def on_ready():
    report["shard_count"] = client.shard_count
    for guild in client.guilds:
        report["guilds_by_shard"].setdefault(str(guild.shard_id), []).append(str(guild.id))
    touch()


@client.event
async def on_message(message):
    report["messages"] += 1
    key = f"{message.guild.id}/{message.author.id}"
    report["messages_by_author"][key] = report["messages_by_author"].get(key, 0) + 1
    touch()


async def main():
    async with client:
        runner = asyncio.create_task(client.start(token))
        while report["shard_count"] is None or asyncio.get_running_loop().time() - last_event < 2.0:
            await asyncio.sleep(0.25)
        await client.close()
        await runner


asyncio.run(asyncio.wait_for(main(), timeout=90))
print(json.dumps(report))
