import GranaryCore
import GranaryWire

/// One authenticated connection to a Granary peer, carrying many requests at once (multiplexed by
/// request id; responses may arrive in any order).
///
/// Guarantees: every call ends — with the response, the peer's error (`TransportError.remote`), a
/// timeout, or `connectionClosed` — and a buffer handed to `read` is written only while that call
/// is in progress. TCP implements it now; RDMA implements it with the same conformance tests later.
public protocol Connection: AnyObject, Sendable {
    var peer: Endpoint { get }
    var isOpen: Bool { get }

    /// Sends `body` as a request of `type`, returns the response body.
    func call(_ type: MessageType, _ body: [UInt8], timeoutMs: Int?) async throws(TransportError) -> [UInt8]

    /// Sends a request whose body is `head` followed by `data`, written from the caller's memory.
    func call(_ type: MessageType, head: [UInt8], data: UnsafeRawBufferPointer, timeoutMs: Int?) async throws(TransportError) -> [UInt8]

    /// Sends a request and receives the response body straight into `buffer`, which it must fill exactly.
    func read(_ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int?) async throws(TransportError)

    /// Fails everything in flight with `connectionClosed` and releases the connection.
    func close()
}

/// Opens connections to peers. Implementations reuse an open connection per peer and reconnect when
/// it has closed.
public protocol Transport: Sendable {
    func connection(to peer: Endpoint) async throws(TransportError) -> any Connection
    func closeAll()
}
