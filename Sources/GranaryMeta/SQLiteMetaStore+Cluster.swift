import GRDB
import GranaryCore

extension SQLiteMetaStore {
    public func clusterMap() throws(MetaError) -> ClusterMap {
        try read { db in
            let version = try storedMapVersion(db)
            var nodes: [NodeInfo] = []
            var index: [NodeID: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY position") {
                let node = try decodeNode(row)
                index[node.id] = nodes.count
                nodes.append(node)
            }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM drives ORDER BY node_id, position") {
                let (nodeID, drive) = try decodeDrive(row)
                guard let i = index[nodeID] else {
                    throw MetaError.corrupt(path: path, table: "drives", key: drive.id.description,
                                            reason: "its node \(nodeID) is not in table nodes")
                }
                nodes[i].drives.append(drive)
            }
            return ClusterMap(version: version, nodes: nodes)
        }
    }

    public func saveClusterMap(_ map: ClusterMap) throws(MetaError) {
        try MetaRules.validate(map)
        try write { db in
            let stored = try storedMapVersion(db)
            if map.version < stored { throw MetaError.staleClusterMap(stored: stored, offered: map.version) }
            try db.execute(sql: "DELETE FROM drives")
            try db.execute(sql: "DELETE FROM nodes")
            for (position, node) in map.nodes.enumerated() {
                try db.execute(
                    sql: "INSERT INTO nodes (id, position, address, state, last_heartbeat) VALUES (?, ?, ?, ?, ?)",
                    arguments: [node.id.rawValue, position, node.address.description, node.state.rawValue,
                                node.lastHeartbeat])
                for (drivePosition, drive) in node.drives.enumerated() {
                    try db.execute(
                        sql: """
                            INSERT INTO drives (id, node_id, position, state, capacity_bytes, used_bytes, free_bytes,
                                                chunk_count, problem, health, health_note)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [drive.id.description, node.id.rawValue, drivePosition, drive.state.rawValue,
                                    drive.capacityBytes, drive.usedBytes, drive.freeBytes, drive.chunkCount,
                                    drive.problem, drive.health.rawValue, drive.healthNote])
                }
            }
            try db.execute(sql: "UPDATE cluster_map SET version = ? WHERE singleton = 1",
                           arguments: [Int64(bitPattern: map.version)])
        }
    }

    public func clusterInfo() throws(MetaError) -> ClusterInfo? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT cluster_id, created_at FROM cluster_info") else { return nil }
            let f = fields(row, table: "cluster_info", key: "1")
            return ClusterInfo(id: try f.get("cluster_id"), createdAt: try f.get("created_at"))
        }
    }

    public func initializeCluster(id: String, createdAt: Double) throws(MetaError) {
        try write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT cluster_id FROM cluster_info") {
                if existing == id { return }
                throw MetaError.alreadyInitialized(existingID: existing)
            }
            try db.execute(sql: "INSERT INTO cluster_info (singleton, cluster_id, created_at) VALUES (1, ?, ?)",
                           arguments: [id, createdAt])
        }
    }

    // MARK: Rows

    private func storedMapVersion(_ db: Database) throws -> UInt64 {
        guard let row = try Row.fetchOne(db, sql: "SELECT version FROM cluster_map WHERE singleton = 1") else {
            throw MetaError.corrupt(path: path, table: "cluster_map", key: "1", reason: "the version row is missing")
        }
        return UInt64(bitPattern: try fields(row, table: "cluster_map", key: "1").get("version", as: Int64.self))
    }

    private func decodeNode(_ row: Row) throws(MetaError) -> NodeInfo {
        let raw = try fields(row, table: "nodes", key: "?").get("id", as: String.self)
        let f = fields(row, table: "nodes", key: raw)
        guard let id = NodeID(raw) else { throw f.corrupt("'\(raw)' is not a valid node id") }
        let addressText = try f.get("address", as: String.self)
        guard let address = Endpoint(parsing: addressText, allowAnyPort: true) else {
            throw f.corrupt("address '\(addressText)' is not host:port")
        }
        let stateText = try f.get("state", as: String.self)
        guard let state = NodeState(rawValue: stateText) else { throw f.corrupt("unknown node state '\(stateText)'") }
        return NodeInfo(id: id, address: address, state: state,
                        lastHeartbeat: try f.get("last_heartbeat", as: Double?.self), drives: [])
    }

    private func decodeDrive(_ row: Row) throws(MetaError) -> (NodeID, DriveInfo) {
        let raw = try fields(row, table: "drives", key: "?").get("id", as: String.self)
        let f = fields(row, table: "drives", key: raw)
        guard let id = DriveID(parsing: raw) else { throw f.corrupt("'\(raw)' is not a valid drive id") }
        let nodeText = try f.get("node_id", as: String.self)
        guard let node = NodeID(nodeText) else { throw f.corrupt("'\(nodeText)' is not a valid node id") }
        let stateText = try f.get("state", as: String.self)
        guard let state = DriveState(rawValue: stateText) else { throw f.corrupt("unknown drive state '\(stateText)'") }
        let healthText = try f.get("health", as: String.self)
        guard let health = DriveHealth(rawValue: healthText) else { throw f.corrupt("unknown drive health '\(healthText)'") }
        let drive = DriveInfo(id: id, state: state,
                              capacityBytes: try f.get("capacity_bytes"), usedBytes: try f.get("used_bytes"),
                              freeBytes: try f.get("free_bytes"), chunkCount: try f.get("chunk_count"),
                              problem: try f.get("problem", as: String?.self), health: health,
                              healthNote: try f.get("health_note", as: String?.self))
        return (node, drive)
    }
}
