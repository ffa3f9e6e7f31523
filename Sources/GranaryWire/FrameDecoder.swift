/// Splits a byte stream into frames, bounded: it holds at most one header plus one payload of at
/// most `maxPayload` bytes, and rejects a bad header as soon as its 20 bytes have arrived (before
/// any payload is buffered).
///
/// Used where bytes arrive in arbitrary pieces (tests, fuzzing, tools); the TCP transport reads
/// header and payload directly instead, with the same `FrameHeader.decode` checks.
public struct FrameDecoder: Sendable {
    public let maxPayload: Int
    private var buffer: [UInt8] = []
    private var header: FrameHeader?

    public init(maxPayload: Int) { self.maxPayload = maxPayload }

    /// Adds bytes received from the peer.
    public mutating func feed(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete frame, `nil` when more bytes are needed.
    public mutating func next() throws(WireError) -> Frame? {
        if header == nil {
            guard buffer.count >= FrameHeader.size else { return nil }
            header = try FrameHeader.decode(Array(buffer[0..<FrameHeader.size]), maxPayload: maxPayload)
            buffer.removeFirst(FrameHeader.size)
        }
        guard let h = header, buffer.count >= h.payloadLength else { return nil }
        let payload = Array(buffer[0..<h.payloadLength])
        buffer.removeFirst(h.payloadLength)
        header = nil
        return Frame(header: h, payload: payload)
    }

    /// Call when the stream ends: throws `truncated` if it ended inside a frame.
    public func finish() throws(WireError) {
        if let h = header { throw .truncated(expected: FrameHeader.size + h.payloadLength, got: FrameHeader.size + buffer.count) }
        if !buffer.isEmpty { throw .truncated(expected: FrameHeader.size, got: buffer.count) }
    }
}
