import Foundation
import Testing
@testable import GranaryBuffers

@Suite struct IOBufferPoolTests {
    @Test func buffersArePageAlignedWritableAndDisjoint() async throws {
        let pool = try TestSupport.pool(arena: 1 << 20, limit: 8 << 20)
        let counts = [0, 1, 100, 4096, 4097, 5000, 5000, 5000, 6144, 6145, 10_000, 70_000, 300_000, 1 << 20, 5000, 1]
        var buffers: [IOBuffer] = []
        for (n, count) in counts.enumerated() {
            let buffer = try await pool.take(count)
            #expect(buffer.count == count)
            #expect(buffer.bytes.count == count)
            #expect(buffer.capacity == pool.sizeClass(for: count))
            #expect(buffer.bytes.baseAddress != nil)
            #expect(TestSupport.address(buffer) % TestSupport.page == 0, "count \(count)")
            // Fill the whole count with a pattern of this buffer's own.
            for i in 0..<count { buffer.bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ n) }
            buffers.append(buffer)
        }
        // Every buffer still holds its own pattern: none was overwritten by another.
        for (n, buffer) in buffers.enumerated() {
            let intact = (0..<buffer.count).allSatisfy { buffer.bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 31 &+ n) }
            #expect(intact, "buffer \(n) of \(buffer.count) bytes")
        }
        // No two buffers' slots (their whole capacity) overlap.
        let ranges = buffers.map { TestSupport.address($0)..<(TestSupport.address($0) + $0.capacity) }.sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            #expect(a.upperBound <= b.lowerBound, "\(a) overlaps \(b)")
        }
    }

    @Test func statsFollowTakesAndReleases() throws {
        let arena = 64 << 10
        let pool = try TestSupport.pool(arena: arena, limit: 4 * arena)
        #expect(pool.stats == IOBufferPool.Stats())
        var held: [IOBuffer] = []

        held.append(try #require(try pool.tryTake(4096)))
        #expect(pool.stats == .init(arenas: 1, mappedBytes: arena, inUseBuffers: 1, inUseBytes: 4096, freeBuffers: 15))
        held.append(try #require(try pool.tryTake(3000)))
        #expect(pool.stats == .init(arenas: 1, mappedBytes: arena, inUseBuffers: 2, inUseBytes: 8192, freeBuffers: 14))
        // 6K slots take 8K of arena each (whole pages), so its arena holds 8 of them.
        held.append(try #require(try pool.tryTake(5000)))
        #expect(pool.stats == .init(arenas: 2, mappedBytes: 2 * arena, inUseBuffers: 3, inUseBytes: 8192 + 6144, freeBuffers: 21))
        held.append(try #require(try pool.tryTake(arena)))
        #expect(pool.stats == .init(arenas: 3, mappedBytes: 3 * arena, inUseBuffers: 4, inUseBytes: 8192 + 6144 + arena, freeBuffers: 21))

        held.removeAll()
        #expect(pool.stats == .init(arenas: 3, mappedBytes: 3 * arena, inUseBuffers: 0, inUseBytes: 0, freeBuffers: 16 + 8 + 1))

        // Whole-arena buffers: the idle 64K arena, one new mapping up to the limit, then the two
        // idle arenas of other classes re-carved; then the pool is full.
        for expectedArenas in [3, 4, 4, 4] {
            held.append(try #require(try pool.tryTake(arena)))
            #expect(pool.stats.arenas == expectedArenas)
            #expect(pool.stats.mappedBytes <= 4 * arena)
        }
        #expect(try pool.tryTake(arena) == nil)
        #expect(try pool.tryTake(1) == nil)
        #expect(pool.stats == .init(arenas: 4, mappedBytes: 4 * arena, inUseBuffers: 4, inUseBytes: 4 * arena, freeBuffers: 0))
        held.removeAll()
        #expect(pool.stats == .init(arenas: 4, mappedBytes: 4 * arena, inUseBuffers: 0, inUseBytes: 0, freeBuffers: 4))
    }

    @Test func freedSlotsAreReusedBeforeMappingMore() throws {
        let pool = try TestSupport.pool(arena: 64 << 10, limit: 1 << 20)
        for _ in 0..<100 {
            let buffer = try #require(try pool.tryTake(10_000))
            buffer.bytes.storeBytes(of: 0xAB, as: UInt8.self)
        }
        #expect(pool.stats.arenas == 1)
        #expect(pool.stats.inUseBuffers == 0)
    }

    @Test func aBufferKeepsItsPoolAndArenaAlive() throws {
        weak var weakPool: IOBufferPool?
        func bufferOfADroppedPool() throws -> IOBuffer {
            let pool = try TestSupport.pool(arena: 64 << 10, limit: 64 << 10)
            weakPool = pool
            return try #require(try pool.tryTake(20000))
        }
        var buffer: IOBuffer? = try bufferOfADroppedPool()
        #expect(weakPool != nil)
        if let buffer {
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)  // still mapped
            #expect(buffer.bytes.allSatisfy { $0 == 0xEE })
        }
        buffer = nil
        #expect(weakPool == nil)  // the last buffer took the pool (and its mappings) with it
    }

    @Test func tooLargeIsRefused() async throws {
        let pool = try TestSupport.pool(arena: 64 << 10, limit: 1 << 20)
        #expect(throws: BufferError.tooLarge(requested: (64 << 10) + 1, largest: 64 << 10)) {
            _ = try pool.tryTake((64 << 10) + 1)
        }
        await #expect(throws: BufferError.tooLarge(requested: 1 << 20, largest: 64 << 10)) {
            _ = try await pool.take(1 << 20)
        }
        #expect(throws: BufferError.invalidConfiguration(field: "count", reason: "a buffer of -1 bytes was asked for")) {
            _ = try pool.tryTake(-1)
        }
        #expect(pool.stats == IOBufferPool.Stats())
    }

    @Test(arguments: [
        (IOBufferPool.Configuration(arenaBytes: 0), "arenaBytes"),
        (IOBufferPool.Configuration(arenaBytes: -4096), "arenaBytes"),
        (IOBufferPool.Configuration(arenaBytes: 4096 * 16 + 100), "arenaBytes"),
        (IOBufferPool.Configuration(arenaBytes: 1 << 20, limitBytes: (1 << 20) - 4096), "limitBytes"),
        (IOBufferPool.Configuration(smallestClass: 2048), "smallestClass"),
        (IOBufferPool.Configuration(smallestClass: 6144), "smallestClass"),
        (IOBufferPool.Configuration(smallestClass: 0), "smallestClass"),
        (IOBufferPool.Configuration(arenaBytes: 8192, limitBytes: 8192, smallestClass: 16384), "smallestClass"),
    ])
    func invalidConfigurationNamesTheField(configuration: IOBufferPool.Configuration, field: String) {
        do {
            _ = try IOBufferPool(configuration, logger: TestSupport.quiet)
            Issue.record("\(configuration) was accepted")
        } catch {
            guard case .invalidConfiguration(let named, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(named == field)
            #expect(!reason.isEmpty)
            #expect(error.description.contains(field))
        }
    }

    @Test func defaultConfigurationIsValid() throws {
        let pool = try IOBufferPool(logger: TestSupport.quiet)
        #expect(pool.configuration == .init(arenaBytes: 64 << 20, limitBytes: 1 << 30, lockMemory: true, smallestClass: 4096))
        #expect(pool.stats.arenas == 0)  // nothing is mapped before the first take
    }

    @Test func configurationDecodesPartially() throws {
        let decoded = try JSONDecoder().decode(IOBufferPool.Configuration.self, from: Data(#"{"arenaBytes": 1048576, "lockMemory": false}"#.utf8))
        #expect(decoded == .init(arenaBytes: 1 << 20, lockMemory: false))
        let full = IOBufferPool.Configuration(arenaBytes: 2 << 20, limitBytes: 8 << 20, lockMemory: false, smallestClass: 8192)
        #expect(try JSONDecoder().decode(IOBufferPool.Configuration.self, from: JSONEncoder().encode(full)) == full)
    }

    @Test func errorsDescribeThemselves() {
        #expect(BufferError.tooLarge(requested: 10, largest: 5).description.contains("10 bytes"))
        #expect(BufferError.mapFailed(bytes: 4096, errno: 12).description.contains("errno 12"))
        #expect(BufferError.cancelled.description.contains("cancelled"))
    }
}
