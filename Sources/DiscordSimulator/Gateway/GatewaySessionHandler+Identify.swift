import DiscordGateway
import DiscordModels
import Foundation
import NIOCore
import NIOWebSocket

/// Identify, checked in Discord's order with its close codes, then the session's READY and
/// GUILD_CREATE burst.
extension GatewaySessionHandler {
    /// A JSON array of whole numbers (not booleans, not strings, not fractions), as Discord reads one.
    static func integers(_ value: Any) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var integers: [Int] = []
        for element in array {
            // A JSON boolean is an NSNumber of type "c" (`is Bool` holds for 0 and 1 too, on Linux).
            guard let number = element as? NSNumber, String(cString: number.objCType) != "c",
                  let integer = Int(exactly: number.doubleValue)
            else { return nil }
            integers.append(integer)
        }
        return integers
    }

    func identify(_ data: [String: Any], _ context: ChannelHandlerContext) {
        guard let token = data["token"] as? String, token == configuration.token || token == "Bot \(configuration.token)",
              identifyLimiter.tokenIsValid
        else {
            return close(.authenticationFailed, context)
        }
        // Intents are required since v8: Discord closes an identify without them with 4013, not 4002.
        guard let sentIntents = data["intents"], !(sentIntents is NSNull) else { return close(.invalidIntents, context) }
        // A whole number: a fraction, a boolean or a string is not one (and is not truncated to one).
        guard let sentInteger = Self.integers([sentIntents])?.first, sentInteger >= 0 else { return close(.decodeError, context) }
        let rawIntents = UInt64(sentInteger)
        let requested = GatewayIntents(rawValue: rawIntents)
        guard GatewayIntents.all.isSuperset(of: requested) else { return close(.invalidIntents, context) }
        guard configuration.approvedPrivilegedIntents.isSuperset(of: requested.intersection(.privileged)) else {
            return close(.disallowedIntents, context)
        }
        // Absent (or null): one shard. Present, it must be two integers.
        let shard: [Int]
        if let sent = data["shard"], !(sent is NSNull) {
            guard let pair = Self.integers(sent) else { return close(.decodeError, context) }
            shard = pair
        } else {
            shard = [0, 1]
        }
        guard shard.count == 2, shard[1] >= 1, (0..<shard[1]).contains(shard[0]) else { return close(.invalidShard, context) }
        let payloads = WorldPayloads(configuration: configuration)
        let guilds = payloads.guilds(shard: shard[0], of: shard[1])
        guard guilds.count <= 2_500 else { return close(.shardingRequired, context) }
        switch identifyLimiter.identify(shard: shard[0]) {
        case .allowed: break
        case .tokenReset:
            // A reset token ends every session that used it, as on Discord.
            for other in sessions.all where !other.isEnded {
                other.connection?.inject(.close(code: GatewayCloseCode.authenticationFailed.rawValue))
            }
            return close(.authenticationFailed, context)
        case .bucketBusy:
            return sendInvalidSession(resumable: false, context)
        case .unanswered: return
        }

        let sessionID = (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        var traffic = TrafficGenerator(
            world: configuration.world, seed: configuration.trafficSeed &+ UInt64(number), stream: UInt64(number), shard: (shard[0], shard[1]))
        traffic.botUserID = configuration.botUserID
        traffic.botUsername = configuration.botUsername
        traffic.applicationID = configuration.applicationID
        traffic.rolesInFacts = configuration.xpRules.readsRoles
        let guildIndexes = guilds.map { configuration.world.guildIndex(of: $0.id) }
        // The world as earlier sessions and REST left it, adopted and the session registered with
        // no REST change in between (one lands before and is adopted, or after and is delivered).
        let session = sessions.inChangeOrder { () -> GatewaySession in
            // Threads opened in the shard's earlier sessions are still there.
            traffic.adoptThreads(guildStates.threads.threads(ofGuildsAt: guildIndexes.compactMap { $0 }))
            // So are the members who joined and left then, and what REST changed (roles, nicknames,
            // timeouts, bans, channels).
            let touched = guildStates.touchedGuilds(ofGuildsAt: guildIndexes.compactMap { $0 })
            traffic.adoptMembers(touched)
            traffic.adoptChannelsAndTimeouts(touched)
            let session = GatewaySession(
                id: sessionID, intents: requested, shard: shard, guilds: guilds.map(\.id), traffic: traffic,
                resumeWindow: .milliseconds(Int64(configuration.resumeWindowMilliseconds)), worldThreads: guildStates.threads,
                worldChange: { [guildStates] fact in guildStates.apply(fact) }, foresee: foresee, observe: observe)
            sessions.register(session)
            return session
        }
        // From the state adopted above (the local copy keeps it), outside the lock REST calls wait on.
        let activeThreads = guildIndexes.map { index in index.map { traffic.renderedActiveThreads(ofGuildAt: $0) } ?? "[]" }
        session.attach(connection(context))
        self.session = session
        state = .identified
        record.update(number) {
            $0.sessionID = sessionID
            $0.intents = rawIntents
            $0.shard = shard
        }
        let sentShard = data["shard"] == nil || data["shard"] is NSNull ? nil : shard
        let largeThreshold = min(max((data["large_threshold"] as? Int) ?? 50, 50), 250)
        var burst = [(name: "READY", data: Array(payloads.ready(version: apiVersion ?? 10, sessionID: sessionID, resumeURL: resumeURL, shard: sentShard, guilds: guilds).utf8))]
        if requested.contains(.guilds) {
            burst += zip(guilds, activeThreads).map { guild, threads in
                let current = guildStates.snapshot(of: guild.id)
                return ("GUILD_CREATE", Array(payloads.guildCreate(guild, largeThreshold: largeThreshold, threads: threads, current: current).utf8))
            }
        }
        for (index, (sequence, payload)) in session.dispatch(batch: burst, from: context.channel).enumerated() {
            let name = burst[index].name
            record.update(number) {
                $0.dispatches[name, default: 0] += 1
                $0.lastSequence = sequence
            }
            write(payload, context, flush: false)
        }
        context.flush()
        // What REST caused between the registration and the attachment above (nobody was told).
        sendPending()
        startTrafficDrawingAhead(context)
    }
}
