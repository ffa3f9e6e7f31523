/// The latency a healthy drive shows as a function of its load (operations per second), fitted
/// over peer drives' recent windows.
///
/// Load is throughput, as in Perseus, not queue depth: queue depth is throughput times latency,
/// so a slow drive has a deep queue at the same throughput and would excuse itself. The fit is
/// robust: points are split into equal-count bins by load, each bin contributes its median load,
/// median latency and median absolute deviation, and the curve runs through the bin medians,
/// made non-decreasing (more load never predicts less latency). A handful of outliers, a slow
/// drive's own points among them, moves medians little.
public struct LatencyModel: Sendable, Codable, Equatable {
    /// (load, median latency, robust standard deviation) at each bin, by increasing load.
    public var knots: [Knot]

    public struct Knot: Sendable, Codable, Equatable {
        public var load: Double
        public var latency: Double
        public var spread: Double
    }

    /// Points needed for a fit.
    public static let minimumPoints = 8

    /// Fits the model; nil with fewer than `minimumPoints` points.
    public static func fit(_ points: [(load: Double, latency: Double)], bins maxBins: Int = 8) -> LatencyModel? {
        let valid = points.filter { $0.load.isFinite && $0.latency.isFinite && $0.latency >= 0 }
        guard valid.count >= minimumPoints else { return nil }
        // Ties in load are broken by latency so the bins, and so the model, do not depend on the
        // order the points came in (the detector pools them from a dictionary, whose order
        // changes from one process to the next).
        let sorted = valid.sorted { $0.load != $1.load ? $0.load < $1.load : $0.latency < $1.latency }
        let bins = max(1, min(maxBins, sorted.count / 5))
        var knots: [Knot] = []
        for b in 0..<bins {
            let lo = b * sorted.count / bins, hi = (b + 1) * sorted.count / bins
            let slice = sorted[lo..<hi]
            let latencies = slice.map(\.latency)
            let median = Self.median(latencies)
            let mad = Self.median(latencies.map { abs($0 - median) })
            knots.append(Knot(load: Self.median(slice.map(\.load)), latency: median, spread: 1.4826 * mad))
        }
        for i in knots.indices.dropFirst() where knots[i].latency < knots[i - 1].latency {
            knots[i].latency = knots[i - 1].latency
        }
        return LatencyModel(knots: knots)
    }

    /// The expected latency at `load`: interpolated between knots, flat below the first, and
    /// extended along the last segment's slope above the last.
    public func expected(load: Double) -> Double {
        interpolate(load) { $0.latency }
    }

    /// Expected latency plus `factor` robust standard deviations (at least 10 % of the expected
    /// value, so a very tight peer group does not make every wobble significant).
    public func upperBound(load: Double, factor: Double = 4) -> Double {
        let e = expected(load: load)
        return e + max(factor * interpolate(load) { $0.spread }, 0.1 * e)
    }

    private func interpolate(_ load: Double, _ value: (Knot) -> Double) -> Double {
        guard let first = knots.first, let last = knots.last else { return 0 }
        if knots.count == 1 || load <= first.load { return value(first) }
        if load >= last.load {
            let prev = knots[knots.count - 2]
            let dx = last.load - prev.load
            let slope = dx > 0 ? max(0, (value(last) - value(prev)) / dx) : 0
            return value(last) + slope * (load - last.load)
        }
        for i in 1..<knots.count where load <= knots[i].load {
            let a = knots[i - 1], b = knots[i]
            let t = b.load > a.load ? (load - a.load) / (b.load - a.load) : 1
            return value(a) + t * (value(b) - value(a))
        }
        return value(last)
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
