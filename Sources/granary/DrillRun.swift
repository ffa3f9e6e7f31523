import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryMeta
import GranaryTestSupport
import GranaryTransport
import Logging

/// One fault drill: starts a cluster (embedded, or on namespaced hosts with two managers sharing
/// PostgreSQL), seeds it with files, runs the steady load (`DrillLoad`) and the scenarios one
/// after another, each from injection until the cluster is whole again, then stops the load, runs
/// a final scrub and reads every committed file back.
///
/// Guarantees: every process, mount and namespace it made is gone on every path out (SIGINT and
/// SIGTERM included, which it watches); the report counts every client error and every wrong
/// byte; `dataLost` is decided by reading every committed file at the end.
final class DrillRun {
    /// What to run and for how long.
    struct Settings {
        var netns = false
        var long = false
        var dir: String
        var tag: String
        var scenarios: [DrillScenario]
        /// How long each fault is held under load before it is removed (where the drill removes it).
        var holdSeconds: Double
        /// Load before the first fault and between faults, after each heal.
        var settleSeconds: Double
        var healBoundSeconds: Double
        var seedFiles: Int
        var writeBytesPerSecond: Int
        var readers = 2
        var writers = 1
        var progress: @Sendable (String) -> Void
    }

    let settings: Settings
    let signals: SignalWatch
    var cluster: DrillCluster?
    var manager: ManagerClient?
    var client: FileClient?
    var transport: TCPTransport?
    let load: DrillLoad
    let started = FileClient.seconds()
    /// Processes the drill killed and has not restarted yet (their exit is expected).
    var killed: Set<String> = []
    /// The drive the full-drive scenario fills (a tmpfs), chosen before the cluster starts.
    let tmpfsDrive = DriveID(parsing: "node-2/d1")

    static let nodes = 7
    static let drives = 2
    static let layout = StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy")

    init(settings: Settings, signals: SignalWatch) {
        self.settings = settings
        self.signals = signals
        load = DrillLoad(directory: "/drill", minSize: 4 << 10, maxSize: 768 << 10, writeBytesPerSecond: settings.writeBytesPerSecond)
    }

    func say(_ line: String) { settings.progress(String(format: "[%6.1f s] ", FileClient.seconds() - started) + line) }

    var repair: DaemonConfig.Repair {
        var r = DaemonConfig.Repair()
        r.intervalMs = 200
        // Slow enough that a rebuild pass lasts long enough to kill the manager in the middle of
        // it, fast enough that a node's fragments move in seconds.
        r.rebuildMBps = 2
        r.downOutMs = 5_000
        r.scrubIntervalS = 0
        r.scrubMBps = 400
        r.gcIntervalS = 5
        r.gcGraceS = 120
        return r
    }

    var health: HealthPolicy {
        var h = HealthPolicy()
        h.suspectAfterS = 3
        h.clearAfterS = 4
        // The slow drive is routed around, not evicted, within a short drill (eviction and its
        // rebuild are what `granary bench health` measures).
        h.evictAfterS = 600
        h.actOnPrediction = false
        return h
    }

    var clusterText: String {
        let managers = settings.netns ? "2 managers sharing PostgreSQL" : "1 manager (SQLite)"
        let hosts = settings.netns ? ", one network namespace per host (veth to a bridge)" : ", processes on loopback"
        return "\(managers) + \(Self.nodes) storage nodes × \(Self.drives) directory drives\(hosts); layout 4+2, 64 KiB fragments; "
            + "load: \(settings.writers) writer (\(ByteSizeText.format(Int64(settings.writeBytesPerSecond)))/s, files of 4–768 KiB) and \(settings.readers) readers, every byte checked"
    }

    // MARK: Running

