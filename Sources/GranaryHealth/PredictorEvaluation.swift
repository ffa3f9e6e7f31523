import Foundation

/// Drive-level quality of a failure predictor on a set of drives, the way an operator feels it:
/// "did we get a warning before each failure, and how many healthy drives did we pull for nothing".
///
/// Definitions (h = `horizonDays`, t = `threshold`; a day alarms when its score >= t):
/// - A *failed* drive has a `failure = 1` row on day F. It is a **true positive** when some day d
///   with `0 <= F - d < h` alarms, otherwise a **false negative**. Alarms earlier than that window
///   are ignored: the drive did fail, so they are early rather than false.
/// - A *healthy* drive never fails while observed. Only its days with a full horizon of
///   observation after them (`lastDay - d >= h`) can be judged, because on later days we cannot
///   know that it survived. It is a **false positive** when any such day alarms. Healthy drives
///   with no judgeable day are left out of `drives`.
/// - `precision = TP / (TP + FP)`, `recall = TP / failedDrives`, `f1` their harmonic mean; each is
///   0 when its denominator is 0.
/// - Lead time of a true positive = F minus the first alarming day inside the window (0 means the
///   warning came on the failure day). `meanLeadDays` / `medianLeadDays` are over true positives,
///   0 when there are none.
public struct PredictorEvaluation: Sendable, Codable, Equatable {
    /// Drives judged: failed drives plus healthy drives with at least one judgeable day.
    public var drives: Int
    public var failedDrives: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var meanLeadDays: Double
    public var medianLeadDays: Double
    public var horizonDays: Int
    public var threshold: Double

    /// One line for logs and reports.
    public var summary: String {
        func f(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }
        return "\(drives) drives (\(failedDrives) failed): precision \(f(precision)), recall \(f(recall)), "
            + "F1 \(f(f1)); TP \(truePositives), FP \(falsePositives), FN \(falseNegatives); "
            + "lead time mean \(f(meanLeadDays, 1)) d, median \(f(medianLeadDays, 1)) d "
            + "(horizon \(horizonDays) d, threshold \(f(threshold, 4)))"
    }

    /// Scores each drive with per-day `scores` (aligned with `histories[i].records`) and counts
    /// outcomes as defined above. Drives whose score array is missing or short are scored 0 on
    /// the missing days.
    public static func measure(
        histories: [DriveHistory], scores: [[Double]], horizonDays: Int, threshold: Double
    ) -> PredictorEvaluation {
        var drives = 0, failed = 0, truePositives = 0, falsePositives = 0
        var leads: [Int] = []
        for (index, history) in histories.enumerated() {
            let driveScores = index < scores.count ? scores[index] : []
            func alarms(_ index: Int) -> Bool { index < driveScores.count && driveScores[index] >= threshold }
            if let failureDay = history.failureDay {
                drives += 1
                failed += 1
                let first = history.records.indices.first { i in
                    failureDay - history.records[i].day < horizonDays && alarms(i)
                }
                if let first {
                    truePositives += 1
                    leads.append(failureDay - history.records[first].day)
                }
            } else {
                let lastDay = history.lastDay
                let judgeable = history.records.indices.filter { lastDay - history.records[$0].day >= horizonDays }
                guard !judgeable.isEmpty else { continue }
                drives += 1
                if judgeable.contains(where: alarms) { falsePositives += 1 }
            }
        }
        let precision = truePositives + falsePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives)
        let recall = failed == 0 ? 0 : Double(truePositives) / Double(failed)
        let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        leads.sort()
        let mean = leads.isEmpty ? 0 : Double(leads.reduce(0, +)) / Double(leads.count)
        let median: Double
        if leads.isEmpty {
            median = 0
        } else if leads.count % 2 == 1 {
            median = Double(leads[leads.count / 2])
        } else {
            median = Double(leads[leads.count / 2 - 1] + leads[leads.count / 2]) / 2
        }
        return PredictorEvaluation(
            drives: drives, failedDrives: failed, truePositives: truePositives, falsePositives: falsePositives,
            falseNegatives: failed - truePositives, precision: precision, recall: recall, f1: f1,
            meanLeadDays: mean, medianLeadDays: median, horizonDays: horizonDays, threshold: threshold
        )
    }

    /// The threshold that maximises drive-level F1 (as `measure` counts it) for probability-like
    /// scores in [0, 1]. Among thresholds giving the same counts it returns the midpoint, in
    /// log-odds, of that interval, so small shifts in scores on new drives do not flip decisions.
    public static func bestThreshold(histories: [DriveHistory], scores: [[Double]], horizonDays: Int) -> Double {
        // Each drive is decided by one number: its highest score on the days that count for it.
        var failedKeys: [Double] = []
        var healthyKeys: [Double] = []
        for (index, history) in histories.enumerated() {
            let driveScores = index < scores.count ? scores[index] : []
            var best = -Double.infinity
            var counted = false
            for (i, record) in history.records.enumerated() where i < driveScores.count {
                let inScope = history.failureDay.map { $0 - record.day < horizonDays }
                    ?? (history.lastDay - record.day >= horizonDays)
                if inScope {
                    counted = true
                    best = max(best, driveScores[i])
                }
            }
            if history.failed {
                failedKeys.append(counted ? best : -.infinity)
            } else if counted {
                healthyKeys.append(best)
            }
        }
        let candidates = Array(Set(failedKeys + healthyKeys).filter(\.isFinite)).sorted(by: >)
        guard !candidates.isEmpty, !failedKeys.isEmpty else { return 0.5 }
        failedKeys.sort(by: >)
        healthyKeys.sort(by: >)
        var bestF1 = -1.0
        var bestIndex = 0
        var tp = 0, fp = 0
        for (index, candidate) in candidates.enumerated() {
            while tp < failedKeys.count, failedKeys[tp] >= candidate { tp += 1 }
            while fp < healthyKeys.count, healthyKeys[fp] >= candidate { fp += 1 }
            let f1 = 2 * Double(tp) / Double(2 * tp + fp + (failedKeys.count - tp))
            if f1 > bestF1 {
                bestF1 = f1
                bestIndex = index
            }
        }
        let upper = candidates[bestIndex]
        let lower = bestIndex + 1 < candidates.count ? candidates[bestIndex + 1] : max(0, upper - 0.05)
        func logit(_ p: Double) -> Double {
            let q = min(max(p, 1e-12), 1 - 1e-12)
            return log(q / (1 - q))
        }
        let middle = (logit(upper) + logit(lower)) / 2
        return 1 / (1 + exp(-middle))
    }
}
