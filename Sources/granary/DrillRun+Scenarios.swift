import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryTestSupport
import GranaryMeta

/// The scenarios: each injects its fault under the running load, holds it, removes it (where the
/// drill must), and waits until the cluster is whole again within the heal bound.
extension DrillRun {
    func run(_ scenario: DrillScenario) async throws(DrillError) -> DrillReport.Scenario {
        var result = DrillReport.Scenario(name: scenario.rawValue, what: scenario.what, passed: false, healBoundSeconds: settings.healBoundSeconds)
        guard let cluster, let manager, let client else { throw .setup("internal: no cluster") }
        let before = load.snapshot
        let injected = FileClient.seconds()
        say("\(scenario.rawValue): \(scenario.what)")
        do {
            switch scenario {
            case .corruptFragments: try await corruptFragments(&result, cluster, manager, client)
            case .killNode: try await killNode(&result, cluster)
            case .managerRestart: try await managerRestart(&result, cluster, manager)
            case .fullDrive: try await fullDrive(&result, cluster, manager)
            case .slowDrive: try await slowDrive(&result, manager)
            case .cutNetwork: try await cutNetwork(&result, cluster)
            }
            if result.skipped == nil {
                // Whole again: every check of `wholeReason`, on top of the scenario's own.
                try await waitUntil("the cluster to heal", seconds: max(1, settings.healBoundSeconds - (FileClient.seconds() - injected))) {
                    await self.wholeReason()
                }
                result.healSeconds = Self.round(FileClient.seconds() - injected)
            }
            // A scenario may fail on what it saw (its `failure`) and still let the cluster heal.
            result.passed = result.failure == nil
        } catch let e {
            if case .interrupted = e { throw e }
            result.failure = "\(e)"
        }
        result.load = load.snapshot - before
        if result.load.wrongBytes > 0 {
            result.passed = false
            result.failure = (result.failure.map { $0 + "; " } ?? "") + "\(result.load.wrongBytes) reads returned wrong bytes"
        }
        return result
    }

    static func round(_ v: Double) -> Double { (v * 10).rounded() / 10 }

    // MARK: Corrupt fragments

    /// Flips one byte near the end (in the fragment's data, past the chunk header) of one fragment
    /// of each of up to eight stripes of committed files, never two of one stripe; reads of those
    /// files must decode around them; then a scrub must find and repair them.
    private func corruptFragments(_ result: inout DrillReport.Scenario, _ cluster: DrillCluster, _ manager: ManagerClient,
                                  _ client: FileClient) async throws(DrillError) {
        let records = load.committed.withLock { Array($0.shuffled().prefix(24)) }
        var chosen: [(record: DrillLoad.FileRecord, path: String)] = []
        var stripesHit = Set<UInt64>()
        for record in records where chosen.count < 8 {
            guard let inode = try? await client.meta.resolve(record.path), let map = try? await client.meta.fileMap(inode.id) else { continue }
            guard let stripe = map.stripes.values.first(where: { !stripesHit.contains($0.id) }),
                  let fragment = stripe.fragments.randomElement() else { continue }
            let key = fragment.key(stripe: stripe.id)
            let path = cluster.drivePath(fragment.drive) + "/chunks/" + Self.hex2(stripe.id) + "/" + key.fileName
            guard Self.flipByte(path) else { continue }
            stripesHit.insert(stripe.id)
            chosen.append((record, path))
        }
        guard !chosen.isEmpty else { throw .setup("no chunk file of a committed file could be corrupted") }
        result.notes.append("flipped a byte in \(chosen.count) chunk files of \(chosen.count) stripes, e.g. \(chosen[0].path)")
        say("corrupt-fragments: flipped a byte in \(chosen.count) chunk files; reading their files")
        // Read each damaged file now (the readers may not pick them during the hold).
        var decoded = 0
        for c in chosen where await load.verify(client, c.record) { decoded += 1 }
        result.notes.append("\(decoded) of \(chosen.count) damaged files read back identical before the scrub")
        try await hold(settings.holdSeconds / 2)
        result.holdSeconds = Self.round(settings.holdSeconds / 2)
        say("corrupt-fragments: scrubbing")
        let scrub = try await scrub(manager, seconds: settings.healBoundSeconds)
        result.notes.append("scrub: \(scrub.stripesChecked) stripes, \(scrub.corrupt) corrupt fragments found, \(scrub.repaired) repaired, \(scrub.unrepairable) unrepairable")
        // A corrupted fragment of a stripe a rebuild rewrote meanwhile is no longer checked: the
        // scrub must find at least most of them, and everything it found must be repaired.
        guard scrub.corrupt >= (chosen.count + 1) / 2, scrub.unrepairable == 0, scrub.repaired >= scrub.corrupt else {
            throw .setup("the scrub found \(scrub.corrupt) of \(chosen.count) corrupted fragments, repaired \(scrub.repaired), \(scrub.unrepairable) unrepairable")
        }
    }

