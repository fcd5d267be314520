public import DiscordModels
public import Foundation
import SQLKit

extension KamiiStore {
    /// Opens a ticket with the guild's next ticket number.
    public func openTicket(
        in guild: GuildID, by opener: UserID, reason: String?, channel: ChannelID? = nil, at time: Date = Date()
    ) async throws(StoreError) -> Ticket {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(opener, "opener")
        if let channel { try StoreSupport.requireValid(channel, "channel") }
        if let reason { try StoreSupport.requireText(reason, "reason", maxCharacters: 1_000) }
        return try await transaction { database in
            try await StoreSupport.requireGuild(guild, in: database)
            let number = try await StoreSupport.nextNumber("ticket", guild: guild, in: database)
            try await database.raw("""
                INSERT INTO tickets (guild_id, ticket_number, opener_id, channel_id, status, reason, created_at)
                VALUES (\(bind: guild.column), \(bind: number), \(bind: opener.column), \(bind: channel?.column),
                        \(bind: Ticket.Status.open.rawValue), \(bind: reason), \(bind: time.unixMilliseconds))
                """).run()
            return Ticket(guild: guild, number: number, opener: opener, channel: channel, status: .open, reason: reason,
                          claimedBy: nil, closedBy: nil, closeReason: nil, createdAt: time.storedPrecision, closedAt: nil)
        }
    }

    /// Records the ticket's channel once Discord created it.
    public func setTicketChannel(_ number: Int64, in guild: GuildID, to channel: ChannelID) async throws(StoreError) {
        try StoreSupport.requireValid(channel, "channel")
        try await updateTicket(number, in: guild, "channel_id = \(bind: channel.column)", allowedFrom: [.open, .claimed])
    }

    /// A moderator takes an open ticket.
    public func claimTicket(_ number: Int64, in guild: GuildID, by moderator: UserID) async throws(StoreError) {
        try StoreSupport.requireValid(moderator, "moderator")
        try await updateTicket(number, in: guild, "status = \(bind: Ticket.Status.claimed.rawValue), claimed_by = \(bind: moderator.column)", allowedFrom: [.open])
    }

    /// Closes an open or claimed ticket.
    public func closeTicket(_ number: Int64, in guild: GuildID, by closer: UserID, reason: String?, at time: Date = Date()) async throws(StoreError) {
        try StoreSupport.requireValid(closer, "closer")
        if let reason { try StoreSupport.requireText(reason, "reason", maxCharacters: 1_000) }
        try await updateTicket(number, in: guild, """
            status = \(bind: Ticket.Status.closed.rawValue), closed_by = \(bind: closer.column), close_reason = \(bind: reason), closed_at = \(bind: time.unixMilliseconds)
            """, allowedFrom: [.open, .claimed])
    }

    /// One ticket.
    public func ticket(_ number: Int64, in guild: GuildID) async throws(StoreError) -> Ticket? {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE guild_id = \(bind: guild.column) AND ticket_number = \(bind: number)
                """).first().map(Ticket.init(row:))
        }
    }

    /// The guild's tickets in a status, oldest first.
    public func tickets(in guild: GuildID, status: Ticket.Status) async throws(StoreError) -> [Ticket] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE guild_id = \(bind: guild.column) AND status = \(bind: status.rawValue)
                ORDER BY ticket_number
                """).all().map(Ticket.init(row:))
        }
    }

    /// Applies `assignments` if the ticket is in one of the `allowedFrom` states; the row is locked
    /// first, so of two moderators claiming at once exactly one succeeds.
    private func updateTicket(_ number: Int64, in guild: GuildID, _ assignments: SQLQueryString, allowedFrom: [Ticket.Status]) async throws(StoreError) {
        try StoreSupport.requireValid(guild, "guild")
        try await transaction { database in
            try await StoreSupport.requireGuild(guild, in: database)
            guard let row = try await database.raw("""
                SELECT status FROM tickets WHERE guild_id = \(bind: guild.column) AND ticket_number = \(bind: number)\(StoreSupport.forUpdate(database))
                """).first()
            else { throw StoreError(.notFound, "ticket \(number) does not exist in guild \(guild)") }
            let status = try row.decode(column: "status", as: String.self)
            guard let current = Ticket.Status(rawValue: status), allowedFrom.contains(current) else {
                throw StoreError(.conflict, "ticket \(number) is \(status)")
            }
            try await database.raw("""
                UPDATE tickets SET \(assignments) WHERE guild_id = \(bind: guild.column) AND ticket_number = \(bind: number)
                """).run()
        }
    }

    static let ticketColumns = """
        guild_id, ticket_number, opener_id, channel_id, status, reason, claimed_by, closed_by, close_reason, created_at, closed_at
        """
}

extension Ticket {
    /// A ticket from a `tickets` row.
    init(row: any SQLRow) throws {
        let status = try row.decode(column: "status", as: String.self)
        self.init(
            guild: try row.id("guild_id"),
            number: try row.decode(column: "ticket_number", as: Int64.self),
            opener: try row.id("opener_id"),
            channel: try row.optionalID("channel_id"),
            status: try Ticket.Status(rawValue: status) ?? { throw StoreError(.database, "unknown ticket status \(status)") }(),
            reason: try row.decode(column: "reason", as: String?.self),
            claimedBy: try row.optionalID("claimed_by"),
            closedBy: try row.optionalID("closed_by"),
            closeReason: try row.decode(column: "close_reason", as: String?.self),
            createdAt: try row.time("created_at"),
            closedAt: try row.optionalTime("closed_at"))
    }
}
