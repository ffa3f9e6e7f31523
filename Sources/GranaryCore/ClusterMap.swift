/// The versioned map of the cluster: every storage node, its address and its drives.
///
/// Guarantees `version` grows by at least one whenever anything a client or node routes on
/// changes (membership, address, node or drive state), so a cached copy is current exactly when its
/// version equals the manager's.
public struct ClusterMap: Codable, Sendable, Equatable {
    public var version: UInt64
    public var nodes: [NodeInfo]

    public init(version: UInt64, nodes: [NodeInfo]) {
        self.version = version
        self.nodes = nodes
    }

    public func node(_ id: NodeID) -> NodeInfo? { nodes.first { $0.id == id } }

    public var drives: [DriveInfo] { nodes.flatMap(\.drives) }
    /// Drives new fragments can go to: `up` and healthy (neither suspect nor evicted), on nodes that are `up`.
    public var writableDrives: [DriveInfo] {
        nodes.filter { $0.state == .up }.flatMap(\.drives).filter { $0.state == .up && $0.health == .healthy }
    }

    /// The drive `id`, if the map has it.
    public func drive(_ id: DriveID) -> DriveInfo? { node(id.node)?.drives.first { $0.id == id } }
}
