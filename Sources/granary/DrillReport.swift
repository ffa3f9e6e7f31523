import Foundation

/// What a fault drill did and found, per scenario and in total; `granary drill --json` prints it
/// as one JSON object on the last line.
///
/// Guarantees: `dataLost` counts committed files (a write that returned success) that did not read
/// back byte for byte at the end; `wrongBytes` counts reads at any time that returned bytes other
/// than the file's; `passed` is false when either is above zero or any scenario failed.
struct DrillReport: Codable {
    /// One fault, from its injection until the cluster healed.
    struct Scenario: Codable {
        var name: String
        var what: String
        var passed: Bool
        /// Why it was not run (for example: no tmpfs could be mounted), if it was not.
        var skipped: String?
        /// Why it failed, if it did.
        var failure: String?
        /// How long the fault was held, seconds.
        var holdSeconds: Double = 0
        /// From the fault's injection until the cluster was whole again (every node and drive up
        /// and healthy, no stripe degraded, no rebuild pass running, the scenario's own check met).
        var healSeconds: Double?
        var healBoundSeconds: Double
        /// The load during the scenario, injection to heal.
        var load = DrillLoad.Counters()
        /// What the scenario observed (which process was killed, scrub findings, rebuild progress).
        var notes: [String] = []
    }

    struct DataLost: Codable {
        var files = 0
        var bytes: Int64 = 0
        /// The first few, with what was read instead.
        var examples: [String] = []
    }

    var variant: String
    var cluster: String
    var seconds: Double = 0
    var scenarios: [Scenario] = []
    /// Reads and writes by the load over the whole drill (final verification excluded).
    var operations = 0
    var load = DrillLoad.Counters()
    /// Bytes read and checked, load and final verification together.
    var bytesVerified: Int64 = 0
    /// Reads and writes that failed with an error (never wrong bytes).
    var clientErrors = 0
    var wrongBytes = 0
    var wrongExamples: [String] = []
    var errorExamples: [String] = []
    /// Committed files checked at the end, and writes that failed (checked whole-or-absent).
    var filesCommitted = 0
    var filesUncertain = 0
    /// Files whose write failed but that exist with bytes other than the ones written.
    var uncertainWrong = 0
    var dataLost = DataLost()
    /// The final scrub pass: fragments found corrupt and stripes that could not be repaired.
    var finalScrubCorrupt: Int?
    var finalScrubUnrepairable: Int?
    var passed = false

    /// The human-readable form: a table of scenarios, then the totals.
    func text() -> String {
        var rows: [[String]] = []
        for s in scenarios {
            let result = s.skipped != nil ? "skipped" : (s.passed ? "ok" : "FAILED")
            rows.append([s.name, result, String(format: "%.1f", s.holdSeconds), s.healSeconds.map { String(format: "%.1f", $0) } ?? "-",
                         String(format: "%.0f", s.healBoundSeconds), String(s.load.reads), String(s.load.writes),
                         String(s.load.readErrors), String(s.load.writeErrors), String(s.load.wrongBytes)])
        }
        var out = "fault drill (\(variant)): \(cluster)\n"
        out += Output.table(["SCENARIO", "RESULT", "HOLD S", "HEAL S", "BOUND S", "READS", "WRITES", "READ ERR", "WRITE ERR", "WRONG"], rows) + "\n"
        for s in scenarios {
            if let skipped = s.skipped { out += "\(s.name): skipped: \(skipped)\n" }
            if let failure = s.failure { out += "\(s.name): FAILED: \(failure)\n" }
            for n in s.notes { out += "\(s.name): \(n)\n" }
        }
        out += String(format: "operations %d (%d reads, %d writes) in %.0f s; bytes verified %@; client errors %d (%d reads, %d writes); wrong bytes read %d\n",
                      operations, load.reads, load.writes, seconds, ByteSizeText.format(bytesVerified), clientErrors, load.readErrors, load.writeErrors, wrongBytes)
        out += "files committed \(filesCommitted), all read back at the end; failed writes \(filesUncertain) (whole or absent; \(uncertainWrong) wrong)\n"
        if let c = finalScrubCorrupt, let u = finalScrubUnrepairable { out += "final scrub: \(c) corrupt fragments found, \(u) stripes unrepairable\n" }
        out += "data lost: \(dataLost.files) files, \(dataLost.bytes) bytes\n"
        for e in dataLost.examples { out += "  lost: \(e)\n" }
        for e in wrongExamples { out += "  wrong bytes: \(e)\n" }
        out += passed ? "PASSED" : "FAILED"
        return out
    }
}

/// Byte counts as people read them (binary units).
enum ByteSizeText {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(bytes)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
    }
}
