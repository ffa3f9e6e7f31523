import Foundation

/// The soak test's leak verdict for one process, from its samples of the measured time (after the
/// warm-up) and one sample taken after the load stopped and the process sat idle.
///
/// The rule, and why it is fair:
/// - **Memory:** the highest RSS of the last quarter of the measured time may exceed the highest
///   RSS of its first half by at most `rssSlackBytes` + `rssSlackFraction` of the latter. Caches,
///   pools and allocator arenas fill during the warm-up and the first half and then stay at their
///   high-water mark; comparing high-water marks (not single samples) keeps a transient burst of
///   buffers from reading as growth. A leak grows with the work done, and the load is the same in
///   every part of the run, so a leak keeps raising the mark through the second half and shows up
///   as that half's growth. What the rule cannot see is a leak smaller than the slack over half the
///   run: the report gives each process's RSS slope (MiB per minute over the measured time) and
///   growth per thousand operations, so a slow drift is visible even where it is under the bound,
///   and a longer `--seconds` lowers the smallest leak the rule catches.
/// - **File descriptors:** the highest count of the last quarter may exceed the highest count of
///   the first quarter by at most `fdSlack`, and the count after the idle pause may exceed the
///   count at the start of the measured time by at most `fdSlack`. Descriptors are counted
///   exactly; under a steady load the in-flight ones (open files, pooled connections) reach their
///   high-water mark early, while a descriptor leaked per operation adds thousands over the run.
///   The slack covers connections opened lazily to one more peer and a reader caught between
///   open and close.
enum SoakLeakRule {
    static let rssSlackBytes: Int64 = 16 << 20
    static let rssSlackFraction = 0.05
    static let fdSlack = 8

    static let text = "leak if, for any process: the highest RSS of the last quarter of the measured time exceeds the highest RSS of its first half "
        + "by more than 16 MiB + 5 %, or the highest fd count of the last quarter exceeds that of the first quarter by more than 8, "
        + "or the fd count after the load stopped and the process sat idle exceeds the count at the start of the measured time by more than 8; "
        + "or when the drives' highest byte count of the last quarter exceeds that of the first half by more than 96 MiB + 5 % (space not given back); "
        + "or when a loader's pool still holds buffers 5 s after it stopped"

    /// One process's figures over the run.
    struct Figures: Codable, Sendable {
        var process: String
        var pid: Int32
        var samples: Int
        var rssStartMiB: Double
        var rssEndMiB: Double
        var rssMaxMiB: Double
        var rssAfterMiB: Double?
        /// End over start (the baseline in the same run).
        var rssRatio: Double
        /// Highest RSS of the last quarter minus highest RSS of the first half.
        var rssSecondHalfGrowthMiB: Double
        var rssLimitMiB: Double
        /// Least-squares slope of RSS over the measured time.
        var rssSlopeMiBPerMinute: Double
        var fdsStart: Int
        var fdsEnd: Int
        var fdsMax: Int
        var fdsAfter: Int?
        var fdsGrowth: Int
        var leak: Bool
        var reasons: [String]
    }

