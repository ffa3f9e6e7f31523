#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryStorage
import GranaryTransport
import GranaryWire
import Logging
import Testing

/// The storage node's chunk cache, through the request handler over a real chunk store: hits are
/// sent from memory and check out against their segment CRCs; a chunk replaced, rewritten in place,
/// or removed is read from the drive again; memory stays within the bound.
@Suite struct ChunkCacheTests {
    struct Fixture {
        let service: StorageService
        let cache: ChunkCache
        let drive: Drive
    }

    static func fixture(capacity: Int = 64 << 20) throws -> Fixture {
        var template = Array("/tmp/granary-cache-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        try FileIO.makeDirectories(dir + "/d0")
        var l = Logger(label: "t")
        l.logLevel = .critical
        let store = try ChunkStore(node: try #require(NodeID("n1")), drives: [("d0", dir + "/d0")], logger: l)
        let cache = ChunkCache(capacityBytes: capacity)
        return Fixture(service: StorageService(store: store, logger: l, cache: cache), cache: cache, drive: try store.drive(named: "d0"))
    }

    func call(_ s: StorageService, _ type: MessageType, _ body: [UInt8]) async -> Response {
        await s.handle(Request(type: type, id: 1, body: body, peer: "test"))
    }

    func put(_ f: Fixture, _ key: ChunkKey, _ data: [UInt8]) async {
        guard case .ok = await call(f.service, .putChunk, ChunkRequest(drive: "d0", key: key).encoded + data) else {
            Issue.record("put of \(key) failed")
            return
        }
    }

    /// The bytes of a read, after checking them against the segment CRCs the answer carries.
    func read(_ f: Fixture, _ key: ChunkKey, _ offset: Int, _ length: Int) async throws -> Result<[UInt8], RemoteError> {
        let r = await call(f.service, .readChunk, ReadChunkRequest(drive: "d0", key: key, offset: UInt64(offset), length: UInt32(length)).encoded)
        switch r {
        case let .data(head, .buffer(buffer)):
            let bytes = Array(buffer.bytes)
            let reply = try ReadChunkReply.decode(head)
            #expect(reply.segments.reduce(0) { $0 + Int($1.length) } == length)
            #expect(bytes.withUnsafeBytes { reply.firstMismatch(in: $0) } == nil, "segment CRCs do not match the bytes sent")
            return .success(bytes)
        case let .error(e): return .failure(e)
        default:
            Issue.record("unexpected answer \(r)")
            return .failure(RemoteError(.internalError, "unexpected answer"))
        }
    }

    static func pattern(_ n: Int, seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &+ ($0 >> 8)) } }

    @Test func aWholeChunkReadIsCachedAndLaterReadsOfAnyRangeAreServedFromIt() async throws {
        let f = try Self.fixture()
        let key = ChunkKey(stripe: 9, fragment: 1)
        let data = Self.pattern(1 << 20, seed: 1)
        await put(f, key, data)
        #expect(try await read(f, key, 0, data.count).get() == data)
        #expect(f.cache.stats().insertions == 1)
        let readsAfterFill = f.drive.counters().reads
        #expect(try await read(f, key, 0, data.count).get() == data)
        // Ranges that cut blocks at both ends carry the CRCs of the parts sent.
        #expect(try await read(f, key, 65_000, 70_000).get() == Array(data[65_000..<135_000]))
        #expect(try await read(f, key, 1_000_000, 48_576).get() == Array(data[1_000_000...]))
        let stats = f.cache.stats()
        #expect(stats.hits == 3)
        #expect(f.drive.counters().reads == readsAfterFill, "a hit read the drive")
        // Past the end is refused by name, as the drive refuses it.
        guard case let .failure(e) = try await read(f, key, 1_000_000, 48_577) else { Issue.record("read past the end answered"); return }
        #expect(e.code == .rangeOutOfBounds && e.message.contains("n1/d0"))
    }

    @Test func aSmallRangeDoesNotFillTheCacheAndMostOfAChunkDoes() async throws {
        let f = try Self.fixture()
        let key = ChunkKey(stripe: 3, fragment: 0)
        let data = Self.pattern(300_000, seed: 2)
        await put(f, key, data)
        #expect(try await read(f, key, 0, 100_000).get() == Array(data[0..<100_000]))
        #expect(try await read(f, key, 5, 100_000).get() == Array(data[5..<100_005]))
        #expect(f.cache.stats().insertions == 0)
        #expect(f.cache.stats().entries == 0)
        // A client reading a fragment's data skips only its header: that fills the cache with the
        // whole chunk, and the next reads of any part are hits.
        #expect(try await read(f, key, 96, 299_904).get() == Array(data[96...]))
        #expect(f.cache.stats().insertions == 1)
        #expect(try await read(f, key, 0, 300_000).get() == data)
        #expect(try await read(f, key, 7, 11).get() == Array(data[7..<18]))
        #expect(f.cache.stats().hits == 2)
        // A read past the end of a chunk the cache would take is refused by name, not filled.
        let other = ChunkKey(stripe: 3, fragment: 1)
        await put(f, other, data)
        guard case let .failure(e) = try await read(f, other, 100_000, 200_001) else { Issue.record("read past the end answered"); return }
        #expect(e.code == .rangeOutOfBounds)
        #expect(f.cache.stats().insertions == 1)
    }

