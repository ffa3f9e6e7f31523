import Foundation
import GranaryCore
import GranaryWire
import Logging
import Synchronization

/// Opens and reuses authenticated TCP connections, one per peer, reconnecting when one has closed
/// (`PeerConnections`).
public final class TCPTransport: Transport {
    let authenticator: Authenticator
    public let settings: TransportSettings
    let logger: Logger
    private let connections = PeerConnections<TCPConnection>()
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
        let (authenticator, settings, logger, received) = (self.authenticator, self.settings, self.logger, self.received)
        return try await connections.connection(to: peer, threadName: "granary-dial \(peer)") { () throws(TransportError) in
            try TCPConnection.open(to: peer, authenticator: authenticator, settings: settings, received: received, logger: logger)
        }
    }

    public func closeAll() { connections.closeAll() }
}
