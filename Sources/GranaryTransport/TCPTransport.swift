import Foundation
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// Opens and reuses authenticated TCP connections, one per peer, reconnecting when one has closed.
///
/// Dialing blocks (connect, handshake), so it runs on its own thread, never on the cooperative
/// pool. `call` retries an idempotent request once on a fresh connection when the old one turned
/// out to be closed — the usual case after a peer restarted.
public final class TCPTransport: Transport {
    let authenticator: Authenticator
    public let settings: TransportSettings
    let logger: Logger
    private let connections = Mutex<[Endpoint: TCPConnection]>([:])

    public init(secret: ClusterSecret, settings: TransportSettings = .init(), logger: Logger) {
        self.authenticator = Authenticator(secret: secret)
        self.settings = settings
        self.logger = logger
    }

    public func connection(to peer: Endpoint) async throws(TransportError) -> any Connection {
        try await tcpConnection(to: peer)
    }

    func tcpConnection(to peer: Endpoint) async throws(TransportError) -> TCPConnection {
        if let c = connections.withLock({ $0[peer] }), c.isOpen { return c }
        let (authenticator, settings, logger) = (self.authenticator, self.settings, self.logger)
        let result: Result<TCPConnection, TransportError> = await withCheckedContinuation { cont in
            let t = Thread {
                do throws(TransportError) {
                    cont.resume(returning: .success(try TCPConnection.open(to: peer, authenticator: authenticator, settings: settings, logger: logger)))
                } catch {
                    cont.resume(returning: .failure(error))
                }
            }
            t.name = "granary-dial \(peer)"
            t.start()
        }
        let fresh = try result.get()
        // Two tasks may dial the same peer at once; keep one live connection and close the other.
        let kept: TCPConnection = connections.withLock { map in
            if let existing = map[peer], existing.isOpen { return existing }
            map[peer] = fresh
            return fresh
        }
        if kept !== fresh { fresh.close() }
        return kept
    }

    /// One request to `peer`, on the pooled connection.
    public func call(_ peer: Endpoint, _ type: MessageType, _ body: [UInt8], idempotent: Bool = true, timeoutMs: Int? = nil) async throws(TransportError) -> [UInt8] {
        let c = try await tcpConnection(to: peer)
        do {
            return try await c.call(type, body, timeoutMs: timeoutMs)
        } catch {
            guard idempotent, case .connectionClosed = error else { throw error }
            return try await tcpConnection(to: peer).call(type, body, timeoutMs: timeoutMs)
        }
    }

    /// Reads a response body straight into `buffer`, on the pooled connection.
    public func read(_ peer: Endpoint, _ type: MessageType, _ body: [UInt8], into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int? = nil) async throws(TransportError) {
        let c = try await tcpConnection(to: peer)
        do {
            try await c.read(type, body, into: buffer, timeoutMs: timeoutMs)
        } catch {
            guard case .connectionClosed = error else { throw error }
            try await tcpConnection(to: peer).read(type, body, into: buffer, timeoutMs: timeoutMs)
        }
    }

    public func closeAll() {
        let all = connections.withLock { map -> [TCPConnection] in
            defer { map.removeAll() }
            return Array(map.values)
        }
        for c in all { c.close() }
    }
}
