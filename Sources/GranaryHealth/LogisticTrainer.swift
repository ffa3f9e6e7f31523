import Foundation

/// Fits L2-regularised, class-weighted logistic regression by full-batch gradient descent with
/// Nesterov momentum. Inputs are already standardised, which keeps the problem well conditioned
/// enough that a fixed step converges in a few hundred iterations without a line search.
struct LogisticTrainer {
    var l2 = 1e-3
    var learningRate = 0.5
    var momentum = 0.9
    var maxIterations = 500
    /// Stop once the gradient is this small, or the loss improves by less than
    /// `lossTolerance` over 10 iterations: further steps would not move any decision, and in
    /// debug builds every iteration is expensive.
    var tolerance = 1e-5
    var lossTolerance = 1e-6

    struct Fit {
        var weights: [Double]
        var bias: Double
        var loss: Double
        var iterations: Int
    }

    /// `rows` is `labels.count` standardised vectors of `dimension` values, laid out flat.
    func fit(rows: [Double], labels: [Bool], dimension: Int, progress: ((String) -> Void)?) -> Fit {
        let positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        let negatives = labels.count - positives
        // Balanced class weights: failing drive-days are rare, and without this the optimum
        // barely moves off "never fails".
        let positiveWeight = positives == 0 ? 0 : 0.5 / Double(positives)
        let negativeWeight = negatives == 0 ? 0 : 0.5 / Double(negatives)
        let sampleWeights = labels.map { $0 ? positiveWeight : negativeWeight }
        let targets = labels.map { $0 ? 1.0 : 0.0 }

        var params = [Double](repeating: 0, count: dimension + 1)   // weights, then bias
        var velocity = params
        var gradient = params
        var loss = 0.0
        var iteration = 0
        var lossTenAgo = Double.infinity
        while iteration < maxIterations {
            iteration += 1
            let lookahead = zip(params, velocity).map { $0 + momentum * $1 }
            loss = Self.lossAndGradient(
                lookahead, rows: rows, targets: targets, sampleWeights: sampleWeights,
                dimension: dimension, l2: l2, gradient: &gradient
            )
            var norm = 0.0
            for j in params.indices {
                velocity[j] = momentum * velocity[j] - learningRate * gradient[j]
                params[j] += velocity[j]
                norm += gradient[j] * gradient[j]
            }
            if iteration % 100 == 0 {
                progress?("iteration \(iteration): weighted log-loss \(String(format: "%.5f", loss))")
            }
            if norm.squareRoot() < tolerance { break }
            if iteration % 10 == 0 {
                if lossTenAgo - loss < lossTolerance { break }
                lossTenAgo = loss
            }
        }
        return Fit(weights: Array(params.prefix(dimension)), bias: params[dimension], loss: loss, iterations: iteration)
    }

    private static func lossAndGradient(
        _ params: [Double], rows: [Double], targets: [Double], sampleWeights: [Double],
        dimension: Int, l2: Double, gradient: inout [Double]
    ) -> Double {
        for j in gradient.indices { gradient[j] = 0 }
        var loss = 0.0
        rows.withUnsafeBufferPointer { x in
            params.withUnsafeBufferPointer { w in
                gradient.withUnsafeMutableBufferPointer { g in
                    let bias = w[dimension]
                    var offset = 0
                    for i in 0..<targets.count {
                        var margin = bias
                        for j in 0..<dimension { margin += w[j] * x[offset + j] }
                        let p = 1 / (1 + exp(-margin))
                        let y = targets[i]
                        let s = sampleWeights[i]
                        // log(1 + e^-m) computed stably for both signs of the margin.
                        let softplus = margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin))
                        loss += s * (softplus + (1 - y) * margin)
                        let r = s * (p - y)
                        for j in 0..<dimension { g[j] += r * x[offset + j] }
                        g[dimension] += r
                        offset += dimension
                    }
                }
            }
        }
        for j in 0..<dimension {
            gradient[j] += l2 * params[j]
            loss += 0.5 * l2 * params[j] * params[j]
        }
        return loss
    }
}
