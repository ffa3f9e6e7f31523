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

/// A handler's answer: a body, an error the client receives as `TransportError.remote`, or — for
/// requests the client sends with `Connection.read` — a small head and bulk data, which lands in
/// the client's buffer while the head is returned to it.
public enum Response: Sendable {
    case ok([UInt8])
    case error(RemoteError)
    case data(head: [UInt8], BulkData)

    public static let empty = Response.ok([])

    /// A malformed request body becomes a bad-request answer naming the field.
    public static func badRequest(_ e: WireError) -> Response { .error(RemoteError(.badRequest, e.description)) }
}

/// Serves requests. Called concurrently, from many connections and many requests of one connection.
public protocol RequestHandler: Sendable {
    func handle(_ request: Request) async -> Response

    /// Answers `request` at once on the connection's own thread, or returns nil to have `handle`
    /// run it as a task. For short blocking work — a read from a local drive — this is both
    /// faster (no hand-off between threads, which on a small VM costs more than the work) and
    /// right (blocking calls stay off the cooperative pool). Requests of one connection answered
    /// inline are answered in order.
    func handleInline(_ request: Request) -> Response?
}

extension RequestHandler {
    public func handleInline(_ request: Request) -> Response? { nil }
}

/// The bulk part of a `Response.data`: an array, or a pool buffer that goes back to its pool once
/// sent.
public enum BulkData: Sendable {
    case bytes([UInt8])
    case buffer(PooledBuffer)

    public var count: Int {
        switch self {
        case let .bytes(b): return b.count
        case let .buffer(b): return b.count
        }
    }
}
