import DiscordModels
import Foundation

/// Reading `kamii run`'s configuration file: one JSON object of settings, each given once.
extension RunConfiguration {
    /// The keys given more than once at the top level of `data` (the decoder keeps the first, most
    /// JSON tools the last: an override appended to the file would be ignored without a word).
    static func repeatedKeys(_ data: Data) -> [String] {
        data.withUnsafeBytes { bytes -> [String] in
            var scanner = JSONScanner(bytes)
            var (seen, repeated) = (Set<String>(), Set<String>())
            do {
                try scanner.forEachMember { key, scanner throws(JSONScanError) in
                    let name = String(decoding: key.bytes, as: UTF8.self)
                    if !seen.insert(name).inserted { repeated.insert(name) }
                    _ = try scanner.skipValue()
                }
            } catch {
                return []  // not a JSON object: the decoder says what is wrong with it
            }
            return repeated.sorted()
        }
    }

    /// The configuration file's settings; none without a path.
    static func readFile(path: String?) throws -> File {
        guard let path else { return File() }
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid("cannot read the configuration file \(path)") }
        let repeated = repeatedKeys(data)
        guard repeated.isEmpty else {
            throw Invalid("\(path): \(repeated.joined(separator: ", ")) given more than once (JSON readers differ on which counts: give each setting once)")
        }
        do {
            return try JSONDecoder().decode(File.self, from: data)
        } catch let error as Invalid {
            throw Invalid("\(path): \(error.description)")
        } catch {
            let place = Self.syntaxErrorPlace(in: data).map { " (\($0))" } ?? ""
            throw Invalid("\(path) is not a JSON object of settings: \(Self.explain(error))\(place)")
        }
    }

    /// Where a JSON syntax error is, as line and column — which the decoder does not say on Linux;
    /// JSONSerialization gives the offset of the byte, counted after a UTF-8 byte-order mark.
    static func syntaxErrorPlace(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            guard let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String,
                  let match = text.firstMatch(of: /character (\d+)/), let offset = Int(match.1), offset <= data.count else { return nil }
            let bytes = Array(data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...])
            guard offset <= bytes.count else { return nil }
            let before = bytes[..<offset]
            let line = before.count { $0 == UInt8(ascii: "\n") } + 1
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            // Columns in characters, as an editor shows them.
            let column = String(decoding: before[lineStart...], as: UTF8.self).count + 1
            return "around line \(line), column \(column)"
        }
    }

    static func explain(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
