import ArgumentParser
import Foundation
import GranaryCore

/// `granary drill`: fault drills on a cluster of real processes this command starts, under a
/// steady read and write load whose every byte read is checked. Ends with a report: operations,
/// bytes verified, client errors, data lost (must be zero) and each fault's time to heal.
/// `ops/drills/run` runs the embedded and the namespaced-hosts variants.
struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Fault drills on a cluster this command starts: kill nodes and managers, corrupt, fill and slow drives, cut a host off, under a verified load.",
        discussion: """
            Scenarios, in order: \(DrillScenario.allCases.map(\.rawValue).joined(separator: ", ")). \
            Exits 1 when data was lost, a read returned wrong bytes, or a scenario did not heal within its bound. \
            Needs root for the tmpfs of full-drive (skipped with a note otherwise) and for --netns.
            """)

    @Flag(help: "Run on namespaced hosts (network namespaces, one per host) with two managers sharing a throwaway PostgreSQL; needs root and ip(8).")
    var netns = false
    @Flag(help: "Longer holds, load phases and seed data (about 3x the time).")
    var long = false
    @Option(parsing: .upToNextOption, help: "Scenarios to run, in the order given (default: all that apply to the variant).")
    var scenarios: [DrillScenario] = []
    @Option(help: "Directory for the cluster (default: a fresh one under /tmp, removed after a passing drill).")
    var dir: String?
    @Option(help: "Names the network namespaces, veth pairs and bridge (default: gd<pid>), so a wrapper can clean up after a killed drill.")
    var tag: String?
    @Option(help: "Seconds each fault is held (default 6, 20 with --long).")
    var hold: Double?
    @Option(help: "Seconds each scenario may take from injection until the cluster is whole again.")
    var healBound: Double = 90
    @Option(help: "Bytes per second the writer writes (default 1 MiB; 2 MiB with --long).")
    var writeRate: String?
    @Flag(help: "Print the report as one JSON object on the last line.")
    var json = false

    func validate() throws {
        if let hold, hold < 1 { throw ValidationError("--hold must be at least 1 second") }
        if healBound < 10 { throw ValidationError("--heal-bound must be at least 10 seconds") }
        if let writeRate, ByteSize(parsing: writeRate) == nil { throw ValidationError("--write-rate '\(writeRate)' is not a size such as 1MiB") }
        if let tag, tag.isEmpty || tag.count > 8 || !tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            // Interface names are at most 15 characters: the tag, "v", and an index must fit.
            throw ValidationError("--tag must be 1 to 8 ASCII letters and digits")
        }
    }

    func run() async throws {
        let signals = SignalWatch()
        let pid = Int(getpid())
        let directory = dir ?? "/tmp/granary-drill-\(pid)"
        let rate = writeRate.flatMap { ByteSize(parsing: $0) }.map { Int($0.bytes) } ?? (long ? 2 << 20 : 1 << 20)
        let settings = DrillRun.Settings(
            netns: netns, long: long, dir: directory, tag: tag ?? "gd\(pid % 100_000)",
            scenarios: scenarios.isEmpty ? DrillScenario.defaults(netns: netns, long: long) : scenarios,
            holdSeconds: hold ?? (long ? 20 : 6), settleSeconds: long ? 15 : 2, healBoundSeconds: healBound,
            seedFiles: long ? 64 : 24, writeBytesPerSecond: rate,
            progress: { line in FileHandle.standardError.write(Data(("drill: " + line + "\n").utf8)) })
        let drill = DrillRun(settings: settings, signals: signals)
        let report: DrillReport
        do {
            report = try await drill.run()
        } catch {
            throw CLIError("the drill stopped: \(error); logs in \(directory)/logs")
        }
        print(report.text())
        if json { print(Output.jsonLine(report)) }
        if report.passed {
            if dir == nil { try? FileManager.default.removeItem(atPath: directory) }
        } else {
            FileHandle.standardError.write(Data("drill: FAILED; logs in \(directory)/logs\n".utf8))
            throw ExitCode(1)
        }
    }
}
