import Foundation
import GranaryHealth

/// A small gradient-boosted tree ensemble (logistic loss, histogram splits), kept here only as
/// the comparison candidate for `--compare`; the library ships logistic regression instead.
struct BoostedTrees {
    private struct Node {
        var feature: Int    // -1 for a leaf
        var cut: Double     // go left when value <= cut
        var left: Int
        var right: Int
        var value: Double
    }

    private var trees: [[Node]] = []
    private var means: [Double] = []

    var treeCount = 100
    var depth = 3
    var learningRate = 0.1
    var bins = 32
    var lambda = 1.0
    var minChildWeight = 1.0

    /// `rows` holds raw feature vectors laid out flat; NaN is imputed with the feature mean,
    /// as the logistic model does, so both candidates see the same information.
    mutating func fit(rows: [Double], labels: [Bool], dimension: Int) {
        let n = labels.count
        means = (0..<dimension).map { j in
            var sum = 0.0, count = 0.0
            for i in 0..<n where !rows[i * dimension + j].isNaN {
                sum += rows[i * dimension + j]
                count += 1
            }
            return count > 0 ? sum / count : 0
        }
        // Quantile cut points per feature, from a strided sample to keep sorting cheap.
        var cuts: [[Double]] = []
        let stride = max(1, n / 20_000)
        for j in 0..<dimension {
            var sample: [Double] = []
            for i in Swift.stride(from: 0, to: n, by: stride) { sample.append(value(rows[i * dimension + j], j)) }
            sample.sort()
            var featureCuts: [Double] = []
            for b in 1..<bins {
                let cut = sample[min(sample.count - 1, b * sample.count / bins)]
                if featureCuts.last != cut { featureCuts.append(cut) }
            }
            cuts.append(featureCuts)
        }
        var binned = [UInt8](repeating: 0, count: n * dimension)
        for i in 0..<n {
            for j in 0..<dimension {
                let x = value(rows[i * dimension + j], j)
                var lo = 0, hi = cuts[j].count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cuts[j][mid] < x { lo = mid + 1 } else { hi = mid }
                }
                binned[i * dimension + j] = UInt8(lo)
            }
        }
        let positives = Double(labels.filter { $0 }.count)
        let weights = labels.map { $0 ? Double(n) / (2 * positives) : Double(n) / (2 * (Double(n) - positives)) }
        var margins = [Double](repeating: 0, count: n)
        var grad = margins, hess = margins
        trees = []
        for _ in 0..<treeCount {
            for i in 0..<n {
                let p = 1 / (1 + exp(-margins[i]))
                grad[i] = weights[i] * (p - (labels[i] ? 1 : 0))
                hess[i] = weights[i] * p * (1 - p)
            }
            var nodes: [Node] = []
            var leafOf = [Int](repeating: 0, count: n)
            build(Array(0..<n), level: 0, nodes: &nodes, leafOf: &leafOf,
                  binned: binned, cuts: cuts, dimension: dimension, grad: grad, hess: hess)
            for i in 0..<n { margins[i] += nodes[leafOf[i]].value }
            trees.append(nodes)
        }
    }

    @discardableResult
    private func build(
        _ rows: [Int], level: Int, nodes: inout [Node], leafOf: inout [Int],
        binned: [UInt8], cuts: [[Double]], dimension: Int, grad: [Double], hess: [Double]
    ) -> Int {
        var g = 0.0, h = 0.0
        for i in rows { g += grad[i]; h += hess[i] }
        let index = nodes.count
        nodes.append(Node(feature: -1, cut: 0, left: -1, right: -1, value: -g / (h + lambda) * learningRate))
        guard level < depth, rows.count > 1 else {
            for i in rows { leafOf[i] = index }
            return index
        }
        let parentScore = g * g / (h + lambda)
        var bestGain = 1e-9, bestFeature = -1, bestBin = 0
        for j in 0..<dimension where !cuts[j].isEmpty {
            var hg = [Double](repeating: 0, count: cuts[j].count + 1)
            var hh = hg
            for i in rows {
                let b = Int(binned[i * dimension + j])
                hg[b] += grad[i]
                hh[b] += hess[i]
            }
            var gl = 0.0, hl = 0.0
            for b in 0..<cuts[j].count {
                gl += hg[b]
                hl += hh[b]
                let gr = g - gl, hr = h - hl
                guard hl >= minChildWeight, hr >= minChildWeight else { continue }
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parentScore
                if gain > bestGain { bestGain = gain; bestFeature = j; bestBin = b }
            }
        }
        guard bestFeature >= 0 else {
            for i in rows { leafOf[i] = index }
            return index
        }
        let left = rows.filter { Int(binned[$0 * dimension + bestFeature]) <= bestBin }
        let right = rows.filter { Int(binned[$0 * dimension + bestFeature]) > bestBin }
        let l = build(left, level: level + 1, nodes: &nodes, leafOf: &leafOf,
                      binned: binned, cuts: cuts, dimension: dimension, grad: grad, hess: hess)
        let r = build(right, level: level + 1, nodes: &nodes, leafOf: &leafOf,
                      binned: binned, cuts: cuts, dimension: dimension, grad: grad, hess: hess)
        nodes[index].feature = bestFeature
        nodes[index].cut = cuts[bestFeature][bestBin]
        nodes[index].left = l
        nodes[index].right = r
        return index
    }

    private func value(_ x: Double, _ j: Int) -> Double { x.isNaN ? means[j] : x }

    func probability(_ vector: [Double]) -> Double {
        var margin = 0.0
        for nodes in trees {
            var k = 0
            while nodes[k].feature >= 0 {
                let j = nodes[k].feature
                k = value(vector[j], j) <= nodes[k].cut ? nodes[k].left : nodes[k].right
            }
            margin += nodes[k].value
        }
        return 1 / (1 + exp(-margin))
    }
}
