public import DiscordModels

/// The JSON Kamii sends and reads, in Discord's field names. Only what Kamii uses is modelled;
/// Discord adds fields freely and decoding ignores the rest.

public struct DiscordUser: Codable, Sendable, Equatable {
    public let id: UserID
    public let username: String
    public let avatar: String?
    public let bot: Bool?
}

public struct GuildMember: Codable, Sendable, Equatable {
    public let user: DiscordUser?
    public let roles: [RoleID]
    public let nick: String?
    public let joinedAt: String?
    public let communicationDisabledUntil: String?

    enum CodingKeys: String, CodingKey {
        case user, roles, nick
        case joinedAt = "joined_at"
        case communicationDisabledUntil = "communication_disabled_until"
    }
}

public struct Message: Codable, Sendable, Equatable {
    public let id: MessageID
    public let channelID: ChannelID?
    public let content: String

    enum CodingKeys: String, CodingKey {
        case id, content
        case channelID = "channel_id"
    }
}

public struct Channel: Codable, Sendable, Equatable {
    public let id: ChannelID
    public let type: Int
    public let name: String?
    public let permissionOverwrites: [PermissionOverwrite]?

    enum CodingKeys: String, CodingKey {
        case id, type, name
        case permissionOverwrites = "permission_overwrites"
    }
}

/// A channel permission overwrite: `type` 0 for a role, 1 for a member; permission bit sets as
/// Discord's decimal strings.
public struct PermissionOverwrite: Codable, Sendable, Equatable {
    public let id: String
    public let type: Int
    public let allow: String
    public let deny: String

    public init(id: UInt64, type: Int, allow: UInt64, deny: UInt64) {
        self.id = String(id)
        self.type = type
        self.allow = String(allow)
        self.deny = String(deny)
    }
}

public struct Embed: Codable, Sendable, Equatable {
    public var title: String?
    public var description: String?
    public var color: Int?

    public init(title: String? = nil, description: String? = nil, color: Int? = nil) {
        self.title = title
        self.description = description
        self.color = color
    }
}

/// Who a message may ping. Kamii's default is nobody: announcements never mass-mention.
public struct AllowedMentions: Codable, Sendable, Equatable {
    public var parse: [String]
    public var users: [String]?
    public var roles: [String]?

    public static let none = AllowedMentions(parse: [])

    public init(parse: [String], users: [String]? = nil, roles: [String]? = nil) {
        self.parse = parse
        self.users = users
        self.roles = roles
    }
}

/// A message to send: content, embeds, who it may mention, and components (raw JSON objects
/// are not modelled; buttons are).
public struct MessageCreate: Codable, Sendable, Equatable {
    public var content: String?
    public var embeds: [Embed]?
    public var allowedMentions: AllowedMentions?
    public var components: [ActionRow]?
    public var flags: Int?
    /// Up to 25 characters. With ``enforceNonce``, Discord answers a create with a nonce it saw from
    /// the bot in the past few minutes with that message and creates none: a create whose answer
    /// was lost (a timeout, a 5xx) can be sent again without posting twice.
    public var nonce: String?
    public var enforceNonce: Bool?

    enum CodingKeys: String, CodingKey {
        case content, embeds, components, flags, nonce
        case allowedMentions = "allowed_mentions"
        case enforceNonce = "enforce_nonce"
    }

    public init(
        content: String? = nil, embeds: [Embed]? = nil, allowedMentions: AllowedMentions? = AllowedMentions.none, components: [ActionRow]? = nil,
        flags: Int? = nil, nonce: String? = nil, enforceNonce: Bool? = nil
    ) {
        self.content = content
        self.embeds = embeds
        self.allowedMentions = allowedMentions
        self.components = components
        self.flags = flags
        self.nonce = nonce
        self.enforceNonce = enforceNonce
    }
}

public struct ActionRow: Codable, Sendable, Equatable {
    public var type = 1
    public var components: [Button]

    public init(_ components: [Button]) {
        self.components = components
    }
}

public struct Button: Codable, Sendable, Equatable {
    public var type = 2
    public var style: Int
    public var label: String?
    public var customID: String?
    public var url: String?

    enum CodingKeys: String, CodingKey {
        case type, style, label, url
        case customID = "custom_id"
    }

    public init(style: Int, label: String?, customID: String? = nil, url: String? = nil) {
        self.style = style
        self.label = label
        self.customID = customID
        self.url = url
    }
}

/// `GET /gateway/bot`.
public struct GatewayBot: Codable, Sendable, Equatable {
    public struct SessionStartLimit: Codable, Sendable, Equatable {
        public let total: Int
        public let remaining: Int
        public let resetAfter: Int
        public let maxConcurrency: Int

        public init(total: Int, remaining: Int, resetAfter: Int, maxConcurrency: Int) {
            self.total = total
            self.remaining = remaining
            self.resetAfter = resetAfter
            self.maxConcurrency = maxConcurrency
        }

        enum CodingKeys: String, CodingKey {
            case total, remaining
            case resetAfter = "reset_after"
            case maxConcurrency = "max_concurrency"
        }

        /// The longest `reset_after` taken: Discord's window is a day; twice that leaves room, and
        /// past it (a proxy's mistake) the budget would be held for years, or its key's expiry refused.
        public static let resetAfterLimit = 2 * 86_400_000

        /// Refuses counts no gateway gives (negative, or a reset past ``resetAfterLimit``), with
        /// what was said: the session budget is planned on them. `max_concurrency` is checked by
        /// the shard plan, which says what Discord's range is.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            total = try container.decode(Int.self, forKey: .total)
            remaining = try container.decode(Int.self, forKey: .remaining)
            resetAfter = try container.decode(Int.self, forKey: .resetAfter)
            maxConcurrency = try container.decode(Int.self, forKey: .maxConcurrency)
            func refuse(_ key: CodingKeys, _ value: Int, _ rule: String) throws {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "session_start_limit.\(key.rawValue) is \(value); it must be \(rule)")
            }
            if total < 1 { try refuse(.total, total, "at least 1") }
            if remaining < 0 { try refuse(.remaining, remaining, "at least 0") }
            if !(0...Self.resetAfterLimit).contains(resetAfter) { try refuse(.resetAfter, resetAfter, "0...\(Self.resetAfterLimit) ms") }
        }
    }

    public let url: String
    public let shards: Int
    public let sessionStartLimit: SessionStartLimit

    enum CodingKeys: String, CodingKey {
        case url, shards
        case sessionStartLimit = "session_start_limit"
    }
}

/// A slash command as registered by bulk overwrite.
public struct ApplicationCommand: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String
    public var description: String
    public var type: Int?

    public init(name: String, description: String, type: Int = 1) {
        self.id = nil
        self.name = name
        self.description = description
        self.type = type
    }
}

/// `POST /guilds/{guild.id}/bulk-ban`'s answer.
public struct BulkBanResult: Codable, Sendable, Equatable {
    public let bannedUsers: [UserID]
    public let failedUsers: [UserID]

    enum CodingKeys: String, CodingKey {
        case bannedUsers = "banned_users"
        case failedUsers = "failed_users"
    }
}
