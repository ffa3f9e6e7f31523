#if canImport(Glibc)
import Glibc
#endif

/// How likely a k + m layout is to lose data within a year, from a Markov model of drive failures
/// and rebuilds: the figure behind "how many nines", and how much rebuilding at once buys over
/// waiting for a replacement drive.
///
/// The model is a continuous-time Markov chain over the number of failed drives, 0 … m + 1, among
/// the `drives` (N) that hold the stripes; m + 1 is absorbing (data lost). From state i a further
/// drive fails at rate (N − i)·λ, and a rebuild completes at rate i·μ (parallel repair: every
/// failed drive rebuilds at once, each at the rebuild rate) or μ (serial repair), with μ = 1/MTTR.
/// λ = −ln(1 − AFR)/8760 per hour: the constant hazard under which a drive fails within a year
/// with probability exactly AFR (AFR/8760 is the usual shortcut; it differs by AFR/2 relative,
/// 0.5 % at AFR 1 %).
///
/// Scope: any m + 1 drives failed at once count as a loss. That is exact for one stripe set (N =
/// k + m) and conservative for a wide cluster: with many stripes spread over N drives almost every
/// set of m + 1 drives shares some stripe, so the answer is the chance of losing *some* data in the
/// cluster, not the fraction lost.
///
/// Guarantees: every input is checked and a bad one is named (`Invalid`); the mean time to data
/// loss is the chain's exact expected absorption time, solved by Gaussian elimination (no
/// closed-form approximation), in a form whose rounding stays relative to the result even when
/// failures are a millionth as frequent as repairs; the yearly probability is
/// 1 − exp(−8760 h / MTTDL), computed without cancellation.
public struct DurabilityModel: Sendable, Equatable {
    /// How many rebuilds run at once.
    public enum Repair: String, Sendable, Codable, CaseIterable {
        /// Every failed drive is rebuilt at once, each at the rebuild rate: repair rate i·μ.
        case parallel
        /// One rebuild at a time: repair rate μ whatever the number of failed drives.
        case serial
    }

    /// When redundancy comes back after a drive fails.
    public enum Scenario: String, Sendable, Codable, CaseIterable {
        /// Rebuild starts once the failure is detected, onto the drives that remain (shrinking the
        /// stripe where no spare domain is left): MTTR = detection delay + rebuild time.
        case shrinkRebuild = "shrink-rebuild"
        /// Redundancy comes back only when a replacement drive is in and rebuilt: MTTR =
        /// replacement delay (counted from the failure, detection included) + rebuild time.
        case waitForReplacement = "wait-for-replacement"

        public var title: String {
            switch self {
            case .shrinkRebuild: return "rebuild at once (shrink-rebuild)"
            case .waitForReplacement: return "wait for replacement"
            }
        }
    }

    /// An input outside what the model means, named.
    public enum Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        case k(Int)
        case m(Int)
        case drives(Int, needed: Int)
        case annualFailureRate(Double)
        case driveBytes(Double)
        case rebuildBytesPerSecond(Double)
        case detectionHours(Double)
        case replacementHours(Double)
        case repairHours(Double)
        /// The answer is past what a Double holds (hundreds of nines): the inputs are not a real system.
        case outOfRange

