#!/usr/bin/env python3
"""Logs discord.py (an independent Discord library) in to the simulator and reports, as one JSON
line on stdout, what it received. Used by DiscordPyHonestyTests; runnable by hand:

    python discordpy_client.py API_BASE GATEWAY_URL TOKEN [--zlib] [--quiet SECONDS]

discord.py picks zstd-stream when the `zstandard` package is importable and zlib-stream
otherwise; --zlib hides `zstandard` from it to test the other stream.
"""
import asyncio
import json
import sys

# Seconds without events after which the run is over; discord.py waits 5 s before identifying
# again after a non-resumable invalid session, so that test passes a longer one.
QUIET = float(sys.argv[sys.argv.index("--quiet") + 1]) if "--quiet" in sys.argv else 2.0

if "--zlib" in sys.argv:
    sys.modules["zstandard"] = None
    sys.modules["compression.zstd"] = None

import discord  # noqa: E402
import yarl  # noqa: E402

api, gateway, token = sys.argv[1:4]
discord.http.Route.BASE = api
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

intents = discord.Intents.default()
intents.members = True
client = discord.Client(intents=intents)
report = {
    "compression": discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE,
    "ready": False, "user_id": None, "guilds": 0, "guild_ids": [],
    "messages": 0, "messages_in_known_guild_channels": 0, "messages_with_member_author": 0, "messages_by_webhook": 0,
    # Messages in a thread discord.py knows (it learnt it from THREAD_CREATE), and threads it
    # saw created, archived or deleted.
    "messages_in_threads": 0, "threads_created": 0, "threads_archived": 0, "threads_unarchived": 0,
    "threads_deleted": 0,
    "member_joins": 0, "reactions": 0, "resumes": 0, "readies": 0,
    # Joins that are `pending` (not yet through Membership Screening), and joins whose `pending`
    # is what their guild's features say (a guild with MEMBER_VERIFICATION_GATE_ENABLED screens).
    "pending_joins": 0, "joins_pending_as_features_say": 0,
    # Updates of members discord.py knew: each gave or took one of the guild's roles, or passed
    # the member through screening (anything else counts in neither).
    "member_updates": 0, "role_changes": 0, "screening_passes": 0,
    # Messages whose content mentions the bot, and those discord.py says mention it (`mentions`).
    "content_mentions": 0, "bot_mentions": 0,
    # "guild/author" -> messages, to compare with the simulator's ground truth.
    "messages_by_author": {},
}
last_event = 0.0


def touch():
    global last_event
    last_event = asyncio.get_running_loop().time()


@client.event
async def on_ready():
    report["readies"] += 1
    report["ready"] = True
    report["user_id"] = str(client.user.id)
    report["guilds"] = len(client.guilds)
    report["guild_ids"] = sorted(str(g.id) for g in client.guilds)
    touch()


@client.event
async def on_message(message):
    report["messages"] += 1
    if f"<@{client.user.id}>" in message.content:
        report["content_mentions"] += 1
    if client.user.mentioned_in(message):
        report["bot_mentions"] += 1
    if message.guild is not None:
        key = f"{message.guild.id}/{message.author.id}"
        report["messages_by_author"][key] = report["messages_by_author"].get(key, 0) + 1
    # Known when the message was parsed: discord.py resolved its channel then (a PartialMessageable
    # otherwise). Asked here, in the handler, a thread archived by a dispatch parsed meanwhile (the
    # handler runs as a task after the parsing goes on) would look unknown.
    if message.guild is not None and not isinstance(message.channel, discord.PartialMessageable):
        report["messages_in_known_guild_channels"] += 1
        if isinstance(message.channel, discord.Thread) and message.channel.parent is not None:
            report["messages_in_threads"] += 1
    if isinstance(message.author, discord.Member):
        report["messages_with_member_author"] += 1
    if message.webhook_id is not None:
        report["messages_by_webhook"] += 1
    touch()


@client.event
async def on_thread_create(thread):
    report["threads_created"] += 1
    touch()


@client.event
async def on_thread_update(before, after):
    if after.archived and not before.archived:
        report["threads_archived"] += 1
    touch()


@client.event
async def on_thread_join(thread):
    # A thread taken out of the archive: discord.py had let it go, and learns it again.
    if not thread.archived:
        report["threads_unarchived"] += 1
    touch()


@client.event
async def on_raw_thread_delete(payload):
    report["threads_deleted"] += 1
    touch()


@client.event
async def on_resumed():
    report["resumes"] += 1
    touch()


@client.event
async def on_member_join(member):
    report["member_joins"] += 1
    if member.pending:
        report["pending_joins"] += 1
    if member.pending == ("MEMBER_VERIFICATION_GATE_ENABLED" in member.guild.features):
        report["joins_pending_as_features_say"] += 1
    touch()


@client.event
async def on_member_update(before, after):
    report["member_updates"] += 1
    # discord.py resolves role IDs against the guild's roles: an unknown one would not show.
    changed = {role.id for role in before.roles} ^ {role.id for role in after.roles}
    if before.pending and not after.pending and not changed:
        report["screening_passes"] += 1
    elif len(changed) == 1 and not after.pending:
        report["role_changes"] += 1
    touch()


@client.event
async def on_raw_reaction_add(payload):
    report["reactions"] += 1
    touch()


async def stop_when_quiet():
    # The simulator sends a bounded burst; once nothing has arrived for a while, it is over.
    while True:
        await asyncio.sleep(0.25)
        if report["ready"] and asyncio.get_running_loop().time() - last_event > QUIET:
            await client.close()
            return


async def main():
    async with client:
        watcher = asyncio.create_task(stop_when_quiet())
        await asyncio.wait_for(client.start(token, reconnect=True), timeout=90)
        await watcher


asyncio.run(main())
print(json.dumps(report))
