import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryTransport
import Logging
import Synchronization

/// The live part of `granary bench health`: one drive of eight made slow by fault injection on an
/// embedded cluster of real `granaryd` processes, under a steady read load whose every read is
/// checked. The client's p99 read latency is measured in four phases of the same run: before the
/// fault (the baseline), while the drive is slow and not yet suspected, while reads route around
/// the suspect drive, and after it was evicted and its stripes rebuilt elsewhere. Ratios are to
/// the baseline.
///
/// Guarantees: the cluster is stopped and the drive's fault cleared on every path out; a read that
/// fails or returns wrong bytes is counted, never dropped.
struct LiveHealthBench {
    struct Phase: Codable {
        var p99Ms: Double
        var reads: Int
        /// p99 over the baseline's p99.
        var ratio: Double
    }

    struct Report: Codable {
        var cluster = "1 manager + 8 storage nodes × 1 directory drive, granaryd processes on loopback, layout 4+2, 16 files of 256 KiB, 2 readers"
        var policy: String
        var drive: String
        var driveMeanMs: Double
        var injectedMs: Double
        var suspectSeconds: Double
        var evictedSeconds: Double
        var rebuildSeconds: Double
        var before: Phase
        var slow: Phase
        var routed: Phase
        var rebuilt: Phase
        var avoidedReads: Int
        var failedReads: Int
        var verifiedReads: Int
    }

    /// Read latencies stamped with the time they ended.
    final class Latencies: Sendable {
        let samples = Mutex<[(at: Double, ms: Double)]>([])
        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)

        func add(_ ms: Double) { samples.withLock { $0.append((FileClient.seconds(), ms)) } }

