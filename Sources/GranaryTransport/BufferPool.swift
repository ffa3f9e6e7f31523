import GranaryBuffers
import Synchronization

/// Reusable, page-aligned, pre-faulted buffers of one size, for answers a server builds in memory.
///
/// Why: a fresh 1 MiB allocation per answer is a fresh mapping, and touching it costs a page fault
/// per 4 KiB — measured, that alone cut chunk reads from 3 to 2.3 GB/s. A buffer taken here comes
/// back when the last reference to it goes, and at most `retained` idle buffers are kept.
/// With `registrars` (an RDMA server's), each pooled buffer is registered once, when it is first
/// made, and deregistered when it is finally freed — so answers go out by one-sided writes straight
/// from these buffers without any per-I/O registration.
public final class BufferPool: Sendable {
    public let bufferBytes: Int
    public let retained: Int
    public let registrars: [any ArenaRegistrar]
    private let free = Mutex<[Slab]>([])

    /// Owns one allocation; `@unchecked Sendable` is safe because the pointer is handed to exactly
    /// one `PooledBuffer` at a time and only touched through it (or by the pool, while idle).
    struct Slab: @unchecked Sendable {
        let memory: UnsafeMutableRawBufferPointer
        var registrations: [any ArenaRegistration] = []

        func release() {
            for r in registrations { r.deregister() }
            memory.deallocate()
        }
    }

    public init(bufferBytes: Int = 1 << 20, retained: Int = 64, registrars: [any ArenaRegistrar] = []) {
        self.bufferBytes = bufferBytes
        self.retained = retained
        self.registrars = registrars
    }

    deinit {
        free.withLock { slabs in slabs.forEach { $0.release() } }
    }

    /// A buffer of exactly `count` bytes (up to `bufferBytes` from the pool; larger ones are
    /// allocated for the occasion and freed after).
    public func take(_ count: Int) -> PooledBuffer {
        guard count <= bufferBytes else {
            let m = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 4096)
            return PooledBuffer(slab: Slab(memory: m), count: count, pool: nil)
        }
        if let slab = free.withLock({ $0.popLast() }) { return PooledBuffer(slab: slab, count: count, pool: self) }
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 4096)
        m.initializeMemory(as: UInt8.self, repeating: 0)  // fault the pages in now, once
        var slab = Slab(memory: m)
        if let base = m.baseAddress {
            // A refused registration leaves the buffer usable; the transport then stages a copy.
            for r in registrars { if let reg = try? r.register(base, bytes: bufferBytes) { slab.registrations.append(reg) } }
        }
        return PooledBuffer(slab: slab, count: count, pool: self)
    }

    /// A buffer of exactly `count` bytes (rounded up to whole pages) outside the pool, for data
    /// kept long and much smaller than `bufferBytes`, which a pooled buffer would hold at many
    /// times its size. Not registered: a transport stages a copy of it where it needs registration.
    public func takeUnpooled(_ count: Int) -> PooledBuffer {
        let pages = (max(count, 1) + 4095) / 4096 * 4096
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: pages, alignment: 4096)
        return PooledBuffer(slab: Slab(memory: m), count: count, pool: nil)
    }

    func giveBack(_ slab: Slab) {
        let kept = free.withLock { slabs -> Bool in
            guard slabs.count < retained else { return false }
            slabs.append(slab)
            return true
        }
        if !kept { slab.release() }
    }
}

/// `count` bytes of a pool's buffer, returned to the pool when the last reference goes.
///
/// `@unchecked Sendable` is safe by contract: one task fills the bytes, then hands the buffer on
/// (to the server's writer, or a cache) and does not touch it again; readers after the hand-off
/// only read. A view shares that contract: it is made after the filling, and only read.
public final class PooledBuffer: @unchecked Sendable {
    let slab: BufferPool.Slab
    public let count: Int
    let pool: BufferPool?
    /// Where a view's bytes start in the slab (0 for the buffer itself).
    let offset: Int
    /// The buffer a view was made from, kept alive (and so out of its pool) while the view lives.
    let owner: PooledBuffer?

    init(slab: BufferPool.Slab, count: Int, pool: BufferPool?, offset: Int = 0, owner: PooledBuffer? = nil) {
        self.slab = slab
        self.count = count
        self.pool = pool
        self.offset = offset
        self.owner = owner
    }

    deinit {
        // A view owns nothing: its owner goes back to the pool when the last view of it is gone.
        guard owner == nil else { return }
        if let pool { pool.giveBack(slab) } else { slab.release() }
    }

    /// The memory the buffer holds while it lives, which can be more than `count` (a small answer
    /// in a pooled buffer holds the whole buffer). A view holds its owner's.
    public var footprint: Int { slab.memory.count }

    /// The buffer's bytes, to fill before handing it on.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: slab.memory[offset..<(offset + count)])
    }

    /// `range` of this buffer's bytes, sharing its memory (and its registrations, so a transport
    /// sends from it as from the buffer). The buffer stays out of its pool until every view of it
    /// is gone. A range outside the buffer is clamped to it.
    public func view(_ range: Range<Int>) -> PooledBuffer {
        let r = range.clamped(to: 0..<count)
        return PooledBuffer(slab: slab, count: r.count, pool: nil, offset: offset + r.lowerBound, owner: owner ?? self)
    }
}
