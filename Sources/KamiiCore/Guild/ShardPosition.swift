/// How far a shard's dispatches have got: its session number (see `ShardDispatch.session`) and
/// the `s` of the last dispatch.
public struct ShardPosition: Sendable, Equatable {
    public var session: Int
    public var sequence: Int

    public init(session: Int, sequence: Int) {
        self.session = session
        self.sequence = sequence
    }
}
