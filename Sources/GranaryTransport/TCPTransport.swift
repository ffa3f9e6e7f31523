import Foundation
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// Opens and reuses authenticated TCP connections, one per peer, reconnecting when one has closed.
///
/// Dialing blocks (connect, handshake), so it runs on its own thread, never on the cooperative
/// pool.
public final class TCPTransport: Transport {
    let authenticator: Authenticator
    public let settings: TransportSettings
    let logger: Logger
    private let connections = Mutex<[Endpoint: TCPConnection]>([:])
    let received = ReceivedBytes()

    /// Counts the bytes reads received from the socket straight into callers' buffers.
    final class ReceivedBytes: Sendable {
        let value = Atomic<Int>(0)
    }

    /// A read's data is received from the socket straight into the caller's buffer, so nothing is
    /// ever copied; `directBytes` counts what was received that way.
    public var readCounters: TransportReadCounters { TransportReadCounters(directBytes: received.value.load(ordering: .relaxed)) }

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
        let (authenticator, settings, logger, received) = (self.authenticator, self.settings, self.logger, self.received)
        let result: Result<TCPConnection, TransportError> = await withCheckedContinuation { cont in
            let t = Thread {
                do throws(TransportError) {
                    cont.resume(returning: .success(try TCPConnection.open(to: peer, authenticator: authenticator, settings: settings, received: received, logger: logger)))
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

    public func closeAll() {
        let all = connections.withLock { map -> [TCPConnection] in
            defer { map.removeAll() }
            return Array(map.values)
        }
        for c in all { c.close() }
    }
}
