public import DiscordModels
public import Foundation

/// A case with the earlier wordings of its reason.
public struct CaseRecord: Codable, Sendable, Equatable {
    public let punishment: Punishment
    public let reasonHistory: [ReasonRevision]
}

/// A template a user last edited (its text is the guild's, not theirs).
public struct TemplateEdit: Codable, Sendable, Equatable {
    public let guild: GuildID
    /// The template's kind as stored: one this binary knows (``MessageTemplate/Kind``) or not (a
    /// later build's) — the row names the user either way, so it is handed over.
    public let kind: String
    public let editedAt: Date
}

/// Everything Kamii stores about one guild, as handed to its owner on request.
public struct GuildDataExport: Codable, Sendable {
    public let guild: GuildID
    public let exportedAt: Date
    /// Nil when the guild is not (or no longer) registered, or its configuration is stored in a
    /// form this binary cannot read (``unreadableConfig``).
    public let config: GuildConfig?
    public let configRevision: Int64?
    /// The stored configuration's text when this binary cannot decode it (another build's, or one
    /// edited by hand): handed over as it is rather than failing the export.
    public var unreadableConfig: String?
    /// By template kind.
    public let templates: [String: MessageTemplate]
    public let serverUsers: [ServerUserStats]
    public let cases: [CaseRecord]
    public let tickets: [Ticket]
    public let panelAudit: [PanelAuditEntry]
    /// The last number each of the guild's counters gave (`case`, `ticket`).
    public let counters: [String: Int64]
}

/// Everything Kamii stores about one user across all guilds, as handed to them on request.
public struct UserDataExport: Codable, Sendable {
    public let user: UserID
    public let exportedAt: Date
    public let serverUsers: [ServerUserStats]
    /// Cases where the user is the member acted on, with their reason history.
    public let casesAbout: [CaseRecord]
    /// Cases the user recorded as a moderator, or revoked.
    public let casesAsModerator: [Punishment]
    /// Reasons the user reworded as a moderator (the wording they replaced, and when).
    public let reasonEdits: [ReasonRevision]
    public let ticketsOpened: [Ticket]
    /// Tickets the user claimed or closed as a moderator.
    public let ticketsHandled: [Ticket]
    /// Templates the user last edited.
    public let templatesEdited: [TemplateEdit]
    /// Changes the user made in the panel.
    public let panelChanges: [PanelAuditEntry]
}

/// What a deletion removed (and, for a user, what it kept and why: see `docs/PRIVACY.md`).
public struct DeletionReport: Codable, Sendable, Equatable {
    /// Rows removed from each table.
    public var serverUsers = 0
    public var templates = 0
    public var cases = 0
    public var tickets = 0
    public var panelAudit = 0
    public var configs = 0
    /// Moderation cases about the user that were kept.
    public var casesKept = 0

    /// Adds the rows a later pass of the same deletion removed (the cases kept are counted once).
    public mutating func addDeleted(_ later: DeletionReport) {
        serverUsers += later.serverUsers
        templates += later.templates
        cases += later.cases
        tickets += later.tickets
        panelAudit += later.panelAudit
        configs += later.configs
    }
}
