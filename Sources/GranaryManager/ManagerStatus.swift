/// One manager's account of itself: its name and address, whether it leads the cluster's
/// background work, which manager holds the leader lease and its epoch, and the map version it serves.
/// `granary cluster status` shows one per configured manager, and a client can tell the leader from
/// the followers with it.
public struct ManagerStatus: Codable, Sendable, Equatable {
    public var name: String
    public var endpoint: String
    public var leading: Bool
    /// The lease holder at this manager's last look (nil: none yet).
    public var leader: String?
    public var epoch: UInt64
    public var mapVersion: UInt64
    /// Set by the client when the manager did not answer (then the rest is empty).
    public var unreachable: String?

    public init(name: String, endpoint: String, leading: Bool, leader: String?, epoch: UInt64, mapVersion: UInt64, unreachable: String? = nil) {
        self.name = name
        self.endpoint = endpoint
        self.leading = leading
        self.leader = leader
        self.epoch = epoch
        self.mapVersion = mapVersion
        self.unreachable = unreachable
    }
}