    func run() async throws(DrillError) -> DrillReport {
        var report = DrillReport(variant: settings.netns ? "netns" : "embedded", cluster: clusterText)
        try? FileManager.default.removeItem(atPath: settings.dir)
        var hosts: NetnsHosts?
        defer {
            cluster?.stop()
            transport?.closeAll()
            manager?.close()
            hosts?.destroy()
        }
        if settings.netns {
            if let why = NetnsHosts.unavailable { throw .setup("the namespaced-hosts drill cannot run: \(why)") }
            say("building \(Self.nodes) namespaced hosts (tag \(settings.tag))")
            do { hosts = try NetnsHosts(count: Self.nodes, tag: settings.tag) } catch { throw .setup("\(error)") }
            guard let built = hosts else { throw .setup("internal: no hosts") }
            do {
                return try await PostgresTestServer.withDatabaseAsync(host: built.gateway) { (url: String) async throws -> DrillReport in
                    self.say("PostgreSQL for the managers at \(built.gateway)")
                    return try await self.drill(&report, hosts: built, meta: url)
                }
            } catch let e as DrillError { throw e } catch {
                throw .setup("PostgreSQL for the managers: \(error)")
            }
        }
        return try await drill(&report, hosts: nil, meta: nil)
    }

    private func drill(_ report: inout DrillReport, hosts: NetnsHosts?, meta: String?) async throws(DrillError) -> DrillReport {
        let wantsTmpfs = settings.scenarios.contains(.fullDrive)
        say("starting \(hosts == nil ? 1 : 2) manager(s) and \(Self.nodes) storage nodes in \(settings.dir)")
        let cluster = try DrillCluster(dir: settings.dir, nodes: Self.nodes, drives: Self.drives, managers: hosts == nil ? 1 : 2, meta: meta,
                                       leaseMs: 5_000, hosts: hosts, heartbeatTimeoutMs: 3_000, repair: repair, health: health,
                                       tmpfs: wantsTmpfs ? tmpfsDrive : nil, tmpfsBytes: 64 << 20)
        self.cluster = cluster
        if let note = cluster.tmpfsNote { say(note) }
        let manager = try cluster.managerClient()
        self.manager = manager
        _ = try await waitUntil("every node and drive up", seconds: 60) { await self.wholeReason() }
        let transport = TCPTransport(secret: try cluster.secret(), logger: cluster.logger)
        self.transport = transport
        var clientSettings = FileClientSettings()
        // Fresh maps: a client must see a node come and go within the drill's short phases.
        clientSettings.mapMaxAgeMs = 500
        clientSettings.hedgeAfterMs = 1_000
        clientSettings.fragmentTimeoutMs = 5_000
        let client = FileClient(managers: cluster.managerEndpoints, transport: transport, settings: clientSettings, logger: cluster.logger)
        self.client = client
        do {
            let dir = try await client.meta.mkdirAll(load.directory)
            try await client.meta.setLayout(dir.id, Self.layout)
            say("writing \(settings.seedFiles) files to start with")
            try await load.seed(client, count: settings.seedFiles)
        } catch {
            throw .setup("seeding the cluster failed: \(error)")
        }

        let load = self.load
        let readers = settings.readers, writers = settings.writers
        let running = Task { await load.run(client, writers: writers, readers: readers) }
        say("load running: \(writers) writer, \(readers) readers")
        do {
            try await hold(settings.settleSeconds)
            for scenario in settings.scenarios {
                let result = try await run(scenario)
                report.scenarios.append(result)
                let verdict = result.skipped.map { "skipped: \($0)" } ?? (result.passed
                    ? String(format: "healed in %.1f s", result.healSeconds ?? 0) : "FAILED: \(result.failure ?? "")")
                say("\(scenario.rawValue): \(verdict); \(result.load.reads) reads, \(result.load.writes) writes, "
                    + "\(result.load.readErrors + result.load.writeErrors) client errors, \(result.load.wrongBytes) wrong")
                if !result.passed, result.skipped == nil, result.healSeconds == nil {
                    // Not healed: later scenarios would measure this one's leftovers.
                    break
                }
                try await hold(settings.settleSeconds)
            }
        } catch {
            load.stop.store(true, ordering: .relaxed)
            await running.value
            throw error
        }
        load.stop.store(true, ordering: .relaxed)
        await running.value
        say("load stopped")
        try await finish(&report, client: client)
        // Stop the processes here, while the database they use still exists (the caller drops it).
        cluster.stop()
        return report
    }

