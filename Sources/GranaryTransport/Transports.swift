import GranaryBuffers
import GranaryCore
import Logging

/// Makes the transport and listener that `TransportSettings.kind` names — the one place where a
/// config's `transport = "tcp" | "rdma"` turns into code.
///
/// Guarantees: with `rdma` on a host without an RDMA device every function here fails with
/// `TransportError.rdmaUnavailable`, whose message names the fallback (`transport = "tcp"`);
/// nothing falls back silently.
public enum Transports {
    public static func client(secret: ClusterSecret, settings: TransportSettings, logger: Logger) throws(TransportError) -> any Transport {
        try client(keys: ClusterKeys(secret: secret), settings: settings, logger: logger)
    }

    /// A transport that authenticates with `keys` as they are at each handshake (a long-running
    /// process passes keys that follow its secret file, so a rotation needs no restart).
    public static func client(keys: ClusterKeys, settings: TransportSettings, logger: Logger) throws(TransportError) -> any Transport {
        switch settings.kind {
        case .tcp:
            let t = TCPTransport(keys: keys, settings: settings, logger: logger)
            try t.checkTLS()
            return t
        case .rdma: return try RDMATransport(keys: keys, settings: settings, logger: logger)
        }
    }

    /// Registrars for memory a server answers from (a storage node's answer buffers): the RDMA
    /// registrar for `rdma`, none for TCP (which sends from any memory).
    public static func answerRegistrars(_ settings: TransportSettings) throws(TransportError) -> [any ArenaRegistrar] {
        switch settings.kind {
        case .tcp: return []
        case .rdma: return [try RDMARegistrar.load().get()]
        }
    }

    public static func server(listen: Endpoint, secret: ClusterSecret, settings: TransportSettings, handler: any RequestHandler,
                              logger: Logger) throws(TransportError) -> any TransportServer {
        try server(listen: listen, keys: ClusterKeys(secret: secret), settings: settings, handler: handler, logger: logger)
    }

    public static func server(listen: Endpoint, keys: ClusterKeys, settings: TransportSettings, handler: any RequestHandler,
                              logger: Logger) throws(TransportError) -> any TransportServer {
        switch settings.kind {
        case .tcp: return try TCPServer(listen: listen, keys: keys, settings: settings, handler: handler, logger: logger)
        case .rdma: return try RDMAServer(listen: listen, keys: keys, settings: settings, handler: handler, logger: logger)
        }
    }
}
