import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryMeta
import GranaryTestSupport
import Synchronization
import Testing

extension IntegrationSuites {
    /// Two managers sharing one PostgreSQL database, on real processes: the leader is killed under a
    /// read and write load, the other takes over its background work within a bounded time, clients
    /// keep reading and nothing committed is lost.
    @Suite struct ManagerFailoverTests {
        final class Load: Sendable {
            let stop = Atomic<Bool>(false)
            let reads = Atomic<Int>(0)
            let readFailures = Mutex<[String]>([])
            let written = Mutex<[String: [UInt8]]>([:])
            let writeFailures = Mutex<[String]>([])
        }

        static func statuses(_ cluster: ClusterHarness) async -> [ManagerStatus] {
            let client = cluster.manager()
            defer { client.close() }
            return await client.managerStatuses()
        }

        @Test func leaderKilledUnderLoadIsReplacedAndNothingIsLost() async throws {
            try await PostgresTestServer.withDatabaseAsync { url in try await Self.failover(url) }
        }

        static func failover(_ url: String) async throws {
            let cluster = try ClusterHarness(nodes: 6, drives: 1, heartbeatTimeoutMs: 1500, repair: RepairIntegrationTests.fastRepair(),
                                             managers: 2, meta: url, leaseMs: 2_000)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 6 && $0.allUp } != nil)
            let (client, t) = ErasureIntegrationTests.client(cluster)
            defer { t.closeAll() }
            let files = try await ErasureIntegrationTests.writeSpread(client, count: 12, size: 200 << 10, salt: 5)

            // Exactly one leads; the other follows and names it.
            let before = await Self.statuses(cluster)
            let leaders = before.filter { $0.leading }
            try #require(leaders.count == 1, "leaders: \(before)")
            let leader = leaders[0].name
            let follower = before.first { !$0.leading }
            #expect(follower?.leader == leader && follower?.unreachable == nil, "\(before)")

            let load = Load()
            let expected = files
            let paths = files.keys.sorted()
            let running = Task {
                await withTaskGroup(of: Void.self) { group in
                    for r in 0..<2 {
                        group.addTask {
                            var i = r
                            while !load.stop.load(ordering: .relaxed) {
                                let path = paths[i % paths.count]
                                i += 1
                                do {
                                    let got = try await client.readFile(path)
                                    if got == expected[path] { load.reads.add(1, ordering: .relaxed) } else {
                                        load.readFailures.withLock { $0.append("\(path): wrong bytes") }
                                    }
                                } catch {
                                    load.readFailures.withLock { $0.append("\(path): \(error)") }
                                }
                            }
                        }
                    }
                    group.addTask {
                        var n = 0
                        while !load.stop.load(ordering: .relaxed) {
                            let path = "/ds/w\(n).bin"
                            let bytes = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &+ n &* 31) }
                            n += 1
                            do {
                                try await client.writeFile(path, bytes: bytes)
                                load.written.withLock { $0[path] = bytes }
                            } catch {
                                load.writeFailures.withLock { $0.append("\(path): \(error)") }
                            }
                        }
                    }
                }
            }
            defer { load.stop.store(true, ordering: .relaxed) }
            try await Task.sleep(for: .seconds(2))

            // Kill the leader; the follower must take over within about 1.2 leases (2 s here).
            let leaderProcess = ClusterEndpoints.managerName(before.firstIndex { $0.leading } ?? 0)
            let killedAt = Date()
            cluster.kill9(leaderProcess)
            var takeover: Double?
            while Date().timeIntervalSince(killedAt) < 20 {
                if let s = await Self.statuses(cluster).first(where: { $0.leading }), s.name != leader {
                    takeover = Date().timeIntervalSince(killedAt)
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let took = try #require(takeover, "no manager took over within 20 s of \(leader) being killed")
            print("failover: \(leader) killed, the other manager leads after \(String(format: "%.2f", took)) s (lease 2 s)")
            #expect(took < 8)
            // The new leader knew the nodes alive from the heartbeats it had been hearing: no node
            // is called down (a leader that started cold would call them all down for a while).
            let map = try await cluster.manager().clusterMap()
            #expect(map.allUp, "nodes not up after the takeover: \(map.nodes.map { "\($0.id) \($0.state)" })")
            // The background work answers from the new leader.
            let repair = try await cluster.manager().repairStatus()
            #expect(repair.degradedStripes == 0)
            _ = try await cluster.manager().health()

            try await Task.sleep(for: .seconds(3))
            load.stop.store(true, ordering: .relaxed)
            await running.value
            let readFailures = load.readFailures.withLock { $0 }
            let writeFailures = load.writeFailures.withLock { $0 }
            let written = load.written.withLock { $0 }
            print("failover: \(load.reads.load(ordering: .relaxed)) reads verified, \(readFailures.count) failed; \(written.count) files written, \(writeFailures.count) writes failed")
            #expect(readFailures.isEmpty, "reads failed across the failover: \(readFailures.prefix(5))")
            // A write in flight to the killed manager may fail (and is then not visible); at most a few.
            #expect(writeFailures.count <= 3, "\(writeFailures)")
            #expect(written.count > 5)
            // Nothing committed is lost: every file, old and new, reads back identical.
            for (path, bytes) in files.merging(written, uniquingKeysWith: { a, _ in a }) {
                #expect(try await client.readFile(path) == bytes, "\(path)")
            }
            for failure in writeFailures {
                let path = String(failure.prefix { $0 != ":" })
                if let got = try? await client.readFile(path) {
                    #expect(got == (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &+ (Int(path.dropFirst(5).dropLast(4)) ?? 0) &* 31) },
                            "\(path) failed for the writer but holds other bytes")
                }
            }

            // The killed manager comes back as a follower of the new leader.
            try cluster.restart(leaderProcess)
            var rejoined: ManagerStatus?
            let restartAt = Date()
            while Date().timeIntervalSince(restartAt) < 20 {
                if let s = await Self.statuses(cluster).first(where: { $0.name == leader && $0.unreachable == nil }) {
                    rejoined = s
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(rejoined?.leading == false && rejoined?.leader != nil && rejoined?.leader != leader, "\(String(describing: rejoined))")
        }
    }
}