    /// The fan-out directory of a stripe's chunks: the low byte of its id, two lowercase hex digits.
    static func hex2(_ stripe: UInt64) -> String {
        let h = String(stripe & 0xff, radix: 16)
        return h.count == 1 ? "0" + h : h
    }

    /// Inverts one byte in the last 1,000 of a chunk file (fragment data, not the header).
    static func flipByte(_ path: String) -> Bool {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 4_096 else { return false }
        let offset = off_t(st.st_size) - off_t(Int.random(in: 1...1_000))
        var byte: UInt8 = 0
        guard pread(fd, &byte, 1, offset) == 1 else { return false }
        byte = ~byte
        return pwrite(fd, &byte, 1, offset) == 1
    }

    // MARK: Kill a storage node

    /// SIGKILLs a storage node once a read and a write are in flight, holds (it is called down and,
    /// past `down_out_ms`, its fragments are rebuilt elsewhere), starts it again.
    private func killNode(_ result: inout DrillReport.Scenario, _ cluster: DrillCluster) async throws(DrillError) {
        let node = cluster.nodeNames[3 % cluster.nodeNames.count]
        let inFlight = await waitForInFlight()
        cluster.kill9(node)
        killed.insert(node)
        let at = FileClient.seconds()
        result.notes.append("\(node) killed with \(inFlight.reads) reads and \(inFlight.writes) writes in flight")
        say("kill-node: \(node) killed (SIGKILL) with \(inFlight.reads) reads and \(inFlight.writes) writes in flight")
        try await waitUntil("\(node) to be called down", seconds: 30) { await self.nodeState(node) == .down ? nil : "not down yet" }
        result.notes.append(String(format: "%@ called down after %.1f s", node, FileClient.seconds() - at))
        try await hold(max(0, settings.holdSeconds - (FileClient.seconds() - at)))
        result.holdSeconds = Self.round(FileClient.seconds() - at)
        try cluster.restart(node)
        killed.remove(node)
        say("kill-node: \(node) started again")
    }

