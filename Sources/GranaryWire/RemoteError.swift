/// The body of an error response: a machine-readable code and a message for people. The message
/// names what failed (drive, chunk, node), never a secret.
public struct RemoteError: WirePayload, Error, Equatable, CustomStringConvertible {
    public static let messageType = MessageType.ping

    public enum Code: UInt16, Sendable, CaseIterable {
        case badRequest = 1
        case notFound = 2
        case corrupt = 3
        case driveFull = 4
        case driveReadOnly = 5
        case driveUnavailable = 6
        case io = 7
        case unauthorized = 8
        case unknownNode = 9
        case unsupported = 10
        case internalError = 11
        case rangeOutOfBounds = 12
        /// A manager that does not lead the cluster's background work was asked for what only the
        /// leader does (heartbeats it keeps liveness from, repair, drive health): ask the next.
        case notLeader = 13
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public func encode(into w: inout WireWriter) {
        w.u16(code.rawValue)
        w.string(message)
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> RemoteError {
        let raw = try r.u16("code")
        // An unknown code from a newer peer is still an error; keep its message.
        let code = Code(rawValue: raw) ?? .internalError
        return RemoteError(code, try r.string("message", limit: 64 << 10))
    }
}
