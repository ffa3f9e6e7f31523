import GranaryCore
import PostgresNIO

extension PostgresMetaStore {
    public func clusterMap() throws(MetaError) -> ClusterMap {
        try read { tx in
            let version = try storedMapVersion(tx)
            var nodes: [NodeInfo] = []
            var index: [NodeID: Int] = [:]
            for r in try tx.rows("SELECT * FROM nodes ORDER BY position") {
                let node = try decodeNode(tx, r)
                index[node.id] = nodes.count
                nodes.append(node)
            }
            for r in try tx.rows("SELECT * FROM drives ORDER BY node_id, position") {
                let (nodeID, drive) = try decodeDrive(tx, r)
                guard let i = index[nodeID] else {
                    throw MetaError.corrupt(path: location, table: "drives", key: drive.id.description,
                                            reason: "its node \(nodeID) is not in table nodes")
                }
                nodes[i].drives.append(drive)
            }
            return ClusterMap(version: version, nodes: nodes)
        }
    }

    public func saveClusterMap(_ map: ClusterMap) throws(MetaError) {
        try MetaRules.validate(map)
        try write(locking: [LockKey.clusterMap]) { tx in
            let stored = try storedMapVersion(tx)
            if map.version < stored { throw MetaError.staleClusterMap(stored: stored, offered: map.version) }
            try tx.execute("DELETE FROM drives")
            try tx.execute("DELETE FROM nodes")
            for (position, node) in map.nodes.enumerated() {
                try tx.execute("INSERT INTO nodes (id, position, address, state, last_heartbeat) VALUES ($1, $2, $3, $4, $5)",
                               [.text(node.id.rawValue), .int(position), .text(node.address.description), .text(node.state.rawValue),
                                .optional(node.lastHeartbeat)])
                for (drivePosition, drive) in node.drives.enumerated() {
                    try tx.execute(
                        """
                        INSERT INTO drives (id, node_id, position, state, capacity_bytes, used_bytes, free_bytes, chunk_count, problem,
                                            health, health_note)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                        """,
                        [.text(drive.id.description), .text(node.id.rawValue), .int(drivePosition), .text(drive.state.rawValue),
                         .bigint(drive.capacityBytes), .bigint(drive.usedBytes), .bigint(drive.freeBytes), .bigint(drive.chunkCount),
                         .optional(drive.problem), .text(drive.health.rawValue), .optional(drive.healthNote)])
                }
            }
            try tx.execute("UPDATE cluster_map SET version = $1 WHERE singleton = 1", [.bits(map.version)])
        }
    }

    public func clusterInfo() throws(MetaError) -> ClusterInfo? {
        try read { tx in
            guard let row = try tx.row("SELECT cluster_id, created_at FROM cluster_info", table: "cluster_info", key: "1") else { return nil }
            return ClusterInfo(id: try row.string("cluster_id"), createdAt: try row.double("created_at"))
        }
    }

    public func initializeCluster(id: String, createdAt: Double) throws(MetaError) {
        try write(locking: [LockKey.clusterMap]) { tx in
            if let existing = try tx.row("SELECT cluster_id FROM cluster_info", table: "cluster_info", key: "1") {
                let existingID = try existing.string("cluster_id")
                if existingID == id { return }
                throw MetaError.alreadyInitialized(existingID: existingID)
            }
            try tx.execute("INSERT INTO cluster_info (singleton, cluster_id, created_at) VALUES (1, $1, $2)",
                           [.text(id), .double(createdAt)])
        }
    }

    // MARK: Rows

    private func storedMapVersion(_ tx: PostgresTransaction) throws -> UInt64 {
        guard let row = try tx.row("SELECT version FROM cluster_map WHERE singleton = 1", table: "cluster_map", key: "1") else {
            throw MetaError.corrupt(path: location, table: "cluster_map", key: "1", reason: "the version row is missing")
        }
        return try row.bits("version")
    }

    private func decodeNode(_ tx: PostgresTransaction, _ r: PostgresRandomAccessRow) throws(MetaError) -> NodeInfo {
        let raw = try tx.reader(r, table: "nodes", key: "?").string("id")
        let row = tx.reader(r, table: "nodes", key: raw)
        guard let id = NodeID(raw) else { throw row.corrupt("'\(raw)' is not a valid node id") }
        let addressText = try row.string("address")
        guard let address = Endpoint(parsing: addressText, allowAnyPort: true) else {
            throw row.corrupt("address '\(addressText)' is not host:port")
        }
        let stateText = try row.string("state")
        guard let state = NodeState(rawValue: stateText) else { throw row.corrupt("unknown node state '\(stateText)'") }
        return NodeInfo(id: id, address: address, state: state, lastHeartbeat: try row.optionalDouble("last_heartbeat"), drives: [])
    }

    private func decodeDrive(_ tx: PostgresTransaction, _ r: PostgresRandomAccessRow) throws(MetaError) -> (NodeID, DriveInfo) {
        let raw = try tx.reader(r, table: "drives", key: "?").string("id")
        let row = tx.reader(r, table: "drives", key: raw)
        guard let id = DriveID(parsing: raw) else { throw row.corrupt("'\(raw)' is not a valid drive id") }
        let nodeText = try row.string("node_id")
        guard let node = NodeID(nodeText) else { throw row.corrupt("'\(nodeText)' is not a valid node id") }
        let stateText = try row.string("state")
        guard let state = DriveState(rawValue: stateText) else { throw row.corrupt("unknown drive state '\(stateText)'") }
        let healthText = try row.string("health")
        guard let health = DriveHealth(rawValue: healthText) else { throw row.corrupt("unknown drive health '\(healthText)'") }
        let drive = DriveInfo(id: id, state: state, capacityBytes: try row.int64("capacity_bytes"), usedBytes: try row.int64("used_bytes"),
                              freeBytes: try row.int64("free_bytes"), chunkCount: try row.int64("chunk_count"),
                              problem: try row.optionalString("problem"), health: health, healthNote: try row.optionalString("health_note"))
        return (node, drive)
    }
}
