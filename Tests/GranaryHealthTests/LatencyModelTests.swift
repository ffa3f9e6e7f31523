import GranaryHealth
import Testing

@Suite struct LatencyModelTests {
    @Test func fitRecoversALinearCurve() throws {
        let points = (0..<200).map { i in (load: Double(i), latency: 2 + 0.05 * Double(i)) }
        let m = try #require(LatencyModel.fit(points))
        #expect(abs(m.expected(load: 100) - 7) < 0.3)
        #expect(abs(m.expected(load: 300) - 17) < 1.5, "extrapolated along the last slope: \(m.expected(load: 300))")
        #expect(m.expected(load: -5) == m.expected(load: 0))
    }

    @Test func outliersBarelyMoveTheBound() throws {
        var points: [(load: Double, latency: Double)] = []
        for i in 0..<200 { points.append((load: Double(i % 50), latency: 5.0 + Double(i % 7) * 0.1)) }
        let clean = try #require(LatencyModel.fit(points))
        for i in 0..<8 { points.append((load: Double(i * 6), latency: 500.0)) }
        let dirty = try #require(LatencyModel.fit(points))
        #expect(abs(dirty.upperBound(load: 25) - clean.upperBound(load: 25)) < 1.0)
        #expect(dirty.upperBound(load: 25) < 10)
    }

    @Test func tooFewPointsGiveNoModel() {
        #expect(LatencyModel.fit([(1, 1), (2, 2), (3, 3)]) == nil)
    }

    /// Equal loads (every drive served the same rate) once put points in bins by arrival order,
    /// so the model, and a drive's fate, changed from run to run with dictionary order.
    @Test func theFitDoesNotDependOnTheOrderOfThePoints() throws {
        var points: [(load: Double, latency: Double)] = []
        for i in 0..<60 { points.append((load: 100, latency: i % 6 == 0 ? 40 : 4 + Double(i % 5) * 0.2)) }
        let reference = try #require(LatencyModel.fit(points))
        var rng = SplitMix(seed: 5)
        for _ in 0..<20 {
            for i in points.indices.reversed() { points.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            #expect(LatencyModel.fit(points) == reference)
        }
    }
}

/// A tiny seeded generator so shuffles repeat from run to run.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
