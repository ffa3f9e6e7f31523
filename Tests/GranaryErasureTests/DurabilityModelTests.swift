import Foundation
import GranaryErasure
import Testing

/// The durability model against values computed independently of its solver: the closed form for
/// one parity drive, the first-passage recursion of a birth–death chain for any m, and the
/// leading-order approximation; plus the directions every reader expects and named input errors.
@Suite struct DurabilityModelTests {
    static func model(k: Int = 8, m: Int = 3, drives: Int? = nil, afr: Double = 0.01, bytes: Double = 16e12, rate: Double = 100e6,
                      detect: Double = 0.25, replace: Double = 72, repair: DurabilityModel.Repair = .parallel) throws -> DurabilityModel {
        try DurabilityModel(k: k, m: m, drives: drives ?? k + m, annualFailureRate: afr, driveBytes: bytes, rebuildBytesPerSecond: rate,
                            detectionHours: detect, replacementHours: replace, repair: repair)
    }

    static func mttdl(_ model: DurabilityModel, mttr: Double) throws -> Double {
        try model.estimate(.shrinkRebuild, mttrHours: mttr).mttdlHours
    }

    /// Expected time from 0 to m + 1 failures as the sum of first-passage times i → i + 1 of a
    /// birth–death chain: τ₀ = 1/λ₀, τᵢ = (1 + μᵢ·τᵢ₋₁)/λᵢ. Only additions, so exact to rounding.
    static func passageTimeMTTDL(n: Int, m: Int, lambda: Double, mu: Double, parallel: Bool) -> Double {
        var tau = 0.0
        var total = 0.0
        for i in 0...m {
            let up = Double(n - i) * lambda
            let down = i == 0 ? 0 : (parallel ? Double(i) * mu : mu)
            tau = (1 + down * tau) / up
            total += tau
        }
        return total
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

    @Test func failureRateGivesTheAnnualFailureRateExactly() throws {
        for afr in [0.001, 0.01, 0.05, 0.3] {
            let lambda = try Self.model(afr: afr).failureRatePerHour
            #expect(Self.relative(lambda, -log(1 - afr) / 8760) < 1e-14)
            // A drive with that constant hazard fails within a year with probability AFR.
            #expect(Self.relative(1 - exp(-lambda * 8760), afr) < 1e-12)
        }
    }

    /// One parity drive: from 0 the chain fails at Nλ; from 1 it fails at (N−1)λ or repairs at μ.
    /// T₀ = 1/(Nλ) + T₁ and ((N−1)λ + μ)·T₁ = 1 + μ·T₀ give
    /// MTTDL = T₀ = ((2N − 1)λ + μ) / (N(N − 1)λ²).
    @Test func oneParityMatchesTheClosedForm() throws {
        for n in [2, 6, 20, 100] {
            for afr in [0.01, 0.05, 0.5] {
                for mttr in [1.0, 24, 1000] {
                    let model = try Self.model(k: 1, m: 1, drives: n, afr: afr)
                    let l = model.failureRatePerHour
                    let mu = 1 / mttr
                    let closed = (Double(2 * n - 1) * l + mu) / (Double(n * (n - 1)) * l * l)
                    #expect(Self.relative(try Self.mttdl(model, mttr: mttr), closed) < 1e-12, "N=\(n) AFR=\(afr) MTTR=\(mttr)")
                }
            }
        }
    }

    /// Wide parity and repairs a million times faster than failures: where subtracting nearly equal
    /// rates (plain elimination) would lose every digit, the solver must still agree with the
    /// addition-only recursion.
    @Test(arguments: [DurabilityModel.Repair.parallel, .serial])
    func anyParityMatchesThePassageTimeRecursion(repair: DurabilityModel.Repair) throws {
        for m in 1...8 {
            for extra in [0, 37] {
                for mttr in [0.5, 12, 500] {
                    let model = try Self.model(k: 8, m: m, drives: 8 + m + extra, afr: 0.01, repair: repair)
                    let expected = Self.passageTimeMTTDL(n: model.drives, m: m, lambda: model.failureRatePerHour, mu: 1 / mttr,
                                                         parallel: repair == .parallel)
                    #expect(Self.relative(try Self.mttdl(model, mttr: mttr), expected) < 1e-11, "m=\(m) N=\(model.drives) MTTR=\(mttr)")
                }
            }
        }
    }

    /// When repairs are far faster than failures, MTTDL → c·μ^m / (N(N−1)…(N−m)·λ^(m+1)) with
    /// c = m! for parallel repair and 1 for serial.
    @Test func fastRepairApproachesTheLeadingOrderFormula() throws {
        for repair in DurabilityModel.Repair.allCases {
            for m in 1...4 {
                let model = try Self.model(k: 8, m: m, afr: 0.001, repair: repair)
                let l = model.failureRatePerHour
                let mu = 1 / 2.0
                var denominator = pow(l, Double(m + 1))
                for i in 0...m { denominator *= Double(model.drives - i) }
                let factorial = (1...m).reduce(1.0) { $0 * Double($1) }
                let leading = (repair == .parallel ? factorial : 1) * pow(mu, Double(m)) / denominator
                #expect(Self.relative(try Self.mttdl(model, mttr: 2), leading) < 1e-3, "\(repair) m=\(m)")
            }
        }
    }

    @Test func yearlyLossAndNinesFollowFromMTTDL() throws {
        // Large AFR and slow repair so the probability is far from 0 and 1 − exp is exact enough.
        let model = try Self.model(k: 4, m: 1, afr: 0.5, bytes: 1e12, rate: 1e6)
        let e = try model.estimate(.waitForReplacement)
        #expect(e.mttrHours == 72 + 1e12 / 1e6 / 3600)
        #expect(Self.relative(e.lossProbabilityPerYear, 1 - exp(-8760 / e.mttdlHours)) < 1e-12)
        #expect(Self.relative(e.nines, -log10(e.lossProbabilityPerYear)) < 1e-12)
        // Tiny probabilities keep their digits (1 − exp(−x) would give 0 here).
        let tiny = try Self.model(m: 6, drives: 14).estimate(.shrinkRebuild)
        #expect(tiny.lossProbabilityPerYear > 0)
        #expect(Self.relative(tiny.lossProbabilityPerYear, 8760 / tiny.mttdlHours) < 1e-9)
    }

    @Test func moreParityFasterRebuildAndRebuildingAtOnceGiveMoreNines() throws {
        for scenario in DurabilityModel.Scenario.allCases {
            let byParity = try (1...4).map { try Self.model(k: 8, m: $0, drives: 24).estimate(scenario).nines }
            #expect(byParity == byParity.sorted() && Set(byParity).count == byParity.count, "\(scenario): \(byParity)")
            let byRate = try [25e6, 100e6, 400e6, 1600e6].map { try Self.model(rate: $0).estimate(scenario).nines }
            #expect(byRate == byRate.sorted() && Set(byRate).count == byRate.count, "\(scenario): \(byRate)")
            let byAFR = try [0.08, 0.04, 0.02, 0.01].map { try Self.model(afr: $0).estimate(scenario).nines }
            #expect(byAFR == byAFR.sorted(), "\(scenario): \(byAFR)")
            let byDrives = try [11, 22, 44].map { try Self.model(drives: $0).estimate(scenario).nines }
            #expect(byDrives == byDrives.sorted(by: >), "\(scenario): \(byDrives)")
        }
        let model = try Self.model()
        #expect(try model.estimate(.shrinkRebuild).nines > model.estimate(.waitForReplacement).nines)
        #expect(try Self.model(repair: .parallel).estimate(.shrinkRebuild).nines > Self.model(repair: .serial).estimate(.shrinkRebuild).nines)
    }

    @Test func badInputsAreRefusedByName() throws {
        for afr in [0, 1, 1.5, -0.1] {
            #expect(throws: DurabilityModel.Invalid.annualFailureRate(afr)) { try Self.model(afr: afr) }
        }
        #expect(throws: (any Error).self) { try Self.model(afr: .nan) }
        #expect(throws: DurabilityModel.Invalid.drives(10, needed: 11)) { try Self.model(drives: 10) }
        #expect(throws: DurabilityModel.Invalid.rebuildBytesPerSecond(0)) { try Self.model(rate: 0) }
        #expect(throws: DurabilityModel.Invalid.rebuildBytesPerSecond(-5)) { try Self.model(rate: -5) }
        #expect(throws: DurabilityModel.Invalid.k(0)) { try Self.model(k: 0) }
        #expect(throws: DurabilityModel.Invalid.m(0)) { try Self.model(m: 0) }
        #expect(throws: DurabilityModel.Invalid.driveBytes(0)) { try Self.model(bytes: 0) }
        #expect(throws: DurabilityModel.Invalid.detectionHours(-1)) { try Self.model(detect: -1) }
        #expect(throws: DurabilityModel.Invalid.replacementHours(-1)) { try Self.model(replace: -1) }
        #expect(throws: DurabilityModel.Invalid.repairHours(0)) { try Self.model().estimate(.shrinkRebuild, mttrHours: 0) }
        #expect(DurabilityModel.Invalid.annualFailureRate(1.5).description.contains("annual failure rate 1.5"))
        #expect(DurabilityModel.Invalid.drives(10, needed: 11).description.contains("drives = 10"))
        #expect(DurabilityModel.Invalid.rebuildBytesPerSecond(0).description.contains("rebuild rate"))
    }
}
