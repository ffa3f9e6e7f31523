/// One change of a drive's health, with who made it and the evidence: what `granary health`
/// lists and the manager logs.
public struct HealthEvent: Codable, Sendable, Equatable {
    public var time: Double
    public var drive: String
    public var from: String
    public var to: String
    /// "detector", "predictor", "policy" or "operator".
    public var by: String
    public var evidence: String

    public init(time: Double, drive: String, from: String, to: String, by: String, evidence: String) {
        self.time = time
        self.drive = drive
        self.from = from
        self.to = to
        self.by = by
        self.evidence = evidence
    }
}
