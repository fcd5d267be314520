import DiscordModels
import Foundation

/// The simulator's control endpoints on the REST port (not part of Discord's API): faults, raids and
/// 429 storms on command, for tests and load runs in any language.
///
/// - `POST /_simulator/fault?kind=…`: `reconnect`; `invalid-session` (`resumable=true|false`);
///   `drop`; `close` (`code=4000`); `stop-acks`; `request-heartbeat`; `corrupt`; `pause`
///   (`ms=1000`). `session=ID` limits it to one session. Answers `{"sessions": N}`.
/// - `POST /_simulator/raid?guild=ID&size=N`: a raid wave on that guild. Answers `{"sessions": N}`.
/// - `POST /_simulator/rate-limit?count=N&retry_after=S&scope=user|global|shared`: the next N REST
///   requests get 429. Answers `{"count": N}`.
/// - `POST /_simulator/server-error?count=N&status=502&applied=true|false`: the next N REST
///   requests are answered with that 5xx — applied first (the default: the client cannot tell), or
///   not at all (a gateway or an upstream down). Answers `{"count": N}`.
/// - `POST /_simulator/channel-overwrites?channel=ID&overwrite=ID:TYPE:ALLOW:DENY…`: a guild admin
///   sets the channel's permission overwrites to those listed (none: cleared), as in Discord's
///   client. Answers `{"channel": "ID"}`; 404 for an unknown channel.
enum ControlCommands {
    static func respond(path: String, query: [URLQueryItem], api: SimulatedAPI) -> RESTResponse {
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        switch path {
        case "/_simulator/fault":
            return fault(value, api.injectFault)
        case "/_simulator/raid":
            guard let guild = value("guild").flatMap(UInt64.init), let size = value("size").flatMap(Int.init), (1...10_000).contains(size) else {
                return bad("raid needs guild=ID and size=1…10000")
            }
            let reached = api.sessions.all.filter { !$0.isEnded && $0.startRaid(guild: GuildID(guild), size: size) }.count
            return .json(200, #"{"sessions":\#(reached)}"#)
        case "/_simulator/rate-limit":
            guard let count = value("count").flatMap(Int.init), count >= 0,
                  let retryAfter = value("retry_after").flatMap(Double.init), retryAfter.isFinite, (0...86_400).contains(retryAfter),
                  ["user", "global", "shared"].contains(value("scope") ?? "user")
            else { return bad("rate-limit needs count=N, retry_after=seconds and scope=user|global|shared") }
            api.rateLimits.force(count: count, retryAfter: retryAfter, scope: value("scope") ?? "user")
            return .json(200, #"{"count":\#(count)}"#)
        case "/_simulator/server-error":
            guard let count = value("count").flatMap(Int.init), count >= 0,
                  let status = Int(value("status") ?? "502"), (500...599).contains(status),
                  let applied = ["true": true, "false": false][value("applied") ?? "true"]
            else { return bad("server-error needs count=N, status=500…599 and applied=true|false") }
            api.rateLimits.forceServerErrors(count: count, status: status, applied: applied)
            return .json(200, #"{"count":\#(count)}"#)
        case "/_simulator/channel-overwrites":
            var overwrites: [GuildStates.Overwrite] = []
            for item in query where item.name == "overwrite" {
                let parts = (item.value ?? "").split(separator: ":").map { UInt64($0) }
                guard parts.count == 4, let id = parts[0], let type = parts[1], type <= 1, let allow = parts[2], let deny = parts[3] else {
                    return bad("overwrite must be ID:TYPE:ALLOW:DENY (TYPE 0 role, 1 member)")
                }
                overwrites.append(GuildStates.Overwrite(id: id, type: Int(type), allow: allow, deny: deny))
            }
            guard let channel = value("channel").flatMap(UInt64.init) else { return bad("channel-overwrites needs channel=ID") }
            guard api.adminSetsOverwrites(of: ChannelID(channel), to: overwrites) else { return .error(404, .unknownChannel) }
            return .json(200, #"{"channel":"\#(channel)"}"#)
        default:
            return .error(404, DiscordError(code: 0, message: "404: Not Found"))
        }
    }

    private static func fault(_ value: (String) -> String?, _ inject: @Sendable (SimulatorFault, String?) -> Int) -> RESTResponse {
        let fault: SimulatorFault
        switch value("kind") {
        case "reconnect": fault = .reconnect
        case "invalid-session": fault = .invalidSession(resumable: value("resumable") == "true")
        case "drop": fault = .dropConnection
        case "close":
            // 1004–1006 and 1015 are reserved: never sent in a close frame.
            guard let code = value("code").flatMap(UInt16.init),
                  (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
            else { return bad("close needs a sendable code (1000–1003, 1007–1014, 3000–4999)") }
            fault = .close(code: code)
        case "stop-acks": fault = .stopHeartbeatACKs
        case "request-heartbeat": fault = .requestHeartbeat
        case "corrupt": fault = .corruptNextMessage
        case "ping": fault = .ping
        case "pause":
            guard let milliseconds = value("ms").flatMap(Int.init), (1...60_000).contains(milliseconds) else {
                return bad("pause needs ms=1…60000")
            }
            fault = .pauseReading(milliseconds: milliseconds)
        default:
            return bad("unknown fault kind")
        }
        return .json(200, #"{"sessions":\#(inject(fault, value("session")))}"#)
    }

    private static func bad(_ message: String) -> RESTResponse {
        .error(400, DiscordError(code: 50035, message: message))
    }
}
