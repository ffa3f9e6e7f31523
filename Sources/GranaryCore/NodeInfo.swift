/// One storage node as the cluster map records it.
public struct NodeInfo: Codable, Sendable, Equatable {
    public var id: NodeID
    /// Where the node serves chunk requests.
    public var address: Endpoint
    public var state: NodeState
    /// Seconds since the Unix epoch of the last heartbeat, `nil` if none since registration.
    public var lastHeartbeat: Double?
    public var drives: [DriveInfo]

    public init(id: NodeID, address: Endpoint, state: NodeState, lastHeartbeat: Double? = nil, drives: [DriveInfo]) {
        self.id = id
        self.address = address
        self.state = state
        self.lastHeartbeat = lastHeartbeat
        self.drives = drives
    }
}
