import Foundation

/// Predicts whether a drive will fail within `horizonDays` days from its SMART history and
/// Granary's performance counters.
///
/// The model is L2-regularised logistic regression on standardised `SmartFeatures`, trained by
/// full-batch gradient descent (Nesterov momentum) with balanced class weights.
///
/// Why not boosted trees: the candidate was a gradient-boosted ensemble of 100 depth-3 trees on
/// the same features and labels, with the same threshold rule. Over three synthetic data sets of
/// 3000 drives × 120 days (`health-train-default --compare`) mean drive-level F1 was 0.946 for
/// this model vs 0.940 for the trees on the held-out drives, and 0.927 vs 0.937 on fresh data
/// from another seed: a tie within about three drives in three hundred failures. On a tie the
/// linear model wins on everything else: 16 weights that ship as a Swift literal, training in
/// seconds (fast enough for debug-build tests), and exact explanations, since the log-odds is a
/// sum of per-feature contributions, which is what `FailurePrediction.factors` reports. What it
/// cannot express is an AND of symptoms (latency and I/O errors alarm the most only together
/// with media errors), which is where the trees' small edge on fresh data comes from.
///
/// Guarantees: a value of this type always has one mean, scale and weight per feature of the
/// current `SmartFeatures` layout, all finite, scales positive, `threshold` in [0, 1] and
/// `horizonDays >= 1`; decoding JSON that breaks this fails with `.badModel`.
public struct FailurePredictor: Sendable, Codable, Equatable {
    /// A drive-day counts as failing when the drive fails within this many days (0 = same day).
    public let horizonDays: Int
    /// Probability at or above which a drive is reported as failing; chosen to maximise
    /// drive-level F1 on the training drives.
    public let threshold: Double
    /// `SmartFeatures.names` at training time; checked on load so a model never meets a layout
    /// it was not trained for.
    public let featureNames: [String]
    public let featureMeans: [Double]
    public let featureScales: [Double]
    /// One weight per standardised feature.
    public let weights: [Double]
    public let bias: Double
    /// Human description of the training data.
    public let trainedOn: String

    init(
        horizonDays: Int, threshold: Double, featureNames: [String] = SmartFeatures.names,
        featureMeans: [Double], featureScales: [Double], weights: [Double], bias: Double, trainedOn: String
    ) {
        self.horizonDays = horizonDays
        self.threshold = threshold
        self.featureNames = featureNames
        self.featureMeans = featureMeans
        self.featureScales = featureScales
        self.weights = weights
        self.bias = bias
        self.trainedOn = trainedOn
    }

    /// The model shipped with Granary, trained on synthetic data (see `DefaultFailureModel`).
    /// Deployments should retrain on their own fleet's or Backblaze's data.
    public static var standard: FailurePredictor { DefaultFailureModel.predictor }

    /// A copy with a different `trainedOn` description.
    public func relabeled(trainedOn description: String) -> FailurePredictor {
        FailurePredictor(
            horizonDays: horizonDays, threshold: threshold, featureNames: featureNames, featureMeans: featureMeans,
            featureScales: featureScales, weights: weights, bias: bias, trainedOn: description
        )
    }

    // MARK: Training

