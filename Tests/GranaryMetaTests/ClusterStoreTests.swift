import GRDB
import GranaryCore
import GranaryMeta
import Testing

@Suite("Cluster map and identity")
struct ClusterStoreTests {
    func node(_ name: String) throws -> NodeID { try #require(NodeID(name)) }

    func drive(_ node: String, _ name: String) throws -> DriveID {
        try #require(DriveID(node: try self.node(node), name: name))
    }

    /// Three nodes in every state, drives in every state, optional fields both set and unset.
    func sampleMap(version: UInt64) throws -> ClusterMap {
        ClusterMap(version: version, nodes: [
            NodeInfo(id: try node("node-2"), address: Endpoint(host: "10.0.0.2", port: 7400), state: .up,
                     lastHeartbeat: 1_700_000_123.25, drives: [
                        DriveInfo(id: try drive("node-2", "d1"), state: .up, capacityBytes: 4 << 40,
                                  usedBytes: 1 << 30, freeBytes: (4 << 40) - (1 << 30), chunkCount: 12_345),
                        DriveInfo(id: try drive("node-2", "d0"), state: .readOnly, capacityBytes: 1 << 40,
                                  problem: "read-only file system"),
                     ]),
            NodeInfo(id: try node("node-1"), address: Endpoint(host: "::1", port: 7401), state: .down,
                     lastHeartbeat: nil, drives: [
                        DriveInfo(id: try drive("node-1", "d0"), state: .failed, problem: "I/O error"),
                        DriveInfo(id: try drive("node-1", "d1"), state: .down),
                     ]),
            NodeInfo(id: try node("rack3.host7"), address: Endpoint(host: "host7.example", port: 65535),
                     state: .drained, lastHeartbeat: 0, drives: [
                        DriveInfo(id: try drive("rack3.host7", "nvme0"), state: .drained, chunkCount: 1),
                     ]),
            NodeInfo(id: try node("empty"), address: Endpoint(host: "localhost", port: 1), state: .up, drives: []),
        ])
    }

    @Test(arguments: Engine.all)
    func freshStoreHasEmptyMapVersionZero(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            #expect(try store.clusterMap() == ClusterMap(version: 0, nodes: []))
            #expect(try store.clusterInfo() == nil)
            #expect(try store.schemaVersion() == engine.supportedSchemaVersion)
            #expect(engine.supportedSchemaVersion == 6)
        }
    }

