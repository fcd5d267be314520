import Foundation

/// A message Kamii sends on an event, as an admin wrote it: text and optional embed settings.
/// Placeholders such as `{user}` are filled in when the message is sent, not here.
public struct MessageTemplate: Codable, Sendable, Equatable {
    /// Which event a template belongs to.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case welcome, farewell, ticketPanel = "ticket_panel", levelUp = "level_up"
    }

    /// Embed settings, limited as Discord limits embeds.
    public struct Embed: Codable, Sendable, Equatable {
        public var title: String?
        public var description: String?
        /// 0xRRGGBB.
        public var color: Int?
        public var footer: String?
        public var imageURL: String?
        public var thumbnailURL: String?

        public init(title: String? = nil, description: String? = nil, color: Int? = nil, footer: String? = nil,
                    imageURL: String? = nil, thumbnailURL: String? = nil) {
            self.title = title
            self.description = description
            self.color = color
            self.footer = footer
            self.imageURL = imageURL
            self.thumbnailURL = thumbnailURL
        }
    }

    public var content: String
    public var embed: Embed?

    public init(content: String, embed: Embed? = nil) {
        self.content = content
        self.embed = embed
    }

    /// Discord's own limits: a message's content is at most 2,000 characters; an embed's title
    /// 256, description 4,096, footer 2,048, and all its text together 6,000.
    public func validate() throws(StoreError) {
        try StoreSupport.requireText(content, "content", maxCharacters: 2_000)
        guard let embed else {
            guard !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .invalid("content", "a template needs text or an embed")
            }
            return
        }
        try StoreSupport.requireText(embed.title ?? "", "embed.title", maxCharacters: 256)
        try StoreSupport.requireText(embed.description ?? "", "embed.description", maxCharacters: 4_096)
        try StoreSupport.requireText(embed.footer ?? "", "embed.footer", maxCharacters: 2_048)
        let total = [embed.title, embed.description, embed.footer].reduce(0) { $0 + ($1?.unicodeScalars.count ?? 0) }
        guard total <= 6_000 else { throw .invalid("embed", "holds \(total) characters of text, the limit is 6000") }
        guard total > 0 || embed.imageURL != nil || embed.thumbnailURL != nil else { throw .invalid("embed", "is empty") }
        if let color = embed.color, !(0...0xFF_FFFF).contains(color) { throw .invalid("embed.color", "must be between 0x000000 and 0xFFFFFF") }
        for (field, url) in [("embed.imageURL", embed.imageURL), ("embed.thumbnailURL", embed.thumbnailURL)] {
            guard let url else { continue }
            try StoreSupport.requireText(url, field, maxCharacters: 2_048)
            guard url.hasPrefix("https://"), !url.contains(where: \.isWhitespace) else { throw .invalid(field, "must be an https:// URL") }
        }
    }
}
