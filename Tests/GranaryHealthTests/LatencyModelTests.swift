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
}
