#if canImport(Glibc)
import Glibc
#endif
import GranaryBuffers
import GranaryCore
import GranaryMeta
import GranaryPrefetch
import Logging
import Synchronization

/// The client's read cache: a memory tier (buffers of its own `IOBufferPool`) over an optional
/// local-disk tier (`DiskCacheTier`), with a `CachePolicy` deciding what the memory tier keeps and
/// what is fetched ahead. FUSE reads and data-loader reads both go through `read`; every access is
/// recorded in `trace`.
///
/// Guarantees: a read returns exactly the bytes the storage nodes hold for the file map it was given
/// — each cached item carries a validation tag computed from the extents (stripe ids are never
/// reused, and overwrites are copy-on-write into new stripes), so an item cached from an older
/// version of a file is dropped, not served; the memory tier never holds more than
/// `settings.memoryBytes` (prefetches reserve their room, evicting first, before they are issued);
/// cache failures (a full or damaged disk tier, a failed prefetch) never fail a read.
public final class ReadCache: ReadHintSink, Sendable {
    struct MemoryEntry {
        var buffer: IOBuffer
        var tag: UInt64
        var charged: Int
        var prefetched: Bool
        var used: Bool
    }

    struct Inflight {
        var task: Task<Result<CachedBytes, ClientError>, Never>
        var tag: UInt64
        var prefetched: Bool
        /// Tells this fetch from a later one of the same item (after the file changed).
        var serial: UInt64
    }

    struct State {
        let policy: any CachePolicy
        let keys: KeyTable
        var memory: [Int: MemoryEntry] = [:]
        /// Bytes charged to the memory tier: entries plus prefetches reserved and under way.
        var charged = 0
        var locators: [Int: CacheLocator] = [:]
        var maps: [InodeID: FileMap] = [:]
        /// Maps asked for and not yet back: the next announcement must not ask for them again
        /// (the managers are the first thing a cold epoch waits on).
        var mapsRequested = Set<InodeID>()
        var inflight: [Int: Inflight] = [:]
        var stats = CacheStats()
        var policyNanos: UInt64 = 0
        var lastAccess = 0.0
        /// Moving averages: seconds between accesses, seconds per fetch.
        var gap = 0.001
        var fetchSeconds = 0.002
        var serial: UInt64 = 0
        /// The item each job read last.
        var lastItem: [Int: Int] = [:]

        init(policy: any CachePolicy, keys: KeyTable) {
            self.policy = policy
            self.keys = keys
        }
    }

    public let settings: CacheSettings
    let client: FileClient
    let pool: IOBufferPool?
    public let disk: DiskCacheTier?
    /// The recent accesses, oldest first (bounded: `settings.traceCapacity`).
    public let trace: AccessRing
    let state: Mutex<State>
    let logger: Logger
    let opened = FileClient.seconds()
    let background = Mutex<Task<Void, Never>?>(nil)
    /// Where announced reads' file maps come from: a loader's cache of them, shared so the loader
    /// and its prefetcher ask the managers once per file.
    let mapSource = Mutex<FileMapCache?>(nil)

    /// Shares a loader's file-map cache with this cache's prefetcher (the first one given stays).
    public func shareMaps(_ source: FileMapCache) {
        mapSource.withLock { if $0 == nil { $0 = source } }
    }

    /// A cache for `client` under `settings`, its policy made by `policy` (over the cache's key
    /// table); `namespace` names the cluster in the disk tier (so two clusters never share entries).
    public init(client: FileClient, settings: CacheSettings, namespace: String, logger: Logger,
                policy: (KeyTable) -> any CachePolicy) throws(ClientError) {
        self.settings = settings
        self.client = client
        self.logger = logger
        if settings.memoryBytes > 0 {
            do {
                // Small arenas, and room for a few beyond the budget: arenas are carved by size
                // class, so items of mixed sizes need slack; the budget itself is kept by the
                // cache's own accounting (`charged`), not by the pool.
                let arena = max(4 << 20, 2 * settings.blockBytes)
                pool = try IOBufferPool(.init(arenaBytes: arena, limitBytes: settings.memoryBytes + 8 * arena,
                                              lockMemory: settings.lockMemory), registrars: client.arenaRegistrars, logger: logger)
            } catch {
                throw .cacheUnavailable(directory: "(memory)", reason: "the memory tier's buffers: \(error)")
            }
        } else {
            pool = nil
        }
        if let dir = settings.directory, settings.diskBytes > 0 {
            disk = try DiskCacheTier(directory: dir, namespace: namespace, limitBytes: settings.diskBytes,
                                     minFreeRatio: settings.minFreeRatio, logger: logger)
        } else {
            disk = nil
        }
        trace = AccessRing(capacity: settings.traceCapacity)
        let keys = KeyTable()
        var s = State(policy: policy(keys), keys: keys)
        s.stats.policy = s.policy.name
        s.stats.memoryCapacity = settings.memoryBytes
        state = Mutex(s)
    }

