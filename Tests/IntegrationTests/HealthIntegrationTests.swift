import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryMeta
import Synchronization
import Testing

extension IntegrationSuites {
    /// The drive-health monitor on real processes: a drive made slow by fault injection is found,
    /// read around, evicted and rebuilt around; evictions that would endanger a stripe are refused.
    @Suite struct HealthIntegrationTests {
        static func policy() -> HealthPolicy {
            var p = HealthPolicy()
            p.suspectAfterS = 2
            p.clearAfterS = 4
            p.evictAfterS = 6
            return p
        }

        /// Client read latencies, stamped, from the load running beside the test.
        final class Latencies: Sendable {
            let samples = Mutex<[(at: Double, ms: Double)]>([])
            let failures = Atomic<Int>(0)

            func add(_ ms: Double) { samples.withLock { $0.append((FileClient.seconds(), ms)) } }

            /// The 99th percentile of the latencies recorded in `range` (seconds), and how many there were.
            func p99(_ range: ClosedRange<Double>) -> (ms: Double, count: Int) {
                let v = samples.withLock { $0.filter { range.contains($0.at) }.map(\.ms) }.sorted()
                guard !v.isEmpty else { return (0, 0) }
                return (v[min(v.count - 1, Int(Double(v.count) * 0.99))], v.count)
            }
        }

        final class Flag: Sendable {
            let raised = Atomic<Bool>(false)
        }

        static func waitHealth(_ cluster: ClusterHarness, seconds: Double, _ condition: (HealthReport) -> Bool) async -> HealthReport? {
            let client = cluster.manager()
            defer { client.close() }
            let start = Date()
            while Date().timeIntervalSince(start) < seconds {
                if let r = try? await client.health(), condition(r) { return r }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }

        @Test func slowDriveIsSuspectedReadAroundEvictedAndRebuilt() async throws {
            let cluster = try ClusterHarness(nodes: 8, drives: 1, heartbeatTimeoutMs: 1500, repair: RepairIntegrationTests.fastRepair(),
                                             health: Self.policy(), faultInjection: true)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 8 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try await ErasureIntegrationTests.writeSpread(client, count: 16, size: 256 << 10, salt: 3)
            let paths = files.keys.sorted()
            let slow = DriveID(parsing: "node-3/d0")!
            #expect(try await RepairIntegrationTests.stripes(client, paths).contains { s in s.fragments.contains { $0.drive == slow } })

            // A steady read load: two readers, every read checked.
            let latencies = Latencies()
            let stop = Flag()
            let expected = files
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for r in 0..<2 {
                        group.addTask {
                            var i = r
                            while !stop.raised.load(ordering: .relaxed) {
                                let path = paths[i % paths.count]
                                i += 3
                                let start = FileClient.seconds()
                                if let got = try? await client.readFile(path), got == expected[path] {
                                    latencies.add((FileClient.seconds() - start) * 1000)
                                } else {
                                    latencies.failures.add(1, ordering: .relaxed)
                                }
                            }
                        }
                    }
                }
            }
            defer { stop.raised.store(true, ordering: .relaxed) }
            let manager = cluster.manager()
            defer { manager.close() }

            // Baseline, then 10x the drives' own mean latency (at least 100 ms, so the client sees it above a busy machine's own noise).
            try await Task.sleep(for: .seconds(4))
            let baseline = try await manager.health()
            #expect(baseline.drives.allSatisfy { $0.health == .healthy }, "a drive was flagged before any fault: \(baseline.drives.map { "\($0.drive) \($0.health) \($0.evidence ?? "")" })")
            let means = baseline.drives.compactMap { $0.latest?.meanMs }.filter { $0 > 0 }
            let driveMean = means.isEmpty ? 1 : means.reduce(0, +) / Double(means.count)
            let injected = max(10 * driveMean, 100)
            let injectedAt = FileClient.seconds()
            _ = try await manager.inject(slow, FaultSpec(latencyMs: injected))

            guard let suspect = await Self.waitHealth(cluster, seconds: 30, { r in r.drives.contains { $0.drive == slow.description && $0.health != .healthy } }) else {
                Issue.record("\(slow) was not suspected within 30 s of a \(injected) ms fault")
                return
            }
            let suspectedAt = FileClient.seconds()
            print("health: \(slow) suspect \(String(format: "%.1f", suspectedAt - injectedAt)) s after \(String(format: "%.1f", injected)) ms were injected (drive mean \(String(format: "%.2f", driveMean)) ms)")
            #expect(suspectedAt - injectedAt < 20)
            // Only the slow drive: its peers are not flagged by its slowness.
            #expect(suspect.drives.filter { $0.health != .healthy }.map(\.drive) == [slow.description])
            #expect(suspect.drives.first { $0.drive == slow.description }?.healthNote?.contains(slow.description) == true)

