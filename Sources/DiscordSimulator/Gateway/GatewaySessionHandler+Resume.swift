import Foundation
import NIOCore

/// Resume (op 6) on a new connection: what the client missed, then what happened while it was away.
extension GatewaySessionHandler {
    /// Resume (op 6): the session's missed dispatches are replayed, then what REST caused while it
    /// was away, then the traffic of that time, then RESUMED, then live traffic goes on. An unknown,
    /// ended or expired session gets op 9 with `d: false`; a `seq` the session cannot resume from
    /// (ahead of it, or older than it keeps) gets 4007 and ends the session, as on Discord.
    func resume(_ data: [String: Any], _ context: ChannelHandlerContext) {
        guard let token = data["token"] as? String, token == configuration.token || token == "Bot \(configuration.token)",
              identifyLimiter.tokenIsValid
        else {
            return close(.authenticationFailed, context)
        }
        guard let id = data["session_id"] as? String, let session = sessions.session(id) else {
            return sendInvalidSession(resumable: false, context)
        }
        guard let sequence = (data["seq"] as? Int) ?? (data["seq"] is NSNull ? 0 : nil) else {
            return close(.decodeError, context)
        }
        let missed: [[UInt8]], replaced: GatewaySession.Connection?, away: TimeAmount
        switch session.resume(after: sequence, attaching: connection(context)) {
        case .ended:
            return sendInvalidSession(resumable: false, context)
        case .invalidSequence:
            // "Reconnect and start a new session": this one cannot be resumed any more (the
            // handler's close ends only a session attached to its own connection, which this is not).
            session.end()
            return close(.invalidSequence, context)
        case .resumed(let m, let r, let a):
            (missed, replaced, away) = (m, r, a)
        }
        // From here the replaced connection can number nothing, so the replay is complete.
        replaced?.inject(.superseded)
        self.session = session
        state = .identified
        record.update(number) {
            $0.sessionID = id
            $0.intents = session.intents.rawValue
            $0.shard = session.shard
            $0.resumed = true
            $0.replayed = missed.count
        }
        for payload in missed { write(payload, context) }
        // Guilds went on while it was away: what REST calls caused, and their traffic of that time,
        // was missed too and comes before RESUMED, after which every dispatch is new (as Discord
        // documents the resume). REST's dispatches first: the traffic made up now already follows
        // their changes.
        sendPending()
        if configuration.dispatchesPerSecond > 0, away > .zero {
            let seconds = Double(away.nanoseconds) / 1e9
            owed = min(seconds * Double(configuration.dispatchesPerSecond), Self.awayTrafficLimit)
            sendOwedTraffic(context)
        }
        dispatch("RESUMED", #"{"_trace":["[\"gateway-simulator\"]"]}"#, context)
        startTraffic(context)
    }
}
