#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import GranaryBuffers
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryLoader
import GranaryTransport
import Logging
import Synchronization

/// `granary bench cache`: data-stall time of shuffled epochs on an embedded cluster whose storage
/// nodes answer every chunk read `--latency-ms` late, through GranaryLoader and through a FUSE
/// mount, with a cache of `--cache-fraction` of the dataset: no cache, LRU, the loader's hinted
/// prefetch, and the learned policy. A consumer "computes" `--compute-ms` per sample; stall is the
/// time it waits for data. Two epochs per run (the first cold, the second with what was learned).
/// `ratio` = learned stall / LRU stall for each path (target ≤ 0.5). The last line is one JSON object.
struct CacheBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cache", abstract: "Live data-stall time: no cache, LRU, hinted and learned prefetch (loader and mount).")

    @Option(help: "Number of samples (files).") var samples = 3000
    @Option(help: "Bytes per sample.") var sampleSize = "64KiB"
    @Option(help: "Cache size as a fraction of the dataset.") var cacheFraction = 0.5
    @Option(help: "Latency injected into every chunk read on the storage nodes (ms).") var latencyMs = 10
    @Option(help: "Compute time per sample of the consumer (ms).") var computeMs = 1.0
    @Option(help: "Loader: samples per batch.") var batchSize = 32
    @Option(help: "Loader: its own reads in flight (a small data-loader worker pool).") var reads = 4
    @Option(help: "Mount: reader threads.") var readers = 4
    @Option(help: "Epochs per run.") var epochs = 2
    @Option(help: "Directory for the cluster (default: a fresh one under $TMPDIR).") var dir: String?
    @Flag(help: "Print only the JSON result line.") var json = false

    struct Epoch: Codable {
        var epoch: Int
        var seconds: Double
        var stallSeconds: Double
        var hitRatio: Double
        var prefetchAccuracy: Double
        var prefetched: Int
        var misses: Int
    }

    struct Run: Codable {
        var path: String
        var policy: String
        var epochs: [Epoch]
        var policyNanosPerAccess: Double
        var stallSeconds: Double { epochs.reduce(0) { $0 + $1.stallSeconds } }
    }

    struct Result: Codable {
        var bench = "cache"
        var samples: Int
        var sampleBytes: Int
        var cacheBytes: Int
        var latencyMs: Int
        var computeMsPerSample: Double
        var runs: [Run]
        /// Stall / LRU stall over all epochs, for `path/policy` (the loader's default is hinted,
        /// the mount's learned).
        var ratio: [String: Double]
        var target = 0.5
        var mount: String
        var cluster = "1 manager + 3 storage nodes × 1 directory drive, granaryd processes on loopback, layout 2+1, every chunk read delayed by latencyMs"
    }

    func progress(_ s: String) { if !json { FileHandle.standardError.write(Data(("bench cache: " + s + "\n").utf8)) } }

    func run() async throws {
        guard let size = ByteSize(parsing: sampleSize), size.bytes > 0, size.bytes <= 1 << 20 else {
            throw ValidationError("--sample-size: expected a size up to 1MiB")
        }
        guard samples >= 10, epochs >= 1, cacheFraction > 0, cacheFraction <= 1 else {
            throw ValidationError("--samples ≥ 10, --epochs ≥ 1, 0 < --cache-fraction ≤ 1")
        }
        let root = dir ?? NSTemporaryDirectory() + "granary-cache-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let local = root + "/files"
        progress("writing \(samples) files of \(size)")
        try BenchData.writeFiles(count: samples, size: Int(size.bytes), under: local, perDirectory: 500) { _ in }
        let cluster = try LocalCluster(dir: root + "/cluster", nodes: 3, drives: 1, port: 0, heartbeatTimeoutMs: 5000,
                                       injectReadLatencyMs: latencyMs)
        defer { cluster.stop() }
        _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
        do {
            let (client, transport) = try cluster.fileClient(logger: logger)
            defer { transport.closeAll() }
            let d = try await client.meta.mkdirAll("/bench/cache")
            try await client.meta.setLayout(d.id, StripeLayout(k: 2, m: 1, fragmentSize: 64 << 10, backend: "isa_l_rs_cauchy"))
            progress("importing")
            _ = try await Importer(client: client, parallel: 4, verify: false).run(local: local, to: "/bench/cache") { _ in }
        }
        let cacheBytes = Int(Double(samples) * Double(size.bytes) * cacheFraction)
        var runs: [Run] = []
        for policy in [CacheSettings.Policy.off, .lru, .hinted, .learned] {
            runs.append(try await loaderRun(cluster, policy: policy, cacheBytes: cacheBytes, logger: logger))
            progress(describe(runs[runs.count - 1]))
        }
        var mountNote = "through a FUSE mount in this process, reader threads listing the directories first (as ImageFolder does)"
        if FUSELibrary.deviceUsable && getuid() == 0 {
            for policy in [CacheSettings.Policy.off, .lru, .learned] {
                runs.append(try await mountRun(cluster, root: root, policy: policy, cacheBytes: cacheBytes, logger: logger))
                progress(describe(runs[runs.count - 1]))
            }
        } else {
            mountNote = "skipped: needs /dev/fuse and root"
        }
        var ratio: [String: Double] = [:]
        for (path, policy) in [("loader", "hinted"), ("loader", "learned"), ("mount", "learned")] {
            guard let lru = runs.first(where: { $0.path == path && $0.policy == "lru" }),
                  let run = runs.first(where: { $0.path == path && $0.policy == policy }) else { continue }
            ratio["\(path)/\(policy)"] = ((run.stallSeconds / max(lru.stallSeconds, 1e-9)) * 1000).rounded() / 1000
        }
        let result = Result(samples: samples, sampleBytes: Int(size.bytes), cacheBytes: cacheBytes, latencyMs: latencyMs,
                            computeMsPerSample: computeMs, runs: runs, ratio: ratio, mount: mountNote)
        for (p, r) in ratio.sorted(by: { $0.key < $1.key }) { progress("\(p): stall / LRU stall = \(r) (target ≤ 0.5)") }
        print(Output.jsonLine(result))
    }

    func describe(_ r: Run) -> String {
        "\(r.path) \(r.policy): " + r.epochs.map { e in
            String(format: "epoch %d %.2f s, stall %.2f s, hit %.3f, prefetch acc %.3f", e.epoch, e.seconds, e.stallSeconds, e.hitRatio, e.prefetchAccuracy)
        }.joined(separator: "; ")
    }

    func makeCache(_ client: FileClient, policy: CacheSettings.Policy, cacheBytes: Int, logger: Logger) throws -> ReadCache? {
        guard policy != .off else { return nil }
        var s = CacheSettings()
        s.policy = policy
        s.memoryBytes = cacheBytes
        s.directory = nil
        s.lockMemory = false
        let cache = try ReadCache(client: client, settings: s, namespace: "bench", logger: logger)
        client.setCache(cache)
        return cache
    }

    func epochFigures(_ cache: ReadCache?, before: CacheStats, epoch: Int, seconds: Double, stall: Double) -> Epoch {
        let now = cache?.stats ?? CacheStats()
        let accesses = now.accesses - before.accesses
        let hits = (now.memoryHits + now.diskHits + now.lateHits) - (before.memoryHits + before.diskHits + before.lateHits)
        let issued = now.prefetchIssued - before.prefetchIssued, used = now.prefetchUsed - before.prefetchUsed
        return Epoch(epoch: epoch, seconds: seconds, stallSeconds: stall, hitRatio: accesses == 0 ? 0 : Double(hits) / Double(accesses),
                     prefetchAccuracy: issued == 0 ? 0 : Double(used) / Double(issued), prefetched: issued, misses: now.misses - before.misses)
    }

    /// Epochs through GranaryLoader; stall is the time the consumer waits for each batch.
    func loaderRun(_ cluster: LocalCluster, policy: CacheSettings.Policy, cacheBytes: Int, logger: Logger) async throws -> Run {
        let (client, transport) = try cluster.fileClient(logger: logger)
        defer { transport.closeAll() }
        let cache = try makeCache(client, policy: policy, cacheBytes: cacheBytes, logger: logger)
        defer { client.setCache(nil) }
        let dataset = try await Dataset.open("/bench/cache", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)
        let pool = try IOBufferPool(.init(arenaBytes: 16 << 20, limitBytes: 256 << 20, lockMemory: false), logger: logger)
        // "off" is really off: no cache of the bench's, and none the loader would install itself.
        let config = LoaderConfiguration(batchSize: batchSize, shuffle: true, seed: 7, concurrentReads: reads, prefetchBatches: 1, hintBatches: 4,
                                         prefetchMemoryBytes: 0)
        let loader = try Loader(dataset: dataset, client: client, pool: pool, configuration: config)
        var out: [Epoch] = []
        for e in 0..<epochs {
            let before = cache?.stats ?? CacheStats()
            let start = FileClient.seconds()
            var stall = 0.0, count = 0
            var iterator = loader.epoch(e).makeAsyncIterator()
            while true {
                let t = FileClient.seconds()
                guard let batch = try await iterator.next() else { break }
                stall += FileClient.seconds() - t
                count += batch.count
                try await Task.sleep(nanoseconds: UInt64(computeMs * Double(batch.count) * 1e6))
            }
            guard count == dataset.count else { throw CLIError("bench cache: epoch \(e) delivered \(count) of \(dataset.count) samples") }
            out.append(epochFigures(cache, before: before, epoch: e, seconds: FileClient.seconds() - start, stall: stall))
        }
        await cache?.close()
        return Run(path: "loader", policy: policy.rawValue, epochs: out, policyNanosPerAccess: cache?.stats.policyNanosPerAccess ?? 0)
    }

    /// Epochs through a FUSE mount: `readers` threads read the files in a seeded shuffled order
    /// (after listing the directories), each sample then "computed" for `computeMs × readers` so the
    /// consumption rate matches the loader's; stall is the time spent in open/read. The kernel's
    /// page cache is told to drop each file after it is read, so every epoch asks the mount.
    func mountRun(_ cluster: LocalCluster, root: String, policy: CacheSettings.Policy, cacheBytes: Int, logger: Logger) async throws -> Run {
        let (client, transport) = try cluster.fileClient(logger: logger)
        defer { transport.closeAll() }
        let cache = try makeCache(client, policy: policy, cacheBytes: cacheBytes, logger: logger)
        defer { client.setCache(nil) }
        let mnt = root + "/mnt-\(policy.rawValue)"
        try FileIO.makeDirectories(mnt)
        var o = MountOptions()
        o.readOnly = true
        let fs = GranaryFileSystem(client: client, options: o, logger: logger)
        let mount = try FUSEMount(mountpoint: mnt, fileSystem: fs, logger: logger)
        mount.start()
        defer { mount.stop() }
        var out: [Epoch] = []
        for e in 0..<epochs {
            let before = cache?.stats ?? CacheStats()
            let start = FileClient.seconds()
            let base = mnt + "/bench/cache"
            var files: [String] = []
            for sub in try FileManager.default.contentsOfDirectory(atPath: base).sorted() {
                for f in try FileManager.default.contentsOfDirectory(atPath: base + "/" + sub).sorted() where f.hasSuffix(".bin") {
                    files.append(base + "/" + sub + "/" + f)
                }
            }
            var rng = SeededGenerator(seed: 7, epoch: e)
            for i in stride(from: files.count - 1, to: 0, by: -1) { files.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
            let stall = try await Self.readAll(files, threads: readers, computeMs: computeMs * Double(readers))
            out.append(epochFigures(cache, before: before, epoch: e, seconds: FileClient.seconds() - start, stall: stall))
        }
        await cache?.close()
        return Run(path: "mount", policy: policy.rawValue, epochs: out, policyNanosPerAccess: cache?.stats.policyNanosPerAccess ?? 0)
    }

    /// Reads `files` from `threads` threads taking them in order; returns the summed read time.
    static func readAll(_ files: [String], threads: Int, computeMs: Double) async throws -> Double {
        let list = files
        let results = await withTaskGroup(of: (Double, String?).self) { group in
            let next = Counter()
            for _ in 0..<threads {
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<(Double, String?), Never>) in
                        Thread {
                            var stall = 0.0
                            var buffer = [UInt8](repeating: 0, count: 1 << 20)
                            while let i = next.take(below: list.count) {
                                let t = FileClient.seconds()
                                let fd = open(list[i], O_RDONLY)
                                guard fd >= 0 else { c.resume(returning: (stall, "open \(list[i]): \(String(cString: strerror(errno)))")); return }
                                var n = 0
                                repeat { n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } } while n > 0
                                _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
                                close(fd)
                                stall += FileClient.seconds() - t
                                if n < 0 { c.resume(returning: (stall, "read \(list[i]) failed")); return }
                                usleep(UInt32(computeMs * 1000))
                            }
                            c.resume(returning: (stall, nil))
                        }.start()
                    }
                }
            }
            var out: [(Double, String?)] = []
            for await r in group { out.append(r) }
            return out
        }
        if let failure = results.compactMap(\.1).first { throw CLIError("bench cache: \(failure)") }
        // Stall across readers, averaged: each reader stands for one consumer's share.
        return results.reduce(0) { $0 + $1.0 } / Double(max(1, threads))
    }
}

/// A shared work counter for reader threads.
final class Counter: Sendable {
    private let value = Mutex(0)
    func take(below n: Int) -> Int? {
        value.withLock { v in
            guard v < n else { return nil }
            defer { v += 1 }
            return v
        }
    }
}
