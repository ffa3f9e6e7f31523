import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore

/// `granary cache status`: what this machine's disk cache holds, and the counters of the process
/// that owns it.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Inspect the local client cache.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Size, entries and hit ratio of the local cache.",
            discussion: "Reads the disk tier's entry headers (without the data) and the counters its owner (a mount or a loader) writes there every second. A cluster's entries live in a subdirectory named by its fingerprint.")
        @Option(help: "Cache directory (default: [cache] dir of the client config, else ~/.cache/granary).") var dir: String?
        @Option(help: "Client config.") var config: String?
        @Flag(help: "Print JSON.") var json = false

        struct Row: Codable {
            var cluster: String
            var entries: Int
            var bytes: Int
            var damaged: Int
            var owner: Int32?
            var ownerUpdated: Double?
            var stats: CacheStats?
            var hitRatio: Double?
            var prefetchAccuracy: Double?
        }

        func run() async throws {
            var directory = dir
            if directory == nil, let c = try? ClientConfig.load(path: config ?? ClientConfig.defaultPath) { directory = c.cache.directory }
            let d = directory ?? CacheSettings.defaultDirectory
            guard FileIO.isDirectory(d) else { throw CLIError("cache directory \(d) does not exist (nothing has been cached here)") }
            let rows = ReadCache.status(directory: d).map { ns, scan, owner in
                Row(cluster: ns, entries: scan.entries.count, bytes: scan.bytes, damaged: scan.dropped, owner: owner?.pid,
                    ownerUpdated: owner?.updated, stats: owner?.stats, hitRatio: owner?.stats.hitRatio, prefetchAccuracy: owner?.stats.prefetchAccuracy)
            }
            if json { print(Output.json(StatusReport(directory: d, clusters: rows))); return }
            print("cache directory \(d)")
            if rows.isEmpty { print("(empty)"); return }
            print(Output.table(["cluster", "entries", "size", "damaged", "hit ratio", "mem hits", "disk hits", "misses", "prefetch acc.", "policy", "owner"],
                               rows.map { r in
                                   [r.cluster, "\(r.entries)", ByteSize(Int64(r.bytes)).description, "\(r.damaged)",
                                    r.hitRatio.map { String(format: "%.3f", $0) } ?? "-", r.stats.map { "\($0.memoryHits)" } ?? "-",
                                    r.stats.map { "\($0.diskHits)" } ?? "-", r.stats.map { "\($0.misses)" } ?? "-",
                                    r.prefetchAccuracy.map { String(format: "%.3f", $0) } ?? "-", r.stats?.policy ?? "-",
                                    r.owner.map { "pid \($0), updated " + Output.age(r.ownerUpdated) } ?? "-"]
                               }))
        }
    }

    struct StatusReport: Codable {
        var directory: String
        var clusters: [Status.Row]
    }
}
