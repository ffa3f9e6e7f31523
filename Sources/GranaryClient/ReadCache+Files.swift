import Foundation
import GranaryCore
import GranaryPrefetch

extension ReadCache {
    /// What `granary cache status` reads beside the disk tier: the owner's counters.
    public struct StatusFile: Codable, Sendable {
        public var pid: Int32
        public var updated: Double
        public var stats: CacheStats
    }

    /// Starts the once-a-second housekeeping: new trace records appended to `traceOut` (JSON lines)
    /// and the counters written beside the disk tier. `close()` does a last round.
    public func startBackground(traceOut: String?) throws(ClientError) {
        var writer: TraceWriter?
        if let traceOut {
            do { writer = try TraceWriter(path: traceOut) } catch {
                throw .localFile(path: traceOut, reason: "cannot write the access trace: \(error)")
            }
        }
        let w = writer
        let task = Task {
            var next = 0
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                next = self.housekeeping(writer: w, after: next)
            }
            _ = self.housekeeping(writer: w, after: next)
            do { try w?.close() } catch { self.logger.error("access trace: \(error)") }
        }
        background.withLock { $0 = task }
    }

    /// Stops the housekeeping after a last round (trace flushed, counters written).
    public func close() async {
        guard let task = background.withLock({ t -> Task<Void, Never>? in defer { t = nil }; return t }) else { return }
        task.cancel()
        await task.value
    }

    func housekeeping(writer: TraceWriter?, after: Int) -> Int {
        var next = after
        if let writer {
            let (records, n, lost) = trace.drain(after: after)
            next = n
            if lost > 0 { logger.warning("access trace: \(lost) records were overwritten in the ring before they could be written") }
            do { try writer.append(records) } catch { logger.error("access trace: \(error)") }
        }
        if let disk {
            let file = StatusFile(pid: getpid(), updated: Date().timeIntervalSince1970, stats: stats)
            if let data = try? JSONEncoder().encode(file) { try? FileIO.writeAtomically(disk.root + "/stats.json", Array(data), mode: 0o600) }
        }
        return next
    }

    /// Every cluster's entries under cache directory `directory`, with the counters their owners
    /// last wrote: `granary cache status`.
    public static func status(directory: String) -> [(namespace: String, scan: DiskCacheTier.Scan, owner: StatusFile?)] {
        var out: [(String, DiskCacheTier.Scan, StatusFile?)] = []
        for ns in ((try? FileIO.entries(of: directory)) ?? []).sorted() where !ns.hasPrefix(".") && FileIO.isDirectory(directory + "/" + ns) {
            let root = directory + "/" + ns
            let scan = DiskCacheTier.scan(root: root, dropInvalid: false)
            let owner = (try? FileIO.readBytes(root + "/stats.json")).flatMap { try? JSONDecoder().decode(StatusFile.self, from: Data($0)) }
            out.append((ns, scan, owner))
        }
        return out
    }
}
