import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuites {
    /// Managers and storage nodes on hosts with addresses of their own (network namespaces joined
    /// by veth pairs), sharing a PostgreSQL database: one host is cut off (link down) and another,
    /// the leading manager's, is killed whole under a read load; clients keep reading and the
    /// cluster heals.
    @Suite(.enabled(if: NetnsHosts.available, "needs root and ip(8) for network namespaces"))
    struct NamespaceHostsTests {
        @Test func hostCutOffAndLeaderHostKilledClientsKeepReadingAndTheClusterHeals() async throws {
            let hosts = try NetnsHosts(count: 7)
            defer { hosts.destroy() }
            try await PostgresTestServer.withDatabaseAsync(host: hosts.gateway) { url in
                try await Self.drill(hosts, url)
            }
        }

        static func drill(_ hosts: NetnsHosts, _ url: String) async throws {
            var repair = RepairIntegrationTests.fastRepair()
            repair.downOutMs = 3_000
            let cluster = try ClusterHarness(nodes: 7, drives: 1, heartbeatTimeoutMs: 1500, repair: repair,
                                             managers: 2, meta: url, leaseMs: 2_000, hosts: hosts)
            // Processes first, then the namespaces they run in (the caller's defer).
            defer { cluster.shutdown() }
            let up = await cluster.waitFor(seconds: 40) { $0.nodes.count == 7 && $0.allUp }
            try #require(up != nil, "the namespace cluster did not come up:\n\(cluster.log("manager").suffix(2_000))")
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try await ErasureIntegrationTests.writeSpread(client, count: 10, size: 256 << 10, salt: 7)
            let statuses = await ManagerFailoverTests.statuses(cluster)
            let leaderIndex = try #require(statuses.firstIndex { $0.leading }, "no leader: \(statuses)")
            let leader = statuses[leaderIndex].name
            print("namespaces: 7 hosts \(hosts.address(0))–\(hosts.address(6)), managers on the first two, \(leader) leads")

            let tally = ManagerFailoverTests.Load()
            let expected = files
            let paths = files.keys.sorted()
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for r in 0..<2 {
                        group.addTask {
                            var i = r
                            while !tally.stop.load(ordering: .relaxed) {
                                let path = paths[i % paths.count]
                                i += 1
                                do {
                                    if try await client.readFile(path) == expected[path] { tally.reads.add(1, ordering: .relaxed) } else {
                                        tally.readFailures.withLock { $0.append("\(path): wrong bytes") }
                                    }
                                } catch {
                                    tally.readFailures.withLock { $0.append("\(path): \(error)") }
                                }
                            }
                        }
                    }
                }
            }
            defer { tally.stop.store(true, ordering: .relaxed) }
            try await Task.sleep(for: .seconds(2))

            // Pull host 4's cable (node-5 there) and kill everything on the leader's host.
            let cutHost = 4
            try hosts.cut(cutHost)
            let leaderHost = leaderIndex
            cluster.kill9(ClusterEndpoints.managerName(leaderIndex))
            cluster.kill9("node-\(leaderHost + 1)")
            let hit = Date()
            let gone: Set<String> = ["node-\(cutHost + 1)", "node-\(leaderHost + 1)"]

            // The other manager takes over; the two lost nodes are called down, the rest stay up.
            var takeover: Double?
            while Date().timeIntervalSince(hit) < 30, takeover == nil {
                if await ManagerFailoverTests.statuses(cluster).contains(where: { $0.leading && $0.name != leader }) {
                    takeover = Date().timeIntervalSince(hit)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let took = try #require(takeover, "no manager took over after the leader's host was killed")
            let downs = await cluster.waitFor(seconds: 30) { map in
                map.nodes.allSatisfy { gone.contains($0.id.rawValue) ? $0.state == .down : $0.state == .up }
            }
            #expect(downs != nil, "the lost hosts' nodes were not (only they) called down")

            // Heal: every stripe that had a fragment on a lost node is rebuilt on the five left
            // (narrower where six domains are no longer there).
            var healed: Double?
            let manager = cluster.manager()
            defer { manager.close() }
            while Date().timeIntervalSince(hit) < 120, healed == nil {
                if let s = try? await manager.repairStatus(), s.degradedStripes == 0, s.pass == nil, (s.lastPass?.rebuilt ?? 0) + (s.lastPass?.shrunk ?? 0) > 0 {
                    healed = Date().timeIntervalSince(hit)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            tally.stop.store(true, ordering: .relaxed)
            await load.value
            let failed = tally.readFailures.withLock { $0 }
            print("namespaces: new leader after \(String(format: "%.1f", took)) s, healed after \(healed.map { String(format: "%.1f", $0) } ?? "—") s; \(tally.reads.load(ordering: .relaxed)) reads verified, \(failed.count) failed")
            let last = try? await manager.repairStatus()
            #expect(healed != nil, "the cluster did not heal within 120 s: \(String(describing: last))")
            #expect(failed.isEmpty, "reads failed while hosts were lost: \(failed.prefix(5))")
            #expect(tally.reads.load(ordering: .relaxed) > 0)
            for (path, bytes) in files { #expect(try await client.readFile(path) == bytes, "\(path)") }
            let stripes = try await RepairIntegrationTests.stripes(client, paths)
            for s in stripes {
                #expect(!s.fragments.contains { gone.contains($0.drive.node.rawValue) }, "stripe \(String(s.id, radix: 16)) still leans on a lost host")
            }

            // The cable goes back in: node-5 is up again.
            try hosts.heal(cutHost)
            #expect(await cluster.waitFor(seconds: 30) { $0.state(of: "node-\(cutHost + 1)") == .up } != nil, "node-\(cutHost + 1) did not come back")
        }
    }
}
