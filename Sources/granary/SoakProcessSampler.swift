#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryClient
import Synchronization

/// One process the soak test watches: its resident memory and open file descriptors, read from
/// `/proc/PID/status` (VmRSS) and `/proc/PID/fd` at each sample.
struct SoakWatched: Sendable {
    var name: String
    var pid: Int32
}

/// One reading of one process.
struct SoakProcessSample: Sendable {
    /// Seconds since the run started.
    var t: Double
    /// VmRSS: all resident pages.
    var rssBytes: Int64
    /// RssAnon: the resident anonymous pages (heap, stacks, anonymous maps) — where leaked memory
    /// lives; VmRSS also counts file pages (the executable's code paged in as new paths run).
    var anonBytes: Int64
    var fds: Int
}

/// Samples every watched process's RSS and open file descriptors. Readings are kept in arrays
/// reserved up front for the whole run, so sampling does not grow the bench's own memory as it
/// goes.
///
/// Guarantees: a process that cannot be read (it exited) yields no sample and is reported by
/// `sample()`'s return value, never silently skipped.
final class SoakProcessSampler: Sendable {
    let watched: [SoakWatched]
    let start: Double
    private let samples: Mutex<[[SoakProcessSample]]>

    init(watched: [SoakWatched], start: Double, expectedSamples: Int) {
        self.watched = watched
        self.start = start
        var rows: [[SoakProcessSample]] = []
        for _ in watched {
            var row: [SoakProcessSample] = []
            row.reserveCapacity(expectedSamples)
            rows.append(row)
        }
        samples = Mutex(rows)
    }

    /// Reads every process once; returns the names of those that could not be read.
    @discardableResult
    func sample() -> [String] {
        let t = FileClient.seconds() - start
        var missing: [String] = []
        var got: [(Int, SoakProcessSample)] = []
        for (i, w) in watched.enumerated() {
            guard let (rss, anon) = Self.memory(pid: w.pid), let fds = Self.openFiles(pid: w.pid) else {
                missing.append(w.name)
                continue
            }
            got.append((i, SoakProcessSample(t: t, rssBytes: rss, anonBytes: anon, fds: fds)))
        }
        samples.withLock { rows in for (i, s) in got { rows[i].append(s) } }
        return missing
    }

    /// Every reading of process `i` so far.
    func readings(_ i: Int) -> [SoakProcessSample] { samples.withLock { $0[i] } }

    /// The latest reading of each process, by name.
    func latest() -> [(String, SoakProcessSample)] {
        samples.withLock { rows in
            watched.enumerated().compactMap { i, w in rows[i].last.map { (w.name, $0) } }
        }
    }

    /// VmRSS and RssAnon of `pid` in bytes (the kernel reports kB).
    static func memory(pid: Int32) -> (rss: Int64, anon: Int64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var rss: Int64?, anon: Int64?
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") || line.hasPrefix("RssAnon:") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kb = Int64(fields[1]) else { continue }
            if line.hasPrefix("VmRSS:") { rss = kb * 1024 } else { anon = kb * 1024 }
        }
        guard let rss, let anon else { return nil }
        return (rss, anon)
    }

    /// Entries of `/proc/PID/fd`. For this process the directory being listed is itself an open
    /// descriptor; it counts in every sample alike, so comparisons are unaffected.
    static func openFiles(pid: Int32) -> Int? {
        guard let dir = opendir("/proc/\(pid)/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return count
    }
}
