public import DiscordModels
public import Foundation

/// A support ticket: a private channel a member opened, numbered per guild.
public struct Ticket: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case open, claimed, closed
    }

    public let guild: GuildID
    /// 1, 2, 3… within the guild.
    public let number: Int64
    /// The member who opened it.
    public let opener: UserID
    /// The private channel, once Discord created it.
    public let channel: ChannelID?
    public let status: Status
    /// Why the member opened it, in their words.
    public let reason: String?
    /// The moderator who took it.
    public let claimedBy: UserID?
    public let closedBy: UserID?
    public let closeReason: String?
    public let createdAt: Date
    public let closedAt: Date?
}
