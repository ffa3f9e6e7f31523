/// What the fail-slow detector makes of one drive: its state, how far it sits above its peers,
/// since when, and the evidence in one sentence naming the drive.
public struct DriveAssessment: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case healthy, suspect }

    public var drive: String
    public var node: String
    public var state: State
    /// Smoothed observed/expected latency ratio (1 = in line with peers at that load).
    public var score: Double
    /// When the current run of slow windows began.
    public var slowSince: Double?
    /// Judged windows in the current run, and how many of them were slow.
    public var runWindows: Int = 0
    public var slowWindows: Int = 0
    /// When the drive became suspect.
    public var suspectSince: Double?
    /// When the current run of normal windows of a suspect drive began.
    public var normalSince: Double?
    public var observedLatencyMs: Double
    public var expectedLatencyMs: Double
    public var upperBoundMs: Double
    /// Operations per second in the latest window judged.
    public var load: Double
    /// Peer drives the latest judgement compared against.
    public var peers: Int
    public var evidence: String
    public var updatedAt: Double

    public init(drive: String, node: String) {
        self.drive = drive
        self.node = node
        state = .healthy
        score = 1
        observedLatencyMs = 0
        expectedLatencyMs = 0
        upperBoundMs = 0
        load = 0
        peers = 0
        evidence = "\(drive): not judged yet"
        updatedAt = 0
    }
}
