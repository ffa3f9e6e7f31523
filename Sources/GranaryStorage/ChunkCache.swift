#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryTransport
import GranaryWire
import Metrics
import Synchronization

/// Whole chunks a storage node read recently, checked, in its answer buffers: a chunk read again is
/// sent straight from memory, with no read from the drive and no copy.
///
/// Why: without it every read copies the chunk out of the page cache into an answer buffer before
/// the socket copies it again, and that copy was the one the raw TCP stream does not make (issue 2's
/// transport gap). Storage engines that serve hot data (Ceph BlueStore's buffer cache, an Alluxio
/// worker's memory tier) keep it in their own memory for the same reason.
///
/// Guarantees:
/// - Only whole chunks are cached, read when a request covers at least half of one (a client
///   reading a fragment's data), never for a small range (a sample out of a packed chunk).
/// - Only data whose every block CRC matched is cached, and an entry is served only while the chunk
///   file is the one it was read from: each lookup compares the file's device, inode, size, mtime
///   and ctime (one `stat`), so a put (a new file renamed over it), a delete, or any write to the
///   file sends the read to the drive again (a write in place within the same tick of the file
///   system's clock as the last one may go unseen; the cache then serves the checked bytes the
///   file held, which are right). Scrub reads (`getChunk`) never use the cache: they are
///   meant to read the drive.
/// - Holds at most `capacityBytes` of chunk data; the least recently read entries go first. An
///   entry's buffer goes back to the pool only when the last answer sending from it is done.
/// - Any number of threads may use it at once (one lock, held for dictionary work only).
public final class ChunkCache: Sendable {
    /// The most chunk data held.
    public let capacityBytes: Int

