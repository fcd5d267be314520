public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP exchange, the only thing the REST client needs from the network — behind a protocol so
/// the client's rules can be exercised without one; the real one is async-http-client.
public protocol HTTPTransport: Sendable {
    func send(_ request: TransportRequest, deadline: ContinuousClock.Instant) async throws -> TransportResponse
}

public struct TransportRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?

    public init(method: String, url: String, headers: [(String, String)], body: [UInt8]?) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct TransportResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Why the body could not be read (too large, the deadline, the connection), when the status
    /// and headers came: they still say what Discord did and what its limits are.
    public var bodyLost: String?

    public init(status: Int, headers: [(String, String)], body: [UInt8], bodyLost: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyLost = bodyLost
    }

    /// A header by name, ignoring ASCII case as HTTP does.
    public func header(_ name: String) -> String? {
        headers.first { Self.equalIgnoringASCIICase($0.0, name) }?.1
    }

    private static func equalIgnoringASCIICase(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        return zip(lhs.utf8, rhs.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
    }
}

/// The transport on async-http-client (connection pooling, keep-alive, TLS for `https://`).
public struct AsyncHTTPClientTransport: HTTPTransport {
    let client: HTTPClient
    /// Answers larger than this are refused rather than buffered.
    let maxBodyBytes: Int

    /// A client for Discord, alive for the whole process (as `HTTPClient.shared` is), with up to 64
    /// connections per host: with async-http-client's default of 8, requests queue inside the
    /// pool for an unknown time after the limiter let them go, and the global limit's timing
    /// would no longer describe what reaches Discord.
    public static let discordClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)))

    public init(client: HTTPClient = AsyncHTTPClientTransport.discordClient, maxBodyBytes: Int = 16 << 20) {
        self.client = client
        self.maxBodyBytes = maxBodyBytes
    }

    public func send(_ request: TransportRequest, deadline: ContinuousClock.Instant) async throws -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
        let remaining = ContinuousClock.now.duration(to: deadline)
        let nanoseconds = max(0, remaining.components.seconds) * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
        let response = try await client.execute(outgoing, timeout: .nanoseconds(max(1, nanoseconds)))
        // async-http-client's deadline ends with the response head; the body gets its own race.
        let limit = maxBodyBytes
        let status = Int(response.status.code)
        let headers = response.headers.map { ($0.name, $0.value) }
        do {
            let body = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await response.body.collect(upTo: limit) }
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let collected = first else { throw HTTPClientError.deadlineExceeded }
                return collected
            }
            return TransportResponse(status: status, headers: headers, body: Array(body.readableBytesView))
        } catch where !(error is CancellationError) && !Task.isCancelled {
            return TransportResponse(status: status, headers: headers, body: [], bodyLost: "\(error)")
        }
    }
}
