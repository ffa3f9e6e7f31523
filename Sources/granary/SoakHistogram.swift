import Foundation

/// A latency histogram of fixed size for the soak test: 16 logarithmic buckets per doubling from
/// 1 µs up to about 70 minutes (each bucket about 4.4 % wide), so recording never allocates and
/// the bench process's own memory stays flat however many operations it records — the soak
/// measures that memory, so its bookkeeping must not grow with the work done.
///
/// Guarantees: a percentile is the upper edge of the bucket holding that rank, so it is never
/// below the true value and at most one bucket (≈4.4 %) above it; values past the last bucket count
/// in the last bucket.
struct SoakHistogram: Sendable {
    static let bucketsPerDoubling = 16.0
    static let bucketCount = 512
    private(set) var counts = [Int](repeating: 0, count: SoakHistogram.bucketCount)
    private(set) var total = 0

    static func bucket(micros: Double) -> Int {
        guard micros > 1 else { return 0 }
        return min(bucketCount - 1, Int(log2(micros) * bucketsPerDoubling))
    }

    /// The upper edge of bucket `i`, in milliseconds.
    static func upperMs(_ i: Int) -> Double { pow(2, Double(i + 1) / bucketsPerDoubling) / 1000 }

    mutating func record(ms: Double) {
        counts[Self.bucket(micros: ms * 1000)] += 1
        total += 1
    }

    mutating func merge(_ other: SoakHistogram) {
        for i in 0..<Self.bucketCount { counts[i] += other.counts[i] }
        total += other.total
    }

    /// The `q` quantile (0...1) in milliseconds; nil when nothing was recorded.
    func percentile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for i in 0..<Self.bucketCount {
            seen += counts[i]
            if seen >= rank { return Self.upperMs(i) }
        }
        return Self.upperMs(Self.bucketCount - 1)
    }
}
