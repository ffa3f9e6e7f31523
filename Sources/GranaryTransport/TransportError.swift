import GranaryCore
import GranaryWire
import Metrics

/// Why a transport operation failed. Each case names the peer.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case connectFailed(Endpoint, reason: String)
    case connectTimeout(Endpoint, ms: Int)
    case authenticationFailed(Endpoint, reason: String)
    case timeout(Endpoint, MessageType, ms: Int)
    /// The connection closed (peer gone, or we closed it); in-flight requests fail with this.
    case connectionClosed(Endpoint, reason: String)
    case protocolError(Endpoint, WireError)
    /// The peer answered with an error response.
    case remote(Endpoint, RemoteError)
    /// The response body had a different size than the caller's buffer.
    case unexpectedLength(Endpoint, expected: Int, got: Int)
    case listenFailed(Endpoint, reason: String)
    /// No RDMA device on this host (see `transport = "tcp"`).
    case rdmaUnavailable(reason: String)
    /// The TLS handshake with the peer failed (certificate not trusted, wrong name, a peer without
    /// TLS); the reason says which.
    case tlsHandshake(Endpoint, reason: String)
    /// The TLS configuration itself cannot be used (a file unreadable or not PEM, a key that does
    /// not match its certificate); names the file.
    case tlsSetup(reason: String)

    public var description: String {
        switch self {
        case let .connectFailed(e, r): return "cannot connect to \(e): \(r)"
        case let .connectTimeout(e, ms): return "connecting to \(e) timed out after \(ms) ms"
        case let .authenticationFailed(e, r): return "authentication with \(e) failed: \(r)"
        case let .timeout(e, t, ms): return "\(t) request to \(e) got no response within \(ms) ms"
        case let .connectionClosed(e, r): return "connection to \(e) closed: \(r)"
        case let .protocolError(e, w): return "protocol error from \(e): \(w)"
        case let .remote(e, r): return "\(e) answered: \(r.message)"
        case let .unexpectedLength(e, x, g): return "\(e) sent \(g) bytes where \(x) were expected"
        case let .listenFailed(e, r): return "cannot listen on \(e): \(r)"
        case let .rdmaUnavailable(r): return "RDMA transport unavailable: \(r); set transport = \"tcp\" to use TCP"
        case let .tlsHandshake(e, r): return "TLS handshake with \(e) failed: \(r)"
        case let .tlsSetup(r): return "TLS setup: \(r)"
        }
    }

    /// True when the request cannot have reached the peer's handler: no connection was made, or the
    /// peer refused it unprocessed (`notLeader`).
    public var neverSent: Bool {
        switch self {
        case .connectFailed, .connectTimeout, .authenticationFailed, .rdmaUnavailable, .tlsHandshake, .tlsSetup: return true
        case let .remote(_, r): return r.code == .notLeader
        default: return false
        }
    }

    /// The metric label of this kind of failure (`granary_transport_errors_total{kind}`).
    public var kind: String {
        switch self {
        case .connectFailed: return "connect_failed"
        case .connectTimeout: return "connect_timeout"
        case .authenticationFailed: return "authentication_failed"
        case .timeout: return "timeout"
        case .connectionClosed: return "connection_closed"
        case .protocolError: return "protocol_error"
        case .remote: return "remote_error"
        case .unexpectedLength: return "unexpected_length"
        case .listenFailed: return "listen_failed"
        case .rdmaUnavailable: return "rdma_unavailable"
        case .tlsHandshake: return "tls_handshake"
        case .tlsSetup: return "tls_setup"
        }
    }

    /// Counts this failure of a call or read (a no-op unless the process installed a metrics backend).
    func count() {
        Counter(label: "granary_transport_errors_total", dimensions: [("kind", kind)]).increment()
    }

    /// The remote error, if the peer answered with one.
    public var remoteError: RemoteError? {
        if case let .remote(_, r) = self { return r }
        return nil
    }
}
