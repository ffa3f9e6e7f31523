import Foundation
import GranaryBuffers
import GranaryCore
import Logging
import Synchronization

/// Opens and reuses authenticated RDMA connections (reliable connected queue pairs over the RDMA
/// connection manager), one per peer, reconnecting when one has closed.
///
/// Selected with `transport = "rdma"` in a config's `[cluster]` section. On a host without an RDMA
/// device, `init` fails with `TransportError.rdmaUnavailable`, whose message names the fallback
/// (`transport = "tcp"`).
public final class RDMATransport: Transport {
    let authenticator: Authenticator
    public let settings: TransportSettings
    public let rdma: RDMASettings
    let logger: Logger
    let context: RDMAContext
    /// Registered memory for slots, staged payloads and landing buffers.
    let pool: IOBufferPool
    /// Registers pool arenas (the loader's, the cache's) with this host's RDMA devices, so reads
    /// into their buffers are written straight by the peer.
    public let registrar: RDMARegistrar
    public var arenaRegistrars: [any ArenaRegistrar] { [registrar] }
    private let connections = PeerConnections<RDMAConnection>()
    let counters = CounterCells()

    final class CounterCells: Sendable {
        let direct = Atomic<Int>(0)
        let copied = Atomic<Int>(0)
        let staged = Atomic<Int>(0)
    }

    public var readCounters: TransportReadCounters {
        TransportReadCounters(directBytes: counters.direct.load(ordering: .relaxed), copiedBytes: counters.copied.load(ordering: .relaxed))
    }

    public convenience init(secret: ClusterSecret, settings: TransportSettings = .init(), rdma: RDMASettings = .init(), logger: Logger) throws(TransportError) {
        try self.init(keys: ClusterKeys(secret: secret), settings: settings, rdma: rdma, logger: logger)
    }

    public init(keys: ClusterKeys, settings: TransportSettings = .init(), rdma: RDMASettings = .init(), logger: Logger) throws(TransportError) {
        let context = try RDMAContext.shared.get()
        self.context = context
        self.registrar = RDMARegistrar(context: context)
        self.authenticator = Authenticator(keys: keys)
        self.settings = settings
        self.rdma = rdma
        self.logger = logger
        do {
            self.pool = try IOBufferPool(rdma.pool, registrars: [registrar], logger: logger)
        } catch {
            throw .rdmaUnavailable(reason: "cannot set up registered memory: \(error)")
        }
    }

    public func connection(to peer: Endpoint) async throws(TransportError) -> any Connection {
        let (context, pool, rdma, authenticator, settings, counters, logger) = (self.context, self.pool, self.rdma, self.authenticator, self.settings, self.counters, self.logger)
        return try await connections.connection(to: peer, threadName: "granary-rdma-dial \(peer)") { () throws(TransportError) in
            try TCPTransport.withFallback(authenticator) { a throws(TransportError) in
                try RDMAConnection.open(to: peer, context: context, pool: pool, rdma: rdma, authenticator: a,
                                        settings: settings, counters: counters, logger: logger)
            }
        }
    }

    public func closeAll() { connections.closeAll() }
}
