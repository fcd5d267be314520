public import DiscordModels
public import Foundation

/// Everything Kamii stores about one guild, as handed to its owner on request.
public struct GuildDataExport: Codable, Sendable {
    public struct CaseRecord: Codable, Sendable, Equatable {
        public let punishment: Punishment
        public let reasonHistory: [ReasonRevision]
    }

    public let guild: GuildID
    public let exportedAt: Date
    public let config: GuildConfig?
    public let configRevision: Int64?
    public let templates: [String: MessageTemplate]
    public let serverUsers: [ServerUserStats]
    public let cases: [CaseRecord]
    public let tickets: [Ticket]
    public let panelAudit: [PanelAuditEntry]
}

/// Everything Kamii stores about one user across all guilds, as handed to them on request.
public struct UserDataExport: Codable, Sendable {
    public let user: UserID
    public let exportedAt: Date
    public let serverUsers: [ServerUserStats]
    /// Cases where the user is the member acted on.
    public let casesAbout: [Punishment]
    /// Cases the user recorded as a moderator, or revoked.
    public let casesAsModerator: [Punishment]
    public let ticketsOpened: [Ticket]
    /// Changes the user made in the panel.
    public let panelChanges: [PanelAuditEntry]
}

/// What a deletion removed (and, for a user, what it kept and why: see `docs/PRIVACY.md`).
public struct DeletionReport: Codable, Sendable, Equatable {
    public var serverUsers = 0
    public var templates = 0
    public var cases = 0
    public var tickets = 0
    public var panelAudit = 0
    public var configs = 0
    /// Moderation cases about the user that were kept.
    public var casesKept = 0
}
