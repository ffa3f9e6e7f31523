import ArgumentParser
import Foundation
import GranaryHealth

/// `granary bench health`: the fail-slow detector on simulated drive groups (detection time per
/// severity against a healthy baseline run, the false-positive rate on noisy healthy drives and on
/// a busy healthy drive) and the shipped failure predictor on a fresh synthetic data set.
/// With `--live` (the default), also the client's p99 read latency before a drive turns slow,
/// while it is slow, while reads route around it and after it was evicted and rebuilt around, on
/// an embedded cluster of real processes (`LiveHealthBench`), as ratios to the baseline phase.
struct HealthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Fail-slow detection times, false positives, predictor precision and recall.")

    @Option(help: "Drives in each simulated group.") var drives = 8
    @Option(help: "Simulated hours of noisy healthy drives for the false-positive rate.") var noiseHours = 24.0
    @Option(help: "Drives in the synthetic predictor data set.") var predictorDrives = 2000
    @Flag(inversion: .prefixedNo, help: "Also measure the client's p99 through a slow drive's detection, eviction and rebuild on an embedded cluster.")
    var live = true
    @Option(help: "Latency injected on the slow drive in the live part (default: 10x the drives' mean, at least 100 ms).")
    var liveLatencyMs: Double?
    @Option(help: "Directory for the live part's cluster (default: a temporary one, removed after).") var dir: String?
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
        var live: LiveHealthBench.Report?
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
        var liveReport: LiveHealthBench.Report?
        if live {
            let root = dir ?? NSTemporaryDirectory() + "granary-health-bench-\(getpid())"
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
            liveReport = try await LiveHealthBench(root: root, latencyMs: liveLatencyMs) { line in
                FileHandle.standardError.write(Data("bench health: live: \(line)\n".utf8))
            }.run()
        }
        let report = Report(suspectAfterSeconds: settings.suspectAfterSeconds, severities: severities,
                            noise: Noise(drives: 24, hours: noiseHours, flaggedDrives: n.falsePositiveDrives, falsePositiveRate: n.falsePositiveRate),
                            busyDriveFlagged: b.falsePositiveDrives > 0, predictor: e, model: predictor.trainedOn, live: liveReport)
        if json {
            print(Output.jsonLine(report))
            return
        }
        print("fail-slow detector (suspect after \(Int(settings.suspectAfterSeconds)) s of persistent slowness):")
        for s in severities {
            print(String(format: "  %4.1fx slower: %@", s.factor, s.detectionSeconds.map { "suspect after \(Int($0)) s" } ?? "not flagged"))
        }
        print(String(format: "  noise: %d of 24 healthy drives flagged in %.1f h (false-positive rate %.5f); busy healthy drive flagged: %@",
                     n.falsePositiveDrives, noiseHours, n.falsePositiveRate, b.falsePositiveDrives > 0 ? "yes" : "no"))
        print("failure predictor (\(predictor.trainedOn)):")
        print("  " + e.summary)
        if let l = liveReport {
            print("live (\(l.cluster); \(l.policy)):")
            print(String(format: "  %@: %.1f ms injected (drive mean %.2f ms); suspect after %.1f s, evicted after %.1f s, rebuilt in %.1f s",
                         l.drive, l.injectedMs, l.driveMeanMs, l.suspectSeconds, l.evictedSeconds, l.rebuildSeconds))
            for (name, p) in [("before", l.before), ("slow", l.slow), ("routed around", l.routed), ("after rebuild", l.rebuilt)] {
                let label = name.padding(toLength: 14, withPad: " ", startingAt: 0)
                print("  client p99 \(label)" + String(format: " %7.1f ms over %5d reads (%.2fx the baseline)", p.p99Ms, p.reads, p.ratio))
            }
            print("  \(l.verifiedReads) reads verified, \(l.failedReads) failed or wrong, \(l.avoidedReads) fragment reads went around the drive")
        }
    }
}
