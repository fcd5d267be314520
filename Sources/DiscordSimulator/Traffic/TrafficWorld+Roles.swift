public import DiscordModels

/// Roles, their permissions and who holds them — fixed by the world's seed, so the gateway's member
/// objects, REST's checks and a test's expectations agree.
///
/// A guild's roles sit in positions 1…n with the highest last: plain roles, then "Moderator",
/// then the bot's managed role, then "Admin" (administrator). The bot can therefore act on plain
/// members and moderators but not on admins or the owner, as on a real server whose admins
/// placed the bot's role just below their own.
extension TrafficWorld {
    /// One of a guild's roles as the simulator models it.
    public struct RoleInfo: Sendable, Equatable {
        public let id: RoleID
        public let name: String
        public let position: Int
        public let permissions: Permissions
        public let managed: Bool
    }

    /// The roles of `guild` (without `@everyone`), lowest first.
    public func roles(of guild: Guild) -> [RoleInfo] {
        let count = guild.roles.count
        var roles: [RoleInfo] = guild.roles.enumerated().map { index, id in
            let permissions = Self.permissions(ofRoleAt: index, among: count)
            if count >= 2, index == count - 1 {
                return RoleInfo(id: id, name: "Admin", position: count + 1, permissions: permissions, managed: false)
            }
            if count >= 3, index == count - 2 {
                return RoleInfo(id: id, name: "Moderator", position: count - 1, permissions: permissions, managed: false)
            }
            return RoleInfo(id: id, name: "role-\(index + 1)", position: index + 1, permissions: permissions, managed: false)
        }
        roles.append(RoleInfo(id: botRoleID(of: guild), name: "Kamii", position: count, permissions: botPermissions, managed: true))
        return roles.sorted { $0.position < $1.position }
    }

    /// What the role at `index` of a guild's `count` roles grants: the highest is Admin, the one
    /// below it Moderator, the rest nothing beyond `@everyone`.
    static func permissions(ofRoleAt index: Int, among count: Int) -> Permissions {
        if count >= 2, index == count - 1 { return .administrator }
        if count >= 3, index == count - 2 { return .moderator }
        return []
    }

    /// The bot's managed role in `guild`.
    public func botRoleID(of guild: Guild) -> RoleID {
        RoleID(unixMilliseconds: guild.id.unixMilliseconds + 3, worker: 6)
    }

    /// The roles the member in `slot` of `guild` holds when the world starts: a few plain roles,
    /// now and then Moderator; the owner (slot 0) and one member in 200 are Admin.
    public func initialRoles(of guild: Guild, slot: Int) -> [RoleID] {
        let count = guild.roles.count
        var random = SeededRandom(seed: guild.id.rawValue ^ (UInt64(slot) &* 0x9E37_79B9_7F4A_7C15))
        let plain = Self.plainRoleCount(among: count)
        var held: [RoleID] = []
        if plain > 0 {
            for _ in 0..<random.below(min(3, plain) + 1) {
                let role = guild.roles[random.below(plain)]
                if !held.contains(role) { held.append(role) }
            }
        }
        if count >= 3, random.chance(3) { held.append(guild.roles[count - 2]) }
        if count >= 2, slot == 0 || random.below(200) == 0 { held.append(guild.roles[count - 1]) }
        return held
    }

    /// How many of a guild's `count` roles are plain (the lowest ones): all but Admin and Moderator.
    static func plainRoleCount(among count: Int) -> Int {
        count >= 3 ? count - 2 : (count >= 2 ? count - 1 : count)
    }

    /// The nickname a world member has in a guild when the world starts: one in five has one.
    public func initialNick(of guild: Guild, userIndex: Int) -> String? {
        let hash = (guild.id.rawValue ^ UInt64(userIndex) &* 0x9E37_79B9_7F4A_7C15) >> 7
        return hash % 5 == 0 ? "nick\(hash % 10_000)" : nil
    }

    /// A member's guild-wide permissions from `@everyone` and `roles`; the owner has all of them.
    public func permissions(of guild: Guild, roles held: [RoleID], isOwner: Bool) -> Permissions {
        if isOwner { return .all }
        // Read off the guild's role list, not ``roles(of:)``: the traffic asks this per event in a
        // channel with overwrites, and building the roles (names and all) would cost more than the event.
        var permissions = Permissions.everyoneDefault
        let botRole = botRoleID(of: guild)
        for role in held {
            if role == botRole {
                permissions.formUnion(botPermissions)
            } else if let index = guild.roles.firstIndex(of: role) {
                permissions.formUnion(Self.permissions(ofRoleAt: index, among: guild.roles.count))
            }
        }
        return permissions.contains(.administrator) ? .all : permissions
    }
}