    deinit { background.withLock { $0?.cancel() } }

    /// Reads bytes `offset ..< offset + out.count` (cut at the end of the file) of the file `map`
    /// describes, as the item `key` (a sample key, or `file#block`), on behalf of `job`; returns how
    /// many bytes were read. Concurrent reads of one item share one fetch.
    public func read(_ map: FileMap, path: String, key: String, job: String, offset: Int64,
                     into out: UnsafeMutableRawBufferPointer) async throws(ClientError) -> Int {
        guard offset >= 0, offset < map.inode.size else { return 0 }
        let length = Int(min(Int64(out.count), map.inode.size - offset))
        return try await read(map, path: path, key: key, job: job, offset: offset, length: length, part: 0..<length, into: out)
    }

    /// Reads the item `key` — file bytes `offset ..< offset + length` — through the cache, but
    /// copies only its bytes `part` (relative to the item) into `out`: a mount answering the
    /// kernel's 128 KiB request from a cached 1 MiB block. Returns how many bytes were copied.
    public func read(_ map: FileMap, path: String, key: String, job: String, offset: Int64, length itemLength: Int,
                     part wanted: Range<Int>, into out: UnsafeMutableRawBufferPointer) async throws(ClientError) -> Int {
        guard offset >= 0, offset < map.inode.size, itemLength > 0 else { return 0 }
        let length = Int(min(Int64(itemLength), map.inode.size - offset))
        let part = max(0, wanted.lowerBound)..<min(length, wanted.upperBound)
        guard !part.isEmpty, out.count >= part.count else { return 0 }
        let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<part.count])
        func deliver(_ bytes: UnsafeRawBufferPointer) {
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[part]))
            client.noteCopy(part.count)
        }
        let tag = Self.tag(map, offset: offset, length: length)
        let now = FileClient.seconds()
        let locator = CacheLocator(inode: map.inode.id, offset: offset, length: length, path: path)
        let (id, found) = lookup(map, locator: locator, key: key, job: job, tag: tag, now: now, continuation: part.lowerBound > 0)
        defer { prefetch() }
        switch found {
        case let .memory(buffer):
            deliver(UnsafeRawBufferPointer(buffer.bytes))
            return part.count
        case let .waiting(task, prefetched):
            let result = await wait(for: task, item: id, prefetched: prefetched, since: now)
            switch result {
            case let .success(bytes) where bytes.raw.count == length:
                deliver(bytes.raw)
                return part.count
            case let .failure(error) where !prefetched:
                throw error
            default:
                // A prefetch that failed: read it ourselves, so a real failure is reported.
                return try await client.read(map, path: path, offset: offset + Int64(part.lowerBound), into: target)
            }
        }
    }

    /// Reads item `key` (file bytes `offset ..< offset + length`) for a caller that can hold a
    /// pooled buffer — the data loader — without a copy: the cache's own buffer when the item is
    /// in the memory tier or arrives in it, else `fallback` filled (read straight into it, or, when
    /// the policy kept the fetched bytes out of the memory tier, copied into it and counted).
    /// The returned buffer must not be written.
    public func acquire(_ map: FileMap, path: String, key: String, job: String, offset: Int64, length: Int,
                        fallback: IOBuffer) async throws(ClientError) -> IOBuffer {
        guard offset >= 0, offset < map.inode.size, length > 0 else { return fallback }
        let length = Int(min(Int64(length), map.inode.size - offset, Int64(fallback.count)))
        let tag = Self.tag(map, offset: offset, length: length)
        let now = FileClient.seconds()
        let locator = CacheLocator(inode: map.inode.id, offset: offset, length: length, path: path)
        let (id, found) = lookup(map, locator: locator, key: key, job: job, tag: tag, now: now, continuation: false)
        defer { prefetch() }
        let target = UnsafeMutableRawBufferPointer(rebasing: fallback.bytes[0..<length])
        switch found {
        case let .memory(buffer):
            return buffer
        case let .waiting(task, prefetched):
            let result = await wait(for: task, item: id, prefetched: prefetched, since: now)
            switch result {
            case let .success(.pooled(buffer)) where buffer.count == length:
                return buffer
            case let .success(bytes) where bytes.raw.count == length:
                target.copyMemory(from: bytes.raw)
                client.noteCopy(length)
                return fallback
            case let .failure(error) where !prefetched:
                throw error
            default:
                let n = try await client.read(map, path: path, offset: offset, into: target)
                guard n == length else { throw .localFile(path: path, reason: "read \(n) of \(length) bytes at offset \(offset)") }
                return fallback
            }
        }
    }

    /// Waits for a fetch under way and counts the wait: a stall, and a late hit (its prefetched
    /// entry now used) when it was a prefetch.
    private func wait(for task: Task<Result<CachedBytes, ClientError>, Never>, item id: Int, prefetched: Bool,
                      since start: Double) async -> Result<CachedBytes, ClientError> {
        let result = await task.value
        let took = FileClient.seconds() - start
        state.withLock { s in
            if prefetched {
                s.stats.lateHits += 1
                if var e = s.memory[id], e.prefetched {
                    e.used = true
                    s.memory[id] = e
                }
            }
            s.stats.stallSeconds += took
        }
        return result
    }

    enum Found {
        case memory(IOBuffer)
        /// A fetch under way: one this read started (a miss), or a prefetch.
        case waiting(Task<Result<CachedBytes, ClientError>, Never>, prefetched: Bool)
    }

    /// Records the access and finds the item in memory or under way, or starts its fetch.
    private func lookup(_ map: FileMap, locator: CacheLocator, key: String, job: String, tag: UInt64, now: Double,
                        continuation: Bool) -> (Int, Found) {
        state.withLock { s in
            let id = s.keys.intern(key, size: locator.length)
            s.locators[id] = locator
            remember(map, in: &s)
            s.stats.accesses += 1
            if s.lastAccess > 0 { s.gap += (min(now - s.lastAccess, 1) - s.gap) * 0.05 }
            s.lastAccess = now
            var found: Found?
            if var e = s.memory[id] {
                if e.tag == tag, e.buffer.count == locator.length {
                    found = .memory(e.buffer)
                    s.stats.memoryHits += 1
                    if e.prefetched, !e.used { s.stats.prefetchUsed += 1 }
                    e.used = true
                    s.memory[id] = e
                } else {
                    evict(id, in: &s)
                }
            } else if let f = s.inflight[id], f.tag == tag {
                if f.prefetched { s.stats.prefetchUsed += 1 }
                found = .waiting(f.task, prefetched: f.prefetched)
            }
            let jobID = s.keys.job(job)
            // The kernel reads a cached block in several requests, one after another: the policy
            // and the trace see one access per block, not one per request.
            if !continuation || s.lastItem[jobID] != id {
                s.lastItem[jobID] = id
                let access = Access(time: now - opened, job: jobID, item: id, size: locator.length)
                let t0 = DispatchFreeClock.nanos()
                s.policy.accessed(access, cached: found != nil)
                s.policyNanos += DispatchFreeClock.nanos() - t0
                trace.record(TraceRecord(t: now - opened, job: job, key: s.keys[id].key, size: locator.length, offset: locator.offset))
            }
            if let found { return (id, found) }
            s.stats.misses += 1
            s.serial += 1
            let serial = s.serial
            let task = Task { await self.fetch(id, locator, map, tag: tag, reason: .demand, serial: serial) }
            s.inflight[id] = Inflight(task: task, tag: tag, prefetched: false, serial: serial)
            return (id, .waiting(task, prefetched: false))
        }
    }

    /// Fetches an item — from the disk tier when it holds it, else from the storage nodes — into a
    /// memory-tier buffer when the policy admits it (room reserved first), else into a buffer of
    /// its own; bytes from the storage nodes also go to the disk tier.
    func fetch(_ id: Int, _ loc: CacheLocator, _ map: FileMap, tag: UInt64, reason: AdmitReason,
               serial: UInt64) async -> Result<CachedBytes, ClientError> {
        let start = FileClient.seconds()
        var bytes: CachedBytes
        // A prefetch had its room reserved before it was issued; a demand fetch asks now.
        var reserved = reason == .prefetch || reserve(id, size: loc.length, reason: reason)
        if reserved, let pool, let b = try? pool.tryTake(loc.length) {
            bytes = .pooled(b)
        } else {
            if reserved { unreserve(loc.length) }
            reserved = false
            if reason == .prefetch {
                state.withLock { s in
                    if s.inflight[id]?.serial == serial { s.inflight[id] = nil }
                    s.stats.prefetchFailed += 1
                }
                return .failure(.cacheUnavailable(directory: "(memory)", reason: "no buffer for a prefetch of \(loc.length) bytes"))
            }
            bytes = .owned(OwnedBuffer(count: loc.length))
        }
        let place = Self.diskKey(loc.inode, loc.offset, loc.length)
        let target: UnsafeMutableRawBufferPointer
        switch bytes {
        case let .pooled(b): target = b.bytes
        case let .owned(b): target = b.raw
        }
        var fromDisk = false
        var failure: ClientError?
        if let disk, disk.contains(place, tag: tag), disk.read(place, tag: tag, into: target) {
            fromDisk = true
        } else {
            do {
                let n = try await client.read(map, path: loc.path, offset: loc.offset, into: target)
                if n != loc.length { failure = .localFile(path: loc.path, reason: "read \(n) of \(loc.length) bytes at offset \(loc.offset)") }
            } catch { failure = error }
        }
        let took = FileClient.seconds() - start
        state.withLock { s in
            if s.inflight[id]?.serial == serial { s.inflight[id] = nil }
            s.fetchSeconds += (took - s.fetchSeconds) * 0.1
            if failure != nil {
                if reason == .prefetch { s.stats.prefetchFailed += 1 }
            } else if fromDisk {
                if reason == .demand { s.stats.diskHits += 1; s.stats.misses -= 1 }
            } else if reason == .prefetch {
                s.stats.prefetchBytes += loc.length
            } else {
                s.stats.demandBytes += loc.length
            }
        }
        if let failure {
            if reserved { unreserve(loc.length) }
            return .failure(failure)
        }
        if reserved, case let .pooled(b) = bytes { install(id, buffer: b, tag: tag, reason: reason) }
        if !fromDisk, let disk {
            if case .owned = bytes { disk.write(place, tag: tag, bytes: UnsafeRawBufferPointer(target)) } else {
                let keep = bytes
                Task.detached { disk.write(place, tag: tag, bytes: keep.raw) }
            }
        }
        return .success(bytes)
    }

    /// Asks the policy to admit `id` and evicts its victims until `size` bytes fit; charges them.
    func reserve(_ id: Int, size: Int, reason: AdmitReason) -> Bool {
        guard let pool else { return false }
        let charge = pool.sizeClass(for: size)
        guard charge <= settings.memoryBytes else { return false }
        return state.withLock { s in
            guard s.memory[id] == nil else { return false }
            let t0 = DispatchFreeClock.nanos()
            defer { s.policyNanos += DispatchFreeClock.nanos() - t0 }
            guard s.policy.admit(id, size: size, reason: reason, full: s.charged + charge > settings.memoryBytes) else { return false }
            while s.charged + charge > settings.memoryBytes {
                guard let victim = s.policy.victim(), s.memory[victim] != nil else { return false }
                evict(victim, in: &s)
            }
            s.charged += charge
            s.stats.memoryPeakBytes = max(s.stats.memoryPeakBytes, s.charged)
            return true
        }
    }

    func unreserve(_ size: Int) {
        guard let pool else { return }
        let charge = pool.sizeClass(for: size)
        state.withLock { $0.charged -= charge }
    }

    /// Puts a filled buffer in the memory tier (its room already reserved).
    func install(_ id: Int, buffer: IOBuffer, tag: UInt64, reason: AdmitReason) {
        state.withLock { s in
            if s.memory[id] != nil { evict(id, in: &s) }
            s.memory[id] = MemoryEntry(buffer: buffer, tag: tag, charged: buffer.capacity, prefetched: reason == .prefetch, used: false)
            s.policy.inserted(id, size: buffer.count, reason: reason)
            s.stats.memoryEntries = s.memory.count
            s.stats.memoryBytes = s.charged
        }
    }

    func evict(_ id: Int, in s: inout State) {
        guard let e = s.memory.removeValue(forKey: id) else { return }
        s.charged -= e.charged
        if e.prefetched, !e.used { s.stats.prefetchWasted += 1 }
        s.policy.removed(id)
        s.stats.memoryEntries = s.memory.count
        s.stats.memoryBytes = s.charged
    }

    /// File maps kept for prefetching (a few hundred bytes each).
    static let mapsKept = 100_000

    func remember(_ map: FileMap, in s: inout State) {
        if s.maps.count >= Self.mapsKept {
            // Forget a tenth (arbitrary ones): a forgotten map is fetched again when needed.
            for k in Array(s.maps.keys.prefix(Self.mapsKept / 10)) { s.maps[k] = nil }
        }
        s.maps[map.inode.id] = map
    }

    /// Registers items a reader is likely to want (a directory's files, a large file's blocks) so
    /// the policy can fetch them before they are first read.
    public func register(_ items: [(key: String, inode: InodeID, offset: Int64, length: Int, path: String)]) {
        state.withLock { s in
            for i in items where i.length > 0 {
                let id = s.keys.intern(i.key, size: i.length)
                if s.locators[id] == nil { s.locators[id] = CacheLocator(inode: i.inode, offset: i.offset, length: i.length, path: i.path) }
            }
        }
    }

    /// The policy's short name ("learned", "hinted", …).
    public var policyName: String { state.withLock { $0.policy.name } }

    /// Counters and occupancy now.
    public var stats: CacheStats {
        var out = state.withLock { s in
            var st = s.stats
            st.policyNanosPerAccess = s.stats.accesses == 0 ? 0 : Double(s.policyNanos) / Double(s.stats.accesses)
            return st
        }
        if let disk {
            let u = disk.usage
            out.diskEntries = u.entries
            out.diskBytes = u.bytes
            out.diskDropped = u.dropped
            out.diskLimit = disk.limitBytes
        }
        return out
    }

    /// Drops every memory entry (the disk tier is kept).
    public func dropMemory() {
        state.withLock { s in for id in Array(s.memory.keys) { evict(id, in: &s) } }
    }

    /// The disk tier names entries by where their bytes are (`inode:offset:length`), not by the
    /// reader's item key, so a mount, a loader and `granary warmup` reading the same range share one
    /// entry.
    static func diskKey(_ inode: InodeID, _ offset: Int64, _ length: Int) -> String { "\(inode.rawValue):\(offset):\(length)" }

    /// Puts bytes `offset ..< offset + length` of the file in the disk tier unless they are there:
    /// `granary warmup`. Returns whether they had to be fetched.
    public func warm(_ map: FileMap, path: String, offset: Int64, length: Int) async throws(ClientError) -> Bool {
        guard let disk else { throw .cacheUnavailable(directory: "(none)", reason: "warming up needs a disk tier") }
        let length = Int(min(Int64(length), map.inode.size - offset))
        guard length > 0 else { return false }
        let tag = Self.tag(map, offset: offset, length: length), place = Self.diskKey(map.inode.id, offset, length)
        if disk.contains(place, tag: tag) { return false }
        let buffer = OwnedBuffer(count: length)
        let n = try await client.read(map, path: path, offset: offset, into: buffer.raw)
        guard n == length else { throw .localFile(path: path, reason: "read \(n) of \(length) bytes at offset \(offset)") }
        guard disk.write(place, tag: tag, bytes: UnsafeRawBufferPointer(buffer.raw)) else {
            throw .cacheUnavailable(directory: disk.directory, reason: "the disk tier is full (its size limit or the free-space ratio); \(path) was not cached")
        }
        state.withLock { s in s.stats.demandBytes += n }
        return true
    }

    /// A hash of the extents that hold bytes `offset ..< offset + length` and of the file's size:
    /// it changes whenever those bytes may have (new stripes on overwrite, a truncate).
    static func tag(_ map: FileMap, offset: Int64, length: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01B3; h ^= h >> 29 }
        mix(UInt64(bitPattern: map.inode.size))
        let end = offset + Int64(length)
        for e in map.extents where e.fileEnd > offset && e.fileOffset < end {
            mix(e.stripe)
            mix(UInt64(bitPattern: Int64(e.stripeOffset)))
            mix(UInt64(bitPattern: e.fileOffset))
            mix(UInt64(bitPattern: Int64(e.length)))
        }
        return h
    }
}

/// A monotonic nanosecond clock for measuring the policy's cost.
enum DispatchFreeClock {
    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
