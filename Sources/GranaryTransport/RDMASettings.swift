import GranaryBuffers

/// Sizes of the RDMA transport's queues and memory. Both ends of a connection use the dialing
/// side's depth and slot size, which it announces when it connects.
public struct RDMASettings: Sendable, Equatable {
    /// Receive slots per connection, which is also how many messages a peer may have outstanding
    /// (its credits) and so how many requests a client can have in flight on one connection.
    public var depth: Int = 32
    /// Bytes per send/receive slot: frames up to this size (less a small envelope) travel inline;
    /// larger ones are fetched by the receiver with one-sided reads (rendezvous).
    public var slotBytes: Int = 32 << 10
    /// The registered pool for slots, staged payloads and landing buffers.
    public var pool = IOBufferPool.Configuration(arenaBytes: 32 << 20, limitBytes: 1 << 30)
    /// The largest piece one rendezvous read lands at once.
    public var landingBytes: Int = 4 << 20

    public init() {}

    static let depthRange = 8...1024
    static let slotRange = 4096...(1 << 20)
}