    /// Trains on Backblaze-style records of many drives.
    ///
    /// A drive-day is labelled positive when its drive fails within `horizonDays` after it.
    /// Drives are split ~70 / 30 into training and held-out sets by a hash of the serial salted
    /// with `seed`; the weights and the threshold (maximum drive-level F1) come from the training
    /// drives only, and the returned `heldOut` evaluation is on the rest.
    public static func train(
        _ records: [SmartRecord], horizonDays: Int = 14, seed: UInt64 = 1, progress: ((String) -> Void)? = nil
    ) throws(HealthError) -> TrainingResult {
        guard horizonDays >= 1 else { throw .badModel("horizonDays must be at least 1, got \(horizonDays)") }
        guard !records.isEmpty else { throw .noData("there are no records to train on") }
        let histories = DriveHistory.group(records)
        let failedCount = histories.filter(\.failed).count
        guard failedCount > 0 else {
            throw .noData("the \(histories.count) drives given include no failed drive (no row with failure = 1), "
                + "so there is nothing to learn failures from")
        }
        let trainSet = histories.filter { !$0.isHeldOut(seed: seed) }
        let heldOutSet = histories.filter { $0.isHeldOut(seed: seed) }
        guard trainSet.contains(where: \.failed) else {
            throw .noData("none of the \(failedCount) failed drives fell into the training split for seed \(seed); "
                + "add failed drives or use another seed")
        }

        let dimension = SmartFeatures.count
        var raw: [Double] = []
        var labels: [Bool] = []
        for history in trainSet {
            for vector in SmartFeatures.vectors(for: history.records) { raw.append(contentsOf: vector) }
            labels.append(contentsOf: history.labels(horizonDays: horizonDays))
        }
        guard labels.contains(false) else {
            throw .noData("every training drive-day is within \(horizonDays) days of a failure; healthy drive-days are needed too")
        }
        progress?("training on \(trainSet.count) drives (\(trainSet.filter(\.failed).count) failed), "
            + "\(labels.count) drive-days, \(labels.filter { $0 }.count) labelled failing")

        let (means, scales) = standardisation(raw, dimension: dimension)
        var standardised = raw
        for i in standardised.indices {
            let j = i % dimension
            let value = standardised[i]
            standardised[i] = value.isNaN ? 0 : (value - means[j]) / scales[j]
        }
        let fit = LogisticTrainer().fit(rows: standardised, labels: labels, dimension: dimension, progress: progress)
        progress?("gradient descent stopped after \(fit.iterations) iterations, weighted log-loss "
            + String(format: "%.5f", fit.loss))

        let days = records.map(\.day)
        let span = (days.min().map(SmartCalendar.string(forDay:)) ?? "?") + " to "
            + (days.max().map(SmartCalendar.string(forDay:)) ?? "?")
        let unthresholded = FailurePredictor(
            horizonDays: horizonDays, threshold: 0.5, featureMeans: means, featureScales: scales,
            weights: fit.weights, bias: fit.bias, trainedOn: ""
        )
        let trainScores = trainSet.map(unthresholded.scores)
        let threshold = PredictorEvaluation.bestThreshold(histories: trainSet, scores: trainScores, horizonDays: horizonDays)
        let model = FailurePredictor(
            horizonDays: horizonDays, threshold: threshold, featureMeans: means, featureScales: scales,
            weights: fit.weights, bias: fit.bias,
            trainedOn: "\(trainSet.count) drives (\(trainSet.filter(\.failed).count) failed), \(labels.count) drive-days, "
                + "\(span), split seed \(seed)"
        )
        let training = PredictorEvaluation.measure(
            histories: trainSet, scores: trainScores, horizonDays: horizonDays, threshold: threshold
        )
        let heldOut = PredictorEvaluation.measure(
            histories: heldOutSet, scores: heldOutSet.map(model.scores), horizonDays: horizonDays, threshold: threshold
        )
        progress?("threshold \(String(format: "%.4f", threshold)); training: \(training.summary)")
        progress?("held out: \(heldOut.summary)")
        return TrainingResult(
            model: model, heldOut: heldOut, training: training,
            trainingDrives: trainSet.count, heldOutDrives: heldOutSet.count
        )
    }

    /// Per-feature mean and standard deviation over the non-NaN values; constant or all-missing
    /// features get scale 1 so they standardise to 0 instead of dividing by zero.
    static func standardisation(_ raw: [Double], dimension: Int) -> (means: [Double], scales: [Double]) {
        var sums = [Double](repeating: 0, count: dimension)
        var squares = sums
        var counts = sums
        for (i, value) in raw.enumerated() where !value.isNaN {
            let j = i % dimension
            sums[j] += value
            squares[j] += value * value
            counts[j] += 1
        }
        var means = sums
        var scales = sums
        for j in 0..<dimension {
            let mean = counts[j] > 0 ? sums[j] / counts[j] : 0
            let variance = counts[j] > 0 ? max(0, squares[j] / counts[j] - mean * mean) : 0
            means[j] = mean
            scales[j] = variance > 1e-12 ? variance.squareRoot() : 1
        }
        return (means, scales)
    }

    // MARK: Scoring

    /// Per-feature contributions to the log-odds for one feature vector. Missing values (NaN)
    /// contribute 0, i.e. they count as the training average.
    func contributions(_ vector: [Double]) -> [Double] {
        let count = min(vector.count, weights.count, featureMeans.count, featureScales.count)
        return (0..<count).map { j in
            let value = vector[j]
            return value.isNaN ? 0 : weights[j] * (value - featureMeans[j]) / featureScales[j]
        }
    }

    /// Failure probability for one feature vector.
    public func probability(_ vector: [Double]) -> Double {
        let margin = contributions(vector).reduce(bias, +)
        return 1 / (1 + exp(-margin))
    }

    /// Failure probability for every day of one drive's history, aligned with `history.records`.
    public func scores(_ history: DriveHistory) -> [Double] {
        SmartFeatures.vectors(for: history.records).map(probability)
    }

    /// Drive-level figures on `records` (all drives, no split); see `PredictorEvaluation`.
    public func evaluate(_ records: [SmartRecord]) -> PredictorEvaluation {
        let histories = DriveHistory.group(records)
        return PredictorEvaluation.measure(
            histories: histories, scores: histories.map(scores), horizonDays: horizonDays, threshold: threshold
        )
    }

