/// Why bytes from a peer were refused. Any of these closes the connection (with the reason logged);
/// the process keeps serving every other connection.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case badMagic(UInt32)
    case unsupportedVersion(UInt8)
    case unknownMessageType(UInt16)
    case frameTooLarge(length: Int, limit: Int)
    /// The stream ended inside a frame.
    case truncated(expected: Int, got: Int)
    /// A payload field could not be decoded.
    case malformed(type: MessageType, field: String, reason: String)
    /// A flag combination no sender produces.
    case badFlags(UInt8)

    public var description: String {
        switch self {
        case let .badMagic(m): return "bad frame magic 0x\(String(m, radix: 16)) (not a Granary peer?)"
        case let .unsupportedVersion(v): return "unsupported protocol version \(v) (this build speaks \(FrameHeader.protocolVersion))"
        case let .unknownMessageType(t): return "unknown message type \(t)"
        case let .frameTooLarge(length, limit): return "frame payload of \(length) bytes exceeds the limit of \(limit)"
        case let .truncated(expected, got): return "truncated frame: expected \(expected) bytes, got \(got)"
        case let .malformed(type, field, reason): return "malformed \(type) payload: field '\(field)': \(reason)"
        case let .badFlags(f): return "invalid frame flags 0x\(String(f, radix: 16))"
        }
    }
}
