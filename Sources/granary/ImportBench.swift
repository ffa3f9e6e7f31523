import Foundation
import GranaryClient
import GranaryCore
import GranaryTransport
import Logging
import Synchronization

/// The end-to-end import measurement of `granary bench ec`: a set of 100 KiB files and one large
/// file, each written to a temporary directory, then imported with `Importer` into an embedded
/// cluster started as `granary up` starts one (`LocalCluster`: a manager and 3 storage nodes with
/// 2 directory drives each, `granaryd` processes on loopback; the default 4+2 layout), timed from
/// the start of `Importer.run` (its tree walk included) to its return, the Importer's own
/// read-back verification off. The baseline, in the same run and just before each import, is
/// `LocalCopy`: the same tree copied to another directory on the same disk, each file fsynced as a
/// storage node fsyncs a chunk (`ratio`), and the same copy made durable by one `sync()` at the end
/// (`syncOnceRatio`, the fastest durable copy: for small files the per-file fsyncs dominate the
/// first baseline, which the import's packing avoids). Outside the timed parts every imported file
/// is read back through `FileClient.stream` and compared byte for byte with its source; a
/// difference fails the bench.
///
/// Guarantees: the cluster's processes are stopped and the temporary directory removed when `run`
/// returns or throws, and on SIGINT or SIGTERM during it.
struct ImportBench {
    var smallTotal: Int64
    var largeSize: Int64
    var parallel: Int
    var smallFileSize = 100 << 10
    var filesPerDirectory = 1000
    var nodes = 3
    var drives = 2

    struct Result: Codable {
        var small: SetResult?
        var large: SetResult?
        var cluster: String
        var layout: String
        var parallel: Int
        var baseline = "plain copy of the same tree to another directory on the same disk, one file at a time: read, write a "
            + "temporary file, fsync, rename, fsync the directory (what a storage node does per chunk); just before the import. "
            + "localCopySyncOnce*: the same copy with no fsync, then one sync(2) at the end (cp -r; sync)"
        var verified = "every imported file read back through FileClient.stream after the timed import and compared byte for byte "
            + "with its source (Importer's own verify off while timed)"