        func p99(_ range: ClosedRange<Double>) -> (ms: Double, count: Int) {
            let v = samples.withLock { $0.filter { range.contains($0.at) }.map(\.ms) }.sorted()
            guard !v.isEmpty else { return (0, 0) }
            return (v[min(v.count - 1, Int(Double(v.count) * 0.99))], v.count)
        }
    }

    var root: String
    /// Injected latency; nil: ten times the drives' own mean, at least 100 ms (so the client sees
    /// it above a loaded machine's own noise).
    var latencyMs: Double?
    var progress: (String) -> Void

    func run() async throws -> Report {
        var policy = HealthPolicy()
        policy.suspectAfterS = 3
        policy.clearAfterS = 6
        policy.evictAfterS = 8
        var repair = DaemonConfig.Repair()
        repair.intervalMs = 200
        repair.rebuildMBps = 1_000
        repair.scrubIntervalS = 0
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        try? FileManager.default.removeItem(atPath: root)
        let cluster = try LocalCluster(dir: root, nodes: 8, drives: 1, port: 0, heartbeatTimeoutMs: 1500, repair: repair,
                                       health: policy, faultInjection: true)
        defer { cluster.stop() }
        progress("starting 1 manager and 8 storage nodes")
        _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
        let transport = TCPTransport(secret: try cluster.secret(), logger: logger)
        defer { transport.closeAll() }
        var settings = FileClientSettings()
        settings.mapMaxAgeMs = 0
        settings.hedgeAfterMs = 3000
        settings.fragmentTimeoutMs = 5000
        let client = FileClient(managers: [cluster.managerEndpoint], transport: transport, settings: settings, logger: logger)
        let manager = ManagerClient(managers: [cluster.managerEndpoint], transport: transport)

        let dir = try await client.meta.mkdirAll("/ds")
        try await client.meta.setLayout(dir.id, StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
        var files: [String: [UInt8]] = [:]
        for i in 0..<16 {
            let bytes = (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* (i + 3) &+ ($0 >> 11)) }
            files["/ds/f\(i).bin"] = bytes
            try await client.writeFile("/ds/f\(i).bin", bytes: bytes)
        }
        let paths = files.keys.sorted()
        guard let slow = DriveID(parsing: "node-3/d0") else { throw CLIError("internal: bad drive id") }

        let lat = Latencies()
        let expected = files
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for r in 0..<2 {
                    group.addTask {
                        var i = r
                        while !lat.stop.load(ordering: .relaxed) {
                            let path = paths[i % paths.count]
                            i += 3
                            let start = FileClient.seconds()
                            if let got = try? await client.readFile(path), got == expected[path] {
                                lat.add((FileClient.seconds() - start) * 1000)
                            } else {
                                lat.failures.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
            }
        }
        var cleared = false
        func finish() async {
            lat.stop.store(true, ordering: .relaxed)
            await load.value
            if !cleared { _ = try? await manager.inject(slow, FaultSpec()) }
        }
        do {
            progress("baseline: reading for 5 s")
            try await Task.sleep(for: .seconds(5))
            let baseline = try await manager.health()
            if let flagged = baseline.drives.first(where: { $0.health != .healthy }) {
                throw CLIError("\(flagged.drive) was \(flagged.health) before any fault: \(flagged.healthNote ?? "")")
            }
            let means = baseline.drives.compactMap { $0.latest?.meanMs }.filter { $0 > 0 }
            let driveMean = means.isEmpty ? 1 : means.reduce(0, +) / Double(means.count)
            let injected = latencyMs ?? max(10 * driveMean, 100)
            let injectedAt = FileClient.seconds()
            progress(String(format: "injecting %.1f ms on %@ (drive mean %.2f ms)", injected, slow.description, driveMean))
            _ = try await manager.inject(slow, FaultSpec(latencyMs: injected))
            let suspectedAt = try await wait(manager, seconds: 60, "\(slow) to become suspect") { r in
                r.drives.contains { $0.drive == slow.description && $0.health != .healthy }
            }
            progress(String(format: "suspect after %.1f s; waiting for eviction", suspectedAt - injectedAt))
            let evictedAt = try await wait(manager, seconds: 60, "\(slow) to be evicted") { r in
                r.drives.contains { $0.drive == slow.description && $0.health == .evicted }
            }
            progress(String(format: "evicted after %.1f s; waiting for the rebuild", evictedAt - injectedAt))
            let rebuildStart = FileClient.seconds()
            var rebuiltAt: Double?
            while FileClient.seconds() - rebuildStart < 120 {
                if let s = try? await manager.repairStatus(), s.degradedStripes == 0, s.pass == nil, (s.lastPass?.rebuilt ?? 0) > 0 {
                    rebuiltAt = FileClient.seconds()
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            guard let rebuiltAt else { throw CLIError("the rebuild around \(slow) did not finish within 120 s") }
            progress(String(format: "rebuilt in %.1f s; reading for 5 s more", rebuiltAt - evictedAt))
            try await Task.sleep(for: .seconds(5))
            await finish()
            _ = try await manager.rejoin(slow, reason: "bench done")
            cleared = true

            let before = lat.p99((injectedAt - 5)...injectedAt)
            func phase(_ range: ClosedRange<Double>) -> Phase {
                let p = lat.p99(range)
                return Phase(p99Ms: Self.round(p.ms), reads: p.count, ratio: Self.round(p.ms / max(before.ms, 1e-9)))
            }
            return Report(
                policy: "health_suspect_after_s = \(Int(policy.suspectAfterS)), health_evict_after_s = \(policy.evictAfterS), repair every 200 ms",
                drive: slow.description, driveMeanMs: Self.round(driveMean), injectedMs: Self.round(injected),
                suspectSeconds: Self.round(suspectedAt - injectedAt), evictedSeconds: Self.round(evictedAt - injectedAt),
                rebuildSeconds: Self.round(rebuiltAt - evictedAt),
                before: phase((injectedAt - 5)...injectedAt), slow: phase((injectedAt + 0.5)...suspectedAt),
                routed: phase((suspectedAt + 0.5)...evictedAt), rebuilt: phase((rebuiltAt + 0.5)...(rebuiltAt + 5)),
                avoidedReads: client.readCounters.avoidedReads, failedReads: lat.failures.load(ordering: .relaxed),
                verifiedReads: lat.samples.withLock { $0.count })
        } catch {
            await finish()
            throw error
        }
    }

    /// Polls the health report until `condition` holds and returns the time it did.
    private func wait(_ manager: ManagerClient, seconds: Double, _ what: String, _ condition: (HealthReport) -> Bool) async throws -> Double {
        let start = FileClient.seconds()
        while FileClient.seconds() - start < seconds {
            if let r = try? await manager.health(), condition(r) { return FileClient.seconds() }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("timed out after \(Int(seconds)) s waiting for \(what)")
    }

    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
}
