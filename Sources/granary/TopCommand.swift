import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryManager

/// `granary top`: the cluster at a glance, refreshed in the terminal — throughput, the busiest and
/// the slowest drives, drives not healthy, rebuild and scrub progress, managers, and the hit ratio
/// and prefetch accuracy of this machine's cache — like `juicefs stats` or `htop`. `--json` prints
/// one snapshot and exits.
///
/// Guarantees: every figure comes from the managers' current reports (the drives' latest telemetry
/// windows, the repair status, the cluster map) or the local cache's owner counters; a part that
/// cannot be had is shown as unavailable with the reason, never as zero.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Live view of throughput, busiest and slowest drives, rebuilds and cache figures.")

    @OptionGroup var options: ClientOptions
    @Option(help: "Seconds between refreshes.") var interval = 1.0
    @Option(help: "Stop after this many refreshes (default: until interrupted).") var count: Int?
    @Option(help: "Drives listed as busiest and as slowest.") var rows = 5
    @Option(help: "Local cache directory to show (default: [cache] dir of the client config, else ~/.cache/granary).") var cacheDir: String?

    struct DriveRow: Codable {
        var drive: String
        var health: String
        var opsPerSecond: Double
        var readMBps: Double
        var writeMBps: Double
        var readP99Ms: Double
        var queueDepth: Double
        var note: String?
    }

    struct Snapshot: Codable {
        var time: Double
        var mapVersion: UInt64
        var nodesUp: Int
        var nodesTotal: Int
        var drivesUp: Int
        var drivesTotal: Int
        var readMBps: Double
        var writeMBps: Double
        var opsPerSecond: Double
        var busiest: [DriveRow]
        var slowest: [DriveRow]
        var unhealthy: [DriveRow]
        var repair: RepairStatus?
        var repairUnavailable: String?
        var managers: [ManagerStatus]
        var cache: [CacheCommand.Status.Row]
        var cacheNote: String?
    }

    func validate() throws {
        guard interval >= 0.1, interval <= 3_600 else { throw ValidationError("--interval: 0.1 to 3600 seconds") }
        guard rows >= 1, rows <= 100 else { throw ValidationError("--rows: 1 to 100") }
        if let count, count < 1 { throw ValidationError("--count: at least 1") }
    }

    func run() async throws {
        let client = try options.managerClient()
        defer { client.close() }
        var shown = 0
        while true {
            let s = try await snapshot(client)
            if options.json {
                print(Output.json(s))
                return
            }
            // Home and clear, then the frame: one write, so the terminal never shows half a frame.
            FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + Self.render(s, rows: rows)).utf8))
            shown += 1
            if let count, shown >= count { return }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    func snapshot(_ client: ManagerClient) async throws -> Snapshot {
        let map: ClusterMap
        do { map = try await client.clusterMap() } catch { throw CLIError("\(error)") }
        let health: HealthReport
        do { health = try await client.health() } catch { throw CLIError("drive health: \(error)") }
        var repair: RepairStatus?
        var repairUnavailable: String?
        do { repair = try await client.repairStatus() } catch { repairUnavailable = "\(error)" }
        let drives = health.drives.map { d -> DriveRow in
            let t = d.latest
            let seconds = max(t?.seconds ?? 0, 1e-9)
            return DriveRow(drive: d.drive, health: d.health.rawValue,
                            opsPerSecond: t.map { Double($0.ops) / seconds } ?? 0,
                            readMBps: t.map { Double($0.readBytes) / seconds / 1e6 } ?? 0,
                            writeMBps: t.map { Double($0.writeBytes) / seconds / 1e6 } ?? 0,
                            readP99Ms: t?.readP99Ms ?? 0, queueDepth: t?.queueDepth ?? 0,
                            note: d.healthNote ?? d.problem)
        }
        let (cache, cacheNote) = localCache()
        return Snapshot(
            time: Date().timeIntervalSince1970, mapVersion: map.version,
            nodesUp: map.nodes.filter { $0.state == .up }.count, nodesTotal: map.nodes.count,
            drivesUp: map.drives.filter { $0.state == .up }.count, drivesTotal: map.drives.count,
            readMBps: drives.reduce(0) { $0 + $1.readMBps }, writeMBps: drives.reduce(0) { $0 + $1.writeMBps },
            opsPerSecond: drives.reduce(0) { $0 + $1.opsPerSecond },
            busiest: Array(drives.filter { $0.opsPerSecond > 0 }.sorted { $0.opsPerSecond > $1.opsPerSecond }.prefix(rows)),
            slowest: Array(drives.filter { $0.readP99Ms > 0 }.sorted { $0.readP99Ms > $1.readP99Ms }.prefix(rows)),
            unhealthy: drives.filter { $0.health != DriveHealth.healthy.rawValue },
            repair: repair, repairUnavailable: repairUnavailable,
            managers: await client.managerStatuses(), cache: cache, cacheNote: cacheNote)
    }

    /// The local cache's entries and its owner's counters, or why there are none.
    func localCache() -> ([CacheCommand.Status.Row], String?) {
        var directory = cacheDir
        if directory == nil, let c = try? ClientConfig.load(path: options.configPath) { directory = c.cache.directory }
        let d = directory ?? CacheSettings.defaultDirectory
        guard FileIO.isDirectory(d) else { return ([], "no cache on this machine (\(d) does not exist)") }
        let rows = ReadCache.status(directory: d).map { ns, scan, owner in
            CacheCommand.Status.Row(cluster: ns, entries: scan.entries.count, bytes: scan.bytes, damaged: scan.dropped, owner: owner?.pid,
                                    ownerUpdated: owner?.updated, stats: owner?.stats, hitRatio: owner?.stats.hitRatio,
                                    prefetchAccuracy: owner?.stats.prefetchAccuracy)
        }
        // Clusters this machine once cached for and no longer holds anything of are noise here.
        let live = rows.filter { $0.entries > 0 || $0.owner != nil }
        let hidden = rows.count - live.count
        return (live, live.isEmpty ? "nothing cached in \(d)" : hidden > 0 ? "\(hidden) empty cluster caches in \(d) not shown" : nil)
    }

    static func render(_ s: Snapshot, rows: Int) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        let clock = DateFormatter()
        clock.dateFormat = "HH:mm:ss"
        let when = clock.string(from: Date(timeIntervalSince1970: s.time))
        line("granary top \(when) - map v\(s.mapVersion): \(s.nodesUp)/\(s.nodesTotal) nodes, \(s.drivesUp)/\(s.drivesTotal) drives up")
        line(String(format: "throughput: read %.1f MB/s, write %.1f MB/s, %.0f ops/s (drives' latest windows)", s.readMBps, s.writeMBps, s.opsPerSecond))
        let leader = s.managers.first { $0.leading }
        line("managers: " + s.managers.map { m in
            m.unreachable != nil ? "\(m.endpoint) UNREACHABLE" : "\(m.name)\(m.leading ? " (leader)" : "")"
        }.joined(separator: ", ") + (leader == nil ? " — NO LEADER" : ""))
        if let r = s.repair {
            var text = "repair: \(r.state), \(r.degradedStripes) degraded, \(r.shrunkStripes) shrunk stripes"
            if let p = r.pass {
                text += String(format: "; %@ pass %d/%d stripes (%.0f%%), %.1f MB/s", p.kind, p.stripesDone, p.stripesTotal,
                               100 * Double(p.stripesDone) / Double(max(p.stripesTotal, 1)), p.writeMBps)
            }
            if r.scrub.running { text += "; scrub \(r.scrub.stripesChecked)/\(r.scrub.stripesTotal)" }
            line(text)
        } else if let why = s.repairUnavailable {
            line("repair: unavailable (\(why))")
        }
        func table(_ title: String, _ drives: [DriveRow]) {
            line()
            line(title)
            if drives.isEmpty { line("  (none)"); return }
            out += Output.table(["DRIVE", "HEALTH", "OPS/S", "READ MB/S", "WRITE MB/S", "READ P99 MS", "QD", "NOTE"], drives.map { d in
                [d.drive, d.health, String(format: "%.0f", d.opsPerSecond), String(format: "%.1f", d.readMBps),
                 String(format: "%.1f", d.writeMBps), String(format: "%.2f", d.readP99Ms), String(format: "%.1f", d.queueDepth), d.note ?? ""]
            }) + "\n"
        }
        table("busiest drives", s.busiest)
        table("slowest drives (read p99)", s.slowest)
        if !s.unhealthy.isEmpty { table("drives not healthy", s.unhealthy) }
        line()
        if s.cache.isEmpty {
            line("cache: \(s.cacheNote ?? "none")")
        } else {
            if let note = s.cacheNote { line("cache: \(note)") }
            for c in s.cache {
                line("cache \(c.cluster): \(c.entries) entries, \(ByteSize(Int64(c.bytes)))"
                     + (c.hitRatio.map { String(format: ", hit ratio %.3f", $0) } ?? "")
                     + (c.prefetchAccuracy.map { String(format: ", prefetch accuracy %.3f", $0) } ?? "")
                     + (c.owner.map { ", owner pid \($0) (updated \(Output.age(c.ownerUpdated)))" } ?? ", no live owner"))
            }
        }
        return out
    }
}
