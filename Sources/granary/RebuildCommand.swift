import ArgumentParser
import Foundation
import GranaryCore
import GranaryManager

/// `granary rebuild status`: what the manager's repair service is doing.
struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Rebuild, shrink and expand of stripes.",
                                                    subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The rebuild pass in progress, the last one, and scrub and collection totals.",
            discussion: "Drives are retired (their fragments moved elsewhere) when they fail, when their node is drained, or when their node has been down longer than the manager's down_out_ms.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            let status: RepairStatus
            do { status = try await client.repairStatus() } catch { throw CLIError("\(error)") }
            if options.json {
                print(Output.json(status))
                return
            }
            print(Self.render(status))
        }

        static func render(_ s: RepairStatus) -> String {
            var out: [String] = []
            out.append("state: \(s.state)   rebuild limit: \(s.rebuildLimitMBps) MB/s")
            if let w = s.waitingFor { out.append("waiting: \(w)") }
            out.append("retired drives: \(s.retiredDrives.isEmpty ? "none" : s.retiredDrives.joined(separator: ", "))")
            out.append("stripes on retired drives: \(s.degradedStripes)   shrunk stripes: \(s.shrunkStripes)")
            if let p = s.pass { out.append("in progress: " + line(p)) }
            if let p = s.lastPass { out.append("last pass:   " + line(p)) }
            out.append("since creation: \(s.totalRebuilt) rebuilt, \(s.totalShrunk) shrunk, \(s.totalExpanded) expanded")
            let c = s.collection
            out.append("collection: \(c.stripesCollected) stripes of deleted files, \(c.orphanChunksDeleted) orphaned and \(c.staleChunksDeleted) stale chunks deleted (last run \(Output.age(c.lastRunAt)))")
            out.append(ScrubCommand.line(s.scrub))
            if !s.problems.isEmpty {
                out.append("recent problems:")
                out += s.problems.suffix(10).map { "  " + $0 }
            }
            return out.joined(separator: "\n")
        }

        static func line(_ p: RepairStatus.Pass) -> String {
            let pct = p.stripesTotal > 0 ? 100 * Double(p.stripesDone) / Double(p.stripesTotal) : 100
            return "\(p.kind) \(p.stripesDone)/\(p.stripesTotal) stripes (\(String(format: "%.0f", pct))%): \(p.rebuilt) rebuilt, \(p.shrunk) shrunk, \(p.expanded) expanded, \(p.stripesFailed) failed attempts; \(ByteSize(p.bytesWritten)) written at \(String(format: "%.1f", p.writeMBps)) MB/s"
        }
    }
}
