import DiscordGateway
import Foundation

/// Writes a capture file frame by frame, through a ``BufferedOutput``, so a capture of any length
/// costs a chunk of memory rather than its size. A file goes to `<file>.partial`, synced and renamed
/// to `file` by ``finish()``: a run that fails or a machine that crashes half-way leaves no file
/// that looks whole (through a symbolic link, the file it names). A path that is not a regular
/// file (`/dev/stdout`, a FIFO) is written in place.
final class CaptureFileWriter {
    private let path: String
    /// Where the frames go until ``finish()``; nil when they go straight to `path`.
    private let partialPath: String?
    private let handle: FileHandle
    private let output: BufferedOutput
    private var encoded: [UInt8] = []
    /// Whether the capture goes straight to a stream (`/dev/stdout`, a FIFO) rather than a file.
    var writesInPlace: Bool { partialPath == nil }
    /// Bytes written so far, length prefixes included.
    private(set) var byteCount = 0

    init(path: String) throws {
        // stat(2) follows a symbolic link: a link to a regular file is a file (its target gets the
        // new capture by rename, whole), not a stream to write over in place.
        var info = stat()
        let isFile = stat(path, &info) != 0 || info.st_mode & S_IFMT == S_IFREG
        let destination = isFile ? URL(fileURLWithPath: path).resolvingSymlinksInPath().path : path
        self.path = destination
        partialPath = isFile ? destination + ".partial" : nil
        let target = partialPath ?? path
        guard partialPath == nil || FileManager.default.createFile(atPath: target, contents: nil),
              let handle = FileHandle(forWritingAtPath: target)
        else { throw InspectError("cannot write \(target)") }
        self.handle = handle
        output = BufferedOutput(handle, name: target)
    }

    /// Appends one frame.
    func append(_ frame: [UInt8]) throws {
        // Encoded by GatewayCapture, which owns the format, into a reused scratch array.
        encoded.removeAll(keepingCapacity: true)
        GatewayCapture.append(frame, to: &encoded)
        try encoded.withUnsafeBytes { try output.write($0) }
        byteCount += encoded.count
    }

    /// Writes what is left and puts the file in place.
    func finish() throws {
        try output.flush()
        let target = partialPath ?? path
        do {
            if partialPath != nil { try handle.synchronize() }
            try handle.close()
        } catch {
            throw InspectError("cannot write \(target): \(error.localizedDescription)")
        }
        // rename(2) replaces an older capture of the same name in one step.
        if let partialPath, rename(partialPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partialPath)
            throw InspectError("cannot rename \(partialPath) to \(path): \(reason)")
        }
    }

    /// Closes, and removes the partial file (the run failed).
    func abandon() {
        try? handle.close()
        if let partialPath { try? FileManager.default.removeItem(atPath: partialPath) }
    }
}
