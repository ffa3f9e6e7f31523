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
    /// The client TLS context when `[tls]` is on, or why it could not be made (then every
    /// connection fails with that reason; `Transports.client` checks it at start-up).
    let tls: Result<TLSContext, TransportError>?
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

    public convenience init(secret: ClusterSecret, settings: TransportSettings = .init(), logger: Logger) {
        self.init(keys: ClusterKeys(secret: secret), settings: settings, logger: logger)
    }

    /// Authenticates with `keys` as they are at each handshake (a daemon's keys follow its secret file).
    public init(keys: ClusterKeys, settings: TransportSettings = .init(), logger: Logger) {
        self.authenticator = Authenticator(keys: keys)
        self.settings = settings
        self.logger = logger
        self.tls = settings.tls.map { s in Result { () throws(TransportError) in try TLSContext(s, role: .client) } }
    }

    /// Throws the TLS setup error, if the settings' `[tls]` files could not be used.
    public func checkTLS() throws(TransportError) {
        if case let .failure(e)? = tls { throw e }
    }

    public func connection(to peer: Endpoint) async throws(TransportError) -> any Connection {
        try await tcpConnection(to: peer)
    }

    func tcpConnection(to peer: Endpoint) async throws(TransportError) -> TCPConnection {
        let (authenticator, settings, logger, received) = (self.authenticator, self.settings, self.logger, self.received)
        let tls: TLSContext?
        switch self.tls {
        case nil: tls = nil
        case let .success(c)?: tls = c
        case let .failure(e)?: throw e
        }
        return try await connections.connection(to: peer, threadName: "granary-dial \(peer)") { () throws(TransportError) in
            try Self.withFallback(authenticator) { a throws(TransportError) in
                try TCPConnection.open(to: peer, authenticator: a, settings: settings, tls: tls, received: received, logger: logger)
            }
        }
    }

    public func closeAll() { connections.closeAll() }

    /// Opens with the current secret and, if the peer refused it while a rotation is under way,
    /// once more with the previous one (a peer that has not taken the new secret file yet).
    static func withFallback<C>(_ authenticator: Authenticator, _ open: (Authenticator) throws(TransportError) -> C) throws(TransportError) -> C {
        do {
            return try open(authenticator)
        } catch {
            guard case let .authenticationFailed(_, reason) = error, reason.contains("wrong cluster secret"), let previous = authenticator.fallback else {
                throw error
            }
            return try open(previous)
        }
    }
}
