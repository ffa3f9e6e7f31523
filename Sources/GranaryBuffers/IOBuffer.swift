/// A page-aligned slice of one of the pool's arenas: the client reads sample bytes from the network
/// straight into it and hands it to the user without a copy.
///
/// Guarantees: `bytes` is exactly `count` bytes and starts on a page boundary; no other live
/// `IOBuffer` shares any of them; they stay mapped (and pinned, where the pool could lock them)
/// while this object lives, since it holds its pool; and the slot goes back to the pool when the
/// last reference goes. It is `Sendable` because every stored property is an immutable `Sendable`
/// value; the bytes follow the usual rule for shared memory: fill them in one task, then hand the
/// buffer on (or fill disjoint ranges from tasks the owner awaits).
public final class IOBuffer: Sendable {
    /// The bytes asked for.
    public let count: Int
    let slot: Slot
    let pool: IOBufferPool

    init(pool: IOBufferPool, slot: Slot, count: Int) {
        self.pool = pool
        self.slot = slot
        self.count = count
    }

    deinit {
        pool.release(slot)
    }

    /// The size class the buffer was carved for; at least `count`.
    public var capacity: Int { slot.sizeClass }

    /// The registration of this buffer's arena with `registrar` ("rdma", "cuda"), made once when
    /// the arena was mapped; nil when the pool has no such registrar.
    public func registration(_ registrar: String) -> (any ArenaRegistration)? {
        slot.registrations.first { $0.registrar == registrar }
    }

    /// Exactly `count` bytes, starting on a page boundary.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: slot.start, count: count)
    }
}
