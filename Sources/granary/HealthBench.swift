import ArgumentParser
import Foundation
import GranaryHealth

/// `granary bench health`: the fail-slow detector on simulated drive groups (detection time per
/// severity against a healthy baseline run, the false-positive rate on noisy healthy drives and on
/// a busy healthy drive) and the shipped failure predictor on a fresh synthetic data set.
/// The client's p99 before, during and after an eviction on real processes is measured by the
/// integration test `HealthIntegrationTests` (docs/BENCHMARKS.md has its figures).
struct HealthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Fail-slow detection times, false positives, predictor precision and recall.")

    @Option(help: "Drives in each simulated group.") var drives = 8
    @Option(help: "Simulated hours of noisy healthy drives for the false-positive rate.") var noiseHours = 24.0
    @Option(help: "Drives in the synthetic predictor data set.") var predictorDrives = 2000
    @Flag var json = false

    struct Severity: Codable {
        var factor: Double
        var detectionSeconds: Double?
        var falsePositiveDrives: Int
    }

    struct Report: Codable {
        var suspectAfterSeconds: Double
        var severities: [Severity]
        var noise: Noise
        var busyDriveFlagged: Bool
        var predictor: PredictorEvaluation
        var model: String
    }

    struct Noise: Codable {
        var drives: Int
        var hours: Double
        var flaggedDrives: Int
        var falsePositiveRate: Double
    }

    func run() async throws {
        let settings = FailSlowSettings()
        var severities: [Severity] = []
        for factor in [1.5, 2, 3, 5, 10] {
            FileHandle.standardError.write(Data("bench health: \(factor)x slow drive among \(drives)\n".utf8))
            let r = FailSlowSimulation(drives: drives, seed: 21, injections: [.init(drive: 1, factor: factor, from: 600)], settings: settings)
                .run(seconds: 1_800)
            severities.append(Severity(factor: factor, detectionSeconds: r.detectionSeconds.first ?? nil, falsePositiveDrives: r.falsePositiveDrives))
        }
        FileHandle.standardError.write(Data("bench health: \(Int(noiseHours)) h of noisy healthy drives\n".utf8))
        var noisy = FailSlowSimulation(drives: 24, windowSeconds: 10, seed: 5, settings: settings)
        noisy.jitter = 0.35
        let n = noisy.run(seconds: noiseHours * 3_600)
        var busy = FailSlowSimulation(drives: drives, seed: 9, settings: settings)
        busy.busyDrive = 0
        busy.busyFactor = 4
        let b = busy.run(seconds: 3_600)
        FileHandle.standardError.write(Data("bench health: the shipped predictor on \(predictorDrives) fresh synthetic drives\n".utf8))
        let records = SyntheticSmart(seed: 777, drives: predictorDrives, days: 120).records()
        let predictor = FailurePredictor.standard
        let e = predictor.evaluate(records)
        let report = Report(suspectAfterSeconds: settings.suspectAfterSeconds, severities: severities,
                            noise: Noise(drives: 24, hours: noiseHours, flaggedDrives: n.falsePositiveDrives, falsePositiveRate: n.falsePositiveRate),
                            busyDriveFlagged: b.falsePositiveDrives > 0, predictor: e, model: predictor.trainedOn)
        if json {
            print(Output.jsonLine(report))
            return
        }
        print("fail-slow detector (suspect after \(Int(settings.suspectAfterSeconds)) s of persistent slowness):")
        for s in severities {
            print(String(format: "  %4.1fx slower: %@", s.factor, s.detectionSeconds.map { "suspect after \(Int($0)) s" } ?? "not flagged"))
        }
        print(String(format: "  noise: %d of 24 healthy drives flagged in %.0f h (false-positive rate %.5f); busy healthy drive flagged: %@",
                     n.falsePositiveDrives, noiseHours, n.falsePositiveRate, b.falsePositiveDrives > 0 ? "yes" : "no"))
        print("failure predictor (\(predictor.trainedOn)):")
        print("  " + e.summary)
    }
}
