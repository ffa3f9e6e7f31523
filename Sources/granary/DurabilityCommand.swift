import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryErasure
import GranaryManager
import GranaryMeta

/// `granary durability`: the chance of losing data in a year for a k+m layout, from
/// `DurabilityModel`, in both scenarios side by side — rebuilding as soon as a failure is detected
/// (shrink-rebuild) and waiting for a replacement drive — so the cost of waiting shows in nines.
/// With `--from-cluster` the layouts, drive count, fragment bytes per drive and rebuild rate are the running
/// cluster's (stripe census, cluster map, the repair service's measured rate); otherwise every
/// figure comes from the options.
struct DurabilityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durability",
        abstract: "Chance of data loss per year for a k+m layout: rebuild at once vs wait for a replacement drive.",
        discussion: "Model: a Markov chain over 0…m+1 failed drives among --drives; any m+1 failed at once count as a loss "
            + "(exact for one stripe set, conservative for a wide cluster). See docs/ARCHITECTURE.md, \"Durability model\".")

    @Option(help: "Data fragments per stripe.") var k = 8
    @Option(help: "Parity fragments per stripe.") var m = 3
    @Option(help: "Drives that hold the stripes (default: k + m, one stripe set; with --from-cluster: the cluster's drives).") var drives: Int?
    @Option(help: "Annual failure rate of one drive, as a fraction (0.01 = 1 %).") var afr = 0.01
    @Option(help: "Bytes on a failed drive, all of which must be rebuilt (with --from-cluster: the cluster's fragment bytes per drive).") var driveBytes = "16TiB"
    @Option(help: "Rebuild rate of one failed drive's data, in MB/s (10^6 bytes per second; with --from-cluster: the measured rate).") var rebuildMbps = 100.0
    @Option(help: "Minutes from a failure until its rebuild starts.") var detectMinutes = 10.0
    @Option(help: "Hours from a failure until a replacement drive is in.") var replaceHours = 72.0
    @Option(help: "parallel: every failed drive rebuilds at once; serial: one rebuild at a time.") var repair = "parallel"
    @Flag(help: "Model the running cluster: every k+m layout its stripes use, its drives, its fragment bytes per drive and the rebuild rate its last rebuild pass measured (the configured limit when none has run).")
    var fromCluster = false
    @OptionGroup var options: ClientOptions
    var json: Bool { options.json }

    /// Where the figures of a `--from-cluster` report came from.
    struct ClusterSource: Codable {
        var drives: Int
        var driveBytes: Int64
        var rebuildMBps: Double
        /// "measured" (the last rebuild pass: fragment bytes written per second of work) or "configured limit".
        var rebuildRateSource: String
        var layouts: [StripeCensus]
    }

    struct ClusterReport: Codable {
        var source: ClusterSource
        var reports: [Report]
    }

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

    func run() async throws {
        guard let bytes = ByteSize(parsing: driveBytes) else { throw ValidationError("--drive-bytes: expected a size such as 16TiB") }
        guard let policy = DurabilityModel.Repair(rawValue: repair) else { throw ValidationError("--repair: expected parallel or serial") }
        guard fromCluster else {
            let report = try Self.report(k: k, m: m, drives: drives ?? k + m, afr: afr, bytes: bytes.bytes, rebuildMbps: rebuildMbps,
                                         detectMinutes: detectMinutes, replaceHours: replaceHours, policy: policy)
            if json { print(Output.json(report)) } else { print(Self.render(report)) }
            return
        }
        let source = try await clusterSource()
        if source.layouts.isEmpty { throw CLIError("durability: the cluster stores no stripes yet; give --k and --m without --from-cluster") }
        var reports: [Report] = []
        for c in source.layouts {
            reports.append(try Self.report(k: c.k, m: c.m, drives: drives ?? source.drives, afr: afr, bytes: source.driveBytes,
                                           rebuildMbps: source.rebuildMBps, detectMinutes: detectMinutes, replaceHours: replaceHours,
                                           policy: policy))
        }
        if json {
            print(Output.json(ClusterReport(source: source, reports: reports)))
            return
        }
        print("cluster: \(source.drives) drives, each holding about \(ByteSize(source.driveBytes)), rebuild \(String(format: "%.1f", source.rebuildMBps)) MB/s (\(source.rebuildRateSource))")
        for (c, r) in zip(source.layouts, reports) {
            print("")
            print("\(c.stripes) stripes (\(ByteSize(c.dataBytes)) of data\(c.shrunk > 0 ? ", \(c.shrunk) shrunk" : "")) in \(c.k)+\(c.m):")
            print(Self.render(r))
        }
    }

    /// The cluster's layouts, drives, fragment bytes per drive and rebuild rate.
    func clusterSource() async throws -> ClusterSource {
        let (files, transport) = try options.fileClient()
        defer { transport.closeAll() }
        let manager = try options.managerClient()
        defer { manager.close() }
        let census: [StripeCensus]
        let map: ClusterMap
        let status: RepairStatus
        do {
            census = try await files.meta.stripeCensus()
            map = try await manager.clusterMap()
            status = try await manager.repairStatus()
        } catch { throw CLIError("durability: \(error)") }
        let measured = [status.pass, status.lastPass].compactMap { $0 }.filter { $0.bytesWritten > 0 && $0.busySeconds > 0 }.last
        // Fragment bytes the stripes occupy, spread over the drives (placement balances them).
        let stored = census.reduce(0.0) { $0 + Double($1.dataBytes) * Double($1.k + $1.m) / Double($1.k) }
        return ClusterSource(drives: map.drives.count, driveBytes: Int64(stored / Double(max(map.drives.count, 1))),
                             rebuildMBps: measured?.writeMBps ?? Double(status.rebuildLimitMBps),
                             rebuildRateSource: measured != nil ? "measured by the last rebuild pass" : "configured limit (no rebuild has run)",
                             layouts: census)
    }

    static func report(k: Int, m: Int, drives: Int, afr: Double, bytes: Int64, rebuildMbps: Double, detectMinutes: Double,
                       replaceHours: Double, policy: DurabilityModel.Repair) throws -> Report {
        do throws(DurabilityModel.Invalid) {
            let model = try DurabilityModel(k: k, m: m, drives: drives, annualFailureRate: afr, driveBytes: Double(bytes),
                                            rebuildBytesPerSecond: rebuildMbps * 1e6, detectionHours: detectMinutes / 60,
                                            replacementHours: replaceHours, repair: policy)
            let estimates = try DurabilityModel.Scenario.allCases.map { s throws(DurabilityModel.Invalid) in try model.estimate(s) }
            return Report(k: k, m: m, drives: model.drives, annualFailureRate: afr, driveBytes: bytes,
                          rebuildBytesPerSecond: model.rebuildBytesPerSecond, rebuildHours: model.rebuildHours,
                          detectionHours: model.detectionHours, replacementHours: model.replacementHours,
                          repair: policy.rawValue, failureRatePerHour: model.failureRatePerHour,
                          scenarios: estimates, formula: Self.formula)
        } catch {
            throw CLIError("durability: \(error)")
        }
    }

    static func render(_ r: Report) -> String {
        var out: [String] = []
        out.append("\(r.k)+\(r.m) over \(r.drives) drives, AFR \(String(format: "%.2f", r.annualFailureRate * 100)) %, \(ByteSize(r.driveBytes)) to rebuild per failed drive at "
                   + "\(String(format: "%.1f", r.rebuildBytesPerSecond / 1e6)) MB/s (\(String(format: "%.3g", r.rebuildHours)) h), \(r.repair) repair")
        let rows = r.scenarios.map { e in
            [e.scenario.title, String(format: "%.1f h", e.mttrHours), String(format: "%.3g", e.mttdlHours / DurabilityModel.hoursPerYear),
             String(format: "%.3g", e.lossProbabilityPerYear), String(format: "%.2f", e.nines)]
        }
        out.append(Output.table(["scenario", "MTTR", "MTTDL (years)", "P(loss) per year", "nines"], rows))
        out.append("model: " + formula)
        out.append("scope: any m+1 drives failed at once among the \(r.drives) count as a loss: exact for one stripe set, conservative "
                   + "for a wide cluster (the chance of losing some data, not the fraction lost). See docs/ARCHITECTURE.md, \"Durability model\".")
        return out.joined(separator: "\n")
    }
}
