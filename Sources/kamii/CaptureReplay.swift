import DiscordGateway
import DiscordModels
import Foundation

/// Reads a capture file and replays it through an inflater and the envelope scanner; shared by
/// the commands that read captures, so they report bad input the same way.
struct CaptureReplay {
    let file: String
    let compression: GatewayCompression
    let capture: Data

    init(file: String, compression: GatewayCompression) throws {
        self.file = file
        self.compression = compression
        do {
            capture = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        } catch {
            throw InspectError("cannot read \(file): \(error.localizedDescription)")
        }
    }

    /// Replays every frame on `inflater` from a fresh stream, calling `body` with each payload,
    /// the index of the frame that completed it, and its envelope. Returns the number of frames.
    /// - Throws: ``InspectError`` naming the frame at which the capture stopped making sense.
    @discardableResult
    func replay(
        on inflater: any GatewayInflater,
        _ body: (_ frame: Int, _ payload: UnsafeRawBufferPointer, _ envelope: GatewayEnvelope) throws -> Void
    ) throws -> Int {
        inflater.reset()
        var frames = 0
        try capture.withUnsafeBytes { bytes in
            do {
                try GatewayCapture.forEachFrame(in: bytes) { index, frame in
                    frames += 1
                    let inflated: (payload: UnsafeRawBufferPointer, envelope: GatewayEnvelope)
                    do {
                        guard let payload = try inflater.inflate(frame) else { return }
                        inflated = (payload, try GatewayEnvelope.peek(payload))
                    } catch {
                        throw InspectError("frame \(index): \(error)")
                    }
                    try body(index, inflated.payload, inflated.envelope)
                }
            } catch let error as CaptureError {
                throw InspectError("\(file): \(error)")
            }
        }
        guard inflater.pendingInputBytes == 0 else {
            throw InspectError(
                "frame \(frames - 1): the capture ends inside a payload (\(inflater.pendingInputBytes) compressed bytes"
                    + " without the end-of-payload marker; is --compress \(compression) right?)")
        }
        return frames
    }
}

/// A capture that cannot be read, with the reason an operator needs.
struct InspectError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