    @Test(arguments: Engine.all)
    func mapRoundTripsWithOrderStatesAndOptionalFields(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let map = try sampleMap(version: 7)
            try store.saveClusterMap(map)
            let back = try store.clusterMap()
            #expect(back == map)
            #expect(back.nodes.map(\.id.rawValue) == ["node-2", "node-1", "rack3.host7", "empty"])
            #expect(back.node(try node("node-1"))?.address.description == "[::1]:7401")
            #expect(back.drives.count == 5)

            // A later map replaces nodes and drives entirely.
            var next = map
            next.version = 8
            next.nodes.removeFirst()
            next.nodes[0].state = .up
            next.nodes[0].drives[0].state = .up
            next.nodes[0].drives[0].problem = nil
            // Health marks are stored with the drives: a manager that restarts or takes over reads them back.
            next.nodes[0].drives[0].health = .evicted
            next.nodes[0].drives[0].healthNote = "evicted by an operator: p99 12x its peers"
            next.nodes[1].drives[0].health = .suspect
            try store.saveClusterMap(next)
            #expect(try store.clusterMap() == next)
            #expect(try store.clusterMap().nodes[0].drives[0].health == .evicted)
            #expect(try store.clusterMap().node(try node("node-2")) == nil)
        }
    }

    @Test(arguments: Engine.all)
    func staleVersionIsRefusedAndLeavesStoredMap(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            let map = try sampleMap(version: 10)
            try store.saveClusterMap(map)
            let old = ClusterMap(version: 9, nodes: [])
            #expect(throws: MetaError.staleClusterMap(stored: 10, offered: 9)) { try store.saveClusterMap(old) }
            #expect(try store.clusterMap() == map)
            #expect(MetaError.staleClusterMap(stored: 10, offered: 9).description.contains("version 9"))
            // The same version again is accepted.
            try store.saveClusterMap(map)
            #expect(try store.clusterMap().version == 10)
        }
    }

    @Test(arguments: Engine.all)
    func versionsAboveInt64MaxRoundTrip(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            try store.saveClusterMap(ClusterMap(version: UInt64(Int64.max) + 5, nodes: []))
            #expect(try store.clusterMap().version == UInt64(Int64.max) + 5)
            #expect(throws: MetaError.staleClusterMap(stored: UInt64(Int64.max) + 5, offered: 3)) {
                try store.saveClusterMap(ClusterMap(version: 3, nodes: []))
            }
        }
    }

    @Test(arguments: Engine.all)
    func contradictoryMapIsRefused(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            var map = try sampleMap(version: 1)
            map.nodes.append(map.nodes[0])
            #expect(throws: MetaError.invalidClusterMap(reason: "node node-2 appears twice")) {
                try store.saveClusterMap(map)
            }
            var misplaced = try sampleMap(version: 1)
            misplaced.nodes[1].drives.append(misplaced.nodes[0].drives[0])
            #expect(throws: MetaError.invalidClusterMap(reason: "drive node-2/d1 is listed under node node-1")) {
                try store.saveClusterMap(misplaced)
            }
            #expect(try store.clusterMap() == ClusterMap(version: 0, nodes: []))
        }
    }

    @Test(arguments: Engine.all)
    func mapPersistsAcrossReopen(_ engine: Engine) throws {
        try engine.withDatabase { db throws in
            let map = try sampleMap(version: 42)
            do {
                let store = try db.open()
                try store.saveClusterMap(map)
                try store.initializeCluster(id: "c-1", createdAt: 1_700_000_000.5)
            }
            let reopened = try db.open()
            #expect(try reopened.clusterMap() == map)
            #expect(try reopened.clusterInfo() == ClusterInfo(id: "c-1", createdAt: 1_700_000_000.5))
            #expect(try reopened.schemaVersion() == engine.supportedSchemaVersion)
        }
    }

    @Test(arguments: Engine.all)
    func clusterIsInitializedOnce(_ engine: Engine) throws {
        try engine.withStore { store, _ throws in
            try store.initializeCluster(id: "alpha", createdAt: 100)
            // Same id again: harmless, first creation time kept.
            try store.initializeCluster(id: "alpha", createdAt: 200)
            #expect(try store.clusterInfo() == ClusterInfo(id: "alpha", createdAt: 100))
            #expect(throws: MetaError.alreadyInitialized(existingID: "alpha")) {
                try store.initializeCluster(id: "beta", createdAt: 300)
            }
            #expect(try store.clusterInfo()?.id == "alpha")
            #expect(MetaError.alreadyInitialized(existingID: "alpha").description.contains("'alpha'"))
        }
    }

    @Test(arguments: Engine.all)
    func invalidStoredNodeIdIsReportedAsCorrupt(_ engine: Engine) throws {
        try engine.withStore { store, db throws in
            try db.execute(["""
                INSERT INTO nodes (id, position, address, state, last_heartbeat)
                VALUES ('bad id!', 0, '10.0.0.1:7400', 'up', NULL)
                """])
            let error = #expect(throws: MetaError.self) { try store.clusterMap() }
            guard case let .corrupt(p, table, key, reason) = error else {
                Issue.record("expected .corrupt, got \(String(describing: error))")
                return
            }
            // The file path, or the URL (shown without any password).
            let path = engine == .sqlite ? db.location : String(db.location.split(separator: "?")[0]) + "?sslmode=disable"
            #expect(p == path)
            #expect(table == "nodes")
            #expect(key == "bad id!")
            #expect(reason.contains("not a valid node id"))
            #expect(error?.description.contains(path) == true)
        }
    }
}
