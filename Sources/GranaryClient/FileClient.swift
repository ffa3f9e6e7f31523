#if canImport(Glibc)
import Glibc
#endif
import GranaryBuffers
import GranaryCore
import GranaryErasure
import GranaryMeta
import GranaryTransport
import Logging
import Synchronization

/// The client side of Granary's file system: namespace operations through the managers, and file
/// data written and read as erasure-coded stripes on the storage nodes.
///
/// Guarantees: a file written through it becomes visible whole or not at all (its stripes are
/// written first, then one metadata commit names them); a read returns the file's bytes or throws —
/// never wrong bytes — decoding from parity when fragments are missing, corrupt, on a down drive or
/// late, and naming the file and stripe when fewer than k fragments can be read.
public final class FileClient: Sendable {
    public let meta: MetaClient
    public let storage: StorageClient
    public let settings: FileClientSettings
    let logger: Logger
    private let cachedMap = Mutex<(map: ClusterMap, at: Double)?>(nil)
    private let codecs = Mutex<[StripeLayout: ErasureCodec]>([:])
    let counters = Mutex(ReadCounters())
    private let hintSink = Mutex<(any ReadHintSink)?>(nil)
    private let readCache = Mutex<ReadCache?>(nil)

    /// What the read path has had to work around since this client was made.
    public struct ReadCounters: Sendable, Equatable, Codable {
        /// Stripe reads answered by decoding from parity instead of straight from data fragments.
        public var degradedReads = 0
        /// Stripe reads decoded around a drive the health monitor marked suspect or evicted.
        public var avoidedReads = 0
        /// Fragment reads that failed (missing, corrupt, down, late), each with its cause.
        public var fragmentFailures: [String] = []
        /// File bytes copied from one buffer to another after they landed: a degraded read's
        /// decoded stripe, a cache hit delivered into a caller's buffer. A read straight from the
        /// network into the caller's (or the cache's) pooled buffer adds nothing.
        public var copiedBytes = 0
    }

    /// Counts `n` file bytes copied between buffers (see `ReadCounters.copiedBytes`).
    func noteCopy(_ n: Int) {
        if n > 0 { counters.withLock { $0.copiedBytes += n } }
    }

    /// A snapshot of the read counters.
    public var readCounters: ReadCounters { counters.withLock { $0 } }

    /// Registrars that a pool of buffers to read into must use for reads to land without a copy
    /// (the RDMA transport's; none over TCP). The loader's pool and the cache's take them.
    public var arenaRegistrars: [any ArenaRegistrar] { storage.transport.arenaRegistrars }

    public init(managers: [Endpoint], transport: any Transport, settings: FileClientSettings = .init(), logger: Logger) {
        self.meta = MetaClient(managers: managers, transport: transport)
        self.storage = StorageClient(transport: transport)
        self.settings = settings
        self.logger = logger
    }

    // MARK: Cluster map and codecs

    /// The cluster map, fetched again when the cached one is older than `mapMaxAgeMs` or `fresh`.
    public func clusterMap(fresh: Bool = false) async throws(ClientError) -> ClusterMap {
        let now = Self.seconds()
        if !fresh, let c = cachedMap.withLock({ $0 }), now - c.at < Double(settings.mapMaxAgeMs) / 1000 { return c.map }
        let map = try await meta.clusterMap()
        cachedMap.withLock { $0 = (map, now) }
        return map
    }

    /// Where drive `id` serves, and whether it is usable now.
    func endpoint(_ id: DriveID, in map: ClusterMap) -> (Endpoint, usable: Bool)? {
        guard let node = map.node(id.node), let drive = node.drives.first(where: { $0.id == id }) else { return nil }
        return (node.address, node.state == .up && drive.state == .up)
    }

    /// Whether reads go around drive `id` while enough other fragments answer: the health monitor
    /// marked it suspect (slow, or predicted to fail) or evicted it (its fragments are being moved).
    func avoids(_ id: DriveID, in map: ClusterMap) -> Bool {
        (map.drive(id)?.health ?? .healthy) != .healthy
    }

    /// Whether the client reads fragments on drive `id` (rather than decoding around it): the one
    /// rule the read path, verification and scrub share.
    public func reads(from id: DriveID, in map: ClusterMap) -> Bool {
        endpoint(id, in: map)?.usable ?? false
    }

    /// The codec of `layout` (one instance per layout, shared).
    func codec(_ layout: StripeLayout) throws(ClientError) -> ErasureCodec {
        if let c = codecs.withLock({ $0[layout] }) { return c }
        do {
            let c = try ErasureCodec(layout: layout)
            codecs.withLock { $0[layout] = c }
            return c
        } catch { throw .codec(error) }
    }

    /// The layout new files in directory `dir` get, with the best backend this host has when the
    /// directory names none of its own.
    public func layoutForNewFiles(in dir: InodeID) async throws(ClientError) -> StripeLayout {
        if let l = try await meta.effectiveLayout(dir) { return l }
        var l = settings.defaultLayout
        do {
            l.backend = try ErasureCodec.preferred(k: l.k, m: l.m, logger: logger).backend.rawValue
        } catch { throw .codec(error) }
        return l
    }

    // MARK: Read hints

    /// Installs the receiver of read hints (the prefetcher); `nil` removes it.
    public func setHintSink(_ sink: (any ReadHintSink)?) { hintSink.withLock { $0 = sink } }

    /// Whether a hint sink is installed (a reader can skip building hints nobody receives).
    public var hasHintSink: Bool { hintSink.withLock { $0 != nil } }

    /// Passes a reader's upcoming reads, in order, to the installed hint sink (nothing happens
    /// without one).
    public func hint(_ reads: [UpcomingRead], source: String) {
        hintSink.withLock { $0 }?.upcoming(reads, source: source)
    }

    // MARK: Cache

    /// Installs the read cache that `read(_:path:key:job:offset:into:)` goes through, and makes it
    /// the hint sink; `nil` removes both. (The cache holds this client, so a process that drops
    /// its client before exit removes the cache first.)
    public func setCache(_ cache: ReadCache?) {
        readCache.withLock { $0 = cache }
        setHintSink(cache)
    }

    /// The installed read cache.
    public var cache: ReadCache? { readCache.withLock { $0 } }

    /// Reads through the installed cache as item `key` on behalf of `job` (a plain read without
    /// one): what FUSE and the data loader call.
    public func read(_ map: FileMap, path: String, key: String, job: String, offset: Int64,
                     into out: UnsafeMutableRawBufferPointer) async throws(ClientError) -> Int {
        if let cache { return try await cache.read(map, path: path, key: key, job: job, offset: offset, into: out) }
        return try await read(map, path: path, offset: offset, into: out)
    }

    public static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