    /// Counts since the cache was made, for metrics and the benchmark.
    public struct Stats: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var insertions = 0
        public var evictions = 0
        /// Entries dropped because their file changed or went.
        public var invalidations = 0
        /// Memory the entries hold.
        public var bytes = 0
        public var entries = 0
    }

    /// Which file a chunk was read from: any put, delete or write changes one of these.
    public struct FileIdentity: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtime: timespec
        var ctime: timespec

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtime = st.st_mtim
            ctime = st.st_ctim
        }

        public static func == (a: FileIdentity, b: FileIdentity) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec
                && a.ctime.tv_sec == b.ctime.tv_sec && a.ctime.tv_nsec == b.ctime.tv_nsec
        }
    }

    /// A chunk's checked data and the header that describes it.
    public struct Chunk: Sendable {
        public let header: ChunkHeader
        public let data: PooledBuffer
        public let identity: FileIdentity

        /// The checksum of each segment of `range` of the data, as `Drive.readForTransfer` gives
        /// them: a whole block's stored CRC, or the CRC of the covered part of a partial one.
        public func segments(_ range: Range<Int>) -> [ReadChunkReply.Segment] {
            var segments: [ReadChunkReply.Segment] = []
            guard !range.isEmpty else { return segments }
            var block = range.lowerBound / header.blockSize
            let last = (range.upperBound - 1) / header.blockSize
            let bytes = UnsafeRawBufferPointer(data.bytes)
            while block <= last {
                let b = header.blockRange(block)
                if range.lowerBound <= b.lowerBound && b.upperBound <= range.upperBound {
                    segments.append(.init(length: UInt32(b.count), checksum: header.blockChecksums[block]))
                } else {
                    let part = b.clamped(to: range)
                    segments.append(.init(length: UInt32(part.count), checksum: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[part]))))
                }
                block += 1
            }
            return segments
        }
    }

    private struct Key: Hashable {
        var drive: String
        var chunk: ChunkKey
    }

    private struct Entry {
        var chunk: Chunk
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0
        var stats = Stats()
    }

    private let state = Mutex(State())
    private let hitCounter = Counter(label: "granary_chunk_cache_reads_total", dimensions: [("result", "hit")])
    private let missCounter = Counter(label: "granary_chunk_cache_reads_total", dimensions: [("result", "miss")])
    private let bytesGauge = Gauge(label: "granary_chunk_cache_bytes")

    public init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
    }

    /// The largest chunk data kept: a quarter of the capacity, so one big chunk never empties the cache.
    public var maxChunkBytes: Int { capacityBytes / 4 }

    /// Whether `bytes` of memory for one chunk fit the rule above.
    public func admits(length bytes: Int) -> Bool { bytes > 0 && bytes <= maxChunkBytes }

    /// The cached chunk `key` of `drive`, if the file at `path` is still the one it was read from.
    public func lookup(drive: String, key: ChunkKey, path: String) -> Chunk? {
        let k = Key(drive: drive, chunk: key)
        guard state.withLock({ $0.entries[k] != nil }) else {
            state.withLock { $0.stats.misses += 1 }
            missCounter.increment()
            return nil
        }
        // The stat is outside the lock: it may block on the drive.
        var st = stat()
        let current = stat(path, &st) == 0 ? FileIdentity(st) : nil
        // A stale entry leaves the lock before its buffer is released (see `insert`).
        let (found, bytes, stale) = state.withLock { s -> (Chunk?, Int, Chunk?) in
            guard var e = s.entries[k] else {
                s.stats.misses += 1
                return (nil, s.stats.bytes, nil)
            }
            guard e.chunk.identity == current else {
                s.entries[k] = nil
                s.stats.bytes -= e.chunk.data.footprint
                s.stats.invalidations += 1
                s.stats.misses += 1
                return (nil, s.stats.bytes, e.chunk)
            }
            s.clock += 1
            e.lastUse = s.clock
            s.entries[k] = e
            s.stats.hits += 1
            return (e.chunk, s.stats.bytes, nil)
        }
        _ = stale
        if found == nil { missCounter.increment() } else { hitCounter.increment() }
        bytesGauge.record(bytes)
        return found
    }

    /// Keeps `chunk` of `drive`, evicting the least recently read entries to make room.
    public func insert(drive: String, _ chunk: Chunk) {
        guard admits(length: chunk.data.footprint) else { return }
        let k = Key(drive: drive, chunk: chunk.header.key)
        // Buffers leave the lock before they are released: releasing one may return it to its pool
        // or deregister it from an RDMA device (a system call), neither of which belongs under it.
        var evicted: [Chunk] = []
        let bytes = state.withLock { s -> Int in
            if let old = s.entries[k] {
                s.stats.bytes -= old.chunk.data.footprint
                evicted.append(old.chunk)
            }
            s.clock += 1
            s.entries[k] = Entry(chunk: chunk, lastUse: s.clock)
            s.stats.bytes += chunk.data.footprint
            s.stats.insertions += 1
            while s.stats.bytes > capacityBytes, let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                s.entries[victim.key] = nil
                s.stats.bytes -= victim.value.chunk.data.footprint
                s.stats.evictions += 1
                evicted.append(victim.value.chunk)
            }
            return s.stats.bytes
        }
        bytesGauge.record(bytes)
        evicted.removeAll()
    }

    /// Forgets chunk `key` of `drive` (its file was replaced or removed by this node).
    public func remove(drive: String, key: ChunkKey) {
        // The entry leaves the lock before its buffer is released, as in `insert`.
        let (gone, bytes) = state.withLock { s -> (Chunk?, Int) in
            guard let e = s.entries.removeValue(forKey: Key(drive: drive, chunk: key)) else { return (nil, s.stats.bytes) }
            s.stats.bytes -= e.chunk.data.footprint
            return (e.chunk, s.stats.bytes)
        }
        if gone != nil { bytesGauge.record(bytes) }
    }

    /// The counts so far.
    public func stats() -> Stats {
        state.withLock { s in
            var out = s.stats
            out.entries = s.entries.count
            return out
        }
    }
}
