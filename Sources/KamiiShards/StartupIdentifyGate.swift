public import DiscordGateway
public import Logging

/// The gate a manager's shards share: shards identify their first time in shard order within each
/// bucket (so shards 0…15 go in the first window with max_concurrency 16, then 16…31), and any later
/// identify (a session invalidated, a shard restarted) joins the end of its bucket's line — so only
/// the head of each bucket asks the queue, however many shards of a process must identify again at
/// once (each asking the Redis queue every few milliseconds would be thousands of scripts a
/// second); the session budget is charged, then the queue (local or Redis) gives the bucket's slot.
public actor StartupIdentifyGate: IdentifyGate {
    private let queue: any IdentifyGate
    private let budget: (any SessionBudget)?
    private let maxConcurrency: Int
    /// Per bucket, the shards still to make their first identify, in order.
    private var waiting: [Int: [Int]] = [:]
    private var wakeUps: [Int: CheckedContinuation<Void, Never>] = [:]
    /// How long a shard waits, on its open connection, before asking again for a budget that could
    /// not be read.
    private let budgetRetryDelay: Duration
    /// Since when the budget could not be read (nil while it can): said once, not once per shard
    /// and try.
    private var budgetUnreadableSince: ContinuousClock.Instant?
    private let logger: Logger

    /// - Parameter firstIdentifies: the shards that will identify at start (those resuming a
    ///   saved session do not), in the order they should go.
    public init(
        queue: any IdentifyGate, budget: (any SessionBudget)?, maxConcurrency: Int, firstIdentifies: [Int],
        budgetRetryDelay: Duration = .seconds(5), logger: Logger = Logger(label: "kamii.shards")
    ) {
        self.queue = queue
        self.budget = budget
        self.maxConcurrency = max(1, maxConcurrency)
        self.budgetRetryDelay = budgetRetryDelay
        self.logger = logger
        for shard in firstIdentifies { waiting[shard % self.maxConcurrency, default: []].append(shard) }
    }

    public func waitForTurn(shard: Int) async throws {
        let bucket = shard % maxConcurrency
        // However this ends (identified, refused, cancelled), the next shard of the bucket may go.
        defer { forget(shard: shard) }
        if waiting[bucket]?.contains(shard) != true { waiting[bucket, default: []].append(shard) }
        while waiting[bucket]?.first != shard {
            try Task.checkCancellation()
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    if Task.isCancelled { continuation.resume() } else { wakeUps[shard] = continuation }
                }
            } onCancel: {
                Task { await self.wake(shard) }
            }
        }
        // The budget first: asking Discord for it can take a while, and a bucket's lease must
        // run from just before the identify is written.
        while true {
            do {
                try await budget?.spend(shard: shard)
                if let since = budgetUnreadableSince {
                    budgetUnreadableSince = nil
                    logger.notice("the session budget can be read again; shards identify", metadata: ["unreadable_for": "\(ContinuousClock.now - since)"])
                }
                break
            } catch let error as IdentifyRefused {
                throw error
            } catch where error is CancellationError || Task.isCancelled {
                throw CancellationError()
            } catch {
                // Redis or Discord's REST API cannot say what is left: do not guess; ask again in a
                // moment, on the open connection — a refusal would make it again, a handshake with
                // Discord per shard every few seconds while Redis is away.
                if budgetUnreadableSince == nil {
                    budgetUnreadableSince = .now
                    logger.warning("the session budget cannot be checked; shards wait to identify", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: budgetRetryDelay)
            }
        }
        do {
            try await queue.waitForTurn(shard: shard)
        } catch {
            await budget?.refund(shard: shard)
            throw error
        }
    }

    public func identifySent(shard: Int) async {
        await queue.identifySent(shard: shard)
    }

    public func identifyNotSent(shard: Int) async {
        await budget?.refund(shard: shard)
        await queue.identifyNotSent(shard: shard)
    }

    private func wake(_ shard: Int) {
        wakeUps.removeValue(forKey: shard)?.resume()
    }

    /// Takes `shard` out of the start order (it identified, stopped, or resumed instead), letting
    /// the next shard of its bucket go.
    public func forget(shard: Int) {
        let bucket = shard % maxConcurrency
        guard var line = waiting[bucket], let index = line.firstIndex(of: shard) else { return }
        line.remove(at: index)
        waiting[bucket] = line
        if let next = line.first, let wake = wakeUps.removeValue(forKey: next) { wake.resume() }
    }
}
