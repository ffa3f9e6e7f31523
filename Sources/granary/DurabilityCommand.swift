import ArgumentParser
import Foundation
import GranaryCore
import GranaryErasure

/// `granary durability`: the chance of losing data in a year for a k+m layout, from
/// `DurabilityModel`, in both scenarios side by side — rebuilding as soon as a failure is detected
/// (shrink-rebuild) and waiting for a replacement drive — so the cost of waiting shows in nines.
/// Nothing is read from a cluster: every figure comes from the options.
struct DurabilityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durability",
        abstract: "Chance of data loss per year for a k+m layout: rebuild at once vs wait for a replacement drive.",
        discussion: "Model: a Markov chain over 0…m+1 failed drives among --drives; any m+1 failed at once count as a loss "
            + "(exact for one stripe set, conservative for a wide cluster). See docs/ARCHITECTURE.md, \"Durability model\".")

    @Option(help: "Data fragments per stripe.") var k = 8
    @Option(help: "Parity fragments per stripe.") var m = 3
    @Option(help: "Drives that hold the stripes (default: k + m, one stripe set).") var drives: Int?
    @Option(help: "Annual failure rate of one drive, as a fraction (0.01 = 1 %).") var afr = 0.01
    @Option(help: "Bytes on a failed drive, all of which must be rebuilt.") var driveBytes = "16TiB"
    @Option(help: "Rebuild rate of one failed drive's data, in MB/s (10^6 bytes per second).") var rebuildMbps = 100.0
    @Option(help: "Minutes from a failure until its rebuild starts.") var detectMinutes = 10.0
    @Option(help: "Hours from a failure until a replacement drive is in.") var replaceHours = 72.0
    @Option(help: "parallel: every failed drive rebuilds at once; serial: one rebuild at a time.") var repair = "parallel"
    @Flag(help: "Print JSON.") var json = false

    static let formula = "λ = −ln(1 − AFR)/8760 per hour; μ = 1/MTTR; from i failed drives: i→i+1 at (N − i)·λ, "
        + "i→i−1 at i·μ (parallel) or μ (serial); MTTDL = expected time from 0 to m+1 failed (the chain's linear system, "
        + "solved exactly); P(loss in a year) = 1 − exp(−8760 h / MTTDL); nines = −log10 P. "
        + "MTTR: shrink-rebuild = detection + rebuild time; wait for replacement = replacement delay + rebuild time."

    struct Report: Codable {
        var k: Int
        var m: Int
        var drives: Int
        var annualFailureRate: Double
        var driveBytes: Int64
        var rebuildBytesPerSecond: Double
        var rebuildHours: Double
        var detectionHours: Double
        var replacementHours: Double
        var repair: String
        var failureRatePerHour: Double
        var scenarios: [DurabilityModel.Estimate]
        var formula: String
    }

    func run() throws {
        guard let bytes = ByteSize(parsing: driveBytes) else { throw ValidationError("--drive-bytes: expected a size such as 16TiB") }
        guard let policy = DurabilityModel.Repair(rawValue: repair) else { throw ValidationError("--repair: expected parallel or serial") }
        let model: DurabilityModel
        let estimates: [DurabilityModel.Estimate]
        do throws(DurabilityModel.Invalid) {
            model = try DurabilityModel(k: k, m: m, drives: drives ?? k + m, annualFailureRate: afr, driveBytes: Double(bytes.bytes),
                                        rebuildBytesPerSecond: rebuildMbps * 1e6, detectionHours: detectMinutes / 60,
                                        replacementHours: replaceHours, repair: policy)
            estimates = try DurabilityModel.Scenario.allCases.map { s throws(DurabilityModel.Invalid) in try model.estimate(s) }
        } catch {
            throw CLIError("durability: \(error)")
        }
        if json {
            print(Output.json(Report(k: k, m: m, drives: model.drives, annualFailureRate: afr, driveBytes: bytes.bytes,
                                     rebuildBytesPerSecond: model.rebuildBytesPerSecond, rebuildHours: model.rebuildHours,
                                     detectionHours: model.detectionHours, replacementHours: model.replacementHours,
                                     repair: policy.rawValue, failureRatePerHour: model.failureRatePerHour,
                                     scenarios: estimates, formula: Self.formula)))
            return
        }
        print("\(k)+\(m) over \(model.drives) drives, AFR \(String(format: "%.2f", afr * 100)) %, \(bytes) to rebuild per failed drive at "
              + "\(String(format: "%.0f", rebuildMbps)) MB/s (\(String(format: "%.1f", model.rebuildHours)) h), \(policy.rawValue) repair")
        let rows = estimates.map { e in
            [e.scenario.title, String(format: "%.1f h", e.mttrHours), String(format: "%.3g", e.mttdlHours / DurabilityModel.hoursPerYear),
             String(format: "%.3g", e.lossProbabilityPerYear), String(format: "%.2f", e.nines)]
        }
        print(Output.table(["scenario", "MTTR", "MTTDL (years)", "P(loss) per year", "nines"], rows))
        print("model: " + Self.formula)
        print("scope: any m+1 drives failed at once among the \(model.drives) count as a loss: exact for one stripe set, conservative "
              + "for a wide cluster (the chance of losing some data, not the fraction lost). See docs/ARCHITECTURE.md, \"Durability model\".")
    }
}
