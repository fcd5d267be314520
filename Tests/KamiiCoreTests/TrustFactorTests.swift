import DiscordModels
import KamiiCore
import KamiiStore
import Testing

struct TrustFactorTests {
    static let day: UInt64 = 86_400_000
    static let now: UInt64 = 1_767_225_600_000  // 2026-01-01

    private func score(_ signals: TrustFactor.Signals) -> TrustFactor.Score { TrustFactor.score(signals, now: Self.now) }

    @Test func aBrandNewAccountWithoutAvatarJustJoinedScoresLow() {
        let fresh = score(.init(accountCreatedAt: Self.now - Self.day / 2, hasAvatar: false, joinedAt: Self.now - 60_000, isPending: true))
        let expected: Int = 50 - 30 - 5 - 10 - 10
        #expect(fresh.reasons.reduce(0) { $0 + $1.points } == expected)
        #expect(fresh.value == 0, "clamped")
        #expect(fresh.reasons.map(\.reason) == ["baseline", "account age", "no avatar", "time in the guild", "membership screening not passed"])
    }

    @Test func anOldActiveVerifiedMemberScoresHighAndIsClamped() {
        let veteran = score(.init(
            accountCreatedAt: Self.now - 4 * 365 * Self.day, hasAvatar: true, joinedAt: Self.now - 400 * Self.day, isVerified: true,
            messages: 5_000, karma: 40))
        let expected: Int = 50 + 15 + 5 + 10 + 10 + 15 + 10
        let total = veteran.reasons.reduce(0) { $0 + $1.points }
        #expect(total == expected)
        #expect(veteran.value == 100)
    }

    static let ageSteps: [(days: UInt64, points: Int)] = [(0, -30), (2, -20), (10, -10), (100, 0), (200, 5), (730, 10), (1_460, 15)]

    @Test func accountAgeSteps() {
        for step in Self.ageSteps {
            let result = score(.init(accountCreatedAt: Self.now - step.days * Self.day, hasAvatar: nil))
            #expect(result.value == 50 + step.points, "\(step.days) days")
        }
    }

    @Test func punishmentsWeighLessAsTheyAge() {
        let base = TrustFactor.Signals(accountCreatedAt: Self.now - 100 * Self.day, hasAvatar: nil)
        var fresh = base
        fresh.punishments = [.init(kind: .ban, at: Self.now)]
        var month = base
        month.punishments = [.init(kind: .ban, at: Self.now - 30 * Self.day)]
        var year = base
        year.punishments = [.init(kind: .ban, at: Self.now - 365 * Self.day)]
        #expect(score(fresh).value == 20)
        #expect(score(month).value == 35)
        #expect(score(year).value == 50)
        var twoWarns = base
        twoWarns.punishments = [.init(kind: .warn, at: Self.now), .init(kind: .timeout, at: Self.now)]
        #expect(score(twoWarns).value == 35)
        #expect(score(twoWarns).reasons.map(\.reason).suffix(2) == ["warn", "timeout"])
    }

    @Test func nothingKnownIsNeutralAndNegativeKarmaCosts() {
        let unknown = score(.init(accountCreatedAt: Self.now - 100 * Self.day, hasAvatar: nil))
        #expect(unknown.value == 50 && unknown.reasons.count == 1)
        #expect(score(.init(accountCreatedAt: Self.now - 100 * Self.day, hasAvatar: nil, karma: -3)).value == 45)
        #expect(score(.init(accountCreatedAt: Self.now + 5_000, hasAvatar: nil)).value == 20, "a clock behind the account is age zero")
    }

    /// The hot path's value, worked out without the reasons, is the explained score's.
    @Test func theValueAloneIsTheScoresValue() {
        let days: [UInt64] = [0, 1, 6, 29, 179, 364, 1_094, 2_000]
        for (index, age) in days.enumerated() {
            for avatar in [nil, true, false] as [Bool?] {
                for tenure in [nil, 0, 2, 40, 400] as [UInt64?] {
                    let signals = TrustFactor.Signals(
                        accountCreatedAt: Self.now - age * Self.day, hasAvatar: avatar, joinedAt: tenure.map { Self.now - $0 * Self.day },
                        isPending: index.isMultiple(of: 2), isVerified: index.isMultiple(of: 3), messages: [0, 10, 100, 1_000][index % 4],
                        karma: [-1, 0, 5, 25][(index + 1) % 4],
                        punishments: index > 4 ? [.init(kind: .ban, at: Self.now - age * Self.day), .init(kind: .warn, at: Self.now)] : [])
                    let explained = score(signals)
                    #expect(TrustFactor.value(signals, now: Self.now) == explained.value, "\(signals)")
                    #expect(explained.value == min(100, max(0, explained.reasons.reduce(0) { $0 + $1.points })))
                }
            }
        }
    }
}
