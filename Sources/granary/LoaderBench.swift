#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryLoader
import GranaryTransport
import Logging

/// `granary bench loader`: `--samples` files of `--sample-size` written to local disk and imported
/// into an embedded cluster, then one shuffled epoch through GranaryLoader cold (page cache
/// dropped when this process may) and one warm, against a Python multi-process loader
/// (`PythonLoaderBaseline`) reading the same files from local disk in the same shuffled order,
/// cold and warm, in the same run. `ratio` = Granary warm samples/s / Python warm samples/s.
/// Every sample of the cold epoch is checked (CRC32C) against its local file. The last line is
/// one JSON object.
struct LoaderBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loader", abstract: "GranaryLoader epochs vs a Python multi-process loader on local files.")

    @Option(help: "Number of samples.") var samples = 20_000
    @Option(help: "Bytes per sample.") var sampleSize = "100KiB"
    @Option(help: "Samples per batch (both sides).") var batchSize = 64
    @Option(help: "GranaryLoader reads in flight.") var reads = 64
    @Option(help: "Python worker processes (default: the number of CPUs, as num_workers = cores).") var workers: Int?
    @Option(help: "Directory for the local files and the cluster (default: a fresh one under $TMPDIR).") var dir: String?
    @Option(help: "Samples in the synthetic index whose second open is timed as well (0 skips it).") var indexScale = 1_000_000
    @Option(help: "Memory of the loader's hinted-prefetch cache (0: no cache).") var prefetchMemory = "256MiB"
    @Option(help: "Batches of upcoming reads the loader announces to the cache.") var hintBatches = 4
    @Flag(help: "Print only the JSON result line.") var json = false

    struct Side: Codable {
        var samplesPerSecond: Double
        var MBps: Double
        var seconds: Double
    }

    struct Result: Codable {
        var bench = "loader"
        /// GranaryLoader warm samples/s over the Python loader's warm samples/s.
        var ratio: Double
        var target = 1.0
        var baseline: String
        var samples: Int
        var sampleBytes: Int
        var batchSize: Int
        var reads: Int
        var workers: Int
        var granary: [String: Side]
        var python: [String: Side]
        var coldCachesDropped: Bool
        var indexBuildSeconds: Double
        var indexOpenSeconds: Double
        /// Opening a dataset whose stored index lists `indexScaleSamples` samples (a synthetic
        /// index written into the cluster, as `Dataset.open` stores one): read, CRC check, record
        /// check, freshness check.
        var indexScaleSamples: Int
        var indexScaleBytes: Int
        var indexScaleOpenSeconds: Double?
        var verifiedSamples: Int
        var poolInUseAfter: Int
        /// The loader's hinted-prefetch cache after both epochs (nil with --prefetch-memory 0).
        var cache: CacheStats?
        /// File bytes copied between buffers after they landed, per sample byte delivered (both
        /// epochs): 0 when every sample was read straight into a pooled buffer or handed over as
        /// the cache's own.
        var copiedBytesPerByteRead: Double
        /// Stripe reads decoded from parity (a late or failed fragment); each copies its bytes.
        var degradedReads: Int
        var cluster = "1 manager + 3 storage nodes × 2 directory drives, granaryd processes on loopback (as granary up), layout 4+2"
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data(("bench loader: " + s + "\n").utf8)) }

    func run() async throws {
        guard let size = ByteSize(parsing: sampleSize), size.bytes > 0, size.bytes <= 64 << 20 else {
            throw ValidationError("--sample-size: expected a size up to 64MiB")
        }
        guard samples >= 1, batchSize >= 1, reads >= 1 else { throw ValidationError("--samples, --batch-size and --reads must be at least 1") }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let workerCount = workers ?? max(1, cpus)
        guard let python = Self.which("python3") else { throw CLIError("bench loader: python3 is needed for the baseline (apt-get install python3)") }
        let root = dir ?? NSTemporaryDirectory() + "granary-loader-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        let local = root + "/files"
        let per = 1000
        progress("writing \(samples) files of \(size) to \(local)")
        try BenchData.writeFiles(count: samples, size: Int(size.bytes), under: local, perDirectory: per) { n in
            if n % 5000 == 0 { self.progress("  \(n) files") }
        }
        sync()

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let cluster = try LocalCluster(dir: root + "/cluster", nodes: 3, drives: 2, port: 0, heartbeatTimeoutMs: 5000)
        defer { cluster.stop() }
        _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
        let (client, transport) = try cluster.fileClient(logger: logger)
        defer { transport.closeAll() }
        progress("importing into the cluster")
        _ = try await Importer(client: client, parallel: 4, verify: false).run(local: local, to: "/bench/loader") { _ in }

        var t = FileClient.seconds()
        _ = try await Dataset.open("/bench/loader", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
        let buildSeconds = FileClient.seconds() - t
        t = FileClient.seconds()
        let dataset = try await Dataset.open("/bench/loader", format: .files(extensions: ["bin"]), label: .pathComponent(-2),
                                             client: client) { self.progress("  " + $0) }
        let openSeconds = FileClient.seconds() - t
        guard dataset.indexReused, dataset.count == samples else {
            throw CLIError("bench loader: the dataset index was not reused or counts \(dataset.count) samples of \(samples)")
        }
        progress("index: built in \(String(format: "%.3f", buildSeconds)) s, opened again in \(String(format: "%.3f", openSeconds)) s")

        var scaleOpen: Double?, scaleBytes = 0
        if indexScale > 0 {
            (scaleOpen, scaleBytes) = try await Self.timeLargeIndexOpen(samples: indexScale, client: client)
            progress("index of \(indexScale) samples (\(scaleBytes >> 20) MiB): opened in \(String(format: "%.3f", scaleOpen ?? 0)) s")
        }

        let pool = try IOBufferPool(.init(arenaBytes: 64 << 20, limitBytes: 2 << 30), registrars: client.arenaRegistrars, logger: logger)
        guard let prefetchBytes = ByteSize(parsing: prefetchMemory) else { throw ValidationError("--prefetch-memory: expected a size such as 256MiB") }
        let config = LoaderConfiguration(batchSize: batchSize, shuffle: true, seed: 2026, concurrentReads: reads, prefetchBatches: 4,
                                         hintBatches: hintBatches, prefetchMemoryBytes: Int(prefetchBytes.bytes))
        let loader = try Loader(dataset: dataset, client: client, pool: pool, configuration: config)

        // The local files' CRC32Cs, to check every sample of the cold epoch against.
        var expected: [UInt32] = []
        expected.reserveCapacity(samples)
        for i in 0..<samples {
            let bytes = try FileIO.readBytes(Self.localPath(local, i, per))
            expected.append(CRC32C.checksum(bytes))
        }

        var granary: [String: Side] = [:], baseline: [String: Side] = [:]
        var dropped = true
        var verified = 0
        for (epoch, pass) in [(0, "cold"), (1, "warm")] {
            // The same shuffled order for the Python side: this epoch's plan, as local paths.
            let order = loader.plan(epoch: epoch).samples.map { Self.localPath(local, Self.fileNumber(dataset.index.entry($0).key) ?? 0, per) }
            let orderFile = root + "/order-\(epoch).txt"
            try FileIO.writeAtomically(orderFile, Array(order.joined(separator: "\n").utf8))
            if pass == "cold" { dropped = Self.dropCaches() && dropped }
            let py = try Self.runPython(python, script: root + "/baseline.py", order: orderFile, workers: workerCount, batch: batchSize)
            baseline[pass] = py
            progress("python \(pass): \(Int(py.samplesPerSecond)) samples/s, \(Int(py.MBps)) MB/s")
            if pass == "cold" { dropped = Self.dropCaches() && dropped }
            let start = FileClient.seconds()
            var count = 0, bytes = 0
            for try await batch in loader.epoch(epoch) {
                for s in batch {
                    count += 1
                    bytes += s.count
                    if pass == "cold" {
                        guard let n = Self.fileNumber(s.key), n < expected.count, CRC32C.checksum(s.bytes) == expected[n] else {
                            throw CLIError("bench loader: sample \(s.index) (\(s.key)) differs from its local file")
                        }
                        verified += 1
                    }
                }
            }
            let seconds = FileClient.seconds() - start
            guard count == samples else { throw CLIError("bench loader: epoch \(epoch) delivered \(count) samples of \(samples)") }
            granary[pass] = Side(samplesPerSecond: Double(count) / seconds, MBps: Double(bytes) / seconds / 1e6, seconds: seconds)
            progress("granary \(pass): \(Int(Double(count) / seconds)) samples/s, \(Int(Double(bytes) / seconds / 1e6)) MB/s")
            if let c = client.cache?.stats {
                progress(String(format: "  cache: %d accesses, %d memory hits, %d late, %d misses; prefetched %d (used %d, wasted %d), policy %.0f ns/access",
                                c.accesses, c.memoryHits, c.lateHits, c.misses, c.prefetchIssued, c.prefetchUsed, c.prefetchWasted, c.policyNanosPerAccess))
            }
        }
        let ratio = (granary["warm"]?.samplesPerSecond ?? 0) / max(baseline["warm"]?.samplesPerSecond ?? 1, 1e-9)
        let result = Result(ratio: (ratio * 1000).rounded() / 1000,
                            baseline: "Python multiprocessing.Pool(\(workerCount)) reading batches of plain files from local disk in the same shuffled order (PyTorch DataLoader shape, num_workers = \(workerCount))",
                            samples: samples, sampleBytes: Int(size.bytes), batchSize: batchSize, reads: reads, workers: workerCount,
                            granary: granary, python: baseline, coldCachesDropped: dropped, indexBuildSeconds: buildSeconds,
                            indexOpenSeconds: openSeconds, indexScaleSamples: indexScale, indexScaleBytes: scaleBytes,
                            indexScaleOpenSeconds: scaleOpen, verifiedSamples: verified, poolInUseAfter: pool.stats.inUseBuffers,
                            cache: client.cache?.stats,
                            copiedBytesPerByteRead: Double(client.readCounters.copiedBytes) / Double(max(1, 2 * samples * Int(size.bytes))),
                            degradedReads: client.readCounters.degradedReads)
        if !json { progress("ratio (warm, Granary / Python): \(result.ratio) (target \(result.target))") }
        print(Output.jsonLine(result))
    }

    /// Stores an index of `samples` image-folder samples (1000 class directories' worth of keys)
    /// for an empty directory, as `Dataset.open` would have, then times `Dataset.open` reusing it.
    static func timeLargeIndexOpen(samples: Int, client: FileClient) async throws -> (Double, Int) {
        let root = "/bench/index-scale"
        let format = DatasetFormat.files(extensions: ["jpg"]), label = LabelRule.pathComponent(-2)
        let path = Dataset.indexPath(root: root, format: format)
        _ = try await client.meta.mkdirAll(root + "/.granary")
        let dir = try await client.meta.resolve(root)
        let classes = (0..<1000).map { String(format: "n%08d", $0) }
        var entries: [DatasetIndex.Entry] = []
        entries.reserveCapacity(samples)
        for i in 0..<samples {
            let c = i % classes.count
            entries.append(DatasetIndex.Entry(ref: UInt64(1_000_000 + i), offset: 0, length: 110_000, key: "\(classes[c])/\(classes[c])_\(i).JPEG",
                                              label: Int32(c), parts: []))
        }
        let blob = DatasetIndex.encode(format: 0, options: "files[jpg];component(-2)", root: root,
                                       directories: [DatasetIndex.Directory(inode: dir.id, mtime: dir.mtime, path: "")], shards: [],
                                       classes: classes, entries: entries)
        try await client.writeFile(path, bytes: blob, replace: true)
        let start = FileClient.seconds()
        let dataset = try await Dataset.open(root, format: format, label: label, client: client)
        let seconds = FileClient.seconds() - start
        guard dataset.indexReused, dataset.count == samples else {
            throw CLIError("bench loader: the \(samples)-sample index was not reused (\(dataset.count) samples)")
        }
        return (seconds, blob.count)
    }

    static func localPath(_ local: String, _ i: Int, _ per: Int) -> String {
        local + "/" + String(format: "d%03d/f%06d.bin", i / per, i)
    }

    /// The number in a sample key `dNNN/fNNNNNN.bin`.
    static func fileNumber(_ key: String) -> Int? {
        guard let name = key.split(separator: "/").last, name.hasPrefix("f"), name.hasSuffix(".bin") else { return nil }
        return Int(name.dropFirst().dropLast(4))
    }

    /// Drops the kernel's clean page cache (root only); whether it could.
    static func dropCaches() -> Bool {
        sync()
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "3", 1) == 1
    }

    static func which(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func runPython(_ python: String, script: String, order: String, workers: Int, batch: Int) throws -> Side {
        try FileIO.writeAtomically(script, Array(PythonLoaderBaseline.script.utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, order, String(workers), String(batch)]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        struct Line: Decodable { var samplesPerSecond: Double; var MBps: Double; var seconds: Double }
        guard p.terminationStatus == 0, let line = try? JSONDecoder().decode(Line.self, from: data) else {
            throw CLIError("bench loader: the Python baseline failed (exit \(p.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
        }
        return Side(samplesPerSecond: line.samplesPerSecond, MBps: line.MBps, seconds: line.seconds)
    }
}
