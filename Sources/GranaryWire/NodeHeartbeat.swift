import GranaryCore

/// Registration and heartbeat body from a storage node to the manager: who it is, where it serves,
/// and its drives. Registration and heartbeat carry the same facts, so a manager that restarted
/// learns a node's full state from its next heartbeat.
public struct NodeHeartbeat: Codable, Sendable, Equatable {
    public var node: NodeID
    public var address: Endpoint
    public var drives: [DriveReport]

    public init(node: NodeID, address: Endpoint, drives: [DriveReport]) {
        self.node = node
        self.address = address
        self.drives = drives
    }
}

/// The manager's answer to a heartbeat: the cluster map version, so the node refreshes its copy
/// when it changed.
public struct HeartbeatReply: Codable, Sendable, Equatable {
    public var mapVersion: UInt64
    public init(mapVersion: UInt64) { self.mapVersion = mapVersion }
}

/// Names a node for drain and undrain.
public struct NodeRequest: Codable, Sendable, Equatable {
    public var node: NodeID
    public init(node: NodeID) { self.node = node }
}
