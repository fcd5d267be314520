import Foundation

/// Collects output in memory and writes it in large chunks: a capture can hold millions of payloads.
final class BufferedOutput {
    private let handle: FileHandle
    /// Named in errors.
    private let name: String
    private var buffer: [UInt8] = []
    private let chunkSize = 1 << 20

    init(_ handle: FileHandle, name: String) {
        self.handle = handle
        self.name = name
        buffer.reserveCapacity(chunkSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= chunkSize { try flush() }
    }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= chunkSize { try flush() }
    }

    /// Writes what is buffered.
    /// - Throws: ``InspectError`` naming the output when the write fails (a full disk, a closed pipe).
    func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw InspectError("cannot write \(name): \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