            // Reads route around it: the client's p99 falls back towards the baseline.
            try await Task.sleep(for: .seconds(3))
            let before = latencies.p99((injectedAt - 4)...injectedAt)
            let during = latencies.p99((injectedAt + 0.5)...suspectedAt)
            let routed = latencies.p99((suspectedAt + 0.5)...(suspectedAt + 3))
            print("health: client p99 \(String(format: "%.1f", before.ms)) ms before (\(before.count) reads), \(String(format: "%.1f", during.ms)) ms while slow (\(during.count)), \(String(format: "%.1f", routed.ms)) ms routed around (\(routed.count))")
            #expect(during.count > 0 && routed.count > 0 && before.count > 0)
            #expect(during.ms >= injected * 0.8, "the fault did not show in the client's reads")
            #expect(routed.ms < during.ms * 0.6, "p99 did not recover once reads went around \(slow)")
            #expect(client.readCounters.avoidedReads > 0)

            // Escalation: evicted after evict_after_s, every stripe it held rebuilt elsewhere.
            let evicted = await Self.waitHealth(cluster, seconds: 30) { r in r.drives.contains { $0.drive == slow.description && $0.health == .evicted } }
            #expect(evicted != nil, "\(slow) was not evicted")
            let (status, rebuilt) = await RepairIntegrationTests.waitRepair(cluster, seconds: 60) { s in
                s.degradedStripes == 0 && s.pass == nil && (s.lastPass?.rebuilt ?? 0) > 0
            }
            #expect(rebuilt, "the rebuild did not finish: \(String(describing: status))")
            stop.raised.store(true, ordering: .relaxed)
            await load.value
            #expect(latencies.failures.load(ordering: .relaxed) == 0, "reads failed or returned wrong bytes under the load")
            for s in try await RepairIntegrationTests.stripes(client, paths) {
                #expect(!s.fragments.contains { $0.drive == slow }, "stripe \(String(s.id, radix: 16)) still has a fragment on \(slow)")
                #expect(Set(s.fragments.map(\.drive.node)).count == 6)
            }
            try await RepairIntegrationTests.readAll(client, files, under: "")

            // Rejoin: the fault cleared and an operator returns the drive; it takes fragments again.
            _ = try await manager.inject(slow, FaultSpec())
            let back = try await manager.rejoin(slow, reason: "disk replaced")
            #expect(back.drives.first { $0.drive == slow.description }?.health == .healthy)
            let events = back.events.filter { $0.drive == slow.description }.map { "\($0.from)->\($0.to) by \($0.by)" }
            #expect(events == ["healthy->suspect by detector", "suspect->evicted by policy", "evicted->healthy by operator"], "\(events)")
            #expect(cluster.log("manager").contains("health: drive \(slow) healthy -> suspect (by detector)"))
            let map = try await manager.clusterMap()
            #expect(map.writableDrives.contains { $0.id == slow })
        }

        @Test func evictionsThatWouldLeaveAStripeUnrebuildableAreRefused() async throws {
            var repair = RepairIntegrationTests.fastRepair()
            repair.intervalMs = 3_600_000  // no rebuild in this test: the evicted drives' fragments stay where they are
            var policy = Self.policy()
            policy.detect = false
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500, repair: repair, health: policy)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dir = try await client.meta.mkdirAll("/ds")
            try await client.meta.setLayout(dir.id, StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            try await client.writeFile("/ds/a.bin", bytes: bytes)
            let manager = cluster.manager()
            defer { manager.close() }

            // m = 2 evictions are safe: every stripe keeps k readable fragments.
            for n in 1...2 { _ = try await manager.evict(DriveID(parsing: "node-\(n)/d0")!, reason: "test") }
            do {
                _ = try await manager.evict(DriveID(parsing: "node-3/d0")!, reason: "test")
                Issue.record("a third eviction from 4+2 stripes was accepted")
            } catch {
                let text = "\(error)"
                #expect(text.contains("eviction refused") && text.contains("stripe") && text.contains("fewer than the 4"), "\(text)")
                #expect(text.contains("node-1/d0") && text.contains("node-2/d0"), "\(text)")
            }
            let report = try await manager.health()
            #expect(report.drives.filter { $0.health == .evicted }.map(\.drive) == ["node-1/d0", "node-2/d0"])
            // Still readable from the k fragments left.
            #expect(try await client.readFile("/ds/a.bin") == bytes)
            // Unknown drives and fault injection on a cluster that has not enabled it are refused by name.
            await #expect(throws: (any Error).self) { _ = try await manager.evict(DriveID(parsing: "node-9/d0")!, reason: nil) }
            do {
                _ = try await manager.inject(DriveID(parsing: "node-4/d0")!, FaultSpec(latencyMs: 5))
                Issue.record("fault injection was accepted with fault_injection off")
            } catch {
                #expect("\(error)".contains("fault injection is off"), "\(error)")
            }
        }
    }
}