        enum CodingKeys: String, CodingKey { case small, large, cluster, layout, parallel, baseline, verified }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(small, forKey: .small)
            try c.encode(large, forKey: .large)
            try c.encode(cluster, forKey: .cluster)
            try c.encode(layout, forKey: .layout)
            try c.encode(parallel, forKey: .parallel)
            try c.encode(baseline, forKey: .baseline)
            try c.encode(verified, forKey: .verified)
        }
    }

    /// One imported set. GB/s are file bytes (10⁹) per second of wall-clock time.
    struct SetResult: Codable {
        var files: Int
        var bytes: Int64
        var stripes: Int
        var seconds: Double
        var GBps: Double
        var filesPerSecond: Double
        var localCopySeconds: Double
        var localCopyGBps: Double
        var localCopyFilesPerSecond: Double
        /// GBps / localCopyGBps.
        var ratio: Double
        /// The copy made durable by one sync() at the end instead of file by file, and GBps over it.
        var localCopySyncOnceSeconds: Double
        var localCopySyncOnceGBps: Double
        var syncOnceRatio: Double
        /// The untimed byte-for-byte read-back.
        var verifySeconds: Double
    }

    /// Bytes the run needs on the temporary directory's file system at its peak: the sources, the
    /// cluster's 1.5× erasure-coded copies of both, and the larger baseline copy, plus 5 %.
    var bytesNeeded: Int64 {
        let sources = smallBytes + largeSize
        return (sources + sources * 3 / 2 + max(smallBytes, largeSize)) * 21 / 20
    }

    var smallFiles: Int { Int(smallTotal / Int64(smallFileSize)) }
    var smallBytes: Int64 { Int64(smallFiles) * Int64(smallFileSize) }

    func run(progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        let tmp = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        var fs = statvfs()
        guard statvfs(tmp, &fs) == 0 else { throw CLIError("bench ec: import: statvfs \(tmp): \(String(cString: strerror(errno)))") }
        let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        guard free >= bytesNeeded else {
            throw CLIError("bench ec: import needs about \(ByteSize(bytesNeeded)) in \(tmp), which has \(ByteSize(free)) free; "
                           + "pass smaller --import-small-total / --import-large-size, set TMPDIR, or --no-import")
        }
        let root = tmp + "/granary-import-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        let teardown = Teardown(root: root)
        defer { teardown.run() }
        do {
            return try await generateAndMeasure(root: root, teardown: teardown, progress)
        } catch {
            // A signal handler is stopping the cluster and removing the directory, and ends the
            // process when done: let it, rather than report what the stopping broke.
            if teardown.interrupted { try? await Task.sleep(for: .seconds(30)) }
            throw error
        }
    }

    /// The data, the cluster, and both sets measured against it.
    private func generateAndMeasure(root: String, teardown: Teardown, _ progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        try FileIO.makeDirectories(root)

        // The data, written and flushed before anything is timed.
        if smallFiles > 0 {
            let throttle = Throttle()
            try BenchData.writeFiles(count: smallFiles, size: smallFileSize, under: root + "/small", perDirectory: filesPerDirectory) { n in
                if throttle.due(n == smallFiles) { progress("bench ec: import: writing \(n)/\(smallFiles) files of \(ByteSize(Int64(smallFileSize)))") }
            }
        }
        if largeSize > 0 {
            progress("bench ec: import: writing one file of \(ByteSize(largeSize))")
            try FileIO.makeDirectories(root + "/large")
            let buffer = OwnedBuffer(count: 16 << 20)
            try BenchData.writeFile(root + "/large/large.bin", size: largeSize, seed: UInt64(smallFiles + 1), buffer: buffer.raw)
        }
        sync()

        progress("bench ec: import: starting a cluster of \(nodes) storage nodes × \(drives) drives in \(root)/cluster")
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let cluster = try LocalCluster(dir: root + "/cluster", nodes: nodes, drives: drives, port: 0, heartbeatTimeoutMs: 5000)
        teardown.add(cluster.processes.map(\.process.processIdentifier))
        defer { cluster.stop() }
        do {
            _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
            return try await measureAll(cluster, root: root, logger: logger, progress)
        } catch {
            // The cluster's directory goes with the rest: show what its processes said first.
            if !teardown.interrupted { progress(cluster.diagnosis()) }
            throw error
        }
    }

    /// Both sets against the running `cluster`.
    private func measureAll(_ cluster: LocalCluster, root: String, logger: Logger,
                            _ progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        var settings = FileClientSettings()
        settings.stripesInFlight = parallel
        let (client, transport) = try cluster.fileClient(settings: settings, logger: logger)
        defer { transport.closeAll() }
        let benchDir = try await client.meta.mkdirAll("/bench")
        let layout = try await client.layoutForNewFiles(in: benchDir.id)

        var result = Result(cluster: "1 manager + \(nodes) storage nodes × \(drives) directory drives, granaryd processes on loopback (as granary up)",
                            layout: layout.description, parallel: parallel)
        if smallFiles > 0 { result.small = try await measure("small", local: root + "/small", dest: "/bench/small", root: root, client, progress) }
        if largeSize > 0 { result.large = try await measure("large", local: root + "/large", dest: "/bench/large", root: root, client, progress) }
        progress("bench ec: import: stopping the cluster and removing \(root)")
        return result
    }

    /// The baseline copy, then the import, of the tree at `local`; then the read-back check.
    private func measure(_ name: String, local: String, dest: String, root: String, _ client: FileClient,
                         _ progress: @escaping @Sendable (String) -> Void) async throws -> SetResult {
        @Sendable func line(_ what: String, _ files: Int, _ total: Int, _ bytes: Int64, _ since: Int64) -> String {
            let seconds = Double(max(EcBench.now() - since, 1)) / 1e9
            return String(format: "bench ec: import %@: %@ %d/%d files, %@ in %.1f s, %.0f MB/s", name, what, files, total,
                          ByteSize(bytes).description, seconds, Double(bytes) / seconds / 1e6)
        }
        // The baselines: the tree walk and both copies, each removed (and the removal flushed) after.
        let copy = root + "/copy"
        func baseline(_ durability: LocalCopy.Durability, _ what: String) throws -> (LocalTree, Double) {
            let start = EcBench.now()
            let tree = try LocalTree.scan(local)
            let total = tree.files.count
            let throttle = Throttle()
            try LocalCopy.copy(tree, from: local, to: copy, durability: durability) { n, bytes in
                if throttle.due(n == total) { progress(line(what, n, total, bytes, start)) }
            }
            let seconds = Double(EcBench.now() - start) / 1e9
            try FileManager.default.removeItem(atPath: copy)
            sync()
            return (tree, seconds)
        }
        let (tree, copySeconds) = try baseline(.eachFile, "local copy, fsync per file:")
        let (_, syncOnceSeconds) = try baseline(.once, "local copy, one sync:")

        let bytes = tree.files.reduce(0) { $0 + $1.size }
        let importer = Importer(client: client, parallel: parallel, verify: false)
        let importThrottle = Throttle()
        let start = EcBench.now()
        let report = try await importer.run(local: local, to: dest) { p in
            if importThrottle.due(p.filesDone == p.filesTotal) { progress(line(p.phase, p.filesDone, p.filesTotal, p.bytesDone, start)) }
        }
        let seconds = Double(EcBench.now() - start) / 1e9
        guard report.files == tree.files.count, report.bytes == bytes, report.skipped == 0 else {
            throw CLIError("bench ec: import \(name): imported \(report.files) files (\(report.bytes) bytes, \(report.skipped) skipped) "
                           + "of \(tree.files.count) (\(bytes) bytes)")
        }

        let verifyStart = EcBench.now()
        try await verify(tree, local: local, dest: dest, client) { n, b in
            progress(line("read back and compared", n, tree.files.count, b, verifyStart))
        }
        let verifySeconds = Double(EcBench.now() - verifyStart) / 1e9

        func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        let gbps = Double(bytes) / seconds / 1e9
        let copyGBps = Double(bytes) / copySeconds / 1e9
        let set = SetResult(files: report.files, bytes: bytes, stripes: report.stripes, seconds: round3(seconds), GBps: round3(gbps),
                            filesPerSecond: round3(Double(report.files) / seconds), localCopySeconds: round3(copySeconds),
                            localCopyGBps: round3(copyGBps), localCopyFilesPerSecond: round3(Double(report.files) / copySeconds),
                            ratio: round3(gbps / copyGBps), localCopySyncOnceSeconds: round3(syncOnceSeconds),
                            localCopySyncOnceGBps: round3(Double(bytes) / syncOnceSeconds / 1e9),
                            syncOnceRatio: round3(syncOnceSeconds / seconds), verifySeconds: round3(verifySeconds))
        progress(String(format: "bench ec: import %@: %.3f GB/s, %.1f files/s; local copy, fsync per file: %.3f GB/s, %.1f files/s, "
                            + "ratio %.3f; local copy, one sync: %.3f GB/s, ratio %.3f",
                        name, set.GBps, set.filesPerSecond, set.localCopyGBps, set.localCopyFilesPerSecond, set.ratio,
                        set.localCopySyncOnceGBps, set.syncOnceRatio))
        return set
    }

    /// Reads every file of `tree` back from `dest` and compares it with its source under `local`.
    private func verify(_ tree: LocalTree, local: String, dest: String, _ client: FileClient,
                        progress: (Int, Int64) -> Void) async throws {
        let scratch = OwnedBuffer(count: 16 << 20)
        let throttle = Throttle()
        var bytes: Int64 = 0
        for (i, f) in tree.files.enumerated() {
            let path = dest + "/" + f.path
            let source = local + "/" + f.path
            let map = try await client.meta.fileMap(try await client.meta.resolve(path).id)
            let fd = open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CLIError("bench ec: import: open \(source): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var offset: Int64 = 0
            var same = map.inode.size == f.size
            try await client.stream(map, path: path) { piece in
                guard same, piece.count <= scratch.count else { same = false; return }
                var got = 0
                while got < piece.count {
                    let n = pread(fd, scratch.raw.baseAddress! + got, piece.count - got, off_t(offset) + off_t(got))
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { break }
                    got += n
                }
                same = got == piece.count && memcmp(scratch.raw.baseAddress!, piece.baseAddress!, piece.count) == 0
                offset += Int64(piece.count)
            }
            guard same, offset == f.size else { throw CLIError("bench ec: import: \(path) read back differs from \(source)") }
            bytes += f.size
            if throttle.due(i + 1 == tree.files.count) { progress(i + 1, bytes) }
        }
    }

    /// Says when a progress line is due: at most one a second, and the last one.
    final class Throttle: Sendable {
        private let last = Mutex<Int64>(0)
        func due(_ final: Bool) -> Bool {
            let now = EcBench.now()
            return last.withLock { t in
                guard final || now - t >= 1_000_000_000 else { return false }
                t = now
                return true
            }
        }
    }

    /// Removes the temporary directory, and when SIGINT or SIGTERM ends the bench early, first
    /// stops the cluster's processes (the normal path stops them through `LocalCluster.stop`).
    /// The handlers stay for the rest of the process, which ends soon after the bench.
    final class Teardown: Sendable {
        private let root: String
        private let pids = Mutex<[pid_t]>([])
        private let signalled = Mutex(false)

        init(root: String) {
            self.root = root
            // A queue of its own: its thread runs the handler even when every thread of the shared
            // pool is busy or blocked.
            let queue = DispatchQueue(label: "granary.bench.teardown")
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                // The handler holds its own source: a released source stops delivering.
                s.setEventHandler { [weak self, s] in
                    _ = s
                    guard let self else { _exit(128 + sig) }
                    self.signalled.withLock { $0 = true }
                    FileHandle.standardError.write(Data("bench ec: import: interrupted; stopping the cluster and removing \(root)\n".utf8))
                    for pid in self.pids.withLock({ $0 }) { kill(pid, SIGTERM) }
                    usleep(500_000)
                    self.run()
                    // _exit, not exit: the bench's own thread may be failing and exiting meanwhile.
                    _exit(128 + sig)
                }
                s.resume()
            }
        }

        /// Whether a signal has started the teardown (the process is about to end).
        var interrupted: Bool { signalled.withLock { $0 } }

        func add(_ more: [pid_t]) { pids.withLock { $0 += more } }

        /// Removes the directory (retried: a process being stopped may still be writing into it).
        func run() {
            for _ in 0..<3 {
                if (try? FileManager.default.removeItem(atPath: root)) != nil || !FileIO.exists(root) { return }
                usleep(200_000)
            }
        }
    }
}
