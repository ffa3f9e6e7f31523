#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryManager
import GranaryMeta
import GranaryTransport
import GranaryWire
import Logging
import Synchronization
import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let now = Mutex(1_000.0)
    func advance(_ s: Double) { now.withLock { $0 += s } }
    var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
}

@Suite struct ClusterManagerTests {
    static func store() throws -> (SQLiteMetaStore, String) {
        var template = Array("/tmp/granary-mgr-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        return (try SQLiteMetaStore(path: dir + "/meta.db"), dir + "/meta.db")
    }

    static var logger: Logger {
        var l = Logger(label: "t")
        l.logLevel = .critical
        return l
    }

    static func hb(_ node: String, port: UInt16 = 7501, _ drives: [DriveReport] = [DriveReport(name: "d0", condition: .ok, capacityBytes: 100, freeBytes: 60)]) throws -> NodeHeartbeat {
        NodeHeartbeat(node: try #require(NodeID(node)), address: Endpoint(host: "127.0.0.1", port: port), drives: drives)
    }

    @Test func registrationHeartbeatsAndVersioning() async throws {
        let (store, _) = try Self.store()
        let clock = TestClock()
        let m = try ClusterManager(store: store, heartbeatTimeoutMs: 5000, logger: Self.logger, clock: clock.read)
        let v1 = try await m.heartbeat(Self.hb("node-1"))
        let v2 = try await m.heartbeat(Self.hb("node-2"))
        #expect(v2 == v1 + 1)
        // Same facts, new usage figures: no version bump, figures refreshed.
        let v3 = try await m.heartbeat(Self.hb("node-1", [DriveReport(name: "d0", condition: .ok, capacityBytes: 100, freeBytes: 10)]))
        #expect(v3 == v2)
        #expect(await m.clusterMap.node(try #require(NodeID("node-1")))?.drives.first?.freeBytes == 10)
        // A drive turning read-only is routed on: bump, and the drive state says so.
        let v4 = try await m.heartbeat(Self.hb("node-1", [DriveReport(name: "d0", condition: .readOnly, problem: "read-only file system")]))
        #expect(v4 == v3 + 1)
        #expect(await m.clusterMap.drives.first { $0.id.node.rawValue == "node-1" }?.state == .readOnly)
        // An address change is routed on too.
        #expect(try await m.heartbeat(Self.hb("node-1", port: 9999, [DriveReport(name: "d0", condition: .readOnly, problem: "read-only file system")])) == v4 + 1)
        #expect(try store.clusterMap().version == v4 + 1)
    }

    @Test func silentNodeGoesDownAndComesBack() async throws {
        let (store, _) = try Self.store()
        let clock = TestClock()
        let m = try ClusterManager(store: store, heartbeatTimeoutMs: 2000, logger: Self.logger, clock: clock.read)
        try await m.heartbeat(Self.hb("node-1"))
        try await m.heartbeat(Self.hb("node-2"))
        clock.advance(1.5)
        try await m.heartbeat(Self.hb("node-2"))
        #expect(try await m.checkLiveness().isEmpty)
        clock.advance(1.0)
        #expect(try await m.checkLiveness().map(\.rawValue) == ["node-1"])
        let map = await m.clusterMap
        #expect(map.node(try #require(NodeID("node-1")))?.state == .down)
        #expect(map.node(try #require(NodeID("node-1")))?.drives.allSatisfy { $0.state == .down } == true)
        #expect(map.node(try #require(NodeID("node-2")))?.state == .up)
        try await m.heartbeat(Self.hb("node-1"))
        #expect(await m.clusterMap.node(try #require(NodeID("node-1")))?.state == .up)
    }

    @Test func drainPersistsAcrossRestartAndNodesGetOneTimeoutOfGrace() async throws {
        let (store, path) = try Self.store()
        let clock = TestClock()
        let m = try ClusterManager(store: store, heartbeatTimeoutMs: 2000, logger: Self.logger, clock: clock.read)
        try await m.heartbeat(Self.hb("node-1"))
        try await m.heartbeat(Self.hb("node-2"))
        try await m.drain(try #require(NodeID("node-2")))
        // A drained node's heartbeats keep it drained.
        try await m.heartbeat(Self.hb("node-2"))
        #expect(await m.clusterMap.node(try #require(NodeID("node-2")))?.state == .drained)
        #expect(await m.clusterMap.drives.filter { $0.id.node.rawValue == "node-2" }.allSatisfy { $0.state == .drained })
        let before = await m.clusterMap.version

        // A new manager over the same database: drained stays drained; up stays up for one
        // heartbeat timeout of grace (reads keep working across a manager restart), then a node
        // not heard from is down.
        let m2 = try ClusterManager(store: try SQLiteMetaStore(path: path), heartbeatTimeoutMs: 2000, logger: Self.logger, clock: clock.read)
        let map = await m2.clusterMap
        #expect(map.version == before)
        #expect(map.node(try #require(NodeID("node-1")))?.state == .up)
        #expect(map.node(try #require(NodeID("node-2")))?.state == .drained)
        clock.advance(1.5)
        #expect(try await m2.checkLiveness().isEmpty)
        clock.advance(1.0)
        #expect(try await m2.checkLiveness() == [try #require(NodeID("node-1"))])
        #expect(await m2.clusterMap.node(try #require(NodeID("node-1")))?.state == .down)
        try await m2.undrain(try #require(NodeID("node-2")))
        try await m2.heartbeat(Self.hb("node-2"))
        #expect(await m2.clusterMap.node(try #require(NodeID("node-2")))?.state == .up)
    }

    @Test func unknownNodeDrainIsAnError() async throws {
        let (store, _) = try Self.store()
        let m = try ClusterManager(store: store, heartbeatTimeoutMs: 2000, logger: Self.logger)
        let ghost = try #require(NodeID("ghost"))
        await #expect(throws: ManagerError.unknownNode(ghost)) { try await m.drain(ghost) }
    }

    @Test func serviceAnswersMalformedRequestsWithBadRequest() async throws {
        let (store, _) = try Self.store()
        let m = try ClusterManager(store: store, heartbeatTimeoutMs: 2000, logger: Self.logger)
        let service = ManagerService(manager: m)
        let r = await service.handle(Request(type: .heartbeat, id: 1, body: Array("{\"node\":\"n\"}".utf8), peer: "test"))
        guard case let .error(e) = r else { Issue.record("expected an error"); return }
        #expect(e.code == .badRequest)
        #expect(e.message.contains("address"))
        let unknown = await service.handle(Request(type: .drainNode, id: 2, body: JSONMessage.encode(NodeRequest(node: try #require(NodeID("ghost")))), peer: "test"))
        guard case let .error(u) = unknown else { Issue.record("expected an error"); return }
        #expect(u.code == .unknownNode)
        #expect(await m.clusterMap.nodes.isEmpty)
    }
}

@Suite("Repair: which drives are retired")
struct RetiredDrivesTests {
    static func node(_ id: String, _ state: NodeState, heartbeat: Double?, drives: [DriveState]) -> NodeInfo {
        NodeInfo(id: NodeID(id)!, address: Endpoint(host: "127.0.0.1", port: 1), state: state, lastHeartbeat: heartbeat,
                 drives: drives.enumerated().map { i, s in
                     DriveInfo(id: DriveID(node: NodeID(id)!, name: "d\(i)")!, state: s, capacityBytes: 1, usedBytes: 0, freeBytes: 1, chunkCount: 0, problem: nil)
                 })
    }

    @Test func failedAndDrainedAtOnceDownOnlyAfterDownOut() {
        let map = ClusterMap(version: 1, nodes: [
            Self.node("a", .up, heartbeat: 100, drives: [.up, .failed]),
            Self.node("b", .drained, heartbeat: 100, drives: [.drained]),
            Self.node("c", .down, heartbeat: 95, drives: [.down]),
            Self.node("d", .down, heartbeat: 40, drives: [.down, .down]),
            Self.node("e", .down, heartbeat: nil, drives: [.down]),
            Self.node("f", .up, heartbeat: 100, drives: [.readOnly]),
        ])
        // Down-out of 30 s at t = 100, this manager started at t = 80: d (last heard at 40) and e
        // (never heard) count as down only since 80, so only the failed and the drained drive go.
        let retired = RepairService.retiredDrives(map, now: 100, since: 80, downOutMs: 30_000)
        #expect(retired.map(\.description).sorted() == ["a/d1", "b/d0"])
        // A manager up since t = 0 has seen d and e down long enough; c (5 s) is still awaited.
        let later = RepairService.retiredDrives(map, now: 100, since: 0, downOutMs: 30_000)
        #expect(later.map(\.description).sorted() == ["a/d1", "b/d0", "d/d0", "d/d1", "e/d0"])
        // Only a has a drive to write to (f's is read-only).
        #expect(RepairService.healthyNodes(map, retired: retired) == 1)
    }
}
