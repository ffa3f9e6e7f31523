import Foundation

/// A seeded simulation of a group of drives for the detector's tests and `granary bench health`:
/// each drive serves a load that swings over time (some drives persistently busier than others,
/// with bursts), its latency grows with its load, jitters log-normally window to window, and can
/// be slowed by an injected factor over a time range. The detector sees one window per drive per
/// step, as the manager does.
///
/// Guarantees the same seed gives the same windows and the same result (SmartRandom, splitmix64).
public struct FailSlowSimulation: Sendable {
    /// A drive slowed by `factor` from `from` until `until` (nil: to the end), in simulated seconds.
    public struct Injection: Sendable, Equatable {
        public var drive: Int
        public var factor: Double
        public var from: Double
        public var until: Double?

        public init(drive: Int, factor: Double, from: Double, until: Double? = nil) {
            self.drive = drive
            self.factor = factor
            self.from = from
            self.until = until
        }
    }

    /// What the detector did over the run.
    public struct Result: Sendable, Equatable {
        /// Per injection: seconds from its start to the drive turning suspect (nil: never).
        public var detectionSeconds: [Double?]
        /// Healthy (never injected) drives that were flagged at any time.
        public var falsePositiveDrives: Int
        /// Suspect drive-seconds of healthy drives over all healthy drive-seconds.
        public var falsePositiveRate: Double
        /// State changes of every drive over the run.
        public var transitions: Int
        /// Seconds from an injection's end to the drive being cleared (nil: never, or no end).
        public var clearSeconds: [Double?]
    }

    public var drives: Int
    public var windowSeconds: Double
    public var seed: UInt64
    public var injections: [Injection]
    public var settings: FailSlowSettings
    /// Base service time of a drive at no load, ms.
    public var baseLatencyMs: Double = 4
    /// Window-to-window latency noise (standard deviation of the log).
    public var jitter: Double = 0.25
    /// Mean operations per second of an average drive.
    public var meanOps: Double = 150
    /// Drive `busyDrive` (if any) carries `busyFactor` times the load of the others.
    public var busyDrive: Int?
    public var busyFactor: Double = 3.5

    public init(drives: Int, windowSeconds: Double = 1, seed: UInt64 = 1, injections: [Injection] = [], settings: FailSlowSettings = .init()) {
        self.drives = drives
        self.windowSeconds = windowSeconds
        self.seed = seed
        self.injections = injections
        self.settings = settings
    }

    /// Runs `seconds` of simulated time.
    public func run(seconds: Double) -> Result {
        var detector = FailSlowDetector(settings: settings)
        var rng = SmartRandom(seed: seed)
        let injected = Set(injections.map(\.drive))
        // Each drive's share of the load: persistent differences of up to ±40 %.
        let share = (0..<drives).map { i in (i == busyDrive ? busyFactor : 1) * (0.6 + 0.8 * rng.uniform()) }
        var detected = [Double?](repeating: nil, count: injections.count)
        var cleared = [Double?](repeating: nil, count: injections.count)
        var flagged = Set<Int>()
        var suspectSeconds = 0.0, healthySeconds = 0.0
        var previous = [DriveAssessment.State](repeating: .healthy, count: drives)
        var transitions = 0
        var t = 0.0
        while t < seconds {
            t += windowSeconds
            // Cluster-wide load swings (a slow "diurnal" wave and bursts) shared by every drive.
            let wave = 1 + 0.5 * sin(2 * Double.pi * t / 3_600)
            let burst = rng.uniform() < 0.02 ? 2.0 : 1.0
            var windows: [DriveWindow] = []
            for i in 0..<drives {
                let opsPerSecond = max(0, meanOps * share[i] * wave * burst * (0.85 + 0.3 * rng.uniform()))
                let ops = Int((opsPerSecond * windowSeconds).rounded())
                // Utilisation-driven queueing: latency grows with load (M/M/1-like, capped).
                let utilisation = min(opsPerSecond / 1_500, 0.9)
                var latency = baseLatencyMs / (1 - utilisation) * exp(jitter * rng.normal())
                for inj in injections where inj.drive == i && t >= inj.from && t < (inj.until ?? .infinity) { latency *= inj.factor }
                windows.append(DriveWindow(drive: "n\(i)/d0", node: "n\(i)", time: t, seconds: windowSeconds, ops: ops,
                                           bytes: Int64(ops) * 131_072, meanLatencyMs: latency, p99LatencyMs: latency * 3,
                                           queueDepth: opsPerSecond * latency / 1000))
            }
            detector.observe(windows)
            for i in 0..<drives {
                let state = detector.assessments["n\(i)/d0"]?.state ?? .healthy
                if state != previous[i] { transitions += 1 }
                previous[i] = state
                if !injected.contains(i) {
                    healthySeconds += windowSeconds
                    if state == .suspect {
                        suspectSeconds += windowSeconds
                        flagged.insert(i)
                    }
                }
            }
            for (k, inj) in injections.enumerated() {
                let state = previous[inj.drive]
                if detected[k] == nil, state == .suspect, t >= inj.from { detected[k] = t - inj.from }
                if let end = inj.until, detected[k] != nil, cleared[k] == nil, t >= end, state == .healthy { cleared[k] = t - end }
            }
        }
        return Result(detectionSeconds: detected, falsePositiveDrives: flagged.count,
                      falsePositiveRate: healthySeconds > 0 ? suspectSeconds / healthySeconds : 0,
                      transitions: transitions, clearSeconds: cleared)
    }
}
