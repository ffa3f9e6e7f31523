#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Logging
import Synchronization

/// The client cache's local-disk tier: one file per cached item under a cache directory, each with
/// a self-describing header (`DiskCacheHeader`: the item's key, its validation tag, its length and
/// the CRC32C of its bytes), kept within a size limit and a minimum free-space ratio of the file
/// system it lives on.
///
/// Guarantees: an entry is written to a temporary file and renamed into place, so a crash leaves
/// either the whole entry or none; the index is rebuilt from the entries' headers when the tier
/// opens, so it survives a restart; an entry that is truncated, has a damaged header, or whose bytes
/// fail their CRC is dropped (its file deleted) and reported as a miss — never served. One process
/// owns a cache directory at a time (an exclusive `flock` on `.lock`); a second gets
/// `ClientError.cacheUnavailable` naming the directory.
public final class DiskCacheTier: Sendable {
    /// One entry as the index knows it.
    struct Entry: Sendable {
        var file: String
        var length: Int
        var tag: UInt64
        var lastUse: UInt64
    }

    struct State: Sendable {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var dropped = 0
    }

    /// The cache directory (shared by clusters: entries live below `root`).
    public let directory: String
    /// `directory/<namespace>`: this cluster's entries.
    public let root: String
    public let limitBytes: Int
    public let minFreeRatio: Double
    private let lockFD: Int32
    private let state = Mutex(State())
    private let logger: Logger

    /// Opens (creating) the tier at `directory` for the cluster named `namespace`, scanning the
    /// entries already there.
    public init(directory: String, namespace: String, limitBytes: Int, minFreeRatio: Double, logger: Logger) throws(ClientError) {
        self.directory = directory
        self.root = directory + "/" + namespace
        self.limitBytes = limitBytes
        self.minFreeRatio = minFreeRatio
        self.logger = logger
        do { try FileIO.makeDirectories(root + "/tmp", mode: 0o700) } catch {
            throw .cacheUnavailable(directory: directory, reason: error.description)
        }
        let fd = open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cacheUnavailable(directory: directory, reason: "cannot open .lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw .cacheUnavailable(directory: directory, reason: "another Granary process is using it (a mount or a loader); give this one its own cache directory")
        }
        lockFD = fd
        // Temporary files are entries a crash interrupted: never complete, so never valid.
        for name in (try? FileIO.entries(of: root + "/tmp")) ?? [] { unlink(root + "/tmp/" + name) }
        let scanned = Self.scan(root: root, dropInvalid: true)
        state.withLock { s in
            for e in scanned.entries { s.entries[e.key] = Entry(file: e.file, length: e.length, tag: e.tag, lastUse: 0); s.bytes += e.length }
            s.dropped = scanned.dropped
        }
        if scanned.dropped > 0 { logger.warning("disk cache \(root): dropped \(scanned.dropped) truncated or damaged entries") }
    }

    deinit {
        flock(lockFD, LOCK_UN)
        close(lockFD)
    }

    /// Entries and bytes held, and entries dropped as damaged since the tier opened.
    public var usage: (entries: Int, bytes: Int, dropped: Int) { state.withLock { ($0.entries.count, $0.bytes, $0.dropped) } }

    /// Whether `key` is held with validation tag `tag` (without reading it).
    public func contains(_ key: String, tag: UInt64) -> Bool { state.withLock { $0.entries[key]?.tag == tag } }

