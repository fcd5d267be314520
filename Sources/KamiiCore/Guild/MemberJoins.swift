public import DiscordModels

/// A member joined a guild whose level rewards it may be owed again (Discord drops a member's
/// roles when they leave; a member who comes back has their level in Redis still).
public struct MemberJoin: Sendable, Equatable {
    public var guild: GuildID
    public var user: UserID

    public init(guild: GuildID, user: UserID) {
        self.guild = guild
        self.user = user
    }
}

/// The joins guild actors report, for whoever re-grants level rewards. Only guilds with reward
/// roles report them; the newest 10,000 are kept if nobody reads.
public final class MemberJoins: Sendable {
    public let stream: AsyncStream<MemberJoin>
    private let continuation: AsyncStream<MemberJoin>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    func report(_ join: MemberJoin) { continuation.yield(join) }

    /// Ends the stream (at shutdown, once no guild actor runs).
    public func finish() { continuation.finish() }
}
