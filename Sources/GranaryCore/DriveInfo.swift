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
    /// What the health monitor makes of the drive (fail-slow detection, failure prediction,
    /// operator eviction); kept across heartbeats and manager restarts.
    public var health: DriveHealth
    /// The evidence behind `health` when it is not `healthy`, in one sentence.
    public var healthNote: String?

    public init(id: DriveID, state: DriveState, capacityBytes: Int64 = 0, usedBytes: Int64 = 0,
                freeBytes: Int64 = 0, chunkCount: Int64 = 0, problem: String? = nil, health: DriveHealth = .healthy,
                healthNote: String? = nil) {
        self.id = id
        self.state = state
        self.capacityBytes = capacityBytes
        self.usedBytes = usedBytes
        self.freeBytes = freeBytes
        self.chunkCount = chunkCount
        self.problem = problem
        self.health = health
        self.healthNote = healthNote
    }

    enum CodingKeys: String, CodingKey {
        case id, state, capacityBytes, usedBytes, freeBytes, chunkCount, problem, health, healthNote
    }

    /// Maps saved before drive health existed decode with every drive healthy.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(DriveID.self, forKey: .id)
        state = try c.decode(DriveState.self, forKey: .state)
        capacityBytes = try c.decodeIfPresent(Int64.self, forKey: .capacityBytes) ?? 0
        usedBytes = try c.decodeIfPresent(Int64.self, forKey: .usedBytes) ?? 0
        freeBytes = try c.decodeIfPresent(Int64.self, forKey: .freeBytes) ?? 0
        chunkCount = try c.decodeIfPresent(Int64.self, forKey: .chunkCount) ?? 0
        problem = try c.decodeIfPresent(String.self, forKey: .problem)
        health = try c.decodeIfPresent(DriveHealth.self, forKey: .health) ?? .healthy
        healthNote = try c.decodeIfPresent(String.self, forKey: .healthNote)
    }
}
