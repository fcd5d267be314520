import NIOCore

extension GatewaySessionHandler {
    /// The WebSocket messages one compressed payload goes out as: itself, or — on zlib-stream, one
    /// in ``SimulatorConfiguration/zlibSplitEvery`` — its two halves (a client must buffer until
    /// `00 00 ff ff`). zstd-stream and uncompressed payloads are never split.
    /// (A pair, not an array: the live path calls it for every dispatch.)
    func messageParts(_ message: ByteBuffer) -> (first: ByteBuffer, second: ByteBuffer?) {
        guard deflater.compression == .zlibStream, let every = configuration.zlibSplitEvery, every > 0, message.readableBytes >= 2
        else { return (message, nil) }
        zlibMessages &+= 1
        guard zlibMessages % every == 0 else { return (message, nil) }
        let half = message.readableBytes / 2
        record.update(number) { $0.splitMessages += 1 }
        return (
            message.getSlice(at: message.readerIndex, length: half)!,
            message.getSlice(at: message.readerIndex + half, length: message.readableBytes - half)!
        )
    }
}
