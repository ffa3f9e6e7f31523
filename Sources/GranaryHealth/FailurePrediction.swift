/// The failure forecast for one drive on its latest observed day.
///
/// `failing == (probability >= threshold)` always holds; `factors` lists, strongest first, the
/// features that pushed the probability up, in plain words, and mentions missing data when it
/// limits what the forecast can rest on.
public struct FailurePrediction: Sendable, Codable, Equatable {
    public var serial: String
    /// Date of the record the forecast is for; nil when no record was given.
    public var date: String?
    /// Model score in [0, 1] that the drive fails within `horizonDays` days. Training weights
    /// failing and healthy drive-days equally, so this is inflated relative to the real failure
    /// rate: compare it with `threshold`, do not read it as a calibrated probability.
    public var probability: Double
    public var failing: Bool
    public var horizonDays: Int
    public var threshold: Double
    public var basis: PredictionBasis
    public var factors: [String]

    public init(
        serial: String, date: String?, probability: Double, horizonDays: Int, threshold: Double,
        basis: PredictionBasis, factors: [String]
    ) {
        self.serial = serial
        self.date = date
        self.probability = probability
        failing = probability >= threshold
        self.horizonDays = horizonDays
        self.threshold = threshold
        self.basis = basis
        self.factors = factors
    }
}
