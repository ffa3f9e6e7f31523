#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One anonymous, pre-faulted, page-aligned mapping that the pool carves into buffers.
///
/// `@unchecked Sendable` is safe because the value is an immutable address and length: passing it
/// between threads passes no access by itself. Its bytes are reached only through the `IOBuffer`
/// holding a slot of it, and the pool hands each slot to one `IOBuffer` at a time; the mapping is
/// unmapped only in the pool's `deinit`, which cannot run while any `IOBuffer` or taking task
/// (both hold the pool strongly) still exists.
struct ArenaMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    /// The system page size; 4096 where sysconf cannot tell, the size on every Linux target we build for.
    static let pageSize: Int = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? Int(size) : 4096
    }()

    /// Maps `bytes` of private anonymous memory, faulted in now (MAP_POPULATE) so that the first
    /// network read into a buffer does not pay a page fault per page.
    ///
    /// With `hugePages`, huge pages are asked for first (MAP_HUGETLB: fewer TLB misses, and an RDMA
    /// or CUDA registration of fewer, larger pages); where the system has none reserved
    /// (`vm.nr_hugepages`), the ordinary mapping is used and `huge` says so.
    static func map(bytes: Int, hugePages: Bool = false) throws(BufferError) -> (mapping: ArenaMapping, huge: Bool) {
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE
        if hugePages, let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB, -1, 0), base != MAP_FAILED {
            return (ArenaMapping(base: base, bytes: bytes), true)
        }
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0), base != MAP_FAILED else {
            throw .mapFailed(bytes: bytes, errno: errno)
        }
        return (ArenaMapping(base: base, bytes: bytes), false)
    }

    /// Pins the mapping in memory; 0 when it is locked, otherwise the errno mlock set.
    func lock() -> Int32 {
        mlock(base, bytes) == 0 ? 0 : errno
    }

    /// Gives the mapping back (which also unlocks it); only the pool's deinit calls this.
    func unmap() {
        _ = munmap(base, bytes)
    }
}
