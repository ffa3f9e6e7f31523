import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryMeta
import GranaryTransport
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// Rebuild, shrink, expand and collection by the manager's repair service, on real processes.
    @Suite(.serialized) struct RepairIntegrationTests {
        static func fastRepair(rebuildMBps: Int = 1_000, gcGraceS: Int = 3_600) -> DaemonConfig.Repair {
            var r = DaemonConfig.Repair()
            r.intervalMs = 200
            r.rebuildMBps = rebuildMBps
            r.gcIntervalS = 1
            r.gcGraceS = gcGraceS
            r.scrubIntervalS = 0
            return r
        }

        /// Polls the repair status until `condition` holds; the last status either way.
        static func waitRepair(_ cluster: ClusterHarness, seconds: Double, _ condition: (RepairStatus) -> Bool) async -> (RepairStatus?, Bool) {
            let client = cluster.manager()
            defer { client.close() }
            let start = Date()
            var last: RepairStatus?
            while Date().timeIntervalSince(start) < seconds {
                if let s = try? await client.repairStatus() {
                    last = s
                    if condition(s) { return (s, true) }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return (last, false)
        }

        /// Every stripe of every file under `paths`.
        static func stripes(_ client: FileClient, _ paths: [String]) async throws -> [Stripe] {
            var all: [UInt64: Stripe] = [:]
            for p in paths {
                let inode = try await client.meta.resolve(p)
                for (id, s) in try await client.meta.fileMap(inode.id).stripes { all[id] = s }
            }
            return all.values.sorted { $0.id < $1.id }
        }

        static func readAll(_ client: FileClient, _ files: [String: [UInt8]], under root: String) async throws {
            for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
                let got = try await client.readFile(root + path)
                #expect(got == bytes, "\(root + path) differs")
            }
        }

        @Test func evictedNodeShrinksStripesWhichSurviveTwoMoreLossesAndExpandWhenItReturns() async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500, repair: Self.fastRepair())
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dest = try await client.meta.mkdirAll("/ds")
            let wide = StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy")
            try await client.meta.setLayout(dest.id, wide)
            let files = try ErasureIntegrationTests.makeTree(cluster.dir + "/src", seed: 42)
            _ = try await Importer(client: client, parallel: 3, verify: true).run(local: cluster.dir + "/src", to: "/ds") { _ in }
            let paths = files.keys.filter { !(files[$0]?.isEmpty ?? true) }.map { "/ds" + $0 }
            let before = try await Self.stripes(client, paths)
            #expect(before.allSatisfy { $0.layout.k == 4 && Set($0.fragments.map(\.drive.node)).count == 6 })

            // Evict node-1: five failure domains are left, so every stripe becomes 3+2.
            let manager = cluster.manager()
            defer { manager.close() }
            _ = try await manager.drain(NodeID("node-1")!)
            let (shrunkStatus, shrunkDone) = await Self.waitRepair(cluster, seconds: 60) { s in
                s.degradedStripes == 0 && s.pass == nil && (s.lastPass?.shrunk ?? 0) > 0
            }
            #expect(shrunkDone, "shrink did not finish: \(String(describing: shrunkStatus))")
            #expect(shrunkStatus?.lastPass?.shrunk == before.count)
            #expect(shrunkStatus?.retiredDrives == ["node-1/d0"])
            let shrunk = try await Self.stripes(client, paths)
            for s in shrunk {
                #expect(s.layout.k == 3 && s.layout.m == 2, "stripe \(s.id) is \(s.layout.k)+\(s.layout.m)")
                #expect(s.wideLayout?.k == 4)
                #expect(s.version == 2)
                #expect(!s.fragments.contains { $0.drive.node.rawValue == "node-1" })
                #expect(Set(s.fragments.map(\.drive.node)).count == 5)
            }
            try await Self.readAll(client, files, under: "/ds")

            // Two more nodes die (not yet declared out): 3+2 stripes lose two fragments and still read.
            cluster.kill9("node-2")
            cluster.kill9("node-3")
            try await Self.readAll(client, files, under: "/ds")
            #expect(client.readCounters.degradedReads > 0)

            // Everything comes back: stripes are widened to 4+2 again, one fragment per node.
            try cluster.restart("node-2")
            try cluster.restart("node-3")
            _ = try await manager.undrain(NodeID("node-1")!)
            #expect(await cluster.waitFor(seconds: 30) { $0.allUp } != nil)
            let (expandStatus, expanded) = await Self.waitRepair(cluster, seconds: 60) { s in
                s.shrunkStripes == 0 && s.pass == nil && (s.lastPass?.expanded ?? 0) > 0
            }
            #expect(expanded, "expand did not finish: \(String(describing: expandStatus))")
            #expect(expandStatus?.totalExpanded == before.count)
            for s in try await Self.stripes(client, paths) {
                #expect(s.layout == wide && s.wideLayout == nil && s.version == 3)
                #expect(Set(s.fragments.map(\.drive.node)).count == 6)
            }
            try await Self.readAll(client, files, under: "/ds")

            // Collection removes what the metadata no longer names, including the old fragments left on
            // node-1 while it was drained: in the end the drives hold exactly the named chunks.
            let named = try await Self.stripes(client, paths).reduce(0) { $0 + $1.layout.width }
            var onDisk = 0
            for _ in 0..<100 {
                onDisk = ErasureIntegrationTests.countChunks(cluster.dir)
                if onDisk == named { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(onDisk == named, "drives hold \(onDisk) chunks, the metadata names \(named)")
        }

        @Test func managerKilledMidRebuildResumesAndLosesNothing() async throws {
            // Seven nodes: with one evicted, six domains remain, so lost fragments are rebuilt at full width.
            let cluster = try ClusterHarness(nodes: 7, drives: 1, heartbeatTimeoutMs: 1500, repair: Self.fastRepair(rebuildMBps: 1))
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 7 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let dest = try await client.meta.mkdirAll("/ckpt")
            try await client.meta.setLayout(dest.id, StripeLayout(k: 4, m: 2, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            let data = (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 9)) }
            try await client.writeFile("/ckpt/model.bin", bytes: data)
            let inode = try await client.meta.resolve("/ckpt/model.bin")
            let affected = try await client.meta.fileMap(inode.id).stripes.values.filter { s in
                s.fragments.contains { $0.drive.node.rawValue == "node-7" }
            }.count
            #expect(affected > 20)

            let manager = cluster.manager()
            defer { manager.close() }
            _ = try await manager.drain(NodeID("node-7")!)
            let (mid, started) = await Self.waitRepair(cluster, seconds: 30) { ($0.pass?.stripesDone ?? 0) >= 5 }
            #expect(started, "rebuild did not start: \(String(describing: mid))")
            let passStart = mid?.pass?.startedAt
            cluster.kill9("manager")
            try cluster.restart("manager")

            let (end, finished) = await Self.waitRepair(cluster, seconds: 120) { s in
                s.pass == nil && s.degradedStripes == 0 && s.lastPass != nil
            }
            #expect(finished, "rebuild did not finish after the restart: \(String(describing: end))")
            #expect(end?.lastPass?.startedAt == passStart, "the pass was not resumed")
            #expect(end?.lastPass?.kind == "rebuild")
            #expect((end?.lastPass?.rebuilt ?? 0) >= 5)
            #expect(end?.lastPass?.shrunk == 0)
            #expect(cluster.log("manager").contains("resuming the rebuild pass"))
            let after = try await client.meta.fileMap(inode.id).stripes.values
            #expect(after.allSatisfy { s in !s.fragments.contains { $0.drive.node.rawValue == "node-7" } && s.layout.k == 4 })
            #expect(after.allSatisfy { Set($0.fragments.map(\.drive.node)).count == 6 })
            #expect(try await client.readFile("/ckpt/model.bin") == data)
        }
    }
}
