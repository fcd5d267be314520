import DiscordModels
@testable import DiscordSimulator
import KamiiCore
import KamiiStore
import Testing

struct XPRulesTests {
    @Test func theCurveIsMEE6s() {
        var total: Int64 = 0
        for level in 0...LevelCurve.maximumLevel {
            #expect(LevelCurve.totalXP(toReach: level) == total, "level \(level)")
            #expect(LevelCurve.level(forTotalXP: total) == level)
            if level > 0 { #expect(LevelCurve.level(forTotalXP: total - 1) == level - 1) }
            total += LevelCurve.xpToAdvance(from: level)
        }
        #expect(LevelCurve.totalXP(toReach: 1) == 100)
        #expect(LevelCurve.totalXP(toReach: 2) == 255)
        #expect(LevelCurve.totalXP(toReach: 3) == 475)
        #expect(LevelCurve.level(forTotalXP: 0) == 0)
        #expect(LevelCurve.level(forTotalXP: -5) == 0)
    }

    @Test func theRollIsTheSimulatorsAndCoversTheRange() {
        var seen = Set<Int>()
        for id in stride(from: UInt64(1) << 40, to: (UInt64(1) << 40) + 5_000, by: 1) {
            let roll = XPRules.roll(messageID: id, minimum: 15, maximum: 25)
            #expect(roll == GroundTruth.xpRoll(messageID: MessageID(id), rules: GroundTruth.Rules()))
            seen.insert(roll)
        }
        #expect(seen == Set(15...25))
    }

    private func message(bot: Bool = false, webhook: Bool = false, type: Int = 0, guild: UInt64? = 1, channel: UInt64 = 7) -> MessageCreateFields {
        MessageCreateFields(id: 1 << 40, guildID: guild, channelID: channel, authorID: 3, authorIsBot: bot, isWebhook: webhook, type: type, memberRoles: nil)
    }

    @Test func botsWebhooksSystemMessagesAndExcludedPlacesEarnNothing() {
        var settings = GuildConfig.XPSettings()
        settings.noXPChannels = [ChannelID(9)]
        settings.noXPRoles = [RoleID(50)]
        let rules = XPRules(settings)
        #expect(rules.exclusion(of: message(), roles: []) == nil)
        #expect(rules.exclusion(of: message(type: 19), roles: []) == nil)
        #expect(rules.exclusion(of: message(bot: true), roles: []) == .bot)
        #expect(rules.exclusion(of: message(webhook: true), roles: []) == .webhook)
        #expect(rules.exclusion(of: message(type: 7), roles: []) == .systemMessage)
        #expect(rules.exclusion(of: message(guild: nil), roles: []) == .notInGuild)
        #expect(rules.exclusion(of: message(channel: 9), roles: []) == .noXPChannel)
        #expect(rules.exclusion(of: message(), roles: [49, 50]) == .noXPRole)
        #expect(rules.readsRoles)
        #expect(!XPRules.defaults.readsRoles)
    }

    @Test func multipliersStackGlobalChannelAndTheHighestRole() {
        var settings = GuildConfig.XPSettings()
        settings.minPerMessage = 20
        settings.maxPerMessage = 20
        settings.multiplier = 1.5
        settings.channelMultipliers = [ChannelID(7): 2]
        settings.roleMultipliers = [RoleID(1): 1.25, RoleID(2): 3]
        let rules = XPRules(settings)
        #expect(rules.award(messageID: 1, channelID: 8, roles: []) == 30)
        #expect(rules.award(messageID: 1, channelID: 7, roles: []) == 60)
        #expect(rules.award(messageID: 1, channelID: 7, roles: [1, 2]) == 180)
        #expect(rules.award(messageID: 1, channelID: 8, roles: [1]) == 38)  // 37.5 rounds up
    }

    /// A multiplied award is rounded as the decimals make it (halves up), not as binary floating
    /// point happens to fall, each multiplier counted to the hundredth; the simulator's ground
    /// truth, worked out in decimal arithmetic, agrees on every roll of the default range times
    /// every multiplier in tenths up to 10, alone and times a channel's, and on random rolls up to
    /// 1,000 times random global, channel and role multipliers of up to seven decimals.
    @Test func multipliedXPIsRoundedAsTheWrittenDecimalsMakeIt() {
        func award(_ roll: Int, _ multiplier: Double, channel: Double = 1, role: Double? = nil) -> Int {
            var settings = GuildConfig.XPSettings()
            settings.minPerMessage = roll
            settings.maxPerMessage = roll
            settings.multiplier = multiplier
            settings.channelMultipliers = [ChannelID(7): channel]
            if let role { settings.roleMultipliers = [RoleID(8): role] }
            return XPRules(settings).award(messageID: 1, channelID: 7, roles: [8])
        }
        #expect(award(15, 4.1) == 62, "61.5 (binary: 61.49999999999999)")
        #expect(award(25, 2.3) == 58, "57.5")
        #expect(award(25, 5.1) == 128, "127.5")
        #expect(award(15, 1.4, channel: 1.5) == 32, "31.5")
        #expect(award(21, 0.5) == 11, "10.5")
        #expect(award(15, 1.0333333) == 15, "counted as 1.03: 15.45")
        #expect(award(224, 4.376, channel: 3.171, role: 3.486) == 10_854, "224 × 4.38 × 3.17 × 3.49 = 10,854.42…")
        let tenths = (0...100).map { Double($0) / 10 }
        var disagreements: [String] = []
        for roll in 15...25 {
            for multiplier in tenths {
                if award(roll, multiplier) != GroundTruth.Rules.exactlyScaled(roll, by: [multiplier]) {
                    disagreements.append("\(roll) × \(multiplier)")
                }
                for channel in stride(from: 0.5, through: 3.0, by: 0.1).map({ ($0 * 10).rounded() / 10 })
                where award(roll, multiplier, channel: channel) != GroundTruth.Rules.exactlyScaled(roll, by: [multiplier, channel]) {
                    disagreements.append("\(roll) × \(multiplier) × \(channel)")
                }
            }
        }
        var random = SeededRandom(seed: 7)
        func multiplier() -> Double { Double(random.next() % 100_000_001) / 10_000_000 }  // 0–10, seven decimals
        for _ in 0..<20_000 {
            let roll = Int(random.next() % 1_001)
            let (global, channel, role) = (multiplier(), multiplier(), multiplier())
            if award(roll, global, channel: channel, role: role) != GroundTruth.Rules.exactlyScaled(roll, by: [global, channel, role]) {
                disagreements.append("\(roll) × \(global) × \(channel) × \(role)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count): \(disagreements.prefix(10))")
    }

    /// @everyone, the role whose ID is the guild's, is held by every member though no role list names it.
    @Test func everyMemberHoldsEveryone() {
        var settings = GuildConfig.XPSettings()
        settings.minPerMessage = 20
        settings.maxPerMessage = 20
        settings.roleMultipliers = [RoleID(1): 2, RoleID(2): 3]
        let rules = XPRules(settings)
        #expect(rules.award(messageID: 1, channelID: 8, roles: [], guild: 1) == 40)
        #expect(rules.award(messageID: 1, channelID: 8, roles: [2], guild: 1) == 60, "the highest still wins")
        settings.noXPRoles = [RoleID(1)]
        #expect(XPRules(settings).exclusion(of: message(guild: 1), roles: []) == .noXPRole)
        #expect(XPRules(settings).exclusion(of: message(guild: 5), roles: []) == nil)
    }

    @Test func onlyRulesWithoutMultipliersOrListsArePlain() {
        let plain = XPRules.defaults.plain
        #expect(plain?.minimumXP == 15 && plain?.maximumXP == 25 && plain?.cooldownMilliseconds == 60_000)
        let tweaks: [(String, (inout GuildConfig.XPSettings) -> Void)] = [
            ("multiplier", { $0.multiplier = 2 }),
            ("channel multiplier", { $0.channelMultipliers = [ChannelID(7): 1.5] }),
            ("role multiplier", { $0.roleMultipliers = [RoleID(8): 1.5] }),
            ("no-XP channel", { $0.noXPChannels = [ChannelID(7)] }),
            ("no-XP role", { $0.noXPRoles = [RoleID(8)] }),
        ]
        for (name, tweak) in tweaks {
            var settings = GuildConfig.XPSettings()
            tweak(&settings)
            #expect(XPRules(settings).plain == nil, "\(name)")
        }
        var bounds = GuildConfig.XPSettings()
        bounds.minPerMessage = 5
        bounds.maxPerMessage = 9
        bounds.cooldownSeconds = 10
        let tight = XPRules(bounds).plain
        #expect(tight?.minimumXP == 5 && tight?.maximumXP == 9 && tight?.cooldownMilliseconds == 10_000)
    }

    @Test func theCooldownIsMeasuredInMessageTime() {
        let rules = XPRules.defaults
        #expect(!rules.isCoolingDown(messageTime: 1_000, lastXPAt: nil))
        #expect(rules.isCoolingDown(messageTime: 60_999, lastXPAt: 1_000))
        #expect(!rules.isCoolingDown(messageTime: 61_000, lastXPAt: 1_000))
    }

    /// With no cooldown every later message earns, but the message of the last XP itself (seen
    /// again after a resume) does not.
    @Test func noCooldownStillNeverGrantsOneMessageTwice() {
        var settings = GuildConfig.XPSettings()
        settings.cooldownSeconds = 0
        let rules = XPRules(settings)
        #expect(rules.isCoolingDown(messageTime: 1_000, lastXPAt: 1_000))
        #expect(!rules.isCoolingDown(messageTime: 1_001, lastXPAt: 1_000))
    }

    /// Settings that reached the database past the panel's checks are held to bounds instead of
    /// trapping the arithmetic: no crash, and a cooldown that still holds.
    @Test func extremeSettingsNeverTrap() {
        var settings = GuildConfig.XPSettings()
        settings.cooldownSeconds = Int.max
        settings.minPerMessage = Int.min
        settings.maxPerMessage = Int.max
        settings.multiplier = .infinity
        settings.channelMultipliers = [ChannelID(5 << 22): .nan]
        let rules = XPRules(settings)
        #expect(rules.cooldownMilliseconds == 31_536_000_000 && rules.isCoolingDown(messageTime: 2_000, lastXPAt: 1_000))
        let xp = rules.award(messageID: 1 << 40, channelID: 5 << 22, roles: [])
        #expect((0...100_000_000).contains(xp))
        var karma = GuildConfig.KarmaSettings()
        karma.cooldownSeconds = Int.max
        #expect(KarmaRules(karma).cooldownMilliseconds == 31_536_000_000)
    }
}
