/// Finds fail-slow drives by comparing each drive with its peers under the load it actually had
/// (Perseus, FAST'23): a latency-against-throughput model is fitted over the other drives' recent
/// windows, and a drive is slow in a window when its latency is at least `slowdownThreshold` times
/// what the model expects at its load and above the peers' spread. A drive becomes suspect when its
/// slowness persists for `suspectAfterSeconds` (with at least `slowShare` of the windows in that run slow), and is cleared when it has looked normal (below
/// `clearThreshold`) for `clearAfterSeconds`.
///
/// Guarantees:
/// - a drive never raises its own bar: its points (and those of drives already suspect) are left
///   out of the model it is judged by;
/// - a busy drive is judged at its own load, so latency in line with the peer curve at that load
///   is normal however high it is;
/// - windows with fewer than `minOps` operations, and rounds with fewer than `minPeers` peers,
///   change nothing (the evidence says why);
/// - failed I/O counts as slowness: a window where `errorRate` or more of the operations failed is slow.
public struct FailSlowDetector: Sendable, Codable {
    public var settings: FailSlowSettings
    public private(set) var assessments: [String: DriveAssessment] = [:]
    /// Recent windows of every drive (the newest `pointsPerDrive`), pooled to fit the peer model.
    private var points: [String: [DriveWindow]] = [:]

    public init(settings: FailSlowSettings = .init()) {
        self.settings = settings
    }

    /// Judges one round: the latest window of each drive (drives absent keep their assessment).
    @discardableResult
    public mutating func observe(_ windows: [DriveWindow]) -> [DriveAssessment] {
        guard let now = windows.map(\.time).max() else { return [] }
        let judged = windows.filter { $0.ops >= settings.minOps && $0.meanLatencyMs.isFinite }
        for w in judged {
            var p = points[w.drive] ?? []
            p.append(w)
            if p.count > settings.pointsPerDrive { p.removeFirst(p.count - settings.pointsPerDrive) }
            points[w.drive] = p
        }
        for (drive, p) in points {
            let kept = p.filter { now - $0.time <= settings.historySeconds }
            points[drive] = kept.isEmpty ? nil : kept
        }
        let suspects = Set(assessments.values.filter { $0.state == .suspect }.map(\.drive))
        // One model over every drive not suspect; a drive that looks anything but normal by it is
        // judged again by a model without its own points (leave-one-out), so it never raises its
        // own bar, while the common case costs one fit per round.
        let shared = Self.model(points, excluding: suspects)
        var out: [DriveAssessment] = []
        for w in windows {
            var a = assessments[w.drive] ?? DriveAssessment(drive: w.drive, node: w.node)
            a.updatedAt = w.time
            guard w.ops >= settings.minOps else {
                a.evidence = "\(w.drive): \(w.ops) operations in the last \(Self.format(w.seconds)) s, too few to judge"
                assessments[w.drive] = a
                out.append(a)
                continue
            }
            let peers = points.keys.filter { $0 != w.drive && !suspects.contains($0) }.count
            a.peers = peers
            var model = shared.model
            if shared.drives.contains(w.drive), let m = model,
               w.meanLatencyMs / max(m.expected(load: w.opsPerSecond), 1e-3) >= settings.clearThreshold {
                model = Self.model(points, excluding: suspects.union([w.drive])).model
            }
            guard peers >= settings.minPeers, let model else {
                a.evidence = "\(w.drive): \(peers) peer drives with recent load, \(settings.minPeers) needed to judge"
                assessments[w.drive] = a
                out.append(a)
                continue
            }
            let load = w.opsPerSecond
            let expected = max(model.expected(load: load), 1e-3)
            let bound = model.upperBound(load: load, factor: settings.spreadFactor)
            let ratio = w.meanLatencyMs / expected
            let failing = Double(w.errors) >= settings.errorRate * Double(max(w.ops, 1)) && w.errors > 0
            let slow = failing || (ratio >= settings.slowdownThreshold && w.meanLatencyMs > bound)
            let normal = !failing && ratio < settings.clearThreshold
            a.score = a.score + settings.scoreSmoothing * (ratio - a.score)
            a.observedLatencyMs = w.meanLatencyMs
            a.expectedLatencyMs = expected
            a.upperBoundMs = bound
            a.load = load
            if slow {
                if a.slowSince == nil {
                    a.slowSince = w.time
                    a.runWindows = 0
                    a.slowWindows = 0
                }
                a.normalSince = nil
            } else if normal {
                a.slowSince = nil
                if a.state == .suspect, a.normalSince == nil { a.normalSince = w.time }
            }
            if a.slowSince != nil {
                a.runWindows += 1
                if slow { a.slowWindows += 1 }
                // A run of mostly middling windows is noise, not a slow drive: start over.
                if Double(a.slowWindows) < settings.slowShare * Double(a.runWindows) { a.slowSince = nil }
            }
            let what = failing ? "\(w.errors) of \(w.ops) operations failed" :
                "mean latency \(Self.format(w.meanLatencyMs)) ms at \(Self.format(load)) ops/s, \(Self.format(ratio))x the \(Self.format(expected)) ms its \(peers) peers show at that load"
            switch a.state {
            case .healthy:
                if slow, let since = a.slowSince, w.time - since >= settings.suspectAfterSeconds {
                    a.state = .suspect
                    a.suspectSince = w.time
                    a.normalSince = nil
                    a.evidence = "\(w.drive): \(what), slow for \(Self.format(w.time - since)) s"
                } else {
                    a.evidence = "\(w.drive): \(what)"
                }
            case .suspect:
                if let since = a.normalSince, w.time - since >= settings.clearAfterSeconds {
                    a.state = .healthy
                    a.suspectSince = nil
                    a.slowSince = nil
                    a.normalSince = nil
                    a.evidence = "\(w.drive): \(what), normal for \(Self.format(w.time - since)) s"
                } else {
                    a.evidence = "\(w.drive): \(what)"
                }
            }
            assessments[w.drive] = a
            out.append(a)
        }
        return out
    }

    /// Drops everything known about a drive (it left the cluster).
    public mutating func forget(drive: String) {
        assessments[drive] = nil
        points[drive] = nil
    }

    /// Starts a drive afresh (an operator rejoined it): healthy, with no history of its own.
    public mutating func reset(drive: String) {
        if let a = assessments[drive] { assessments[drive] = DriveAssessment(drive: drive, node: a.node) }
        points[drive] = nil
    }

    /// The latency model over the points of every drive not in `excluded`, and the drives it used.
    static func model(_ points: [String: [DriveWindow]], excluding excluded: Set<String>) -> (model: LatencyModel?, drives: Set<String>) {
        var used: [(load: Double, latency: Double)] = []
        var drives = Set<String>()
        for (drive, p) in points where !excluded.contains(drive) {
            drives.insert(drive)
            for w in p { used.append((w.opsPerSecond, w.meanLatencyMs)) }
        }
        return (LatencyModel.fit(used), drives)
    }

    static func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(r)
    }
}
