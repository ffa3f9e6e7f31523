/// How a client caches and prefetches file data (`[cache]` in client.toml; the mount and loader
/// flags override it).
public struct CacheSettings: Sendable, Equatable, Codable {
    /// Which policy decides what stays cached and what is fetched ahead.
    public enum Policy: String, Sendable, Equatable, Codable, CaseIterable {
        /// No cache: every read goes to the storage nodes.
        case off
        case lru, lfu
        /// Fill once, never evict (the best fixed rule for uniform shuffled epochs).
        case pinned
        /// Learns from the access trace what is read next (the default for mounts).
        case learned
        /// Fetches exactly what the reader announced (the default for the data loader).
        case hinted
    }

    public var policy: Policy = .learned
    /// Bytes of the memory tier (page-aligned buffers of its own pool).
    public var memoryBytes: Int = 512 << 20
    /// The local-disk tier's directory; nil for none.
    public var directory: String? = CacheSettings.defaultDirectory
    public var diskBytes: Int = 10 << 30
    /// Keep at least this fraction of the cache directory's file system free.
    public var minFreeRatio: Double = 0.1
    /// Large files are cached in blocks of this size (a file up to it is one item).
    public var blockBytes: Int = 1 << 20
    /// Prefetches in flight at most.
    public var prefetchConcurrency: Int = 32
    /// Accesses kept in the in-memory trace ring.
    public var traceCapacity: Int = 1 << 16
    /// Lock the memory tier's buffers in RAM.
    public var lockMemory: Bool = true

    public init() {}

    /// The pieces a file of `size` bytes is cached in: the whole file up to `blockBytes`, else
    /// blocks of `blockBytes` (the last one shorter). A mount, `granary warmup` and the disk tier's
    /// entries all use this shape, so they find each other's pieces.
    public func pieces(ofFileSize size: Int64) -> [(offset: Int64, length: Int)] {
        let block = Int64(blockBytes)
        var out: [(offset: Int64, length: Int)] = []
        var at: Int64 = 0
        while at < size {
            let length = size <= block ? size : Swift.min(block, size - at)
            out.append((offset: at, length: Int(length)))
            at += length
        }
        return out
    }

    /// `$XDG_CACHE_HOME/granary`, else `~/.cache/granary`.
    public static var defaultDirectory: String {
        FileIO.userDirectory(xdg: "XDG_CACHE_HOME", homeRelative: ".cache") + "/granary"
    }

    static let keysHelp = "policy, memory, dir, disk, min_free_ratio, block, prefetch_concurrency, trace_capacity, lock_memory"

    /// Reads `[cache]` if present.
    public static func read(from root: ConfigReader) throws(ConfigError) -> CacheSettings {
        var s = CacheSettings()
        guard let t = try root.table("cache") else { return s }
        if let v = try t.string("policy") {
            guard let p = Policy(rawValue: v) else {
                throw .badValue(file: t.file, key: t.path("policy"), value: v, expected: Policy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            s.policy = p
        }
        if let v = try t.byteSize("memory", range: 0...(1 << 40)) { s.memoryBytes = Int(v.bytes) }
        if let v = try t.string("dir") { s.directory = v.isEmpty ? nil : v }
        if let v = try t.byteSize("disk", range: 0...(1 << 50)) { s.diskBytes = Int(v.bytes) }
        if let v = try t.double("min_free_ratio", range: 0...0.95) { s.minFreeRatio = v }
        if let v = try t.byteSize("block", range: 4096...(64 << 20)) { s.blockBytes = Int(v.bytes) }
        if let v = try t.int("prefetch_concurrency", range: 0...1024) { s.prefetchConcurrency = v }
        if let v = try t.int("trace_capacity", range: 16...(1 << 24)) { s.traceCapacity = v }
        if let v = try t.bool("lock_memory") { s.lockMemory = v }
        return s
    }
}
