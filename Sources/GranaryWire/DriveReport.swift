import GranaryCore

/// What a storage node reports about one of its drives at registration and in every heartbeat.
public struct DriveReport: Codable, Sendable, Equatable {
    public enum Condition: String, Codable, Sendable { case ok, readOnly = "read-only", failed }

    public var name: String
    public var condition: Condition
    public var problem: String?
    public var capacityBytes: Int64
    public var usedBytes: Int64
    public var freeBytes: Int64
    public var chunkCount: Int64
    /// What the node measured on the drive since its previous heartbeat (nil from older nodes).
    public var telemetry: DriveTelemetry?

    public init(name: String, condition: Condition, problem: String? = nil, capacityBytes: Int64 = 0,
                usedBytes: Int64 = 0, freeBytes: Int64 = 0, chunkCount: Int64 = 0, telemetry: DriveTelemetry? = nil) {
        self.name = name
        self.condition = condition
        self.problem = problem
        self.capacityBytes = capacityBytes
        self.usedBytes = usedBytes
        self.freeBytes = freeBytes
        self.chunkCount = chunkCount
        self.telemetry = telemetry
    }
}
