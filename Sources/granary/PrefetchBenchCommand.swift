import ArgumentParser
import Foundation
import GranaryCore
import GranaryPrefetch

/// `granary bench prefetch`: the trace simulator. Replays a JSON-lines access trace (or the
/// standard set of generated ones) against every policy — LRU, LFU, a pinned subset, Belady's
/// offline optimum, the learned policy (with and without prefetch), and hinted prefetch — and
/// prints each one's hit ratio, byte hit ratio, prefetch accuracy, wasted bytes and modeled
/// data-stall seconds, with ratios to Belady, LRU and a perfect prefetcher and the target checks.
/// The last line is one JSON object.
struct PrefetchBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefetch", abstract: "Replay access traces against every cache policy (the trace simulator).",
        discussion: "Without --trace it generates the standard set (uniform shuffled epochs, four jobs sharing a dataset, importance sampling with drifting weights, sequential shard streaming, epochs mixed with checkpoint writes), each at caches of 10 %, 25 % and 50 % of the bytes read. The link is modeled as one pipe of --bandwidth bytes/s with --latency seconds per fetch.")

    @Option(help: "A JSON-lines trace ({\"t\",\"job\",\"key\",\"size\"} per line), e.g. from `granary mount --trace-out`.") var trace: String?
    @Option(help: "Cache size (e.g. 2GiB); default: 10 %, 25 % and 50 % of the bytes the trace reads.") var cacheBytes: String?
    @Option(help: "Modeled link bandwidth, bytes/s.") var bandwidth = PrefetchBench.defaultBandwidth
    @Option(help: "Modeled latency per fetch, seconds.") var latency = PrefetchBench.defaultLatency
    @Option(help: "Reads a hinting reader announces ahead (the loader's next batches).") var hintWindow = 128
    @Option(help: "Scale of the generated standard set (1 = the default sizes).") var scale = 1.0
    @Option(help: "Only these scenarios (comma-separated).") var only: String?
    @Flag(help: "Print only the JSON result line.") var json = false

    static func row(_ r: PolicyResult) -> [String] {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "-" }
        var cells = [r.policy, f(r.hitRatio, "%.3f"), f(r.byteHitRatio, "%.3f"), f(r.hitVsBelady, "%.2f"), f(r.hitVsLRU, "%.2f")]
        cells += [f(r.prefetchAccuracy, "%.3f"), ByteSize(Int64(r.wastedBytes)).description, f(r.stallSeconds, "%.2f")]
        cells += [f(r.stallVsPerfect, "%.2f"), f(r.policyNsPerAccess, "%.0f")]
        return cells
    }

    func run() async throws {
        var records: [TraceRecord]?
        if let trace {
            do { records = try TraceReader.readAll(path: trace) } catch { throw CLIError("\(error)") }
        }
        var bytes: Int?
        if let cacheBytes {
            guard let v = ByteSize(parsing: cacheBytes), v.bytes > 0 else { throw ValidationError("--cache-bytes: expected a size such as 2GiB") }
            bytes = Int(v.bytes)
        }
        guard bandwidth > 0, latency >= 0, hintWindow >= 0, scale > 0 else {
            throw ValidationError("--bandwidth and --scale must be positive, --latency and --hint-window not negative")
        }
        let quiet = json
        let report = PrefetchBench().run(trace: records, cacheBytes: bytes, bandwidth: bandwidth, latency: latency, hintWindow: hintWindow,
                                         scale: scale, scenarios: only.map { Set($0.split(separator: ",").map(String.init)) }) { line in
            if !quiet { FileHandle.standardError.write(Data(("bench prefetch: " + line + "\n").utf8)) }
        }
        if !json {
            for s in report.scenarios {
                for run in s.runs {
                    let label = run.cacheFraction.map { String(format: "%.0f %%", $0 * 100) } ?? ByteSize(Int64(run.cacheBytes)).description
                    FileHandle.standardError.write(Data("\(s.name), cache \(label):\n".utf8))
                    let table = Output.table(["policy", "hit", "byte hit", "÷ belady", "÷ lru", "prefetch acc.", "wasted", "stall s", "÷ perfect", "ns/access"],
                                             run.results.map(Self.row))
                    FileHandle.standardError.write(Data((table + "\n").utf8))
                }
            }
            for c in report.checks {
                FileHandle.standardError.write(Data(String(format: "%@ %@ (%@ cache %@): %.3f %@ %.3f\n", c.passed ? "PASS" : "FAIL", c.name, c.scenario,
                    c.cacheFraction.map { String(format: "%.0f %%", $0 * 100) } ?? "\(c.cacheBytes)", c.value, c.comparison, c.threshold).utf8))
            }
        }
        print(Output.jsonLine(report))
    }
}
