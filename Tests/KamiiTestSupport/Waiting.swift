public import Testing

/// Polls `condition` every 20 ms until it holds; throws when `timeout` passes first.
public func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(try await condition()) {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Expects the `s` of every dispatch to continue the one before by exactly one (a READY starts a
/// new session at 1): no gap, no repeat.
public func expectContiguousSequences(
    _ items: [(name: String, sequence: Int?)], _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    var last = 0
    for item in items {
        guard let sequence = item.sequence else { continue }
        if item.name == "READY" { last = 0 }
        #expect(sequence == last + 1, "\(label)after s=\(last) came \(item.name) s=\(sequence)", sourceLocation: sourceLocation)
        last = sequence
    }
}
