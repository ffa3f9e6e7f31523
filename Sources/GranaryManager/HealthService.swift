import Foundation
import GranaryCore
import GranaryHealth
import GranaryMeta
import GranaryTransport
import GranaryWire
import Logging

/// The manager's drive-health monitor: takes every drive's telemetry from the heartbeats, keeps a
/// bounded history per drive, runs the fail-slow detector (peer comparison of latency against
/// load), and moves drives through healthy → suspect → evicted → healthy (rejoined).
///
/// Guarantees:
/// - a suspect drive gets no new fragments and reads go around it (the map says so); an evicted
///   drive's stripes are rebuilt by the repair service;
/// - no eviction, automatic or by an operator, leaves any stripe with fewer than k readable
///   fragments (so every stripe can still be rebuilt); a refused eviction says which stripe;
/// - automatic evictions are limited to `maxEvictionsPerHour`;
/// - every transition is logged with its evidence and kept (bounded) with the metadata, so it
///   survives a manager restart.
public actor HealthService {
    static let stateName = "health"
    /// Windows kept per drive: ten minutes at the default one-second heartbeat.
    static let historyLimit = 600
    static let eventLimit = 200

    struct Saved: Codable {
        var events: [HealthEvent] = []
        var autoEvictions: [Double] = []
        /// When each suspect drive became suspect, and by whom ("detector", "predictor", "operator").
        var suspect: [String: Mark] = [:]
        var evicted: [String: Mark] = [:]
    }

    struct Mark: Codable {
        var since: Double
        var by: String
    }

    let store: any MetaStore
    let manager: ClusterManager
    let transport: any Transport
    let policy: HealthPolicy
    let faultInjection: Bool
    let logger: Logger
    let clock: @Sendable () -> Double
    private var detector: FailSlowDetector
    private var saved = Saved()
    private var latest: [DriveID: (telemetry: DriveTelemetry, at: Double)] = [:]
    /// Telemetry received since the drive's last judged window: heartbeats can be a fraction of a
    /// second apart and a slow drive serves few operations, so windows are merged until they hold
    /// `minOps` operations (or ten seconds) before the detector sees them.
    private var pending: [DriveID: (window: DriveWindow, at: Double)] = [:]
    private var history: [DriveID: [DriveWindow]] = [:]
    private var smart: [DriveID: SmartReading] = [:]
    private var smartNotes: [DriveID: String] = [:]
    private var refusals: [DriveID: String] = [:]
    /// One record per drive and day (SMART where the drive has it, the detector's score and the
    /// day's I/O errors), the failure predictor's input; 60 days kept.
    private var daily: [DriveID: [SmartRecord]] = [:]
    let predictor = FailurePredictor.standard

    public init(store: any MetaStore, manager: ClusterManager, transport: any Transport, policy: HealthPolicy, faultInjection: Bool,
                logger: Logger, clock: @escaping @Sendable () -> Double = ClusterManager.wallClock) {
        self.store = store
        self.manager = manager
        self.transport = transport
        self.policy = policy
        self.faultInjection = faultInjection
        self.logger = logger
        self.clock = clock
        var settings = FailSlowSettings()
        settings.suspectAfterSeconds = policy.suspectAfterS
        settings.clearAfterSeconds = policy.clearAfterS
        detector = FailSlowDetector(settings: settings)
        do {
            if let text = try store.serviceState(Self.stateName) {
                saved = try JSONDecoder().decode(Saved.self, from: Data(text.utf8))
            }
        } catch {
            logger.error("health: the saved health state could not be read, starting afresh: \(error)")
        }
    }

    /// Evaluates once a second until the task is cancelled.
    public nonisolated func start() -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                await evaluate()
            }
        }
    }

    /// Takes the telemetry of one heartbeat.
    public func ingest(_ hb: NodeHeartbeat) {
        let now = clock()
        for r in hb.drives {
            guard let t = r.telemetry, let id = DriveID(node: hb.node, name: r.name) else { continue }
            latest[id] = (t, now)
            let w = Self.window(id, t, at: now)
            if let p = pending[id] { pending[id] = (Self.merge(p.window, w), now) } else { pending[id] = (w, now) }
            if let s = t.smart {
                smart[id] = s
                smartNotes[id] = nil
            } else if let note = t.smartNote {
                smartNotes[id] = note
            }
            let day = Int(now / 86_400)
            var days = daily[id] ?? []
            if days.last?.day != day {
                days.append(SmartRecord(day: day, serial: smart[id]?.serial ?? id.description, model: smart[id]?.model ?? "unknown"))
            }
            if var today = days.popLast() {
                if let s = smart[id] {
                    today.attributes = s.raw
                    if let c = s.temperatureC { today.attributes[194] = c }
                }
                today.ioErrors = (today.ioErrors ?? 0) + Double(t.errors)
                today.latencyRatio = detector.assessments[id.description]?.score ?? 1
                days.append(today)
            }
            if days.count > 60 { days.removeFirst(days.count - 60) }
            daily[id] = days
            var h = history[id] ?? []
            h.append(w)
            if h.count > Self.historyLimit { h.removeFirst(h.count - Self.historyLimit) }
            history[id] = h
        }
    }

    /// One window covering both: operations, bytes and errors added, latency weighted by operations.
    static func merge(_ a: DriveWindow, _ b: DriveWindow) -> DriveWindow {
        let ops = a.ops + b.ops
        func weighted(_ x: Double, _ y: Double) -> Double { ops == 0 ? max(x, y) : (x * Double(a.ops) + y * Double(b.ops)) / Double(ops) }
        let seconds = a.seconds + b.seconds
        return DriveWindow(drive: b.drive, node: b.node, time: b.time, seconds: seconds, ops: ops, bytes: a.bytes + b.bytes,
                           meanLatencyMs: weighted(a.meanLatencyMs, b.meanLatencyMs), p99LatencyMs: max(a.p99LatencyMs, b.p99LatencyMs),
                           queueDepth: seconds > 0 ? (a.queueDepth * a.seconds + b.queueDepth * b.seconds) / seconds : 0,
                           errors: a.errors + b.errors)
    }

    static func window(_ id: DriveID, _ t: DriveTelemetry, at time: Double) -> DriveWindow {
        DriveWindow(drive: id.description, node: id.node.description, time: time, seconds: t.seconds, ops: t.ops, bytes: t.bytes,
                    meanLatencyMs: t.meanMs, p99LatencyMs: max(t.readP99Ms, t.writeP99Ms), queueDepth: t.queueDepth, errors: t.errors)
    }

    /// The recent windows of drive `id`, oldest first.
    public func history(of id: DriveID) -> [DriveWindow] { history[id] ?? [] }

    /// Puts the saved suspect and evicted marks back on the map. Drive health is kept in this
    /// service's saved state, not in the metadata's drive rows, so a manager that starts leading
    /// (after a restart or a failover) reads every drive as healthy; without this, an evicted drive
    /// would quietly return to service and its rebuild would end with nothing to do. Runs before
    /// the repair service's first scan.
    public func restoreMarks() async {
        let map = await manager.clusterMap
        for d in map.drives {
            let key = d.id.description
            let want: DriveHealth
            let mark: Mark
            if let m = saved.evicted[key] {
                (want, mark) = (.evicted, m)
            } else if let m = saved.suspect[key] {
                (want, mark) = (.suspect, m)
            } else {
                continue
            }
            guard d.health != want else { continue }
            let evidence = saved.events.last { $0.drive == key && $0.to == want.rawValue }?.evidence ?? "marked by \(mark.by)"
            do {
                _ = try await manager.setHealth(d.id, want, note: evidence)
                logger.notice("health: \(d.id) is \(want.rawValue) again (marked by \(mark.by) \(Int(clock() - mark.since)) s ago; restored on taking the lead): \(evidence)")
            } catch {
                logger.error("health: cannot restore \(want.rawValue) on \(d.id) after taking the lead: \(error)")
            }
        }
    }

    /// One round: the detector over the latest window of every serving drive, then the policy.
    public func evaluate() async {
        let map = await manager.clusterMap
        let now = clock()
        if policy.detect {
            var windows: [DriveWindow] = []
            for d in map.drives where d.state == .up && d.health != .evicted {
                guard let (w, at) = pending[d.id] else { continue }
                if now - at > 10 {
                    pending[d.id] = nil  // its node went quiet: start afresh
                    continue
                }
                guard w.ops >= detector.settings.minOps || w.seconds >= 10 else { continue }
                windows.append(w)
                pending[d.id] = nil
            }
            if !windows.isEmpty { _ = detector.observe(windows) }
        }
        for d in map.drives {
            let key = d.id.description
            let assessment = detector.assessments[key]
            switch d.health {
            case .healthy:
                if let a = assessment, a.state == .suspect {
                    await transition(d.id, to: .suspect, by: "detector", evidence: a.evidence)
                } else if policy.actOnPrediction, let p = prediction(d.id), p.failing, p.basis != .performanceOnly, p.basis != .none {
                    // Slowness is the detector's to judge; the predictor acts on SMART evidence.
                    await transition(d.id, to: .suspect, by: "predictor", evidence: "\(d.id): predicted to fail within \(p.horizonDays) days "
                        + "(score \(String(format: "%.3f", p.probability)) over the threshold \(String(format: "%.3f", p.threshold))): \(p.factors.joined(separator: "; "))")
                }
            case .suspect:
                let mark = saved.suspect[key] ?? Mark(since: now, by: "detector")
                if saved.suspect[key] == nil { saved.suspect[key] = mark }
                if mark.by == "detector", let a = assessment, a.state == .healthy {
                    await transition(d.id, to: .healthy, by: "detector", evidence: "back in line with its peers: \(a.evidence)")
                } else if policy.autoEvict, now - mark.since >= Double(policy.evictAfterS) {
                    let recent = saved.autoEvictions.filter { now - $0 < 3_600 }
                    if recent.count >= policy.maxEvictionsPerHour {
                        refuse(d.id, "not evicted yet: \(recent.count) automatic evictions in the last hour (limit \(policy.maxEvictionsPerHour))")
                    } else if let problem = evictionProblem(d.id, map: map) {
                        refuse(d.id, "not evicted: \(problem)")
                    } else {
                        saved.autoEvictions = recent + [now]
                        let why = "suspect for \(Int(now - mark.since)) s (evict_after_s \(policy.evictAfterS)): \(d.healthNote ?? assessment?.evidence ?? "")"
                        await transition(d.id, to: .evicted, by: "policy", evidence: why)
                    }
                }
            case .evicted:
                if policy.autoRejoin, let mark = saved.evicted[key], now - mark.since >= Double(policy.rejoinAfterS),
                   d.state == .up, (latest[d.id]?.telemetry.errors ?? 0) == 0 {
                    detector.reset(drive: key)
                    await transition(d.id, to: .healthy, by: "policy",
                               evidence: "rejoined after \(Int(now - mark.since)) s evicted (rejoin_after_s \(policy.rejoinAfterS)) with its node up and no errors")
                }
            }
        }
        save()
    }

    /// The failure predictor's view of drive `id`, from its daily records.
    func prediction(_ id: DriveID) -> FailurePrediction? {
        guard let days = daily[id], !days.isEmpty else { return nil }
        return predictor.predict(days)
    }

    /// An operator's eviction: the safety rule holds, the rate limit does not apply.
    public func evict(_ id: DriveID, reason: String?) async throws(ManagerError) {
        let map = await manager.clusterMap
        guard let d = map.drive(id) else { throw .unknownDrive(id) }
        if d.health == .evicted { return }
        if let problem = evictionProblem(id, map: map) { throw .refused(id, "eviction refused: \(problem)") }
        await transition(id, to: .evicted, by: "operator", evidence: reason ?? "evicted by an operator")
        save()
    }

    /// An operator's rejoin: the drive is healthy again and takes fragments; shrunk stripes expand.
    public func rejoin(_ id: DriveID, reason: String?) async throws(ManagerError) {
        let map = await manager.clusterMap
        guard let d = map.drive(id) else { throw .unknownDrive(id) }
        if d.health == .healthy { return }
        detector.reset(drive: id.description)
        await transition(id, to: .healthy, by: "operator", evidence: reason ?? "rejoined by an operator")
        save()
    }

    /// Forwards a fault to the drive's node (tests and drills), when the cluster allows it.
    public func inject(_ request: DriveFaultRequest) async throws(ManagerError) -> [String: FaultSpec] {
        guard faultInjection else { throw .faultInjectionOff }
        let map = await manager.clusterMap
        guard map.drive(request.drive) != nil, let node = map.node(request.drive.node) else { throw .unknownDrive(request.drive) }
        if let problem = request.fault.problem { throw .refused(request.drive, "bad fault: \(problem)") }
        do {
            let answer = try await transport.call(node.address, .injectFault, JSONMessage.encode(request), timeoutMs: 5_000)
            logger.notice("health: fault on \(request.drive): \(request.fault.summary)")
            return (try? JSONDecoder().decode([String: FaultSpec].self, from: Data(answer))) ?? [:]
        } catch {
            throw .refused(request.drive, "node \(node.id) at \(node.address) did not take the fault: \(error)")
        }
    }

    /// Why evicting `id` now would be unsafe, or nil: no stripe may be left with fewer than k
    /// readable fragments (those on drives already out — evicted, failed, down, drained — do not count).
    func evictionProblem(_ id: DriveID, map: ClusterMap) -> String? {
        var out: Set<DriveID> = [id]
        for n in map.nodes {
            for d in n.drives where n.state != .up || (d.state != .up && d.state != .readOnly) || d.health == .evicted { out.insert(d.id) }
        }
        var after: UInt64 = 0
        while true {
            let batch: [Stripe]
            do { batch = try store.stripes(onDrives: [id], after: after, limit: 256) } catch {
                return "the metadata could not be read to check its stripes: \(error)"
            }
            if batch.isEmpty { return nil }
            for s in batch {
                after = s.id
                let readable = s.fragments.filter { !out.contains($0.drive) }.count
                if readable < s.layout.k {
                    let others = Set(s.fragments.map(\.drive)).intersection(out).subtracting([id]).map(\.description).sorted()
                    return "stripe \(String(s.id, radix: 16)) (\(s.layout.k)+\(s.layout.m)) would keep \(readable) readable fragments, "
                        + "fewer than the \(s.layout.k) it needs; \(others.joined(separator: ", ")) already out of it: "
                        + "wait until their rebuild is done (granary rebuild status)"
                }
            }
        }
    }

    private func refuse(_ id: DriveID, _ why: String) {
        guard refusals[id] != why else { return }
        refusals[id] = why
        logger.warning("health: drive \(id) \(why)")
    }

    private func transition(_ id: DriveID, to health: DriveHealth, by: String, evidence: String) async {
        let now = clock()
        let old: DriveHealth
        do { old = try await manager.setHealth(id, health, note: evidence) } catch {
            logger.error("health: drive \(id) could not become \(health): \(error)")
            return
        }
        let key = id.description
        switch health {
        case .healthy:
            saved.suspect[key] = nil
            saved.evicted[key] = nil
        case .suspect:
            saved.suspect[key] = Mark(since: now, by: by)
        case .evicted:
            saved.suspect[key] = nil
            saved.evicted[key] = Mark(since: now, by: by)
        }
        refusals[id] = nil
        saved.events.append(HealthEvent(time: now, drive: key, from: old.rawValue, to: health.rawValue, by: by, evidence: evidence))
        if saved.events.count > Self.eventLimit { saved.events.removeFirst(saved.events.count - Self.eventLimit) }
        let line = "health: drive \(id) \(old.rawValue) -> \(health.rawValue) (by \(by)): \(evidence)"
        if health == .healthy { logger.notice("\(line)") } else { logger.warning("\(line)") }
    }

    private func save() {
        do {
            let data = try JSONEncoder().encode(saved)
            try store.saveServiceState(Self.stateName, String(decoding: data, as: UTF8.self))
        } catch {
            logger.error("health: could not save the health state: \(error)")
        }
    }

    /// Every drive with its health, score, evidence, telemetry and SMART, and the recent events.
    public func report() async -> HealthReport {
        let map = await manager.clusterMap
        let now = clock()
        let drives = map.nodes.flatMap { n in
            n.drives.map { d -> DriveHealthReport in
                var r = DriveHealthReport(drive: d.id.description, state: n.state == .up ? d.state.rawValue : n.state.rawValue, health: d.health,
                                          usedBytes: d.usedBytes, capacityBytes: d.capacityBytes, chunkCount: d.chunkCount)
                r.healthNote = d.healthNote
                r.problem = d.problem
                let a = detector.assessments[d.id.description]
                r.score = a?.score
                r.evidence = a?.evidence
                r.latest = latest[d.id]?.telemetry
                r.smart = smart[d.id]
                r.smartNote = smart[d.id] == nil ? (smartNotes[d.id] ?? "no SMART reported yet") : nil
                if let p = prediction(d.id) {
                    r.failureProbability = p.probability
                    r.predictedFailing = p.failing
                    r.horizonDays = p.horizonDays
                    r.predictionNote = p.factors.joined(separator: "; ")
                }
                return r
            }
        }
        return HealthReport(drives: drives, events: saved.events, autoEvict: policy.autoEvict, evictAfterS: policy.evictAfterS,
                            maxEvictionsPerHour: policy.maxEvictionsPerHour,
                            evictionsLastHour: saved.autoEvictions.filter { now - $0 < 3_600 }.count,
                            faultInjection: faultInjection, model: predictor.trainedOn)
    }
}
