public import DiscordGateway
public import DiscordModels
import Synchronization

/// One guild's rules and short-term memory. Events of a guild reach it in order (a guild lives on
/// one shard, whose consumer awaits each event); it reads only the fields its rules need and
/// leaves the resulting changes in the ``StatsBuffer``.
///
/// What it remembers: each member's last XP time (``XPCooldowns``: exact where it can be, the
/// flush re-checking every grant against what Redis keeps) and, in its ``KarmaGate``, the bots it
/// has seen. Which reactions gave karma and each karma pair's cooldown are Redis's, judged by the
/// flush.
public actor GuildActor {
    public nonisolated let guild: GuildID
    private let stats: StatsBuffer
    private let slot: GuildStatsSlot
    private let source: any GuildSettingsSource
    private let counters: HotPathCounters
    private let threads: ThreadParents
    private let clock: @Sendable () -> UInt64
    private let wallClock: @Sendable () -> UInt64
    private var settings: GuildSettings? {
        didSet { plainXP = settings?.xp?.plain }
    }
    /// The XP rules as plain values, when they are (``XPRules/plain``): a message, most of the
    /// traffic, is judged from these without copying the settings — whose XP rules object every
    /// unconfigured guild's actor shares, so each copy would write its reference count, from every
    /// core.
    private var plainXP: XPRules.Plain?
    private var cooldowns = XPCooldowns()
    private var newestMessageTime: UInt64 = 0
    /// Cooldowns held before the run-out ones are dropped (doubles with what stays).
    private var compactAt = GuildActor.compactionFloor
    private static let compactionFloor = 1_024
    private var karma = KarmaGate()
    private let lastActive: Atomic<UInt64>
    /// Set when the guild's configuration changed, or could not be read: the settings are read again
    /// before the next event (after ``settingsRetryAt`` when the last read failed).
    private let settingsStale = Atomic<Bool>(false)
    /// When a configuration that could not be read is asked for again (router's clock).
    private var settingsRetryAt: UInt64 = 0
    private static let settingsRetryMilliseconds: UInt64 = 5_000

    init(
        guild: GuildID, stats: StatsBuffer, source: any GuildSettingsSource, counters: HotPathCounters,
        threads: ThreadParents, clock: @escaping @Sendable () -> UInt64,
        wallClock: @escaping @Sendable () -> UInt64
    ) {
        self.wallClock = wallClock
        self.guild = guild
        self.stats = stats
        slot = stats.slot(for: guild.rawValue)
        self.source = source
        self.counters = counters
        self.threads = threads
        self.clock = clock
        lastActive = Atomic(clock())
    }

    /// When the actor last handled an event (the router's clock, milliseconds).
    nonisolated var lastActiveAt: UInt64 { lastActive.load(ordering: .relaxed) }

    /// The guild's configuration changed (an admin saved it): the next event reads it again.
    nonisolated func settingsChanged() {
        settingsStale.store(true, ordering: .relaxed)
    }

    /// Applies one dispatch of this guild; with a `lane`, moves the shard's lane to `position`
    /// together with the changes it records.
    public func handle(_ event: HotEvent, _ dispatch: ShardDispatch, lane: ShardLane?, position: ShardPosition) async {
        // Marked active before waiting (a full buffer, a settings read), so the idle sweep does not
        // take an actor that is busy with an event for an idle one.
        if stats.isFull {
            lastActive.store(clock(), ordering: .relaxed)
            await stats.waitForRoom()
        }
        let now = clock()
        // Read again only when missing or changed: the call would cost a task frame per event.
        if settings == nil || settingsStale.load(ordering: .relaxed) {
            lastActive.store(now, ordering: .relaxed)
            await refreshSettings(now: now)
        }
        lastActive.store(now, ordering: .relaxed)
        guard let lane else { return apply(event, dispatch) }
        lane.advance(to: position) { apply(event, dispatch) }
    }

    /// Reads the settings when the actor has none yet or they changed (at most every
    /// ``settingsRetryMilliseconds`` while they cannot be read).
    private func refreshSettings(now: UInt64) async {
        if settings != nil, !(settingsStale.load(ordering: .relaxed) && now >= settingsRetryAt) { return }
        settingsStale.store(false, ordering: .relaxed)
        if let read = await source.settings(for: guild) {
            settings = read
            return
        }
        // Unreadable now (a database gone away): the settings it has serve until the next try — a
        // stand-in when it has none yet, so the guild's members keep earning meanwhile.
        settingsStale.store(true, ordering: .relaxed)
        settingsRetryAt = now &+ Self.settingsRetryMilliseconds
        if settings == nil { settings = .standIn }
    }

    private func apply(_ event: HotEvent, _ dispatch: ShardDispatch) {
        dispatch.payload.withUnsafeBytes { payload in
            do throws(JSONScanError) {
                // Offsets in the fields are the payload's, whether the envelope's pass read them or this one.
                var fields = dispatch.hotFields
                if fields == nil {
                    var scanner = JSONScanner(payload, at: dispatch.dataRange.lowerBound)
                    fields = try HotFields.read(event, &scanner)
                }
                switch (event, fields) {
                case (.messageCreate, .message(let message)?):
                    let origin = dispatch.sequence.map {
                        GuildStatsBatch.Origin(sessionTag: dispatch.sessionTag, sequence: UInt64(clamping: $0), mayBeApplied: dispatch.mayBeApplied)
                    } ?? .unknown
                    if let plain = plainXP {
                        try self.message(message, payload, .plain(plain), origin)
                    } else if let rules = settings?.xp {
                        try self.message(message, payload, .configured(rules), origin)
                    } else {
                        messageWithoutXP(message, origin)
                    }
                case (.reactionAdd, .reaction(let reaction)?), (.reactionRemove, .reaction(let reaction)?):
                    guard let rules = settings?.karma else { return }
                    self.reaction(reaction, added: event == .reactionAdd, payload, rules)
                case (.reactionRemoveAll, .reaction(let reaction)?), (.reactionRemoveEmoji, .reaction(let reaction)?):
                    guard let rules = settings?.karma else { return }
                    reactionsCleared(reaction, everyEmoji: event == .reactionRemoveAll, payload, rules)
                case (.memberAdd, .member(let member)?), (.memberUpdate, .member(let member)?), (.memberRemove, .member(let member)?):
                    // Only the fields it needs: a copy of the settings would retain the XP rules, shared.
                    // Where the rewards are not known (settings refused or not read yet) the rewarder,
                    // which holds a join until they are, judges.
                    let reportsJoins = settings?.levelRewards.rewards.isEmpty == false || settings?.isStandIn == true
                        || settings?.isRefused == true
                    // A refused configuration, or none read yet, does not say which role verifies: the
                    // record's flag stays.
                    let verifiedRole: UInt64?? = settings?.isRefused == true || settings?.isStandIn == true ? nil : .some(settings?.verifiedRole)
                    try self.member(member, event, payload, reportsJoins: reportsJoins, verifiedRole: verifiedRole)
                default:
                    counters.local.malformed.add(1, ordering: .relaxed)
                }
            } catch {
                counters.local.malformed.add(1, ordering: .relaxed)
            }
        }
    }

    /// Forgets cooldowns that can no longer hold back a new message. Message times are Discord's
    /// clock, so the newest message seen is the yardstick, not the router's clock.
    func compact() {
        // XP off: nothing is judged, and what is remembered still holds when it comes back on.
        guard let cooldown = settings?.xp?.cooldownMilliseconds else { return }
        cooldowns.compact(newest: newestMessageTime, cooldown: cooldown)
    }

    /// The XP rules a message is judged by: plain values, or a guild's configured rules.
    private enum XPView {
        case plain(XPRules.Plain)
        case configured(XPRules)

        var cooldownMilliseconds: UInt64 {
            switch self {
            case .plain(let plain): plain.cooldownMilliseconds
            case .configured(let rules): rules.cooldownMilliseconds
            }
        }
    }

    private func message(
        _ message: MessageCreateFields, _ data: UnsafeRawBufferPointer, _ rules: XPView, _ origin: GuildStatsBatch.Origin
    ) throws(JSONScanError) {
        counters.local.messages.wrappingAdd(1, ordering: .relaxed)
        if message.authorIsBot { noteBot(message.authorID) }
        let author = message.authorID
        var roles: [UInt64] = []
        var parentChannel: UInt64?
        let exclusion: XPRules.Exclusion?
        switch rules {
        case .plain:
            exclusion = XPRules.exclusionOfAnyGuild(message)
        case .configured(let configured):
            if configured.readsRoles { roles = try message.memberRoles?.ids(in: data) ?? [] }
            if configured.readsChannelParents { parentChannel = threads.parent(of: message.channelID, in: guild) }
            exclusion = configured.exclusion(of: message, roles: roles, parentChannel: parentChannel)
        }
        switch exclusion {
        case nil:
            break
        case .noXPChannel, .noXPRole:
            // A member's message still counts where it earns no XP.
            stats.record(in: slot) { $0.countMessage(by: author, at: MessageID(message.id).unixMilliseconds, from: origin) }
            return
        case .bot, .webhook, .systemMessage, .notInGuild:
            return
        }
        let time = MessageID(message.id).unixMilliseconds
        newestMessageTime = max(newestMessageTime, time)
        let cooldown = rules.cooldownMilliseconds
        var grant: GuildStatsBatch.Grant?
        let verdict = cooldowns.verdict(for: author, at: time, cooldown: cooldown)
        if verdict != .coolingDown {
            let xp: Int
            switch rules {
            case .plain(let plain):
                xp = XPRules.roll(messageID: message.id, minimum: plain.minimumXP, maximum: plain.maximumXP)
            case .configured(let configured):
                xp = configured.award(
                    messageID: message.id, channelID: message.channelID, parentChannel: parentChannel, roles: roles, guild: guild.rawValue)
            }
            // Nothing to earn (a 0× multiplier, a roll of 0): counted, and no cooldown started.
            if xp > 0 { grant = GuildStatsBatch.Grant(user: author, messageTime: time, xp: xp) }
        }
        if grant != nil {
            cooldowns.sent(verdict, by: author, at: time)
            if cooldowns.count >= compactAt {
                compact()
                compactAt = max(Self.compactionFloor, cooldowns.count * 2)
            }
        }
        stats.record(in: slot) { batch in
            batch.countMessage(by: author, at: time, from: origin)
            if let grant { batch.grant(grant, cooldownMilliseconds: cooldown) }
        }
        if grant != nil { counters.local.grants.wrappingAdd(1, ordering: .relaxed) }
    }

    /// A message in a guild with XP off: it still counts when a member wrote it (activity is a trust signal).
    private func messageWithoutXP(_ message: MessageCreateFields, _ origin: GuildStatsBatch.Origin) {
        counters.local.messages.wrappingAdd(1, ordering: .relaxed)
        if message.authorIsBot { noteBot(message.authorID) }
        guard XPRules.exclusionOfAnyGuild(message) == nil else { return }
        stats.record(in: slot) { $0.countMessage(by: message.authorID, at: MessageID(message.id).unixMilliseconds, from: origin) }
    }

    /// Remembers a bot; the first time it is seen with karma on (and again hourly), the flush keeps
    /// it in Redis too, so that an actor that has not seen it yet gives it no karma either.
    private func noteBot(_ user: UInt64) {
        karma.noteBot(user)
        guard settings?.karma != nil, karma.reports(user, at: clock()) else { return }
        stats.record(in: slot) { $0.noteBot(user) }
    }

    /// A reaction gives karma when its emoji is one the guild counts now. A removal takes back what
    /// its reaction gave whatever the emoji list says now: the ledger entry is keyed by the
    /// reaction's own emoji, so an admin changing or respelling the list leaves it reachable.
    private func reaction(_ reaction: ReactionFields, added: Bool, _ data: UnsafeRawBufferPointer, _ rules: KarmaRules) {
        // A removal does not say whether its user is a bot; the add before it did.
        if reaction.userIsBot { noteBot(reaction.userID) }
        let configured = rules.emoji.first(where: { reaction.emojiMatches($0, in: data) })
        guard let own = KarmaRules.emojiKey(of: reaction, in: data, burst: reaction.isBurst) else { return }
        guard added else {
            guard karma.mayTakeBack(reaction) else { return }
            let removal = GuildStatsBatch.KarmaReaction(message: reaction.messageID, giver: reaction.userID, emoji: own, receiver: nil)
            // Given before the ledger keyed reactions by their own emoji, under the configured
            // text's key (ledgers are kept by the week, so this matters for a few weeks). Only a
            // custom emoji's differs: a Unicode one then matched its text exactly, the key its own
            // text gives — and one matched in another skin tone is another reaction, not this one.
            let earlierKey = reaction.emojiID == nil ? nil : configured.map { KarmaRules.emojiKey($0, burst: reaction.isBurst) }
            return stats.record(in: slot) { batch in
                batch.record(removal, cooldownMilliseconds: rules.cooldownMilliseconds)
                if let earlierKey, earlierKey != own {
                    var earlier = removal
                    earlier.emoji = earlierKey
                    batch.record(earlier, cooldownMilliseconds: rules.cooldownMilliseconds)
                }
            }
        }
        // The pair's cooldown is the flush's to judge, against the pair's last karma in Redis.
        guard configured != nil, let receiver = karma.receiver(of: reaction) else { return }
        let change = GuildStatsBatch.KarmaReaction(
            message: reaction.messageID, giver: reaction.userID, emoji: own, receiver: receiver, givenAt: wallClock())
        stats.record(in: slot) { $0.record(change, cooldownMilliseconds: rules.cooldownMilliseconds) }
    }

    /// A message's reactions cleared: what each karma reaction on it (with the emoji cleared) gave
    /// is taken back, as if each had been removed — the ledger knows who gave what.
    private func reactionsCleared(_ reaction: ReactionFields, everyEmoji: Bool, _ data: UnsafeRawBufferPointer, _ rules: KarmaRules) {
        guard !everyEmoji else {
            let change = GuildStatsBatch.KarmaReaction.cleared(reaction.messageID, emoji: nil)
            return stats.record(in: slot) { $0.record(change) }
        }
        // An emoji's clear takes its super reactions too; and, as a removal does, the entries keyed
        // by the configured text before the ledger keyed them by the emoji's own identity.
        var keys: [UInt32] = []
        for burst in [false, true] {
            if let own = KarmaRules.emojiKey(of: reaction, in: data, burst: burst) { keys.append(own) }
        }
        if reaction.emojiID != nil, let configured = rules.emoji.first(where: { reaction.emojiMatches($0, in: data) }) {
            for burst in [false, true] where !keys.contains(KarmaRules.emojiKey(configured, burst: burst)) {
                keys.append(KarmaRules.emojiKey(configured, burst: burst))
            }
        }
        guard !keys.isEmpty else { return }
        let change = GuildStatsBatch.KarmaReaction.cleared(reaction.messageID, emojiKeys: keys)
        stats.record(in: slot) { $0.record(change) }
    }

    /// Notes bots; on a join or an update, judges the member's trust from what the event says
    /// (activity and karma are added at the next checkpoint, which has them). `verifiedRole` is
    /// nil when it is not known (the configuration refused, or not read yet), `.some(nil)` when the
    /// guild has none.
    private func member(
        _ member: MemberFields, _ event: HotEvent, _ payload: UnsafeRawBufferPointer, reportsJoins: Bool, verifiedRole: UInt64??
    ) throws(JSONScanError) {
        if member.userIsBot { noteBot(member.userID) }
        guard event != .memberRemove, !member.userIsBot else { return }
        // Rewards again at a join, or once past Membership Screening (a role would let them skip
        // it: the flush judges that against the record, which says whether they joined pending);
        // the join goes with the profile, so it is as durable as the flush that applies it.
        let restoresRewards = reportsJoins && event == .memberAdd && member.isPending != true
        let endsScreening = reportsJoins && event == .memberUpdate && member.isPending == false
        // Not said (nil) when the role is not known, or the event lists no roles.
        var isVerified: Bool?
        switch verifiedRole {
        case .some(.some(let role)):
            if let roles = member.roles {
                isVerified = false
                try roles.forEach(in: payload) { if $0 == role { isVerified = true } }
            }
        case .some(.none): isVerified = false
        case .none: isVerified = nil
        }
        let joinedAt = member.joinedAtMilliseconds.map { UInt64(max(0, $0)) }
        let signals = TrustFactor.Signals(
            accountCreatedAt: UserID(member.userID).unixMilliseconds, hasAvatar: member.hasAvatar, joinedAt: joinedAt,
            isPending: member.isPending == true, isVerified: isVerified == true)
        let trust = TrustFactor.value(signals, now: wallClock())
        let profile = MemberProfile(
            hasAvatar: member.hasAvatar, joinedAt: joinedAt ?? 0, isPending: member.isPending, isVerified: isVerified, trust: trust,
            restoresRewards: restoresRewards, endsScreening: endsScreening)
        stats.record(in: slot) { $0.setProfile(profile, of: member.userID) }
    }

}
