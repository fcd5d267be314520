import DiscordGateway
import DiscordModels
import Foundation
import NIOCore
import NIOWebSocket

/// One simulated gateway connection: Hello, identify checks with Discord's close codes, READY,
/// a GUILD_CREATE per guild of the shard, heartbeat ACKs, then live dispatches numbered by `s`
/// and filtered by the session's intents — every message compressed as the client asked.
final class GatewaySessionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum State { case awaitingIdentify, identified, closed }

    private let configuration: SimulatorConfiguration
    private let record: SimulatorRecord
    private let deflater: any GatewayDeflater
    private let resumeURL: String
    private let number: Int
    private var state = State.awaitingIdentify
    private var sequence = 0
    private var intents = GatewayIntents()
    private var shardGuilds = Set<GuildID>()
    private var traffic: TrafficGenerator
    private var dispatched = 0
    /// Dispatches due but not yet sent: the rate rarely divides into whole dispatches per tick.
    private var owed = 0.0
    private var ticker: RepeatedTask?

    init(configuration: SimulatorConfiguration, record: SimulatorRecord, compression: GatewayCompression, resumeURL: String) {
        self.configuration = configuration
        self.record = record
        self.resumeURL = resumeURL
        deflater = compression.makeDeflater()
        number = record.open(compression: compression.rawValue)
        traffic = TrafficGenerator(world: configuration.world, seed: configuration.trafficSeed &+ UInt64(number))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        send(#"{"t":null,"s":null,"op":10,"d":{"heartbeat_interval":\#(configuration.heartbeatIntervalMilliseconds),"_trace":["[\"gateway-simulator\"]"]}}"#, context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ticker?.cancel()
        state = .closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            received(Data(frame.unmaskedData.readableBytesView), context)
        case .connectionClose:
            ticker?.cancel()
            state = .closed
            context.close(promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    private func received(_ message: Data, _ context: ChannelHandlerContext) {
        guard state != .closed else { return }
        guard let payload = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let op = payload["op"] as? Int else {
            return close(.decodeError, context)
        }
        switch op {
        case 1:
            record.update(number) { $0.heartbeatsAcknowledged += 1 }
            send(#"{"t":null,"s":null,"op":11,"d":null}"#, context)
        case 2:
            guard state == .awaitingIdentify else { return close(.alreadyAuthenticated, context) }
            identify(payload["d"] as? [String: Any] ?? [:], context)
        case 8:
            guard state == .identified else { return close(.notAuthenticated, context) }
            requestGuildMembers(payload["d"] as? [String: Any] ?? [:], context)
        case 3, 4, 31:
            guard state == .identified else { return close(.notAuthenticated, context) }
        case 6:
            // Resuming arrives with issue 3's next part; until then a resume is an invalid session.
            send(#"{"t":null,"s":null,"op":9,"d":false}"#, context)
        default:
            guard state == .identified else { return close(.notAuthenticated, context) }
            close(.unknownOpcode, context)
        }
    }

    private func identify(_ data: [String: Any], _ context: ChannelHandlerContext) {
        guard let token = data["token"] as? String, token == configuration.token || token == "Bot \(configuration.token)" else {
            return close(.authenticationFailed, context)
        }
        guard let rawIntents = (data["intents"] as? NSNumber)?.uint64Value else { return close(.decodeError, context) }
        let requested = GatewayIntents(rawValue: rawIntents)
        guard GatewayIntents.all.isSuperset(of: requested) else { return close(.invalidIntents, context) }
        guard configuration.approvedPrivilegedIntents.isSuperset(of: requested.intersection(.privileged)) else {
            return close(.disallowedIntents, context)
        }
        let shard = (data["shard"] as? [Int]) ?? [0, 1]
        guard shard.count == 2, shard[1] >= 1, (0..<shard[1]).contains(shard[0]) else { return close(.invalidShard, context) }
        let payloads = WorldPayloads(configuration: configuration)
        let guilds = payloads.guilds(shard: shard[0], of: shard[1])
        guard guilds.count <= 2_500 else { return close(.shardingRequired, context) }

        intents = requested
        shardGuilds = Set(guilds.map(\.id))
        state = .identified
        let sessionID = (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        record.update(number) {
            $0.sessionID = sessionID
            $0.intents = rawIntents
            $0.shard = shard
        }
        dispatch("READY", payloads.ready(sessionID: sessionID, resumeURL: resumeURL, shard: shard, guilds: guilds), context)
        if requested.contains(.guilds) {
            for (index, guild) in guilds.enumerated() { dispatch("GUILD_CREATE", payloads.guildCreate(guild, index: index), context) }
        }
        startTraffic(context)
    }

    /// Request Guild Members (op 8) for every member (`query: ""`, `limit: 0`, which Discord allows
    /// only with the GUILD_MEMBERS intent): GUILD_MEMBERS_CHUNK dispatches of up to 1,000 members.
    private func requestGuildMembers(_ data: [String: Any], _ context: ChannelHandlerContext) {
        // Snowflakes may come as strings or numbers, one or a list.
        let raw = data["guild_id"].map { ($0 as? [Any]) ?? [$0] } ?? []
        let requested = raw.compactMap { ($0 as? String) ?? ($0 as? NSNumber).map { $0.uint64Value.description } }
        let nonce = (data["nonce"] as? String).map { #","nonce":"\#($0)""# } ?? ""
        guard intents.contains(.guildMembers) else { return close(.disallowedIntents, context) }
        let payloads = WorldPayloads(configuration: configuration)
        for id in requested {
            guard let guild = configuration.world.guilds.first(where: { $0.id.description == id }), shardGuilds.contains(guild.id) else { continue }
            let chunks = payloads.memberChunks(guild)
            for (index, members) in chunks.enumerated() {
                dispatch("GUILD_MEMBERS_CHUNK", #"{"guild_id":"\#(guild.id)","members":[\#(members)],"chunk_index":\#(index),"chunk_count":\#(chunks.count),"not_found":[]\#(nonce)}"#, context)
            }
        }
    }

    /// Sends live traffic in 10 ms ticks at the configured rate.
    private func startTraffic(_ context: ChannelHandlerContext) {
        let rate = configuration.dispatchesPerSecond
        guard rate > 0 else { return }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { task in
            let (handler, context) = bound.value
            handler.owed += Double(rate) / 100
            while handler.owed >= 1, handler.state == .identified {
                handler.owed -= 1
                if let limit = handler.configuration.maxDispatchesPerSession, handler.dispatched >= limit {
                    task.cancel()
                    return
                }
                handler.sendNextEvent(context)
            }
        }
    }

    private func sendNextEvent(_ context: ChannelHandlerContext) {
        // Draw until an event this session may receive: on its shard, for its intents.
        for _ in 0..<1_000 {
            let event = traffic.nextEvent()
            guard shardGuilds.contains(event.guild) else { continue }
            if let needed = GatewayIntents.required(for: event.name), !intents.contains(needed) { continue }
            dispatched += 1
            return dispatch(event.name, event.data, context)
        }
    }

    private func dispatch(_ name: String, _ data: String, _ context: ChannelHandlerContext) {
        sequence += 1
        let sequence = sequence
        record.update(number) {
            $0.dispatches[name, default: 0] += 1
            $0.lastSequence = sequence
        }
        write(TrafficGenerator.payload(name: name, data: data, sequence: sequence), context)
    }

    private func send(_ payload: String, _ context: ChannelHandlerContext) {
        write(Array(payload.utf8), context)
    }

    private func write(_ payload: [UInt8], _ context: ChannelHandlerContext) {
        let message = deflater.deflate(payload)
        var buffer = context.channel.allocator.buffer(capacity: message.count)
        buffer.writeBytes(message)
        let opcode: WebSocketOpcode = deflater.compression == .none ? .text : .binary
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: buffer)), promise: nil)
    }

    /// Closes with a Discord close code, as Discord does: a close frame, then the TCP connection.
    func close(_ code: GatewayCloseCode, _ context: ChannelHandlerContext) {
        guard state != .closed else { return }
        state = .closed
        ticker?.cancel()
        record.update(number) { $0.closeCode = Int(code.rawValue) }
        var buffer = context.channel.allocator.buffer(capacity: 2 + code.reason.utf8.count)
        buffer.writeInteger(code.rawValue)
        buffer.writeString(code.reason)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }
}
