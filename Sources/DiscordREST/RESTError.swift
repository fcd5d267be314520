/// Why a REST request failed, in a form callers can act on: Discord's own error (code, message and
/// the field errors of an invalid form body), or what the client decided or ran into.
public struct RESTError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Discord answered with an error: its HTTP status, JSON code and message.
        case discord(status: Int, code: Int, message: String)
        /// 5xx on a request that is not safe to send twice (or retries ran out).
        case serverError(status: Int)
        /// The invalid-request budget (401/403/429 over 10 minutes) is spent down to its safety
        /// margin: the request was not sent, so the bot's IP is not banned.
        case invalidRequestBudgetExhausted(count: Int)
        /// Discord answered 401 to an earlier request: the token is not valid (reset, or revoked), so
        /// nothing more is sent with it ("stop making requests", each one an invalid request).
        case tokenRefused
        /// The request's deadline passed (waiting for the answer, a backoff or another request's
        /// discovery of the route's limits), or too little of it is left to send the request and
        /// be answered (it was not sent).
        case deadlineExceeded
        /// Not sent: a rate limit (the route's bucket, a 429's block, the global limit) holds it
        /// back `retryAfter` seconds, past its deadline. Sending it later may work; at once it
        /// would only wait again.
        case rateLimited(retryAfter: Double)
        /// The connection failed (for a request not safe to send twice, or after the retries).
        case transport(description: String)
        /// An answer that could not be decoded as the expected JSON.
        case decoding(description: String)
        /// The task sending it was cancelled.
        case cancelled
    }

    /// One entry of a 50035 Invalid Form Body: where (`embeds.0.title`) and what.
    public struct FieldError: Sendable, Equatable {
        public let path: String
        public let code: String
        public let message: String
    }

    public let kind: Kind
    public var fieldErrors: [FieldError] = []

    public init(_ kind: Kind, fieldErrors: [FieldError] = []) {
        self.kind = kind
        self.fieldErrors = fieldErrors
    }

    /// Discord's JSON error code, when Discord answered with one.
    public var code: Int? {
        if case .discord(_, let code, _) = kind { return code }
        return nil
    }

    /// 50013: the bot lacks a permission or is below the target in the role hierarchy.
    public var isMissingPermissions: Bool { code == 50013 }
    /// 10007: the member is not (or no longer) in the guild.
    public var isUnknownMember: Bool { code == 10007 }
    /// 50035: the body was refused; `fieldErrors` says where.
    public var isInvalidFormBody: Bool { code == 50035 }

    public var description: String {
        switch kind {
        case .discord(let status, let code, let message):
            let fields = fieldErrors.map { "\($0.path): \($0.message)" }.joined(separator: "; ")
            return "Discord refused the request (HTTP \(status), code \(code)): \(message)" + (fields.isEmpty ? "" : " — \(fields)")
        case .serverError(let status): return "Discord answered HTTP \(status); the request was not retried because it may have been applied"
        case .invalidRequestBudgetExhausted(let count):
            return "not sent: \(count) invalid requests (401/403/429) in the last 10 minutes; Discord bans the IP at 10,000"
        case .tokenRefused: return "not sent: Discord refused the bot token (401) earlier; restart with a valid token"
        case .deadlineExceeded: return "the request's deadline passed"
        case .rateLimited(let retryAfter): return "not sent: rate limited for \((retryAfter * 1_000).rounded() / 1_000) s, past the request's deadline"
        case .transport(let description): return "connection failed: \(description)"
        case .decoding(let description): return "Discord's answer could not be decoded: \(description)"
        case .cancelled: return "cancelled"
        }
    }
}
