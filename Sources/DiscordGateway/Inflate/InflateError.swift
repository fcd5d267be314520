/// Why an inflater could not produce a payload.
///
/// Every kind means the connection's compression stream can no longer be trusted: the inflater
/// refuses further input until ``GatewayInflater/reset()``, and the shard reconnects (and resumes).
public struct InflateError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The compressed bytes are not a valid stream (zlib or zstd reported an error).
        case corruptData
        /// The bytes ended in the middle of a compressed block: the payload would be partial.
        case truncatedPayload
        /// The payload, or the compressed bytes buffered for it, passed the configured limit.
        case payloadTooLarge
        /// An earlier error poisoned the stream; call `reset()` before feeding a new connection.
        case needsReset
        /// The compression library could not allocate its state or the output buffer.
        case outOfMemory
    }

    public let kind: Kind
    public let compression: GatewayCompression
    /// What the compression library (or the limit check) said, for logs and operators.
    public let detail: String

    public init(_ kind: Kind, _ compression: GatewayCompression, detail: String) {
        self.kind = kind
        self.compression = compression
        self.detail = detail
    }

    public var description: String {
        let what = switch kind {
        case .corruptData: "corrupt data"
        case .truncatedPayload: "truncated payload"
        case .payloadTooLarge: "payload too large"
        case .needsReset: "stream failed earlier, reset required"
        case .outOfMemory: "out of memory"
        }
        return "\(compression): \(what): \(detail)"
    }
}
