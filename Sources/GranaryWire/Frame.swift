/// A whole frame: header and payload bytes.
public struct Frame: Equatable, Sendable {
    public var header: FrameHeader
    public var payload: [UInt8]

    public init(header: FrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    public init(type: MessageType, flags: UInt8 = 0, requestID: UInt64, payload: [UInt8]) {
        self.init(header: FrameHeader(type: type, flags: flags, requestID: requestID, payloadLength: payload.count), payload: payload)
    }

    /// Header and payload as one byte array.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(FrameHeader.size + payload.count)
        header.encode(into: &out)
        out.append(contentsOf: payload)
        return out
    }
}
