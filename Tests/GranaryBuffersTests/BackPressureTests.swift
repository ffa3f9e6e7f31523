import Testing
@testable import GranaryBuffers

@Suite struct BackPressureTests {
    static let arena = 64 << 10

    @Test func takeWaitsAtTheLimitUntilABufferIsDropped() async throws {
        let pool = try TestSupport.pool(arena: Self.arena, limit: Self.arena)
        var held = [try await pool.take(32768), try await pool.take(32768)]
        #expect(pool.stats.freeBuffers == 0)

        let finished = Shared(false)
        let waiter = Task {
            let buffer = try await pool.take(32768)
            finished.update { $0 = true }
            return buffer
        }
        try #require(await TestSupport.eventually { pool.stats.waits == 1 })
        // Queued, not served: nothing more is in use, nothing was mapped past the limit.
        #expect(!finished.value)
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 2, inUseBytes: 65536, freeBuffers: 0, waits: 1))
        #expect(try pool.tryTake(32768) == nil)

        let dropped = TestSupport.address(held.removeLast())
        let served = try await waiter.value
        #expect(finished.value)
        #expect(TestSupport.address(served) == dropped)
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 2, inUseBytes: 65536, freeBuffers: 0, waits: 1))
        held.removeAll()
        _ = served
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        // Three 32K slots, all held; three waiters, and one release for each.
        let pool = try TestSupport.pool(arena: 3 * 32768, limit: 3 * 32768)
        var held = [try await pool.take(32768), try await pool.take(32768), try await pool.take(32768)]
        let order = Shared<[Int]>([])
        var waiters: [Task<IOBuffer, any Error>] = []
        for n in 1...3 {
            waiters.append(Task {
                let buffer = try await pool.take(30000)
                order.update { $0.append(n) }
                return buffer
            })
            // Queue them one at a time so that their arrival order is known.
            try #require(await TestSupport.eventually { pool.stats.waits == n })
        }
        for n in 1...3 {
            held.removeFirst()
            try #require(await TestSupport.eventually { order.value.count == n })
            #expect(order.value == Array(1...n))
        }
        for waiter in waiters { #expect(try await waiter.value.capacity == 32768) }
        #expect(pool.stats.inUseBuffers == 3)
        #expect(pool.stats.waits == 3)
    }

    @Test func idleArenaIsReassignedToAWaiterOfAnotherClass() async throws {
        let pool = try TestSupport.pool(arena: Self.arena, limit: Self.arena)
        var held: [IOBuffer] = []
        for _ in 0..<4 { held.append(try await pool.take(16384)) }
        #expect(pool.stats.freeBuffers == 0)

        let waiter = TestSupport.takeInTask(pool, Self.arena)
        try #require(await TestSupport.eventually { pool.stats.waits == 1 })
        held.removeLast(3)
        // Three 16K slots are free, but the arena is draining for the waiter: neither the waiter
        // (another class) nor a newcomer of 16K gets anything until the last 16K buffer goes.
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 1, inUseBytes: 16384, freeBuffers: 3, waits: 1))
        #expect(try pool.tryTake(16384) == nil)

        held.removeAll()
        let buffer = try await waiter.value.get()
        #expect(buffer.capacity == Self.arena)
        #expect(buffer.bytes.count == Self.arena)
        buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0x5A)
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 1, inUseBytes: Self.arena, freeBuffers: 0, waits: 1))
    }

    @Test func cancelledWaiterGetsCancelledAndLosesNothing() async throws {
        let pool = try TestSupport.pool(arena: Self.arena, limit: Self.arena)
        var held = [try await pool.take(32768), try await pool.take(32768)]
        let waiter = TestSupport.takeInTask(pool, 32768)
        try #require(await TestSupport.eventually { pool.stats.waits == 1 })

        waiter.cancel()
        guard case .failure(let error) = await waiter.value else {
            Issue.record("a cancelled waiter was served")
            return
        }
        #expect(error == .cancelled)
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 2, inUseBytes: 65536, freeBuffers: 0, waits: 1))

        held.removeAll()
        #expect(pool.stats == .init(arenas: 1, mappedBytes: Self.arena, inUseBuffers: 0, inUseBytes: 0, freeBuffers: 2, waits: 1))
        // Both slots are there to take again: the cancelled waiter was not handed one.
        held = [try #require(try pool.tryTake(32768)), try #require(try pool.tryTake(32768))]
        #expect(try pool.tryTake(32768) == nil)
    }

    @Test func cancellingTheWaiterAnArenaDrainsForStopsTheDrain() async throws {
        let pool = try TestSupport.pool(arena: Self.arena, limit: Self.arena)
        var held = [try await pool.take(16384), try await pool.take(16384)]
        let waiter = TestSupport.takeInTask(pool, Self.arena)
        try #require(await TestSupport.eventually { pool.stats.waits == 1 })
        #expect(try pool.tryTake(16384) == nil)  // draining for the waiter

        waiter.cancel()
        #expect(await waiter.value.map(\.count) == .failure(.cancelled))
        // The arena serves its own class again.
        held.append(try #require(try pool.tryTake(16384)))
        #expect(pool.stats.inUseBuffers == 3)
        held.removeAll()
        #expect(pool.stats.inUseBuffers == 0)
        #expect(pool.stats.freeBuffers == 4)
    }

    @Test func alreadyCancelledTakeIsCancelledOnlyWhereItWouldWait() async throws {
        let pool = try TestSupport.pool(arena: Self.arena, limit: 2 * Self.arena)
        let full = try await pool.take(Self.arena)
        let waiter = Task { () -> (Bool, Result<Int, BufferError>, Result<Int, BufferError>) in
            while !Task.isCancelled { await Task.yield() }
            // Room for one more arena: served at once, cancelled or not.
            var kept: IOBuffer?
            let small: Result<Int, BufferError>
            do throws(BufferError) {
                kept = try await pool.take(4096)
                small = .success(kept?.capacity ?? 0)
            } catch {
                small = .failure(error)
            }
            // Now the limit is reached and nothing is idle: this one would wait.
            let large: Result<Int, BufferError>
            do throws(BufferError) { large = .success(try await pool.take(Self.arena).capacity) } catch { large = .failure(error) }
            withExtendedLifetime(kept) {}
            return (Task.isCancelled, small, large)
        }
        waiter.cancel()
        let (cancelled, small, large) = await waiter.value
        #expect(cancelled)
        #expect(small == .success(4096))
        #expect(large == .failure(.cancelled))
        #expect(pool.stats.inUseBuffers == 1)
        #expect(pool.stats.arenas == 2)
        _ = full
    }
}