    @Test func aReplacedRewrittenOrRemovedChunkIsReadFromTheDriveAgain() async throws {
        let f = try Self.fixture()
        let key = ChunkKey(stripe: 4, fragment: 2)
        let first = Self.pattern(200_000, seed: 3)
        await put(f, key, first)
        #expect(try await read(f, key, 0, first.count).get() == first)

        // A put through the node replaces it.
        let second = Self.pattern(200_000, seed: 4)
        await put(f, key, second)
        #expect(try await read(f, key, 0, second.count).get() == second)

        // A write into the file behind the node's back (a disk error, a stray tool) is seen: the
        // next read goes to the drive, which finds the damage.
        #expect(try await read(f, key, 0, second.count).get() == second)
        // File times tick at the kernel's coarse clock (a few ms): wait one out, so the write is
        // seen as one even on a fast machine (a write inside the same tick would leave the cache
        // serving the good bytes the file held, which is no harm: scrub reads the drive).
        try await Task.sleep(for: .milliseconds(20))
        let path = f.drive.filePath(for: key)
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        var junk: [UInt8] = [0xFF, 0x00, 0xFF, 0x00]
        #expect(pwrite(fd, &junk, junk.count, 4_096 + 100) == junk.count)
        close(fd)
        guard case let .failure(e) = try await read(f, key, 0, second.count) else { Issue.record("a damaged chunk was served from the cache"); return }
        #expect(e.code == .corrupt)
        #expect(f.cache.stats().invalidations >= 1)

        // Removed: not found, never the cached copy.
        await put(f, key, first)
        #expect(try await read(f, key, 0, first.count).get() == first)
        guard case .ok = await call(f.service, .deleteChunk, ChunkRequest(drive: "d0", key: key).encoded) else { Issue.record("delete failed"); return }
        guard case let .failure(gone) = try await read(f, key, 0, first.count) else { Issue.record("a deleted chunk was served"); return }
        #expect(gone.code == .notFound)
    }

    @Test func memoryStaysWithinTheBoundAndTheLeastRecentlyReadGoFirst() async throws {
        // 1 MiB chunks in pooled 1 MiB buffers: four fit in 4 MiB.
        let f = try Self.fixture(capacity: 4 << 20)
        let data = (0..<6).map { Self.pattern(1 << 20, seed: 10 + $0) }
        let keys = (0..<6).map { ChunkKey(stripe: UInt64(100 + $0), fragment: 0) }
        for (k, d) in zip(keys, data) { await put(f, k, d) }
        for i in 0..<4 { #expect(try await read(f, keys[i], 0, 1 << 20).get() == data[i]) }
        // Touch chunk 0, so chunk 1 is now the least recently read.
        #expect(try await read(f, keys[0], 0, 1 << 20).get() == data[0])
        #expect(try await read(f, keys[4], 0, 1 << 20).get() == data[4])
        var stats = f.cache.stats()
        #expect(stats.bytes <= 4 << 20)
        #expect(stats.evictions == 1)
        let hitsBefore = stats.hits
        #expect(try await read(f, keys[0], 0, 1 << 20).get() == data[0])
        #expect(f.cache.stats().hits == hitsBefore + 1, "the recently read chunk was evicted")
        #expect(try await read(f, keys[1], 0, 1 << 20).get() == data[1])
        stats = f.cache.stats()
        #expect(stats.hits == hitsBefore + 1, "the least recently read chunk was kept")
        #expect(stats.bytes <= 4 << 20)
        // Small chunks are held in memory of their own size, not in whole pooled buffers.
        let small = ChunkKey(stripe: 200, fragment: 0)
        await put(f, small, Self.pattern(10_000, seed: 99))
        _ = try await read(f, small, 0, 10_000).get()
        stats = f.cache.stats()
        #expect(stats.bytes <= 4 << 20)
        // It took 12 KiB, so one 1 MiB chunk had to go: three of them and the small one are left.
        #expect(stats.entries == 4)
        #expect(stats.bytes == (3 << 20) + 12_288)
    }

    @Test func anAnswerSentFromAnEvictedEntryKeepsItsBytes() async throws {
        let f = try Self.fixture(capacity: 4 << 20)
        let data = (0..<5).map { Self.pattern(1 << 20, seed: 20 + $0) }
        let keys = (0..<5).map { ChunkKey(stripe: UInt64(300 + $0), fragment: 0) }
        for (k, d) in zip(keys, data) { await put(f, k, d) }
        _ = try await read(f, keys[0], 0, 1 << 20).get()
        // An answer (a view of the cached buffer) still in flight when its entry is evicted.
        guard case let .data(_, .buffer(inFlight)) = await call(f.service, .readChunk,
                                                                ReadChunkRequest(drive: "d0", key: keys[0], offset: 4096, length: 8192).encoded) else {
            Issue.record("read failed"); return
        }
        for i in 1..<5 { _ = try await read(f, keys[i], 0, 1 << 20).get() }
        #expect(f.cache.stats().evictions >= 1)
        // Reads of the other chunks took buffers from the pool meanwhile; the evicted one was not among them.
        #expect(Array(inFlight.bytes) == Array(data[0][4096..<12_288]))
    }
}
