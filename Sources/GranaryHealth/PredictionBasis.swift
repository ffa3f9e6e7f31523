/// Which inputs a `FailurePrediction` rests on, judged from the drive's latest record.
///
/// A drive without SMART is still scored: its SMART features sit at "no errors, average
/// temperature and age", so only the Granary performance columns move the probability. Callers
/// that require SMART evidence can check for `.performanceOnly` or `.none`.
public enum PredictionBasis: String, Sendable, Codable, Equatable, CaseIterable {
    case smartAndPerformance
    case smartOnly
    case performanceOnly
    /// Neither SMART nor performance data: the probability reflects only the model's baseline.
    case none
}
