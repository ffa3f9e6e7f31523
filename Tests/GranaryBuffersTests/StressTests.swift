import Foundation
import Testing
@testable import GranaryBuffers

@Suite struct StressTests {
    /// Deterministic per task, so that a failure can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func concurrentTakesWriteAndVerifyWithoutCorruption() async throws {
        let arena = 256 << 10
        let limit = 2 * arena
        let pool = try TestSupport.pool(arena: arena, limit: limit)
        // Sizes across several classes, whole-arena ones included, so that arenas are re-carved
        // and takes wait while other classes hold the arenas.
        let sizes = [0, 1, 777, 4096, 4097, 6144, 9000, 16384, 40000, 65536, 131_072, arena]
        let tasks = 8
        let rounds = 2000

        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var random = SplitMix64(state: UInt64(task) &* 7919)
                    // A pattern of this task's own; each round copies a window of it into the buffer.
                    let pattern = (0..<(2 * arena)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ task &* 101 &+ ($0 >> 8)) }
                    var failures = 0
                    for _ in 0..<rounds {
                        let count = sizes[Int(random.next() % UInt64(sizes.count))]
                        let start = Int(random.next() % UInt64(arena))
                        let buffer = try await pool.take(count)
                        if buffer.count != count || Int(bitPattern: buffer.bytes.baseAddress) % TestSupport.page != 0 {
                            failures += 1
                        }
                        pattern.withUnsafeBytes { source in
                            buffer.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + count)]))
                        }
                        // Let the other tasks take and write while this buffer is filled.
                        await Task.yield()
                        let intact = pattern.withUnsafeBytes { source in
                            TestSupport.same(UnsafeRawBufferPointer(buffer.bytes), UnsafeRawBufferPointer(rebasing: source[start..<(start + count)]))
                        }
                        if !intact { failures += 1 }
                        if pool.stats.mappedBytes > limit { failures += 1 }
                    }
                    return failures
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
        let stats = pool.stats
        #expect(stats.inUseBuffers == 0)
        #expect(stats.inUseBytes == 0)
        #expect(stats.mappedBytes <= limit)
        #expect(stats.arenas == 2)
        #expect(stats.waits > 0)  // with 8 tasks on two arenas, takes did queue (thousands, in practice)
    }

    @Test func cancellationsRacingReleasesLoseNoSlot() async throws {
        let arena = 64 << 10
        let pool = try TestSupport.pool(arena: arena, limit: arena)
        let sizes = [1, 16384, 32768, arena]

        let unexpected = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<6 {
                group.addTask {
                    var random = SplitMix64(state: UInt64(task) &+ 42)
                    var unexpected = 0
                    for _ in 0..<300 {
                        let count = sizes[Int(random.next() % UInt64(sizes.count))]
                        let take = TestSupport.takeInTask(pool, count)
                        if random.next() % 3 == 0 { take.cancel() }
                        switch await take.value {
                        case .success(let buffer):
                            buffer.bytes.initializeMemory(as: UInt8.self, repeating: UInt8(task))
                            await Task.yield()
                            if !buffer.bytes.allSatisfy({ $0 == UInt8(task) }) { unexpected += 1 }
                        case .failure(let error):
                            if error != .cancelled { unexpected += 1 }
                        }
                    }
                    return unexpected
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(unexpected == 0)
        let stats = pool.stats
        #expect(stats.inUseBuffers == 0)
        #expect(stats.arenas == 1)
        // Every slot of the arena can be taken again: none went to a cancelled waiter.
        // (The arena is carved for whichever class took it last; all of them here are whole pages.)
        let slots = stats.freeBuffers
        #expect([16, 4, 2, 1].contains(slots))
        var held: [IOBuffer] = []
        while held.count <= slots, let buffer = try pool.tryTake(arena / max(slots, 1)) {
            held.append(buffer)
        }
        #expect(held.count == slots)
    }
}