    /// Reads entry `key` into `out` (exactly its length) when it is held with tag `tag` and its bytes
    /// pass their CRC. A held entry with another tag (the file changed) or damaged bytes is dropped.
    public func read(_ key: String, tag: UInt64, into out: UnsafeMutableRawBufferPointer) -> Bool {
        let found: Entry? = state.withLock { s in
            guard var e = s.entries[key] else { return nil }
            s.clock += 1
            e.lastUse = s.clock
            s.entries[key] = e
            return e
        }
        guard let e = found else { return false }
        guard e.tag == tag, e.length == out.count else {
            drop(key, reason: nil)
            return false
        }
        let path = root + "/" + e.file
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { drop(key, reason: "cannot open: \(String(cString: strerror(errno)))"); return false }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: DiskCacheHeader.fixedSize + key.utf8.count)
        let headerRead = header.withUnsafeMutableBytes { try? FileIO.preadFully(fd, $0, at: 0, path: path) }
        guard headerRead == header.count, let h = DiskCacheHeader.parse(header), h.key == key, h.tag == tag,
              h.length == out.count else {
            drop(key, reason: "damaged header")
            return false
        }
        let done = (try? FileIO.preadFully(fd, out, at: header.count, path: path)) ?? 0
        guard done == out.count else {
            drop(key, reason: "truncated: \(done) of \(out.count) bytes")
            return false
        }
        guard CRC32C.checksum(UnsafeRawBufferPointer(out)) == h.crc else {
            drop(key, reason: "bytes fail their CRC32C")
            return false
        }
        return true
    }

    /// Stores `bytes` as entry `key` with tag `tag`, evicting the least recently used entries to
    /// stay within the size limit and the free-space ratio. Returns false (storing nothing) when
    /// the entry cannot fit or the write fails; a cache write failing is never an error for a read.
    @discardableResult
    public func write(_ key: String, tag: UInt64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= limitBytes else { return false }
        let victims: [String] = state.withLock { s in
            var out: [String] = []
            var need = s.bytes + bytes.count - limitBytes - (s.entries[key]?.length ?? 0)
            if need > 0 {
                for (k, e) in s.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) where k != key {
                    if need <= 0 { break }
                    out.append(k)
                    need -= e.length
                }
            }
            return out
        }
        for k in victims { drop(k, reason: nil) }
        if freeRatio() < minFreeRatio {
            // The file system is short of space: give back the oldest tenth before writing more.
            let oldest: [String] = state.withLock { s in
                Array(s.entries.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(max(1, s.entries.count / 10)).map(\.key))
            }
            for k in oldest { drop(k, reason: nil) }
            if freeRatio() < minFreeRatio { return false }
        }
        let header = DiskCacheHeader(key: key, tag: tag, length: bytes.count, crc: CRC32C.checksum(bytes)).encoded()
        let name = Self.fileName(for: key)
        let tmp = root + "/tmp/" + name.replacingOccurrences(of: "/", with: "-") + ".\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let ok = (try? FileIO.writeAll(fd, header, path: tmp)) != nil && (try? FileIO.writeAll(fd, bytes, path: tmp)) != nil
        close(fd)
        let dir = root + "/" + name.prefix(2)
        if ok { mkdir(dir, 0o700) }
        guard ok, rename(tmp, root + "/" + name) == 0 else {
            unlink(tmp)
            return false
        }
        state.withLock { s in
            if let old = s.entries[key] { s.bytes -= old.length }
            s.clock += 1
            s.entries[key] = Entry(file: name, length: bytes.count, tag: tag, lastUse: s.clock)
            s.bytes += bytes.count
        }
        return true
    }

    /// Forgets entry `key` and deletes its file.
    public func remove(_ key: String) { drop(key, reason: nil) }

    private func drop(_ key: String, reason: String?) {
        guard let e = state.withLock({ s -> Entry? in
            guard let e = s.entries.removeValue(forKey: key) else { return nil }
            s.bytes -= e.length
            if reason != nil { s.dropped += 1 }
            return e
        }) else { return }
        unlink(root + "/" + e.file)
        if let reason { logger.warning("disk cache \(root): entry '\(key)' dropped (\(reason)); it will be fetched again") }
    }

    private func freeRatio() -> Double {
        var s = statvfs()
        guard statvfs(root, &s) == 0, s.f_blocks > 0 else { return 1 }
        return Double(s.f_bavail) / Double(s.f_blocks)
    }

    // MARK: Files

    /// `xx/xxxxxxxxxxxxxxxx.gc`: a 64-bit FNV-1a hash of the key (the header holds the key itself,
    /// so two keys sharing a hash simply replace each other).
    static func fileName(for key: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let hex = String(h, radix: 16)
        let full = String(repeating: "0", count: 16 - hex.count) + hex
        return "\(full.prefix(2))/\(full).gc"
    }

    /// What a scan of `root` found: valid entries, and how many were damaged (deleted when
    /// `dropInvalid`).
    public struct Scan: Sendable {
        public var entries: [(key: String, file: String, length: Int, tag: UInt64)] = []
        public var dropped = 0
        public var bytes: Int { entries.reduce(0) { $0 + $1.length } }
    }

    /// Reads every entry's header below `root` (without the data: a truncated entry shows in its
    /// size). `granary cache status` uses it read-only, beside the owner.
    public static func scan(root: String, dropInvalid: Bool) -> Scan {
        var out = Scan()
        for sub in (try? FileIO.entries(of: root)) ?? [] where sub.utf8.count == 2 {
            for name in (try? FileIO.entries(of: root + "/" + sub)) ?? [] where name.hasSuffix(".gc") {
                let file = sub + "/" + name, path = root + "/" + file
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                var st = stat()
                var head = [UInt8](repeating: 0, count: DiskCacheHeader.fixedSize + Int(DiskCacheHeader.maxKeyBytes))
                let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                let statted = fstat(fd, &st) == 0
                close(fd)
                if n > 0, statted, let h = DiskCacheHeader.parse(Array(head[0..<n])),
                   Int(st.st_size) == DiskCacheHeader.fixedSize + h.key.utf8.count + h.length {
                    out.entries.append((h.key, file, h.length, h.tag))
                } else {
                    out.dropped += 1
                    if dropInvalid { unlink(path) }
                }
            }
        }
        return out
    }
}
