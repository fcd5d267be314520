#!/usr/bin/env python3
"""discord.py acts through the simulator's REST API as a moderation bot does — sends a message with
an embed, fetches a member, adds a role, bans, answers interactions with a response and a
follow-up — and reports, as one JSON line, what Discord (the simulator) answered and which gateway
events its own actions caused. Used by DiscordPyRESTTests:

    python rest_actions.py API_BASE GATEWAY_URL TOKEN GUILD CHANNEL MEMBER ROLE BAN_TARGET OWNER
"""
import asyncio
import json
import sys

import discord
import yarl

api, gateway, token = sys.argv[1:4]
guild_id, channel_id, member_id, role_id, ban_id, owner_id = map(int, sys.argv[4:10])
discord.http.Route.BASE = api
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

intents = discord.Intents.default()
intents.members = True
client = discord.Client(intents=intents)
report = {
    "sent_message_id": None, "own_messages_seen": 0, "fetched_member": None, "role_added_seen": False,
    "bans_seen": [], "removals_seen": [], "owner_ban_error": None, "long_message_error": None,
    "interactions": 0, "responses": 0, "followups": 0, "response_errors": [], "handled": 0,
}
done = asyncio.Event()


@client.event
async def on_ready():
    guild = client.get_guild(guild_id)
    channel = guild.get_channel(channel_id)
    message = await channel.send(
        "Welcome aboard!", embed=discord.Embed(title="Level 5", description="You reached level 5"),
        allowed_mentions=discord.AllowedMentions.none())
    report["sent_message_id"] = str(message.id)
    member = await guild.fetch_member(member_id)
    report["fetched_member"] = str(member.id)
    await member.add_roles(discord.Object(role_id), reason="Level 5 reward")
    await guild.ban(discord.Object(ban_id), reason="Raid account ✓", delete_message_seconds=3600)
    try:
        await guild.ban(discord.Object(owner_id), reason="no")
    except discord.Forbidden as error:
        report["owner_ban_error"] = [error.status, error.code]
    try:
        await channel.send("x" * 2001)
    except discord.HTTPException as error:
        report["long_message_error"] = [error.status, error.code]
    await asyncio.sleep(1.5)
    done.set()


@client.event
async def on_message(message):
    if message.author.id == client.user.id:
        report["own_messages_seen"] += 1


@client.event
async def on_member_update(before, after):
    if after.id == member_id and any(role.id == role_id for role in after.roles):
        report["role_added_seen"] = True


@client.event
async def on_member_ban(guild, user):
    report["bans_seen"].append(str(user.id))


@client.event
async def on_member_remove(member):
    report["removals_seen"].append(str(member.id))


@client.event
async def on_interaction(interaction):
    report["interactions"] += 1
    try:
        await interaction.response.send_message("Your rank: #3", ephemeral=True)
        report["responses"] += 1
        await interaction.followup.send("Keep chatting!")
        report["followups"] += 1
    except discord.HTTPException as error:
        report["response_errors"].append(f"{error.status} {error.code}")
    except Exception as error:  # a client-side failure is as much a finding as an HTTP error
        report["response_errors"].append(repr(error))
    finally:
        report["handled"] += 1


async def main():
    async with client:
        runner = asyncio.create_task(client.start(token))
        await asyncio.wait_for(done.wait(), timeout=60)
        while report["interactions"] == 0 or report["handled"] < report["interactions"]:
            await asyncio.sleep(0.1)
        await client.close()
        await runner


asyncio.run(asyncio.wait_for(main(), timeout=90))
print(json.dumps(report))
