import Testing
@testable import GranaryBuffers

@Suite struct SizeClassTests {
    @Test func exactClassesForChosenCounts() throws {
        let pool = try TestSupport.pool(arena: 64 << 20, limit: 64 << 20)
        let expected: [(Int, Int)] = [
            (0, 4096), (1, 4096), (4096, 4096), (4097, 6144), (6144, 6144), (6145, 8192), (8192, 8192),
            (8193, 12288), (12288, 12288), (12289, 16384), (20000, 24576), (24577, 32768), (98304, 98304),
            (100_000, 131_072), (1 << 20, 1 << 20), ((1 << 20) + 1, 3 << 19), ((48 << 20) + 1, 64 << 20),
            (64 << 20, 64 << 20),
        ]
        for (count, sizeClass) in expected {
            #expect(pool.sizeClass(for: count) == sizeClass, "count \(count)")
        }
    }

    @Test func classesAreCappedAtTheArena() throws {
        let pool = try TestSupport.pool(arena: 10 * 4096, limit: 10 * 4096)
        #expect(pool.sizeClass(for: 33_000) == 40960)
        #expect(pool.sizeClass(for: 40960) == 40960)
        #expect(pool.sizeClass(for: 40961) == 40961)  // no class: take() refuses it
    }

    @Test func largerSmallestClass() throws {
        let pool = try IOBufferPool(.init(arenaBytes: 1 << 20, limitBytes: 1 << 20, smallestClass: 16384),
                                    logger: TestSupport.quiet)
        #expect(pool.sizeClass(for: 1) == 16384)
        #expect(pool.sizeClass(for: 16385) == 24576)
        #expect(pool.sizeClass(for: 24577) == 32768)
    }

    @Test func wasteIsAtMostAThirdAboveTheSmallestClass() throws {
        let pool = try TestSupport.pool(arena: 64 << 20, limit: 64 << 20)
        var count = 4097
        while count <= 64 << 20 {
            let sizeClass = pool.sizeClass(for: count)
            #expect(sizeClass >= count)
            #expect((sizeClass - count) * 3 <= sizeClass, "count \(count) in class \(sizeClass)")
            // Each class is a power of two or the midpoint after one (three times a power of two).
            let odd = sizeClass >> sizeClass.trailingZeroBitCount
            #expect(odd == 1 || odd == 3, "class \(sizeClass)")
            count += count / 7 + 1
        }
    }

    @Test func strideIsWholePages() {
        let classes = SizeClasses(smallest: 4096, largest: 1 << 20, pageSize: 4096)
        #expect(classes.stride(of: 4096) == 4096)
        #expect(classes.stride(of: 6144) == 8192)
        #expect(classes.stride(of: 12288) == 12288)
    }
}
