/// A fault injected into one drive of a storage node, for tests and drills only (a cluster must
/// enable injection with `fault_injection = true` in `[cluster]`): every operation on the drive is
/// delayed by `latencyMs` plus up to `jitterMs`, fails with an I/O error with probability
/// `errorRate`, or, with `fail`, fails outright as a dead drive would.
public struct FaultSpec: Codable, Sendable, Equatable {
    public var latencyMs: Double
    public var jitterMs: Double
    public var errorRate: Double
    public var fail: Bool

    public init(latencyMs: Double = 0, jitterMs: Double = 0, errorRate: Double = 0, fail: Bool = false) {
        self.latencyMs = latencyMs
        self.jitterMs = jitterMs
        self.errorRate = errorRate
        self.fail = fail
    }

    /// No fault at all (what `--clear` installs).
    public var isClear: Bool { latencyMs == 0 && jitterMs == 0 && errorRate == 0 && !fail }

    /// The first value out of range, named, or nil.
    public var problem: String? {
        if !(latencyMs >= 0 && latencyMs <= 60_000) { return "latency \(latencyMs) ms is outside 0...60000" }
        if !(jitterMs >= 0 && jitterMs <= 60_000) { return "jitter \(jitterMs) ms is outside 0...60000" }
        if !(errorRate >= 0 && errorRate <= 1) { return "error rate \(errorRate) is outside 0...1" }
        return nil
    }

    public var summary: String {
        if fail { return "fail" }
        if isClear { return "none" }
        var parts: [String] = []
        if latencyMs > 0 || jitterMs > 0 { parts.append("latency \(latencyMs) ms ± \(jitterMs) ms") }
        if errorRate > 0 { parts.append("error rate \(errorRate)") }
        return parts.joined(separator: ", ")
    }
}
