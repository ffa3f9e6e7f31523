import ArgumentParser
import Foundation
import GranaryCore
import GranaryManager

/// `granary scrub`: asks the manager for a scrub pass — every fragment read and checked against its
/// checksums, corrupt or missing ones rebuilt from the rest of their stripe — and follows it.
struct ScrubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub", abstract: "Check every fragment's checksums and repair the bad ones.",
        discussion: "The manager runs the pass (throttled to its scrub_mb_per_s); this command starts it and shows its progress until it ends. Exit status 2 when something could not be repaired.")
    @OptionGroup var options: ClientOptions
    @Flag(help: "Start the pass and return at once.") var noWait = false

    func run() async throws {
        let client = try options.managerClient()
        defer { client.close() }
        var status: RepairStatus
        do { status = try await client.startScrub() } catch { throw CLIError("\(error)") }
        let since = status.scrub.running ? status.scrub.startedAt : nil
        if noWait {
            print(options.json ? Output.json(status.scrub) : Self.line(status.scrub))
            return
        }
        // Wait for a pass that started after our request (or the one already running) to finish.
        var lastShown = ""
        while true {
            try await Task.sleep(for: .milliseconds(300))
            do { status = try await client.repairStatus() } catch { throw CLIError("\(error)") }
            let sc = status.scrub
            let ours = sc.startedAt != nil && (since == nil || sc.startedAt == since)
            if ours && !sc.running && !sc.requested, sc.finishedAt != nil { break }
            if ours && sc.running && !options.json {
                let shown = "scrub: \(sc.stripesChecked)/\(sc.stripesTotal) stripes, \(sc.corrupt) corrupt, \(sc.repaired) repaired"
                if shown != lastShown { FileHandle.standardError.write(Data((shown + "\n").utf8)); lastShown = shown }
            }
        }
        if options.json {
            print(Output.json(status.scrub))
        } else {
            print(Self.line(status.scrub))
            for f in status.scrub.findings { print("  " + f) }
        }
        if status.scrub.unrepairable > 0 { throw ExitCode(2) }
    }

    static func line(_ sc: RepairStatus.Scrub) -> String {
        let what = sc.running ? "scrub running" : sc.requested ? "scrub requested" : sc.finishedAt == nil ? "scrub: never run" : "last scrub"
        return "\(what): \(sc.stripesChecked)/\(sc.stripesTotal) stripes, \(sc.fragmentsChecked) fragments (\(ByteSize(sc.bytesRead)) read), \(sc.corrupt) corrupt, \(sc.repaired) repaired, \(sc.unrepairable) unrepairable, \(sc.unavailable) on down drives (started \(Output.age(sc.startedAt)), finished \(Output.age(sc.finishedAt)))"
    }
}
