import GranaryCore

/// One drive as `granary drive list` and `granary health` show it: state, health, the detector's
/// score and evidence, its latest measurements, SMART (or why there is none) and the prediction.
public struct DriveHealthReport: Codable, Sendable, Equatable {
    public var drive: String
    public var state: String
    public var health: DriveHealth
    /// Why the drive is suspect or evicted (the evidence recorded when it changed).
    public var healthNote: String?
    /// The fail-slow detector's smoothed slowdown against its peers (1 = in line); nil before it has judged.
    public var score: Double?
    /// The detector's latest evidence sentence.
    public var evidence: String?
    /// The latest telemetry window the drive's node reported.
    public var latest: DriveTelemetry?
    /// SMART attributes, when the drive has them.
    public var smart: SmartReading?
    /// Why there is no SMART data (as in a VM), when there is none.
    public var smartNote: String?
    /// Predicted probability of failure within `horizonDays`, when SMART history exists.
    public var failureProbability: Double?
    public var predictedFailing: Bool?
    public var horizonDays: Int?
    public var predictionNote: String?
    public var usedBytes: Int64
    public var capacityBytes: Int64
    public var chunkCount: Int64
    public var problem: String?

    public init(drive: String, state: String, health: DriveHealth, usedBytes: Int64 = 0, capacityBytes: Int64 = 0, chunkCount: Int64 = 0) {
        self.drive = drive
        self.state = state
        self.health = health
        self.usedBytes = usedBytes
        self.capacityBytes = capacityBytes
        self.chunkCount = chunkCount
    }
}
