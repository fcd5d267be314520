public import DiscordModels
public import Foundation

/// A support ticket: a private channel a member opened, numbered per guild.
public struct Ticket: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case open, claimed, closed
    }

    public let guild: GuildID
    public let number: Int64
    public let opener: UserID
    public let channel: ChannelID?
    public let status: Status
    public let reason: String?
    public let claimedBy: UserID?
    public let closedBy: UserID?
    public let closeReason: String?
    public let createdAt: Date
    public let closedAt: Date?
}
