#if canImport(Glibc)
import Glibc
#endif
import CVerbs
import GranaryBuffers
import Synchronization

/// The process's RDMA devices as the connection manager opened them, one protection domain each,
/// and every memory region registered with them.
///
/// Why process-wide: a memory region belongs to a protection domain, and a queue pair can only use
/// regions of its own domain. One domain per device, shared by every connection and every pool of
/// the process, means a pool arena is registered once and any connection on that device can move
/// data into or out of it.
///
/// Guarantees: `keys(for:count:device:)` answers only for byte ranges wholly inside one registered
/// arena, so a transport never hands a peer an rkey for memory it does not cover.
final class RDMAContext: Sendable {
    /// One device context and its protection domain. The pointers are libibverbs objects that live
    /// as long as the process (the device list is never freed, the domains never deallocated) and
    /// every verb on them is thread-safe, as libibverbs documents.
    struct Device: @unchecked Sendable {
        let verbs: UnsafeMutablePointer<ibv_context>
        let pd: UnsafeMutablePointer<ibv_pd>
        let name: String
    }

    /// A registered arena: its range and, per device (same order as `devices`), its region.
    struct Region: @unchecked Sendable {  // immutable; `ibv_mr` is only read (keys) and deregistered once
        let base: UInt
        let end: UInt
        let mrs: [UnsafeMutablePointer<ibv_mr>]
    }

    let devices: [Device]
    private let regions = Mutex<[Region]>([])

    /// Opened once, on first use; a host without RDMA gets the reason every time.
    static let shared: Result<RDMAContext, TransportError> = open()

    private init(devices: [Device]) { self.devices = devices }

    private static func open() -> Result<RDMAContext, TransportError> {
        if case let .failure(e) = RDMADevices.list() { return .failure(e) }
        var count: Int32 = 0
        guard let list = rdma_get_devices(&count), count > 0 else {
            return .failure(.rdmaUnavailable(reason: "the RDMA connection manager found no device (rdma_get_devices: \(String(cString: strerror(errno))))"))
        }
        var devices: [Device] = []
        for i in 0..<Int(count) {
            guard let verbs = list[i] else { continue }
            guard let pd = ibv_alloc_pd(verbs) else {
                return .failure(.rdmaUnavailable(reason: "cannot allocate a protection domain on \(String(cString: ibv_get_device_name(verbs.pointee.device))): \(String(cString: strerror(errno)))"))
            }
            devices.append(Device(verbs: verbs, pd: pd, name: String(cString: ibv_get_device_name(verbs.pointee.device))))
        }
        // The list stays allocated: the contexts in it are the ones every cm_id refers to.
        return .success(RDMAContext(devices: devices))
    }

    func device(for verbs: UnsafeMutablePointer<ibv_context>?) -> (index: Int, device: Device)? {
        guard let verbs else { return nil }
        guard let i = devices.firstIndex(where: { $0.verbs == verbs }) else { return nil }
        return (i, devices[i])
    }

    /// Registers `[base, base+bytes)` with every device for local access and remote reads and writes.
    func register(_ base: UnsafeMutableRawPointer, bytes: Int) throws(BufferError) -> Region {
        let access = Int32(IBV_ACCESS_LOCAL_WRITE.rawValue | IBV_ACCESS_REMOTE_WRITE.rawValue | IBV_ACCESS_REMOTE_READ.rawValue)
        var mrs: [UnsafeMutablePointer<ibv_mr>] = []
        for d in devices {
            guard let mr = ibv_reg_mr(d.pd, base, bytes, access) else {
                let reason = "ibv_reg_mr of \(bytes) bytes on \(d.name) failed: \(String(cString: strerror(errno)))"
                    + (errno == ENOMEM || errno == EPERM ? " (raise RLIMIT_MEMLOCK: ulimit -l)" : "")
                for m in mrs { ibv_dereg_mr(m) }
                throw .registrationFailed(registrar: "rdma", reason: reason)
            }
            mrs.append(mr)
        }
        let region = Region(base: UInt(bitPattern: base), end: UInt(bitPattern: base) + UInt(bytes), mrs: mrs)
        regions.withLock { list in
            let at = list.firstIndex { $0.base > region.base } ?? list.count
            list.insert(region, at: at)
        }
        return region
    }

    func deregister(_ region: Region) {
        regions.withLock { list in list.removeAll { $0.base == region.base } }
        for m in region.mrs { ibv_dereg_mr(m) }
    }

    /// The local and remote keys of the region holding all of `[address, address+count)` on
    /// device `index`, or nil when no registered arena covers it.
    func keys(for address: UnsafeRawPointer, count: Int, device index: Int) -> (lkey: UInt32, rkey: UInt32)? {
        let start = UInt(bitPattern: address)
        let end = start + UInt(count)
        return regions.withLock { list -> (UInt32, UInt32)? in
            // Binary search for the last region starting at or before `start`.
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid].base <= start { lo = mid + 1 } else { hi = mid }
            }
            guard lo > 0 else { return nil }
            let r = list[lo - 1]
            guard end <= r.end, index < r.mrs.count else { return nil }
            return (r.mrs[index].pointee.lkey, r.mrs[index].pointee.rkey)
        }
    }
}

/// Registers pool arenas with every RDMA device of the process, once per arena, so that the RDMA
/// transport moves data into and out of pool buffers with no copy and no per-I/O registration.
///
/// Guarantees: `load()` fails with `TransportError.rdmaUnavailable` (naming `transport = "tcp"`)
/// on a host without RDMA; a refused registration (usually RLIMIT_MEMLOCK) fails the arena with
/// `BufferError.registrationFailed` naming "rdma" and the limit.
public struct RDMARegistrar: ArenaRegistrar {
    public let name = "rdma"
    let context: RDMAContext

    /// The registrar for this host's RDMA devices, or why there are none.
    public static func load() -> Result<RDMARegistrar, TransportError> {
        RDMAContext.shared.map { RDMARegistrar(context: $0) }
    }

    public func register(_ base: UnsafeMutableRawPointer, bytes: Int) throws(BufferError) -> any ArenaRegistration {
        Registration(context: context, region: try context.register(base, bytes: bytes))
    }

    struct Registration: ArenaRegistration {
        let registrar = "rdma"
        let context: RDMAContext
        let region: RDMAContext.Region
        func deregister() { context.deregister(region) }
    }
}
