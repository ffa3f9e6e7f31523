/// One drive as the cluster map records it: identity, state and the last capacity the node reported.
public struct DriveInfo: Codable, Sendable, Equatable {
    public var id: DriveID
    public var state: DriveState
    public var capacityBytes: Int64
    public var usedBytes: Int64
    public var freeBytes: Int64
    public var chunkCount: Int64
    /// Why the drive is not `up`, as the node reported it (for example "read-only file system").
    public var problem: String?

    public init(id: DriveID, state: DriveState, capacityBytes: Int64 = 0, usedBytes: Int64 = 0,
                freeBytes: Int64 = 0, chunkCount: Int64 = 0, problem: String? = nil) {
        self.id = id
        self.state = state
        self.capacityBytes = capacityBytes
        self.usedBytes = usedBytes
        self.freeBytes = freeBytes
        self.chunkCount = chunkCount
        self.problem = problem
    }
}