        public var description: String {
            switch self {
            case let .k(v): return "k = \(v): at least 1 data fragment is needed"
            case let .m(v): return "m = \(v): at least 1 parity fragment is needed"
            case let .drives(v, needed): return "drives = \(v): a k+m stripe needs at least \(needed) drives"
            case let .annualFailureRate(v): return "annual failure rate \(v) is not in (0, 1) (0.01 means 1 %)"
            case let .driveBytes(v): return "drive bytes \(v): must be more than 0"
            case let .rebuildBytesPerSecond(v): return "rebuild rate \(v) bytes/s: must be more than 0"
            case let .detectionHours(v): return "detection delay \(v) h: must be 0 or more"
            case let .replacementHours(v): return "replacement delay \(v) h: must be 0 or more"
            case let .repairHours(v): return "repair time \(v) h: must be more than 0"
            case .outOfRange: return "the mean time to data loss overflows a Double: check the inputs"
            }
        }
    }

    /// One scenario's answer.
    public struct Estimate: Sendable, Equatable, Codable {
        public let scenario: Scenario
        /// Mean time from a drive failure until its data is redundant again.
        public let mttrHours: Double
        /// Mean time until m + 1 drives are failed at once, starting with none failed.
        public let mttdlHours: Double
        /// Chance of data loss within one year: 1 − exp(−8760 h / MTTDL).
        public let lossProbabilityPerYear: Double
        /// −log10 of that chance: 9 means 99.9999999 % of years lose nothing.
        public let nines: Double
    }

    public static let hoursPerYear = 8760.0

    public let k: Int
    public let m: Int
    public let drives: Int
    public let annualFailureRate: Double
    /// Bytes a failed drive held, all of which must be rebuilt.
    public let driveBytes: Double
    /// Rebuild rate of one failed drive's data.
    public let rebuildBytesPerSecond: Double
    /// From a failure to the start of its rebuild.
    public let detectionHours: Double
    /// From a failure until a replacement drive is in.
    public let replacementHours: Double
    public let repair: Repair

    public init(k: Int, m: Int, drives: Int, annualFailureRate: Double, driveBytes: Double, rebuildBytesPerSecond: Double,
                detectionHours: Double, replacementHours: Double = 72, repair: Repair = .parallel) throws(Invalid) {
        guard k >= 1 else { throw .k(k) }
        guard m >= 1 else { throw .m(m) }
        guard drives >= k + m else { throw .drives(drives, needed: k + m) }
        // Every check is written so that NaN fails it.
        guard annualFailureRate > 0, annualFailureRate < 1 else { throw .annualFailureRate(annualFailureRate) }
        guard driveBytes > 0, driveBytes.isFinite else { throw .driveBytes(driveBytes) }
        guard rebuildBytesPerSecond > 0, rebuildBytesPerSecond.isFinite else { throw .rebuildBytesPerSecond(rebuildBytesPerSecond) }
        guard detectionHours >= 0, detectionHours.isFinite else { throw .detectionHours(detectionHours) }
        guard replacementHours >= 0, replacementHours.isFinite else { throw .replacementHours(replacementHours) }
        self.k = k
        self.m = m
        self.drives = drives
        self.annualFailureRate = annualFailureRate
        self.driveBytes = driveBytes
        self.rebuildBytesPerSecond = rebuildBytesPerSecond
        self.detectionHours = detectionHours
        self.replacementHours = replacementHours
        self.repair = repair
    }

    /// λ: one drive's failure rate per hour, −ln(1 − AFR)/8760.
    public var failureRatePerHour: Double { -log1p(-annualFailureRate) / Self.hoursPerYear }

    /// Hours to rebuild one failed drive's bytes at the rebuild rate.
    public var rebuildHours: Double { driveBytes / rebuildBytesPerSecond / 3600 }

    /// MTTR in `scenario`.
    public func mttrHours(_ scenario: Scenario) -> Double {
        switch scenario {
        case .shrinkRebuild: return detectionHours + rebuildHours
        case .waitForReplacement: return replacementHours + rebuildHours
        }
    }

    /// The answer for `scenario`.
    public func estimate(_ scenario: Scenario) throws(Invalid) -> Estimate {
        try estimate(scenario, mttrHours: mttrHours(scenario))
    }

    /// The answer for any mean time to repair.
    public func estimate(_ scenario: Scenario, mttrHours: Double) throws(Invalid) -> Estimate {
        guard mttrHours > 0, mttrHours.isFinite else { throw .repairHours(mttrHours) }
        let mttdl = Self.meanTimeToDataLoss(drives: drives, m: m, failureRatePerHour: failureRatePerHour,
                                            repairRatePerHour: 1 / mttrHours, repair: repair)
        guard mttdl.isFinite, mttdl > 0 else { throw .outOfRange }
        // −expm1(−x) keeps every digit of a tiny probability; 1 − exp(−x) would round it to 0.
        let p = -expm1(-Self.hoursPerYear / mttdl)
        guard p > 0 else { throw .outOfRange }
        return Estimate(scenario: scenario, mttrHours: mttrHours, mttdlHours: mttdl, lossProbabilityPerYear: p, nines: -log10(p))
    }

    /// Expected hours from no failed drive to m + 1 failed at once, for N = `drives`, failure rate λ
    /// per drive and repair rate μ (`repair` says per failed drive or in all). Inputs as `init` checks them.
    static func meanTimeToDataLoss(drives: Int, m: Int, failureRatePerHour lambda: Double, repairRatePerHour mu: Double,
                                          repair: Repair) -> Double {
        let n = m + 1  // transient states 0 … m failed drives
        var rates = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var exit = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let fail = Double(drives - i) * lambda
            if i + 1 < n { rates[i][i + 1] = fail } else { exit[i] = fail }
            if i > 0 { rates[i][i - 1] = repair == .parallel ? Double(i) * mu : mu }
        }
        return meanTimeToAbsorption(rates: rates, exit: exit)
    }

    /// Expected time to absorption from state 0 of a chain whose transient states are 0..<n, with
    /// `rates[i][j]` the rate from i to j (i ≠ j) and `exit[i]` the rate from i into absorption.
    ///
    /// Solves (−Q) T = 1 for the times T by Gaussian elimination, eliminating states from the last
    /// to state 1. Plain elimination loses everything here: the quantities that decide MTTDL are of
    /// order (λ/μ)^m, formed by subtracting nearly equal rates. This is the Grassmann–Taksar–Heyman
    /// form: each pivot is computed as the sum of the rates it stands for (the remaining rates out
    /// of the state, absorption included), which equals the subtracted value in exact arithmetic,
    /// and every other update adds non-negative terms, so no step cancels.
    static func meanTimeToAbsorption(rates: [[Double]], exit: [Double]) -> Double {
        let n = exit.count
        var q = rates
        var r = exit
        var b = [Double](repeating: 1, count: n)
        var pivot = [Double](repeating: 0, count: n)
        for s in stride(from: n - 1, through: 1, by: -1) {
            var total = r[s]
            for j in 0..<s { total += q[s][j] }
            pivot[s] = total
            // Fold s into every remaining state that can reach it: i's paths through s become
            // direct rates, absorption and expected time.
            for i in 0..<s where q[i][s] > 0 {
                let f = q[i][s] / total
                for j in 0..<s where j != i { q[i][j] += f * q[s][j] }
                r[i] += f * r[s]
                b[i] += f * b[s]
            }
        }
        var t = [Double](repeating: 0, count: n)
        t[0] = b[0] / r[0]
        for s in 1..<n {
            var acc = b[s]
            for j in 0..<s { acc += q[s][j] * t[j] }
            t[s] = acc / pivot[s]
        }
        return t[0]
    }
}
