import DiscordGateway
import Foundation

/// Writes a capture file frame by frame, in large chunks, so a capture of any length costs a
/// chunk of memory rather than its size. The frames go to `<file>.partial`, renamed to `file` by
/// ``finish()``: a run that fails half-way leaves no file that looks whole.
final class CaptureFileWriter {
    private let path: String
    private let partialPath: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let chunkSize = 1 << 20
    /// Bytes written so far, length prefixes included.
    private(set) var byteCount = 0

    init(path: String) throws {
        self.path = path
        partialPath = path + ".partial"
        guard FileManager.default.createFile(atPath: partialPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: partialPath)
        else { throw InspectError("cannot write \(partialPath)") }
        self.handle = handle
        buffer.reserveCapacity(chunkSize)
    }

    /// Appends one frame.
    func append(_ frame: [UInt8]) throws {
        let before = buffer.count
        GatewayCapture.append(frame, to: &buffer)
        byteCount += buffer.count - before
        if buffer.count >= chunkSize { try flush() }
    }

    /// Writes what is left and puts the file in place.
    func finish() throws {
        try flush()
        do {
            try handle.close()
        } catch {
            throw InspectError("cannot write \(partialPath): \(error.localizedDescription)")
        }
        // rename(2) replaces an older capture of the same name in one step.
        guard rename(partialPath, path) == 0 else {
            throw InspectError("cannot rename \(partialPath) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Closes and removes the partial file (the run failed).
    func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: partialPath)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw InspectError("cannot write \(partialPath): \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
