/// What `FailurePredictor.train` produces: the model plus honest figures for it.
///
/// `heldOut` is measured on drives the model and its threshold never saw (about 30%, chosen by a
/// hash of the serial), so it estimates performance on new drives; `training` is the same
/// measure on the training drives and is optimistic by construction.
public struct TrainingResult: Sendable, Codable, Equatable {
    public var model: FailurePredictor
    public var heldOut: PredictorEvaluation
    public var training: PredictorEvaluation
    public var trainingDrives: Int
    public var heldOutDrives: Int
}
