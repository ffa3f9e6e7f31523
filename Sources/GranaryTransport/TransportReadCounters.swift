/// What reads did with their bytes, for the zero-copy figures: written straight into the caller's
/// buffer (TCP: received from the socket into it; RDMA: written by the peer's one-sided write),
/// or copied into it from somewhere else (RDMA, when the buffer was not registered memory).
public struct TransportReadCounters: Sendable, Equatable {
    public var directBytes: Int
    public var copiedBytes: Int

    public init(directBytes: Int = 0, copiedBytes: Int = 0) {
        self.directBytes = directBytes
        self.copiedBytes = copiedBytes
    }
}