    /// Waits (up to 3 s) until the load has a read and a write in flight, so a kill lands mid-read
    /// and mid-write; returns what was in flight.
    private func waitForInFlight() async -> (reads: Int, writes: Int) {
        let end = FileClient.seconds() + 3
        while FileClient.seconds() < end {
            let r = load.readsInFlight.load(ordering: .relaxed), w = load.writesInFlight.load(ordering: .relaxed)
            if r > 0 && w > 0 { return (r, w) }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return (load.readsInFlight.load(ordering: .relaxed), load.writesInFlight.load(ordering: .relaxed))
    }

    private func nodeState(_ node: String) async -> NodeState? {
        guard let map = try? await manager?.clusterMap() else { return nil }
        return map.nodes.first { $0.id.rawValue == node }?.state
    }

    // MARK: Manager restart mid-rebuild

    /// Evicts the fullest drive so a rebuild pass starts, SIGKILLs the leading manager while the
    /// pass is under way, starts it again; the pass must complete (resumed by the restarted
    /// manager, or by the other one where two share the database). The drive rejoins after.
    private func managerRestart(_ result: inout DrillReport.Scenario, _ cluster: DrillCluster, _ manager: ManagerClient) async throws(DrillError) {
        let report = try await retrying("the health report") { try await manager.health() }
        guard let fullest = report.drives.filter({ $0.health == .healthy && $0.drive != tmpfsDrive?.description }).max(by: { $0.chunkCount < $1.chunkCount }),
              let drive = DriveID(parsing: fullest.drive) else { throw .setup("no healthy drive to evict") }
        let leaderName = await leadingManager(cluster, manager)
        _ = try await retrying("evicting \(drive)") { try await manager.evict(drive, reason: "fault drill: a rebuild for the manager to die in") }
        let at = FileClient.seconds()
        say("manager-restart: \(drive) evicted (\(fullest.chunkCount) chunks); waiting for the rebuild pass")
        var progress = ""
        try await waitUntil("a rebuild pass to start", seconds: 30) {
            guard let s = try? await manager.repairStatus(), let p = s.pass, p.kind == "rebuild" else { return "no pass yet" }
            progress = "\(p.stripesDone)/\(p.stripesTotal) stripes"
            return nil
        }
        // Let it get going, so the kill lands in the middle rather than at the start.
        try? await Task.sleep(for: .milliseconds(300))
        if let s = try? await manager.repairStatus(), let p = s.pass { progress = "\(p.stripesDone)/\(p.stripesTotal) stripes, \(ByteSizeText.format(p.bytesWritten)) written" }
        cluster.kill9(leaderName)
        killed.insert(leaderName)
        result.notes.append("\(leaderName) killed (SIGKILL) mid-rebuild at \(progress)")
        say("manager-restart: \(leaderName) killed mid-rebuild at \(progress)")
        try await hold(settings.netns ? settings.holdSeconds / 2 : 1)
        try cluster.restart(leaderName)
        killed.remove(leaderName)
        result.holdSeconds = Self.round(FileClient.seconds() - at)
        say("manager-restart: \(leaderName) started again; waiting for the rebuild to finish")
        // The eviction must outlive the manager: the drive stays evicted and the pass moves every
        // fragment off it (no stripe degraded while it is retired).
        var forgotten = false
        var finished: RepairStatus.Pass?
        try await waitUntil("the rebuild off \(drive) to finish", seconds: settings.healBoundSeconds) {
            guard let map = try? await manager.clusterMap(), map.nodes.allSatisfy({ $0.state == .up }),
                  let info = map.drives.first(where: { $0.id == drive }) else { return "nodes not all up again" }
            if info.health != .evicted {
                forgotten = true
                return nil
            }
            guard let s = try? await manager.repairStatus() else { return "no repair status" }
            if s.pass == nil, s.degradedStripes == 0, s.retiredDrives.contains(drive.description) {
                finished = s.lastPass
                return nil
            }
            return s.pass.map { "pass at \($0.stripesDone)/\($0.stripesTotal)" } ?? "\(s.degradedStripes) stripes degraded"
        }
        if forgotten {
            // Found by this drill: the scenario fails, but the cluster is whole (the drive holds its
            // fragments and serves them), so the drill goes on.
            let health = (try? await manager.health())?.drives.first { $0.drive == drive.description }
            result.failure = "\(drive) was evicted before the manager was killed but is \(health?.health.rawValue ?? "healthy") in the cluster map after the restart: "
                + "the eviction was forgotten and the rebuild pass off it ended without moving anything"
        } else if let f = finished {
            result.notes.append("rebuild finished: \(f.stripesDone) stripes done, \(f.stripesFailed) failed, \(ByteSizeText.format(f.bytesWritten)) written")
        }
        _ = try await retrying("rejoining \(drive)") { try await manager.rejoin(drive, reason: "fault drill done") }
        result.notes.append("\(drive) rejoined")
    }

    /// The name of the manager that leads (the only one in the embedded variant).
    private func leadingManager(_ cluster: DrillCluster, _ manager: ManagerClient) async -> String {
        guard cluster.managerNames.count > 1 else { return cluster.managerNames[0] }
        let statuses = await manager.managerStatuses()
        guard let i = statuses.firstIndex(where: \.leading), i < cluster.managerNames.count else { return cluster.managerNames[0] }
        return cluster.managerNames[i]
    }

    // MARK: Full drive

    /// Fills the tmpfs drive to ENOSPC with a file beside its chunks, holds under load (writes
    /// must land elsewhere or fail cleanly, the node keeps serving its other drive), empties it.
    private func fullDrive(_ result: inout DrillReport.Scenario, _ cluster: DrillCluster, _ manager: ManagerClient) async throws(DrillError) {
        guard let drive = cluster.tmpfsDrive else {
            result.skipped = cluster.tmpfsNote ?? "no tmpfs drive"
            return
        }
        let filler = cluster.drivePath(drive) + "/drill-filler"
        let written = Self.fill(filler)
        let at = FileClient.seconds()
        result.notes.append("\(drive) filled with \(ByteSizeText.format(written.bytes)) until \(written.stop)")
        say("full-drive: \(drive) filled (\(ByteSizeText.format(written.bytes)), \(written.stop))")
        let writesBefore = load.snapshot
        try await hold(settings.holdSeconds)
        let during = load.snapshot - writesBefore
        result.holdSeconds = Self.round(FileClient.seconds() - at)
        // The node must have stayed up, serving its other drive.
        if let map = try? await manager.clusterMap() {
            let node = map.nodes.first { $0.id == drive.node }
            let others = map.drives.filter { $0.id.node == drive.node && $0.id != drive }
            result.notes.append("while full: \(drive.node) \(node.map { "\($0.state)" } ?? "missing"), its other drives \(others.map { "\($0.id) \($0.state)" }.joined(separator: ", ")); \(during.writes) writes committed, \(during.writeErrors) failed")
            guard node?.state == .up, others.allSatisfy({ $0.state == .up }) else {
                unlink(filler)
                throw .setup("\(drive.node) or its other drive went down while \(drive) was full")
            }
        }
        unlink(filler)
        say("full-drive: \(drive) emptied")
        if during.writes == 0 { throw .setup("no write succeeded while \(drive) was full") }
    }

    /// Writes zeros to `path` until the file system refuses; returns the bytes written and why it
    /// stopped.
    static func fill(_ path: String) -> (bytes: Int64, stop: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return (0, "open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while total < (1 << 30) {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return (total, n < 0 ? String(cString: strerror(errno)) : "a short write") }
            total += Int64(n)
        }
        return (total, "1 GiB written without ENOSPC")
    }

    // MARK: Slow drive

    /// Injects latency on one drive's operations; holds until the manager calls it suspect (reads
    /// then go around it) or the hold ends; clears the fault and rejoins it.
    private func slowDrive(_ result: inout DrillReport.Scenario, _ manager: ManagerClient) async throws(DrillError) {
        guard let drive = DriveID(parsing: "node-5/d0") else { throw .setup("internal: bad drive id") }
        let latency = 200.0
        _ = try await retrying("injecting latency on \(drive)") { try await manager.inject(drive, FaultSpec(latencyMs: latency)) }
        let at = FileClient.seconds()
        say("slow-drive: \(Int(latency)) ms added to every operation of \(drive)")
        var suspectAfter: Double?
        let end = at + max(settings.holdSeconds, 12)
        while FileClient.seconds() < end {
            try checkAlive()
            if suspectAfter == nil, let h = try? await manager.health(), h.drives.contains(where: { $0.drive == drive.description && $0.health != .healthy }) {
                suspectAfter = FileClient.seconds() - at
                say(String(format: "slow-drive: %@ suspect after %.1f s; reads go around it", drive.description, suspectAfter ?? 0))
                // Hold a little longer while routed around, then clear.
                try await hold(min(3, settings.holdSeconds / 2))
                break
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        result.holdSeconds = Self.round(FileClient.seconds() - at)
        result.notes.append(suspectAfter.map { String(format: "%@ suspect after %.1f s", drive.description, $0) } ?? "\(drive) was not suspected within the hold")
        _ = try await retrying("clearing the fault on \(drive)") { try await manager.inject(drive, FaultSpec()) }
        _ = try await retrying("rejoining \(drive)") { try await manager.rejoin(drive, reason: "fault drill: latency removed") }
        say("slow-drive: fault cleared, \(drive) rejoined")
    }

    // MARK: Cut a host's network

    /// Takes the link of a host that runs a storage node and no manager down, holds (it is called
    /// down, then out: its fragments are rebuilt on the other hosts), brings it back.
    private func cutNetwork(_ result: inout DrillReport.Scenario, _ cluster: DrillCluster) async throws(DrillError) {
        guard let hosts = cluster.hosts else {
            result.skipped = "needs the namespaced hosts (--netns)"
            return
        }
        let host = 4
        let node = cluster.nodeNames[host % cluster.nodeNames.count]
        do { try hosts.cut(host) } catch { throw .setup("cut-network: \(error)") }
        let at = FileClient.seconds()
        say("cut-network: host \(host) (\(hosts.address(host)), \(node)) cut off")
        do {
            try await waitUntil("\(node) to be called down", seconds: 30) { await self.nodeState(node) == .down ? nil : "not down yet" }
            result.notes.append(String(format: "%@ called down after %.1f s", node, FileClient.seconds() - at))
            try await hold(max(0, settings.holdSeconds - (FileClient.seconds() - at)))
        } catch {
            try? hosts.heal(host)
            throw error
        }
        do { try hosts.heal(host) } catch { throw .setup("cut-network: \(error)") }
        result.holdSeconds = Self.round(FileClient.seconds() - at)
        say("cut-network: host \(host) link back up")
    }
}
