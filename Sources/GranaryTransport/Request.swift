import GranaryWire

/// One authenticated request as a server handler sees it.
public struct Request: Sendable {
    public let type: MessageType
    public let id: UInt64
    public let body: [UInt8]
    /// The peer's address, for logs.
    public let peer: String

    public init(type: MessageType, id: UInt64, body: [UInt8], peer: String) {
        self.type = type
        self.id = id
        self.body = body
        self.peer = peer
    }
}

/// A handler's answer: a body, or an error the client receives as `TransportError.remote`.
public enum Response: Sendable {
    case ok([UInt8])
    case error(RemoteError)

    public static let empty = Response.ok([])

    /// A malformed request body becomes a bad-request answer naming the field.
    public static func badRequest(_ e: WireError) -> Response { .error(RemoteError(.badRequest, e.description)) }
}

/// Serves requests. Called concurrently, from many connections and many requests of one connection.
public protocol RequestHandler: Sendable {
    func handle(_ request: Request) async -> Response
}