    /// Forecast for one drive from its history, as of its latest record. Records are sorted by
    /// day first, so any order works; the history should belong to one drive.
    public func predict(_ history: [SmartRecord]) -> FailurePrediction {
        let sorted = history.sorted { $0.day < $1.day }
        guard let latest = sorted.last else {
            return FailurePrediction(
                serial: "", date: nil, probability: 0, horizonDays: horizonDays, threshold: threshold,
                basis: .none, factors: ["no records were given"]
            )
        }
        let vector = SmartFeatures.vectors(for: sorted).last ?? []
        let contributions = contributions(vector)
        let probability = 1 / (1 + exp(-contributions.reduce(bias, +)))

        let basis: PredictionBasis = switch (latest.hasSmart, latest.hasPerformance) {
        case (true, true): .smartAndPerformance
        case (true, false): .smartOnly
        case (false, true): .performanceOnly
        case (false, false): .none
        }
        // Presence flags explain nothing about the drive itself, so they are reported through
        // `basis` and the notes below rather than as factors.
        let flags: Set<SmartFeatures.Feature> = [.smartReported, .performanceReported]
        var factors = contributions.enumerated()
            .compactMap { index, contribution -> (SmartFeatures.Feature, Double)? in
                guard contribution > 0.25, let feature = SmartFeatures.Feature(rawValue: index),
                      !flags.contains(feature) else { return nil }
                return (feature, contribution)
            }
            .sorted { $0.1 > $1.1 }
            .prefix(3)
            .map { feature, _ in feature.explain(vector[feature.rawValue]) }
        switch basis {
        case .performanceOnly: factors.append("no SMART data: the forecast rests on Granary performance counters only")
        case .none: factors.append("no SMART or performance data on the latest day: the forecast is the model's baseline")
        case .smartOnly, .smartAndPerformance: break
        }
        return FailurePrediction(
            serial: latest.serial, date: latest.date, probability: probability, horizonDays: horizonDays,
            threshold: threshold, basis: basis, factors: factors
        )
    }

    // MARK: Persistence

    /// Pretty-printed JSON with sorted keys, stable enough to diff between trainings.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Every number is finite (the type guarantees it), so encoding cannot fail; the fallback
        // only exists to avoid a crash path.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a model written by `json()`, rejecting anything inconsistent with this build.
    public static func load(json: String) throws(HealthError) -> FailurePredictor {
        do {
            return try JSONDecoder().decode(FailurePredictor.self, from: Data(json.utf8))
        } catch let error as HealthError {
            throw error
        } catch let DecodingError.keyNotFound(key, _) {
            throw .badModel("the JSON has no '\(key.stringValue)' field")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .badModel("the JSON field '\(path)' has the wrong type")
        } catch {
            throw .badModel("the text is not valid model JSON")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case horizonDays, threshold, featureNames, featureMeans, featureScales, weights, bias, trainedOn
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        horizonDays = try container.decode(Int.self, forKey: .horizonDays)
        threshold = try container.decode(Double.self, forKey: .threshold)
        featureNames = try container.decode([String].self, forKey: .featureNames)
        featureMeans = try container.decode([Double].self, forKey: .featureMeans)
        featureScales = try container.decode([Double].self, forKey: .featureScales)
        weights = try container.decode([Double].self, forKey: .weights)
        bias = try container.decode(Double.self, forKey: .bias)
        trainedOn = try container.decode(String.self, forKey: .trainedOn)
        try validate()
    }

    /// Checks the invariants listed on the type.
    public func validate() throws(HealthError) {
        guard horizonDays >= 1 else { throw .badModel("horizonDays is \(horizonDays); it must be at least 1") }
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw .badModel("threshold is \(threshold); it must be between 0 and 1")
        }
        let expected = SmartFeatures.names
        guard featureNames == expected else {
            let index = zip(featureNames, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(featureNames.count, expected.count)
            let found = index < featureNames.count ? "'\(featureNames[index])'" : "nothing"
            let wanted = index < expected.count ? "'\(expected[index])'" : "nothing"
            throw .badModel("feature \(index) is \(found) but this build computes \(wanted); retrain the model")
        }
        for (name, values) in [("featureMeans", featureMeans), ("featureScales", featureScales), ("weights", weights)] {
            guard values.count == expected.count else {
                throw .badModel("\(name) has \(values.count) values for \(expected.count) features")
            }
            guard values.allSatisfy(\.isFinite) else { throw .badModel("\(name) contains a non-finite value") }
        }
        guard featureScales.allSatisfy({ $0 > 0 }) else { throw .badModel("featureScales must all be positive") }
        guard bias.isFinite else { throw .badModel("bias is not finite") }
    }
}
