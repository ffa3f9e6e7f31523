import Testing
@testable import GranaryBuffers

#if canImport(Glibc)
import Glibc
#endif

@Suite struct MemoryLockTests {
    @Test func lockedBytesAndWarningAgree() async throws {
        let capture = LogCapture()
        let arena = 256 << 10
        let pool = try IOBufferPool(.init(arenaBytes: arena, limitBytes: arena, lockMemory: true), logger: capture.logger)
        let buffer = try await pool.take(4096)
        let stats = pool.stats
        #expect(stats.mappedBytes == arena)
        if let warning = stats.lockWarning {
            #expect(stats.lockedBytes == 0)
            #expect(warning.contains("RLIMIT_MEMLOCK"))
            #expect(capture.messages(at: .warning) == [warning])
        } else {
            #expect(stats.lockedBytes == stats.mappedBytes)
            #expect(capture.messages(at: .warning).isEmpty)
        }
        _ = buffer
    }

    @Test func refusedLockWarnsOnceAndCarriesOnUnlocked() async throws {
        let capture = LogCapture()
        let attempts = Shared(0)
        let arena = 64 << 10
        let pool = try IOBufferPool(.init(arenaBytes: arena, limitBytes: 4 * arena, lockMemory: true), logger: capture.logger) { _ in
            attempts.update { $0 += 1 }
            return ENOMEM
        }
        let buffers = [try await pool.take(4096), try await pool.take(8192), try await pool.take(arena)]
        for buffer in buffers { buffer.bytes.initializeMemory(as: UInt8.self, repeating: 1) }

        let stats = pool.stats
        #expect(stats.arenas == 3)
        #expect(stats.lockedBytes == 0)
        let warning = try #require(stats.lockWarning)
        #expect(capture.messages(at: .warning) == [warning])
        for phrase in ["RLIMIT_MEMLOCK", "soft limit is", "carries on unlocked", "ulimit -l", "LimitMEMLOCK="] {
            #expect(warning.contains(phrase), "\(phrase) missing from: \(warning)")
        }
        // Once refused, the pool stops asking for every later arena.
        #expect(attempts.value == 1)
    }

    @Test func noLockingWhenTurnedOff() async throws {
        let capture = LogCapture()
        let attempts = Shared(0)
        let pool = try IOBufferPool(.init(arenaBytes: 64 << 10, limitBytes: 64 << 10, lockMemory: false), logger: capture.logger) { _ in
            attempts.update { $0 += 1 }
            return 0
        }
        let buffer = try await pool.take(1)
        #expect(pool.stats.lockedBytes == 0)
        #expect(pool.stats.lockWarning == nil)
        #expect(attempts.value == 0)
        #expect(capture.messages(at: .warning).isEmpty)
        _ = buffer
    }
}