    /// The final scrub and the read-back of every file, and the totals.
    private func finish(_ report: inout DrillReport, client: FileClient) async throws(DrillError) {
        if let manager {
            say("final scrub")
            if let scrub = try? await scrub(manager, seconds: settings.healBoundSeconds) {
                report.finalScrubCorrupt = scrub.corrupt
                report.finalScrubUnrepairable = scrub.unrepairable
                say("final scrub: \(scrub.stripesChecked) stripes, \(scrub.fragmentsChecked) fragments, \(scrub.corrupt) corrupt, \(scrub.unrepairable) unrepairable")
            } else {
                say("final scrub did not finish within \(Int(settings.healBoundSeconds)) s")
            }
        }
        let committed = load.committed.withLock { $0 }
        let uncertain = load.uncertain.withLock { $0 }
        say("reading back all \(committed.count) committed files and \(uncertain.count) whose write failed")
        let outcomes = await withTaskGroup(of: (DrillLoad.FileRecord, String?, Int64).self) { group in
            var results: [(DrillLoad.FileRecord, String?, Int64)] = []
            var next = 0
            func add() {
                guard next < committed.count else { return }
                let record = committed[next]
                next += 1
                group.addTask { await Self.readBack(client, record) }
            }
            for _ in 0..<4 { add() }
            for await r in group {
                results.append(r)
                add()
            }
            return results
        }
        var verified: Int64 = 0
        for (record, problem, bytes) in outcomes {
            verified += bytes
            if let problem {
                report.dataLost.files += 1
                report.dataLost.bytes += Int64(record.size)
                if report.dataLost.examples.count < 10 { report.dataLost.examples.append("\(record.path): \(problem)") }
            }
        }
        for record in uncertain {
            // A write that failed must leave the file whole or absent.
            if let bytes = try? await client.readFile(record.path) {
                if DrillLoad.matches(bytes, record) { verified += Int64(bytes.count) } else {
                    report.uncertainWrong += 1
                    report.wrongExamples.append("\(record.path): its write failed, yet it exists with \(bytes.count) other bytes")
                }
            }
        }
        let totals = load.snapshot
        report.load = totals
        report.operations = totals.reads + totals.writes
        report.bytesVerified = totals.bytesVerified + verified
        report.clientErrors = totals.readErrors + totals.writeErrors
        report.wrongBytes = totals.wrongBytes + report.uncertainWrong
        report.wrongExamples = load.wrongSamples.withLock { $0 } + report.wrongExamples
        report.errorExamples = Array(load.errorSamples.withLock { $0 }.suffix(5))
        report.filesCommitted = committed.count
        report.filesUncertain = uncertain.count
        report.seconds = (FileClient.seconds() - started).rounded()
        report.passed = report.dataLost.files == 0 && report.wrongBytes == 0 && report.scenarios.allSatisfy(\.passed)
            && (report.finalScrubUnrepairable ?? 0) == 0 && report.finalScrubCorrupt != nil
    }

    /// Reads `record` back, up to three times (a read may meet the tail of a repair); returns the
    /// problem when it never read back identical, and the bytes verified.
    static func readBack(_ client: FileClient, _ record: DrillLoad.FileRecord) async -> (DrillLoad.FileRecord, String?, Int64) {
        var problem = ""
        for attempt in 0..<3 {
            if attempt > 0 { try? await Task.sleep(for: .seconds(1)) }
            do {
                let bytes = try await client.readFile(record.path)
                if DrillLoad.matches(bytes, record) { return (record, nil, Int64(bytes.count)) }
                return (record, "read \(bytes.count) bytes that are not the file's", 0)
            } catch {
                problem = "\(error)"
            }
        }
        return (record, problem, 0)
    }

    // MARK: Waiting

