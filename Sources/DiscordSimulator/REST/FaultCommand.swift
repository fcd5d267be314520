import Foundation
import NIOHTTP1

/// The simulator's control endpoint, `POST /_simulator/fault?kind=…` on the REST port: faults on
/// command for tests and load runs in any language (it is not part of Discord's API).
///
/// Kinds: `reconnect`; `invalid-session` (`resumable=true|false`); `drop`; `close` (`code=4000`);
/// `stop-acks`; `request-heartbeat`; `corrupt`; `pause` (`ms=1000`). `session=ID` limits it to one
/// session. Answers `{"sessions": N}`, the number of connections it reached.
enum FaultCommand {
    static func respond(to uri: String, _ inject: @Sendable (SimulatorFault, String?) -> Int) -> (HTTPResponseStatus, String) {
        let items = URLComponents(string: uri)?.queryItems ?? []
        func value(_ name: String) -> String? { items.first { $0.name == name }?.value }
        let fault: SimulatorFault
        switch value("kind") {
        case "reconnect": fault = .reconnect
        case "invalid-session": fault = .invalidSession(resumable: value("resumable") == "true")
        case "drop": fault = .dropConnection
        case "close":
            // 1004–1006 and 1015 are reserved: never sent in a close frame.
            guard let code = value("code").flatMap(UInt16.init),
                  (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
            else {
                return (.badRequest, #"{"message":"close needs a sendable code (1000–1003, 1007–1014, 3000–4999)","code":50035}"#)
            }
            fault = .close(code: code)
        case "stop-acks": fault = .stopHeartbeatACKs
        case "request-heartbeat": fault = .requestHeartbeat
        case "corrupt": fault = .corruptNextMessage
        case "pause":
            guard let milliseconds = value("ms").flatMap(Int.init), (1...60_000).contains(milliseconds) else {
                return (.badRequest, #"{"message":"pause needs ms=1…60000","code":50035}"#)
            }
            fault = .pauseReading(milliseconds: milliseconds)
        default:
            return (.badRequest, #"{"message":"unknown fault kind","code":50035}"#)
        }
        return (.ok, #"{"sessions":\#(inject(fault, value("session")))}"#)
    }
}
