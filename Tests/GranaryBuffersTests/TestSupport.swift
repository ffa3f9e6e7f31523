import Foundation
import Logging
@testable import GranaryBuffers

/// Helpers shared by the suites.
enum TestSupport {
    static let page = ArenaMapping.pageSize
    static let quiet = Logger(label: "granary.buffers.test") { _ in SwiftLogNoOpLogHandler() }

    static func pool(arena: Int, limit: Int, lock: Bool = false) throws(BufferError) -> IOBufferPool {
        try IOBufferPool(.init(arenaBytes: arena, limitBytes: limit, lockMemory: lock), logger: quiet)
    }

    /// Polls until `condition` holds (up to about 10 s), for states another task reaches; says
    /// whether it did. Bounded so that a broken pool fails the test instead of hanging it.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<10_000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    /// Runs a take in a task and reports the outcome as a value, keeping the typed error.
    static func takeInTask(_ pool: IOBufferPool, _ count: Int) -> Task<Result<IOBuffer, BufferError>, Never> {
        Task {
            do throws(BufferError) {
                return .success(try await pool.take(count))
            } catch {
                return .failure(error)
            }
        }
    }

    /// memcmp of two ranges, fast enough for the stress test in a debug build.
    static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let left = a.baseAddress, let right = b.baseAddress else { return true }
        return memcmp(left, right, a.count) == 0
    }

    static func address(_ buffer: IOBuffer) -> Int {
        Int(bitPattern: buffer.bytes.baseAddress)
    }
}
