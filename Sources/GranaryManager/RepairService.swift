import Foundation
import GranaryClient
import GranaryCore
import GranaryMeta
import Logging

/// Keeps every stripe able to lose m fragments: rebuilds fragments off failed, evicted and
/// long-down drives (narrower when failure domains are short, "shrink"), widens shrunk stripes
/// again when domains return ("expand"), scrubs fragments against their checksums and repairs
/// them, and collects the fragments nothing names any more.
///
/// Guarantees:
/// - a stripe is never less safe while it is worked on: new fragments are written under a new
///   generation, the new record is installed only if the stripe did not change meanwhile
///   (compare-and-swap on its version), and the old fragments are deleted only after that;
/// - the work to do is derived from the metadata at every scan, so a manager that restarts picks up
///   where it stopped; counters and the scrub's position are saved with the metadata;
/// - rebuild writes and scrub reads are throttled to their configured MB/s;
/// - one stripe that cannot be repaired is reported (stripe id and cause) and does not stop the rest.
public actor RepairService {
    static let stateName = "repair"

    let store: any MetaStore
    let manager: ClusterManager
    let files: FileClient
    let settings: DaemonConfig.Repair
    let logger: Logger
    let clock: @Sendable () -> Double
    /// When this manager started: a node seen down since then counts as down from here.
    let startedAt: Double
    private(set) var status: RepairStatus
    private var lastSaved = 0.0
    private var lastCollection: Double

    public init(store: any MetaStore, manager: ClusterManager, files: FileClient, settings: DaemonConfig.Repair, logger: Logger,
                clock: @escaping @Sendable () -> Double = ClusterManager.wallClock) {
        self.store = store
        self.manager = manager
        self.files = files
        self.settings = settings
        self.logger = logger
        self.clock = clock
        startedAt = clock()
        lastCollection = startedAt
        var loaded = RepairStatus()
        do {
            if let text = try store.serviceState(Self.stateName) {
                loaded = try JSONDecoder().decode(RepairStatus.self, from: Data(text.utf8))
            }
        } catch {
            logger.error("repair: the saved repair state could not be read, starting its counters afresh: \(error)")
        }
        loaded.rebuildLimitMBps = settings.rebuildMBps
        status = loaded
        if let p = loaded.pass { logger.notice("repair: resuming the \(p.kind) pass started at \(p.startedAt) (\(p.stripesDone) of \(p.stripesTotal) stripes done)") }
        if loaded.scrub.running { logger.notice("repair: resuming the scrub after stripe \(String(loaded.scrub.cursor, radix: 16))") }
    }

    /// The current status.
    public var current: RepairStatus { status }

    /// Asks for a scrub pass; it starts within a second unless one is running already.
    public func requestScrub() -> RepairStatus {
        if !status.scrub.running { status.scrub.requested = true }
        return status
    }

    /// Starts the three loops (rebuild and expand, scrub, collection); cancel the tasks to stop.
    public nonisolated func start() -> [Task<Void, Never>] {
        let interval = settings.intervalMs
        return [
            Task { [self] in
                while !Task.isCancelled {
                    await rebuildScan()
                    try? await Task.sleep(for: .milliseconds(interval))
                }
            },
            Task { [self] in
                while !Task.isCancelled {
                    if await !scrubStep() { try? await Task.sleep(for: .milliseconds(min(interval, 1_000))) }
                }
            },
            Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(min(interval, 1_000)))
                    await collectIfDue()
                }
            },
        ]
    }

    // MARK: Rebuild, shrink, expand

    /// Drives whose fragments must move: failed, drained, evicted by the health monitor, or on a node down longer than
    /// `downOutMs` (counted from this manager's start when it never saw the node up).
    public static func retiredDrives(_ map: ClusterMap, now: Double, since: Double, downOutMs: Int) -> Set<DriveID> {
        var out: Set<DriveID> = []
        for node in map.nodes {
            let downFor = now - max(node.lastHeartbeat ?? 0, since)
            let nodeOut = node.state == .drained || (node.state == .down && downFor * 1000 > Double(downOutMs))
            for d in node.drives where nodeOut || d.state == .failed || d.state == .drained || d.health == .evicted { out.insert(d.id) }
        }
        return out
    }

    /// Failure domains a stripe can use: nodes that are up with at least one up, healthy drive not retired.
    public static func healthyNodes(_ map: ClusterMap, retired: Set<DriveID>) -> Int {
        map.nodes.filter { n in n.state == .up && n.drives.contains { $0.state == .up && $0.health == .healthy && !retired.contains($0.id) } }.count
    }

    /// Drives a fragment can be written to: up, on an up node, not retired.
    static func usableDrives(_ map: ClusterMap, retired: Set<DriveID>) -> Int {
        map.writableDrives.filter { !retired.contains($0.id) }.count
    }

    /// Whether shrunk stripe `s` can go back to its wide layout: one fragment per node when it was
    /// shrunk over distinct nodes (k + m nodes must be up), or, when it was shrunk over drives
    /// because fewer than m + 1 nodes were left, as soon as k + m drives are usable again.
    static func canExpand(_ s: Stripe, domains: Int, drives: Int) -> Bool {
        let overNodes = Set(s.fragments.map(\.drive.node)).count == s.fragments.count
        return overNodes ? domains >= s.targetLayout.width : drives >= s.targetLayout.width
    }

    /// One scan: stripes with fragments on retired drives first; when there are none, shrunk
    /// stripes that can be widened again.
    func rebuildScan() async {
        let map = await manager.clusterMap
        let now = clock()
        let retired = Self.retiredDrives(map, now: now, since: startedAt, downOutMs: settings.downOutMs)
        let domains = Self.healthyNodes(map, retired: retired)
        // Nodes that are down but not yet out (a reboot, a manager restart before their first
        // heartbeat) will likely return: no stripe is narrowed while one is away.
        let drives = Self.usableDrives(map, retired: retired)
        let awaited = map.nodes.filter { n in n.state == .down && n.drives.contains { !retired.contains($0.id) } }.count
        status.retiredDrives = retired.map(\.description).sorted()
        let degraded: Int, shrunk: Int
        do {
            degraded = try store.countStripes(onDrives: retired)
            // Every scan, so a count on the partial index rather than a census of all stripes.
            shrunk = try store.countShrunkStripes()
        } catch {
            problem("repair scan could not read the metadata: \(error)")
            return
        }
        status.degradedStripes = degraded
        status.shrunkStripes = shrunk
        status.waitingFor = nil
        if degraded > 0 {
            await work(kind: "rebuild", remaining: degraded, map: map) { after throws(MetaError) in
                try self.store.stripes(onDrives: retired, after: after, limit: 32)
            } each: { s in
                await self.moveOff(s, retired: retired, domains: domains, awaited: awaited, map: map)
            }
            if status.waitingFor != nil { status.state = "waiting" }
        } else if shrunk > 0, let sample = try? store.shrunkStripes(after: 0, limit: 1_000),
                  sample.contains(where: { Self.canExpand($0, domains: domains, drives: drives) }) {
            await work(kind: "expand", remaining: shrunk, map: map) { after throws(MetaError) in
                try self.store.shrunkStripes(after: after, limit: 32)
            } each: { s in
                guard Self.canExpand(s, domains: domains, drives: drives) else { return .skipped }
                return await self.reencode(s, as: s.targetLayout, wide: nil, avoiding: retired, map: map, kind: .expanded)
            }
        } else {
            finishPass(now: now)
            status.state = shrunk > 0 ? "waiting" : "idle"
            if shrunk > 0 { status.waitingFor = "shrunk stripes are expanded when enough failure domains are up again" }
        }
        save(force: false)
    }

    enum Outcome { case rebuilt, shrunk, expanded, skipped, waiting, failed }

    /// Runs `each` over the stripes `batch` lists (by id), pacing writes to the rebuild limit.
    private func work(kind: String, remaining: Int, map: ClusterMap, batch: (UInt64) throws(MetaError) -> [Stripe],
                      each: (Stripe) async -> Outcome) async {
        let now = clock()
        if status.pass?.kind != kind {
            finishPass(now: now)
            status.pass = RepairStatus.Pass(kind: kind, startedAt: now, stripesTotal: remaining)
            logger.notice("repair: \(kind) pass started: \(remaining) stripes")
            // At once, not on the half-second cadence: a manager killed in the first stripes of a
            // pass must find the pass on restart and resume it, not start another.
            save(force: true)
        }
        status.state = kind == "rebuild" ? "rebuilding" : "expanding"
        if var p = status.pass {
            p.stripesTotal = max(p.stripesTotal, p.stripesDone + remaining)
            status.pass = p
        }
        var after: UInt64 = 0
        while !Task.isCancelled {
            let stripes: [Stripe]
            do { stripes = try batch(after) } catch {
                problem("repair could not list stripes: \(error)")
                return
            }
            if stripes.isEmpty { break }
            for s in stripes {
                after = s.id
                let begun = clock()
                let before = status.pass?.bytesWritten ?? 0
                let outcome = await each(s)
                let written = (status.pass?.bytesWritten ?? 0) - before
                await pace(bytes: Int(written), mbps: settings.rebuildMBps, since: begun)
                guard var p = status.pass else { continue }
                p.busySeconds += clock() - begun
                p.updatedAt = clock()
                switch outcome {
                case .rebuilt: p.stripesDone += 1; p.rebuilt += 1; status.totalRebuilt += 1
                case .shrunk: p.stripesDone += 1; p.shrunk += 1; status.totalShrunk += 1
                case .expanded: p.stripesDone += 1; p.expanded += 1; status.totalExpanded += 1
                case .failed: p.stripesFailed += 1
                case .skipped, .waiting: break
                }
                // Stripes that became degraded after the pass was counted (a second node lost, new
                // writes landing on a drive that then failed) join it as the listing reaches them:
                // the total grows with them, so done + failed never passes it.
                p.stripesTotal = max(p.stripesTotal, p.stripesDone + p.stripesFailed)
                status.pass = p
                save(force: false)
            }
        }
    }

    /// Moves the fragments of `s` that sit on retired drives. Failure domains are nodes: with at
    /// least k + m healthy ones the lost fragments are rebuilt at full width, each on its own node;
    /// with fewer the stripe is re-encoded to (domains − m) + m so it can again lose m fragments.
    /// While `awaited` nodes are down but not out the stripe waits rather than narrowing. When even
    /// m + 1 nodes are not left, drives stand in for nodes (full width on distinct drives, or
    /// (drives − m) + m), so the stripe still survives m lost drives.
    private func moveOff(_ s: Stripe, retired: Set<DriveID>, domains: Int, awaited: Int, map: ClusterMap) async -> Outcome {
        let lost = Set(s.fragments.filter { retired.contains($0.drive) }.map(\.index))
        if lost.isEmpty { return .skipped }
        let target = s.targetLayout
        let m = s.layout.m
        if domains >= target.width && s.layout.k < target.k {
            return await reencode(s, as: target, wide: nil, avoiding: retired, map: map, kind: .expanded)
        }
        if domains >= s.layout.width { return await rebuild(s, lost: lost, retired: retired, map: map) }
        if awaited > 0 { return wait("a node is down but not yet out: stripes are not narrowed until it returns or down_out_ms passes") }
        if domains - m >= 1 {
            return await reencode(s, as: FileClient.shrunkLayout(target, k: domains - m, dataLength: s.dataLength), wide: target,
                                  avoiding: retired, map: map, kind: .shrunk)
        }
        let drives = Self.usableDrives(map, retired: retired)
        if drives >= s.layout.width { return await rebuild(s, lost: lost, retired: retired, map: map) }
        if drives - m >= 1 {
            return await reencode(s, as: FileClient.shrunkLayout(target, k: drives - m, dataLength: s.dataLength), wide: target,
                                  avoiding: retired, map: map, kind: .shrunk)
        }
        return wait("only \(drives) usable drives are left, and a stripe with \(m) parity fragments needs at least \(m + 1)")
    }

    private func rebuild(_ s: Stripe, lost: Set<Int>, retired: Set<DriveID>, map: ClusterMap) async -> Outcome {
        do {
            let rewrite = try await files.rebuildFragments(s, indices: lost, avoiding: retired, map: map)
            return await install(rewrite, replacing: s, map: map, outcome: .rebuilt)
        } catch {
            problem("stripe \(String(s.id, radix: 16)): rebuilding fragments \(lost.sorted()) failed: \(error)")
            return .failed
        }
    }

    /// A stripe the cluster cannot repair yet: said once in the status, not once per stripe.
    private func wait(_ reason: String) -> Outcome {
        status.waitingFor = reason
        return .waiting
    }

    private func reencode(_ s: Stripe, as layout: StripeLayout, wide: StripeLayout?, avoiding: Set<DriveID>, map: ClusterMap,
                          kind: Outcome) async -> Outcome {
        do {
            let rewrite = try await files.reencodeStripe(s, as: layout, wide: wide, avoiding: avoiding, map: map)
            return await install(rewrite, replacing: s, map: map, outcome: kind)
        } catch {
            problem("stripe \(String(s.id, radix: 16)): re-encoding \(s.layout.k)+\(s.layout.m) as \(layout.k)+\(layout.m) failed: \(error)")
            return .failed
        }
    }

    /// Commits `rewrite` if the stripe is still as it was read, then deletes the fragments it
    /// replaced; when the stripe changed or vanished meanwhile, deletes the new fragments instead.
    private func install(_ rewrite: FileClient.Rewrite, replacing old: Stripe, map: ClusterMap, outcome: Outcome) async -> Outcome {
        if var p = status.pass {
            p.bytesRead += Int64(rewrite.bytesRead)
            p.bytesWritten += Int64(rewrite.bytesWritten)
            status.pass = p
        }
        do {
            try store.replaceStripe(rewrite.stripe, expectedVersion: old.version)
        } catch {
            let fresh = rewrite.stripe.fragments.filter { !old.fragments.contains($0) }
            _ = await files.deleteFragments(stripe: old.id, fresh, map: map)
            switch error {
            case .staleStripe, .noSuchStripe: return .skipped
            default:
                problem("stripe \(String(old.id, radix: 16)): could not record its new layout: \(error)")
                return .failed
            }
        }
        let obsolete = rewrite.obsolete.filter { !rewrite.stripe.fragments.contains($0) }
        let left = await files.deleteFragments(stripe: old.id, obsolete, map: map)
        if !left.isEmpty {
            logger.info("repair: stripe \(String(old.id, radix: 16)): \(left.count) replaced fragments are on drives that are down; collection deletes them later")
        }
        logger.info("repair: stripe \(String(old.id, radix: 16)) \(old.layout.k)+\(old.layout.m) v\(old.version) -> \(rewrite.stripe.layout.k)+\(rewrite.stripe.layout.m) v\(rewrite.stripe.version) (\(outcome))")
        return outcome
    }

    private func finishPass(now: Double) {
        guard var p = status.pass else { return }
        p.finishedAt = now
        p.updatedAt = now
        logger.notice("repair: \(p.kind) pass finished: \(p.stripesDone) stripes (\(p.rebuilt) rebuilt, \(p.shrunk) shrunk, \(p.expanded) expanded), \(p.stripesFailed) failed attempts, \(p.bytesWritten) bytes written at \(String(format: "%.1f", p.writeMBps)) MB/s")
        status.lastPass = p
        status.pass = nil
        save(force: true)
    }

    // MARK: Scrub

    /// Scrubs the next few stripes of the current pass (starting one when asked or due). Returns
    /// whether there was scrub work.
    func scrubStep() async -> Bool {
        let now = clock()
        if !status.scrub.running {
            let last = status.scrub.finishedAt ?? startedAt
            let due = settings.scrubIntervalS > 0 && now - last >= Double(settings.scrubIntervalS)
            guard status.scrub.requested || due else { return false }
            var fresh = RepairStatus.Scrub()
            fresh.running = true
            fresh.startedAt = now
            fresh.stripesTotal = ((try? store.stripeCensus()) ?? []).reduce(0) { $0 + $1.stripes }
            status.scrub = fresh
            logger.notice("scrub: started over \(fresh.stripesTotal) stripes\(due ? " (scheduled)" : "")")
            save(force: true)
        }
        let stripes: [Stripe]
        do { stripes = try store.allStripes(after: status.scrub.cursor, limit: 16) } catch {
            problem("scrub could not list stripes: \(error)")
            return false
        }
        if stripes.isEmpty {
            status.scrub.running = false
            status.scrub.finishedAt = clock()
            let sc = status.scrub
            logger.notice("scrub: finished: \(sc.stripesChecked) stripes, \(sc.fragmentsChecked) fragments, \(sc.corrupt) corrupt, \(sc.repaired) repaired, \(sc.unrepairable) unrepairable, \(sc.unavailable) on down drives")
            save(force: true)
            return true
        }
        let map = await manager.clusterMap
        let retired = Self.retiredDrives(map, now: now, since: startedAt, downOutMs: settings.downOutMs)
        for s in stripes {
            let begun = clock()
            await scrub(s, map: map, retired: retired)
            status.scrub.cursor = s.id
            status.scrub.stripesChecked += 1
            status.scrub.fragmentsChecked += s.layout.width
            status.scrub.bytesRead += Int64(s.fragmentLength * s.layout.width)
            await pace(bytes: s.fragmentLength * s.layout.width, mbps: settings.scrubMBps, since: begun)
        }
        save(force: false)
        return true
    }

    private func scrub(_ s: Stripe, map: ClusterMap, retired: Set<DriveID>) async {
        let bad = await files.verifyStripe(s, map: map)
        if bad.isEmpty { return }
        var corrupt: Set<Int> = []
        for (index, cause) in bad.sorted(by: { $0.key < $1.key }) {
            let drive = s.fragments[index].drive
            // A fragment verification did not even try (its drive is not read from) is
            // unavailable, not corrupt: the same rule as `verifyStripe`'s.
            if files.reads(from: drive, in: map) && !retired.contains(drive) {
                corrupt.insert(index)
                RepairStatus.note(&status.scrub.findings, "stripe \(String(s.id, radix: 16)) fragment \(index): \(cause)", limit: 100)
            } else {
                status.scrub.unavailable += 1
            }
        }
        status.scrub.corrupt += corrupt.count
        if corrupt.isEmpty { return }
        guard s.layout.width - bad.count >= s.layout.k else {
            status.scrub.unrepairable += 1
            problem("scrub: stripe \(String(s.id, radix: 16)) has only \(s.layout.width - bad.count) good fragments of the \(s.layout.k) needed: not repaired")
            return
        }
        do {
            let rewrite = try await files.rebuildFragments(s, indices: corrupt, avoiding: retired, map: map)
            if await install(rewrite, replacing: s, map: map, outcome: .rebuilt) == .rebuilt {
                status.scrub.repaired += corrupt.count
                RepairStatus.note(&status.scrub.findings, "stripe \(String(s.id, radix: 16)): repaired fragments \(corrupt.sorted())", limit: 100)
            }
        } catch {
            status.scrub.unrepairable += 1
            problem("scrub: stripe \(String(s.id, radix: 16)): repairing fragments \(corrupt.sorted()) failed: \(error)")
        }
    }

    // MARK: Garbage collection

    private func collectIfDue() async {
        guard clock() - lastCollection >= Double(settings.gcIntervalS) else { return }
        lastCollection = clock()
        await collect()
    }

    /// Deletes the fragments of stripes no file names, then scans every up drive for chunks nothing
    /// names: of stripes reserved before the grace period and never committed (orphans), or of
    /// generations a repair replaced while their drive was down (stale).
    public func collect() async {
        let map = await manager.clusterMap
        var collected = 0
        while !Task.isCancelled {
            let dead: [Stripe]
            do { dead = try store.unreferencedStripes(limit: 256) } catch {
                problem("collection could not list unreferenced stripes: \(error)")
                return
            }
            if dead.isEmpty { break }
            for s in dead { _ = await files.deleteFragments(stripe: s.id, s.fragments, map: map) }
            do { try store.forgetStripes(dead.map(\.id)) } catch {
                problem("collection could not forget stripes: \(error)")
                return
            }
            collected += dead.count
            if dead.count < 256 { break }
        }
        status.collection.stripesCollected += collected
        let watermark: UInt64
        do { watermark = try store.orphanWatermark(allocatedBefore: clock() - Double(settings.gcGraceS)) } catch {
            problem("collection could not read the orphan watermark: \(error)")
            return
        }
        var orphans = 0, stale = 0
        for node in map.nodes where node.state == .up {
            for drive in node.drives where drive.state == .up || drive.state == .readOnly {
                let keys: [ChunkKey]
                do { keys = try await files.storage.list(node.address, drive: drive.id.name) } catch {
                    problem("collection could not list chunks on \(drive.id): \(error)")
                    continue
                }
                var records: [UInt64: Stripe] = [:]
                let ids = Array(Set(keys.map(\.stripe))).sorted()
                var i = 0
                while i < ids.count {
                    let part = Array(ids[i..<min(i + 500, ids.count)])
                    do { for s in try store.stripes(part) { records[s.id] = s } } catch {
                        problem("collection could not read stripes: \(error)")
                        return
                    }
                    i += 500
                }
                for key in keys {
                    let (index, generation) = FragmentPlacement.parse(key)
                    let verdict: String
                    if let s = records[key.stripe] {
                        // A newer generation than the record is a repair in progress: leave it.
                        let named = index < s.fragments.count && s.fragments[index].drive == drive.id && s.fragments[index].generation == generation
                        if named || generation > s.version { continue }
                        verdict = "stale"
                    } else {
                        // No record: a write that never committed, or is still going on — only
                        // ids reserved before the grace period are known to be abandoned.
                        guard key.stripe < watermark else { continue }
                        verdict = "orphan"
                    }
                    do {
                        try await files.storage.delete(node.address, drive: drive.id.name, key: key)
                        if verdict == "stale" { stale += 1 } else { orphans += 1 }
                    } catch {
                        problem("collection could not delete \(key) on \(drive.id): \(error)")
                    }
                }
            }
        }
        status.collection.orphanChunksDeleted += orphans
        status.collection.staleChunksDeleted += stale
        status.collection.lastRunAt = clock()
        if collected + orphans + stale > 0 {
            logger.notice("collection: \(collected) stripes of deleted files, \(orphans) orphaned and \(stale) stale chunks deleted")
        }
        save(force: true)
    }

    // MARK: Helpers

    private func pace(bytes: Int, mbps: Int, since start: Double) async {
        let want = Double(bytes) / (Double(max(mbps, 1)) * 1e6)
        let spent = clock() - start
        if want > spent { try? await Task.sleep(for: .seconds(want - spent)) }
    }

    private func problem(_ message: String) {
        logger.warning("\(message)")
        RepairStatus.note(&status.problems, message, limit: 50)
    }

    /// Saves the status with the metadata, at most twice a second unless `force`.
    private func save(force: Bool) {
        let now = clock()
        guard force || now - lastSaved >= 0.5 else { return }
        lastSaved = now
        do {
            let data = try JSONEncoder().encode(status)
            try store.saveServiceState(Self.stateName, String(decoding: data, as: UTF8.self))
        } catch {
            logger.error("repair: could not save the repair state: \(error)")
        }
    }
}
