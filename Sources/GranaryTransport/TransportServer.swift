import GranaryCore

/// A listener serving authenticated Granary connections to one `RequestHandler`: `TCPServer`, or
/// `RDMAServer` where the host has an RDMA device. Both guarantee the same things (nothing served
/// before the peer proves the cluster secret; a bad peer is disconnected and logged, others are
/// unaffected) and pass the same conformance tests.
public protocol TransportServer: AnyObject, Sendable {
    /// The address it listens on (the port is the one picked when 0 was asked for).
    var endpoint: Endpoint { get }
    /// Connections, authentications and requests so far (the same counters for every transport).
    var stats: TCPServer.Stats { get }
    func start()
    /// Stops accepting and disconnects every peer.
    func stop()
}

extension TCPServer: TransportServer {}