    /// Keeps the load running for `seconds`, watching for signals and processes that died.
    func hold(_ seconds: Double) async throws(DrillError) {
        let end = FileClient.seconds() + seconds
        while FileClient.seconds() < end {
            try checkAlive()
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    func checkAlive() throws(DrillError) {
        if let s = signals.signal { throw .interrupted(s) }
        if let cluster, let dead = cluster.unexpectedExit(except: killed) {
            throw .setup("\(dead.name) exited with status \(dead.status):\n\(cluster.logTail(dead.name))")
        }
    }

    /// Polls `check` (nil: done; otherwise what is still missing) until it is done and returns
    /// the seconds it took; throws after `seconds` with the last thing missing.
    @discardableResult
    func waitUntil(_ what: String, seconds: Double, _ check: () async -> String?) async throws(DrillError) -> Double {
        let start = FileClient.seconds()
        var missing = "not checked yet"
        var said = start
        while FileClient.seconds() - start < seconds {
            try checkAlive()
            guard let m = await check() else { return FileClient.seconds() - start }
            missing = m
            // What is still missing, every 5 s of a long wait: a slow heal shows where it stands.
            if FileClient.seconds() - said >= 5 {
                say("waiting for \(what): \(m)")
                said = FileClient.seconds()
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        throw .timedOut("\(what) within \(Int(seconds)) s; still: \(missing)")
    }

    /// Nil when the cluster is whole: every node and drive up and none evicted, no stripe degraded or
    /// shrunk, no rebuild pass running, and (several managers) exactly one leading with every
    /// manager reachable. Otherwise the first thing that is not.
    func wholeReason() async -> String? {
        guard let manager else { return "no manager client" }
        let map: ClusterMap
        do { map = try await manager.clusterMap() } catch { return "no cluster map: \(error)" }
        if map.nodes.count < Self.nodes { return "\(map.nodes.count) of \(Self.nodes) nodes registered" }
        if let n = map.nodes.first(where: { $0.state != .up }) { return "\(n.id) is \(n.state)" }
        if map.drives.count < Self.nodes * Self.drives { return "\(map.drives.count) of \(Self.nodes * Self.drives) drives registered" }
        if let d = map.drives.first(where: { $0.state != .up }) { return "\(d.id) is \(d.state)\(d.problem.map { ": \($0)" } ?? "")" }
        // Suspect is not a loss of redundancy (reads go around the drive, its fragments stay): on a
        // busy small machine the fail-slow detector may call a drive suspect that the drill never
        // touched, and waiting for it to clear would measure the machine, not the heal. Evicted is.
        if let d = map.drives.first(where: { $0.health == .evicted }) { return "\(d.id) is evicted" }
        let repair: RepairStatus
        do { repair = try await manager.repairStatus() } catch { return "no repair status: \(error)" }
        if let p = repair.pass { return "\(p.kind) pass at \(p.stripesDone)/\(p.stripesTotal) stripes" }
        if repair.degradedStripes > 0 { return "\(repair.degradedStripes) stripes degraded (\(repair.state)\(repair.waitingFor.map { ": \($0)" } ?? ""))" }
        if repair.shrunkStripes > 0 { return "\(repair.shrunkStripes) stripes shrunk" }
        if settings.netns {
            let statuses = await manager.managerStatuses()
            if let u = statuses.first(where: { $0.unreachable != nil }) { return "\(u.name) unreachable: \(u.unreachable ?? "")" }
            if statuses.filter(\.leading).count != 1 { return "\(statuses.filter(\.leading).count) managers leading" }
        }
        return nil
    }

    /// `body`'s result, retried for up to 20 s: a manager call made while leadership moves (a
    /// manager just killed or restarted) may meet no leader for a few seconds.
    func retrying<T>(_ what: String, _ body: () async throws -> T) async throws(DrillError) -> T {
        let start = FileClient.seconds()
        while true {
            try checkAlive()
            do { return try await body() } catch {
                if FileClient.seconds() - start > 20 { throw .setup("\(what) failed: \(error)") }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Starts a scrub pass and waits for it to finish; returns its totals.
    func scrub(_ manager: ManagerClient, seconds: Double) async throws(DrillError) -> RepairStatus.Scrub {
        let asked = Date().timeIntervalSince1970
        var result: RepairStatus.Scrub?
        try await waitUntil("a scrub pass", seconds: seconds) {
            guard let s = try? await manager.repairStatus() else { return "no repair status" }
            if !s.scrub.running, let start = s.scrub.startedAt, start >= asked - 0.5, s.scrub.finishedAt != nil {
                result = s.scrub
                return nil
            }
            // Ask (again) unless a pass we asked for is queued or running: a pass that was already
            // running when we asked does not count, and a restarted manager forgets a request.
            if !s.scrub.running && !s.scrub.requested { _ = try? await manager.startScrub() }
            return s.scrub.running ? "scrub at \(s.scrub.stripesChecked)/\(s.scrub.stripesTotal) stripes" : "scrub requested"
        }
        guard let result else { throw .timedOut("scrub finished without a result") }
        return result
    }
}
