public import DiscordGateway
public import DiscordModels
import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Sends each hot dispatch to its guild's actor, creating the actor on the guild's first event and
/// evicting it once idle. Thread events (and GUILD_CREATE's active threads) teach it which channel
/// each thread is in. Events the hot path ignores (typing, presences, …) are passed over by name
/// without reading their payload.
///
/// It is the shards' consumer: a shard awaits each event, so one guild's events are applied in
/// order and a slow guild actor — or a full ``StatsBuffer`` — slows that shard's socket.
public final class GuildRouter: Sendable {
    public let stats: StatsBuffer
    public let counters = HotPathCounters()
    /// Which channel each active thread is in (see ``ThreadParents``).
    public let threads = ThreadParents()
    private let source: any GuildSettingsSource
    private let clock: @Sendable () -> UInt64
    private let wallClock: @Sendable () -> UInt64
    private let stripes: [Stripe]

    private final class Stripe: Sendable {
        let actors = Mutex<[GuildID: GuildActor]>([:])
    }

    /// - Parameters:
    ///   - clock: milliseconds on a monotonic clock (karma cooldowns and idle eviction).
    ///   - wallClock: Unix milliseconds (trust: account age, time in the guild).
    public init(
        stats: StatsBuffer, settings: any GuildSettingsSource, clock: @escaping @Sendable () -> UInt64 = GuildRouter.monotonicMilliseconds,
        wallClock: @escaping @Sendable () -> UInt64 = GuildRouter.unixMilliseconds
    ) {
        self.stats = stats
        self.source = settings
        self.clock = clock
        self.wallClock = wallClock
        stripes = (0..<64).map { _ in Stripe() }
    }

    /// Routes one dispatch; returns when its guild actor has applied it. With `shard`, the
    /// shard's lane in the stats buffer moves to the dispatch together with its changes
    /// (``StatsBuffer/takeClaiming()``).
    public func route(_ dispatch: ShardDispatch, shard: Int? = nil) async {
        await route(dispatch, lane: shard.map { stats.lane(for: $0) })
    }

    /// Routes one dispatch of the shard whose `lane` it is (``StatsBuffer/lane(for:)``, looked up
    /// once per shard rather than per dispatch).
    public func route(_ dispatch: ShardDispatch, lane: ShardLane?) async {
        // Only a numbered dispatch moves the lane. (Lane and position go on separately: a tuple of
        // them would be one more reference to count per dispatch.) One async call per dispatch, the
        // actor's: what does not go to an actor is handled here, synchronously.
        let position = ShardPosition(session: dispatch.session, sequence: dispatch.sequence ?? 0)
        let lane = dispatch.sequence == nil ? nil : lane
        guard let event = dispatch.hotEvent, let guild = dispatch.guildID else { return passOver(dispatch, lane: lane, position: position) }
        counters.local.routed.wrappingAdd(1, ordering: .relaxed)
        await actor(for: guild).handle(event, dispatch, lane: lane, position: position)
    }

    /// A dispatch no guild actor takes: the lane moves past it, and a thread event teaches the
    /// thread map.
    private func passOver(_ dispatch: ShardDispatch, lane: ShardLane?, position: ShardPosition) {
        // Threads are learnt in the shard's order, before any message posted in them; how a
        // guild's map changed is recorded with the shard's position, as stats are.
        guard let guild = dispatch.guildID, ThreadParents.reads(dispatch.name) else {
            lane?.advance(to: position)
            return
        }
        guard let change = threads.learn(from: dispatch) else {
            counters.local.malformed.add(1, ordering: .relaxed)
            lane?.advance(to: position)
            return
        }
        if let lane {
            lane.advance(to: position) { stats.record(change, of: guild.rawValue) }
        } else {
            stats.record(change, of: guild.rawValue)
        }
    }

    /// The guild's actor, created if it has none.
    public func actor(for guild: GuildID) -> GuildActor {
        stripe(guild).actors.withLock { actors in
            if let actor = actors[guild] { return actor }
            let actor = GuildActor(
                guild: guild, stats: stats, source: source, counters: counters, threads: threads, clock: clock,
                wallClock: wallClock)
            actors[guild] = actor
            return actor
        }
    }

    /// The guild's configuration changed: its actor, if it has one, reads it again before its next
    /// event (an actor created later reads it anyway).
    public func settingsChanged(_ guild: GuildID) {
        stripe(guild).actors.withLock { $0[guild] }?.settingsChanged()
    }

    /// Guild actors alive now.
    public var activeGuilds: Int {
        stripes.reduce(0) { total, stripe in total + stripe.actors.withLock { $0.count } }
    }

    /// Drops the actors idle for at least `idle`; returns how many. Their changes are already in the
    /// stats buffer; a guild's next event starts a fresh actor. The XP cooldowns an actor held go
    /// with it, which is safe: the flush re-checks them against Redis (and judges karma pair
    /// cooldowns there alone).
    @discardableResult
    public func evictIdle(olderThan idle: Duration) -> Int {
        let now = clock()
        let limit = UInt64(max(0, idle / .milliseconds(1)))
        var evicted = 0
        for stripe in stripes {
            stripe.actors.withLock { actors in
                let before = actors.count
                // An actor that handled an event after `now` was read is active, not 2^64 ms idle.
                actors = actors.filter { actor in
                    let last = actor.value.lastActiveAt
                    return last >= now || now - last < limit
                }
                evicted += before - actors.count
            }
        }
        return evicted
    }

    /// Milliseconds since an arbitrary start, never going back. The coarse monotonic clock: read
    /// on every event, it costs no more than a memory load, and milliseconds suffice for idling
    /// and karma cooldowns.
    public static let monotonicMilliseconds: @Sendable () -> UInt64 = {
        #if canImport(Glibc)
        return coarseMilliseconds(CLOCK_MONOTONIC_COARSE)
        #else
        return UInt64(max(0, (ContinuousClock.now - GuildRouter.epoch) / .milliseconds(1)))
        #endif
    }

    /// Unix milliseconds, from the coarse real-time clock.
    public static let unixMilliseconds: @Sendable () -> UInt64 = {
        #if canImport(Glibc)
        return coarseMilliseconds(CLOCK_REALTIME_COARSE)
        #else
        return UInt64(max(0, Date().timeIntervalSince1970 * 1_000))
        #endif
    }

    private static let epoch = ContinuousClock.now

    #if canImport(Glibc)
    private static func coarseMilliseconds(_ clock: clockid_t) -> UInt64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return UInt64(time.tv_sec) &* 1_000 &+ UInt64(time.tv_nsec) / 1_000_000
    }
    #endif

    private func stripe(_ guild: GuildID) -> Stripe {
        stripes[Int((guild.rawValue >> 22) % UInt64(stripes.count))]
    }
}
