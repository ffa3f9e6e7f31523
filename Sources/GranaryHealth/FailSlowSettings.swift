/// The fail-slow detector's thresholds.
///
/// The defaults follow Perseus (FAST'23): judge a drive only against peers under the load it
/// actually had, call it slow only well above the peers' upper bound (2x the expected latency and
/// beyond their spread), and act only on a slowdown that persists — a single slow window is noise,
/// thirty seconds of them is a drive. Clearing needs a clearly lower ratio held for longer than
/// flagging took (hysteresis), so a drive hovering at the threshold does not flap.
public struct FailSlowSettings: Sendable, Codable, Equatable {
    /// Peer points older than this are dropped from the latency model, in seconds.
    public var historySeconds: Double = 600
    /// Windows kept per drive for the model (the newest), so a fit stays cheap on large clusters.
    public var pointsPerDrive: Int = 60
    /// Distinct peer drives needed before a drive is judged.
    public var minPeers: Int = 3
    /// A window with fewer operations says nothing either way.
    public var minOps: Int = 10
    /// Observed latency over expected at that load that counts as slow.
    public var slowdownThreshold: Double = 2.0
    /// Below this ratio a window counts as normal (for clearing, and to break a run of slow windows).
    public var clearThreshold: Double = 1.3
    /// The upper bound is the expected latency plus this many robust standard deviations of the peers.
    public var spreadFactor: Double = 4
    /// A share of failed operations at or above this makes a window slow whatever its latency.
    public var errorRate: Double = 0.05
    /// Share of the windows in a run that must be slow for the run to count (windows between the
    /// clear and slow thresholds neither break a run nor confirm it).
    public var slowShare: Double = 0.75
    /// A slowdown must persist this long before the drive is suspect, in seconds.
    public var suspectAfterSeconds: Double = 30
    /// A suspect drive must look normal this long to be cleared, in seconds.
    public var clearAfterSeconds: Double = 60
    /// Weight of the newest window in the reported score (an exponential moving average).
    public var scoreSmoothing: Double = 0.3

    public init() {}
}
