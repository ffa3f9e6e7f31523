#if canImport(Glibc)
import Glibc
#endif
@testable import GranaryClient
import GranaryCore
import Logging
import Testing

/// The disk tier on a real directory: entries survive a reopen, truncated and corrupted entries are
/// dropped (never served), the size limit holds, a changed tag is a miss, and a second owner of the
/// same directory is refused.
@Suite struct DiskCacheTierTests {
    static func tempDir() -> String {
        var template = Array("/tmp/granary-cache-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    static var logger: Logger {
        var l = Logger(label: "t")
        l.logLevel = .critical
        return l
    }

    func open(_ dir: String, limit: Int = 1 << 20) throws -> DiskCacheTier {
        try DiskCacheTier(directory: dir, namespace: "c1", limitBytes: limit, minFreeRatio: 0, logger: Self.logger)
    }

    func bytes(_ n: Int, _ seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }

    func read(_ t: DiskCacheTier, _ key: String, tag: UInt64, count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { t.read(key, tag: tag, into: $0) }
        return ok ? out : nil
    }

    @Test func entriesSurviveReopen() throws {
        let dir = Self.tempDir()
        do {
            let t = try open(dir)
            #expect(bytes(5000, 1).withUnsafeBytes { t.write("a/x.jpg", tag: 7, bytes: $0) })
            #expect(bytes(300, 2).withUnsafeBytes { t.write("a/y.jpg", tag: 8, bytes: $0) })
        }
        let t = try open(dir)
        #expect(t.usage.entries == 2)
        #expect(t.usage.bytes == 5300)
        #expect(read(t, "a/x.jpg", tag: 7, count: 5000) == bytes(5000, 1))
        #expect(read(t, "a/y.jpg", tag: 8, count: 300) == bytes(300, 2))
        // Another tag means the file changed: a miss, and the stale entry is gone.
        #expect(read(t, "a/x.jpg", tag: 9, count: 5000) == nil)
        #expect(!t.contains("a/x.jpg", tag: 7))
    }

    @Test func corruptBytesAreDroppedNotServed() throws {
        let dir = Self.tempDir()
        let t = try open(dir)
        #expect(bytes(4096, 3).withUnsafeBytes { t.write("k", tag: 1, bytes: $0) })
        let path = t.root + "/" + DiskCacheTier.fileName(for: "k")
        let fd = Glibc.open(path, O_WRONLY)
        var flip: UInt8 = 0xFF
        #expect(pwrite(fd, &flip, 1, off_t(DiskCacheHeader.fixedSize + 1 + 100)) == 1)
        close(fd)
        #expect(read(t, "k", tag: 1, count: 4096) == nil)
        #expect(t.usage.dropped == 1)
        #expect(t.usage.entries == 0)
        #expect(access(path, F_OK) != 0)
    }

    @Test func truncatedAndDamagedEntriesAreDroppedAtOpen() throws {
        let dir = Self.tempDir()
        do {
            let t = try open(dir)
            #expect(bytes(8000, 4).withUnsafeBytes { t.write("short", tag: 1, bytes: $0) })
            #expect(bytes(100, 5).withUnsafeBytes { t.write("header", tag: 1, bytes: $0) })
            #expect(bytes(100, 6).withUnsafeBytes { t.write("fine", tag: 1, bytes: $0) })
            #expect(truncate(t.root + "/" + DiskCacheTier.fileName(for: "short"), 5000) == 0)
            let fd = Glibc.open(t.root + "/" + DiskCacheTier.fileName(for: "header"), O_WRONLY)
            var junk: UInt8 = 0x5A
            #expect(pwrite(fd, &junk, 1, 10) == 1)
            close(fd)
        }
        let scan = DiskCacheTier.scan(root: dir + "/c1", dropInvalid: false)
        #expect(scan.entries.map(\.key) == ["fine"])
        #expect(scan.dropped == 2)
        let t = try open(dir)
        #expect(t.usage.entries == 1)
        #expect(t.usage.dropped == 2)
        #expect(read(t, "fine", tag: 1, count: 100) == bytes(100, 6))
    }

    @Test func sizeLimitEvictsLeastRecentlyUsed() throws {
        let t = try open(Self.tempDir(), limit: 10_000)
        for i in 0..<4 { #expect(bytes(3000, UInt8(i)).withUnsafeBytes { t.write("e\(i)", tag: 1, bytes: $0) }) }
        #expect(t.usage.bytes <= 10_000)
        #expect(t.usage.entries == 3)
        #expect(!t.contains("e0", tag: 1))
        // Touch e1, then add another: e2 (now the oldest use) goes, e1 stays.
        #expect(read(t, "e1", tag: 1, count: 3000) != nil)
        #expect(bytes(3000, 9).withUnsafeBytes { t.write("e4", tag: 1, bytes: $0) })
        #expect(t.contains("e1", tag: 1))
        #expect(!t.contains("e2", tag: 1))
        // An entry larger than the whole limit is refused, not stored.
        #expect(!bytes(20_000, 1).withUnsafeBytes { t.write("big", tag: 1, bytes: $0) })
    }

    @Test func secondOwnerIsRefusedByName() throws {
        let dir = Self.tempDir()
        let first = try open(dir)
        #expect(throws: ClientError.self) { _ = try open(dir) }
        do {
            _ = try open(dir)
        } catch {
            #expect("\(error)".contains(dir))
        }
        _ = first
    }

    @Test func unwritableDirectoryIsAClearError() throws {
        #expect(throws: ClientError.self) {
            _ = try DiskCacheTier(directory: "/proc/granary-no-such", namespace: "c", limitBytes: 1 << 20, minFreeRatio: 0, logger: Self.logger)
        }
    }
}