    /// Judges one process from `readings` (times in seconds since the run started), measured from
    /// `from` to `to`, with `after` the idle sample.
    static func judge(process: String, pid: Int32, readings: [SoakProcessSample], from: Double, to: Double,
                      after: SoakProcessSample?) -> Figures? {
        let measured = readings.filter { $0.t >= from && $0.t <= to }
        guard let first = measured.first, let last = measured.last else { return nil }
        let span = to - from
        let firstHalf = measured.filter { $0.t <= from + span / 2 }
        let firstQuarter = measured.filter { $0.t <= from + span / 4 }
        let lastQuarter = measured.filter { $0.t >= to - span / 4 }
        let rssBase = firstHalf.map(\.rssBytes).max() ?? first.rssBytes
        let rssLate = lastQuarter.map(\.rssBytes).max() ?? last.rssBytes
        let rssLimit = rssSlackBytes + Int64(Double(rssBase) * rssSlackFraction)
        let fdBase = firstQuarter.map(\.fds).max() ?? first.fds
        let fdLate = lastQuarter.map(\.fds).max() ?? last.fds
        var reasons: [String] = []
        if rssLate - rssBase > rssLimit {
            reasons.append(String(format: "RSS grew %.1f MiB in the second half (limit %.1f MiB)", mib(rssLate - rssBase), mib(rssLimit)))
        }
        if fdLate - fdBase > fdSlack { reasons.append("open fds grew from \(fdBase) to \(fdLate) (slack \(fdSlack))") }
        if let after, after.fds - first.fds > fdSlack {
            reasons.append("\(after.fds) fds open when idle after the load, \(first.fds) at the start (slack \(fdSlack))")
        }
        return Figures(process: process, pid: pid, samples: measured.count, rssStartMiB: round(mib(first.rssBytes)), rssEndMiB: round(mib(last.rssBytes)),
                       rssMaxMiB: round(mib(measured.map(\.rssBytes).max() ?? 0)), rssAfterMiB: after.map { round(mib($0.rssBytes)) },
                       rssRatio: round(Double(last.rssBytes) / Double(max(first.rssBytes, 1))),
                       rssSecondHalfGrowthMiB: round(mib(rssLate - rssBase)), rssLimitMiB: round(mib(rssLimit)),
                       rssSlopeMiBPerMinute: round(slope(measured) * 60 / 1_048_576),
                       fdsStart: first.fds, fdsEnd: last.fds, fdsMax: measured.map(\.fds).max() ?? 0, fdsAfter: after?.fds,
                       fdsGrowth: fdLate - fdBase, leak: !reasons.isEmpty, reasons: reasons)
    }

    static let spaceSlackBytes: Int64 = 96 << 20

    /// The space part of the verdict: the storage nodes' drive bytes, sampled every 2 s, judged as
    /// RSS is (high-water mark of the last quarter against that of the first half). The writers
    /// keep a few files each and remove the rest, and the manager collects removed files' stripes
    /// every 10 s, so the drives' bytes are a sawtooth whose peaks hold about 10 s of writes; the
    /// high-water marks of both parts include such peaks (the 2 s sampling sees each of them).
    /// Fragments that were never collected grow with the write rate (several MB a second here), so
    /// they pass the slack within the second half of even the default run.
    /// Returns the growth, the limit and the reason when it is a leak.
    static func judgeSpace(_ series: [(t: Double, bytes: Int64)], from: Double, to: Double) -> (growth: Int64, limit: Int64, reason: String?) {
        let measured = series.filter { $0.t >= from && $0.t <= to + 1 }
        let span = to - from
        guard let base = measured.filter({ $0.t <= from + span / 2 }).map(\.bytes).max(),
              let late = measured.filter({ $0.t >= to - span / 4 }).map(\.bytes).max() else { return (0, spaceSlackBytes, nil) }
        let limit = spaceSlackBytes + Int64(Double(base) * rssSlackFraction)
        let reason = late - base > limit ? String(format: "drives: %.1f MiB more in the last quarter than in the first half (limit %.1f MiB)",
                                                    mib(late - base), mib(limit)) : nil
        return (late - base, limit, reason)
    }

    /// Least-squares slope of RSS bytes over seconds.
    static func slope(_ s: [SoakProcessSample]) -> Double {
        guard s.count >= 2 else { return 0 }
        let n = Double(s.count)
        let mt = s.reduce(0) { $0 + $1.t } / n
        let mr = s.reduce(0) { $0 + Double($1.rssBytes) } / n
        var num = 0.0, den = 0.0
        for x in s {
            num += (x.t - mt) * (Double(x.rssBytes) - mr)
            den += (x.t - mt) * (x.t - mt)
        }
        return den > 0 ? num / den : 0
    }

    static func mib(_ b: Int64) -> Double { Double(b) / 1_048_576 }
    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
}
