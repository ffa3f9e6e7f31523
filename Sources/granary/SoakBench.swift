#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryLoader
import Logging

/// `granary bench soak`: many concurrent readers and writers for a bounded time against an
/// embedded cluster of real `granaryd` processes — readers and writers through a FUSE mount (a
/// child `granary mount` process) and GranaryLoader epochs — with every byte checked, while the
/// memory and open descriptors of every process (each granaryd, the mount, this bench) are
/// sampled once a second. Reports operations, bytes verified, errors, p50/p99 latencies, per
/// process start/end/max RSS and fds, and a leak verdict (`SoakLeakRule`); the baseline is the
/// same run's first period against its last. Exits non-zero on an error, a wrong byte or a leak.
/// The last line is one JSON object.
struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "Concurrent mount and loader readers and writers for a bounded time: errors, leaks, p99.")

    @Option(help: "Seconds of measured load (after the warm-up).") var seconds = 75.0
    @Option(help: "Seconds of load before measuring starts (caches fill; not judged for leaks).") var warmup = 15.0
    @Option(help: "Threads reading dataset files through the mount.") var readers = 4
    @Option(help: "Threads writing, reading back and removing files through the mount.") var writers = 2
    @Option(help: "GranaryLoader jobs streaming epochs of the dataset (each with a client of its own).") var loaders = 2
    @Option(help: "Sample files in the dataset (4–256 KiB each; 8 files of 2–6 MiB are added).") var files = 400
    @Option(help: "Directory for the cluster and the mount (default: a fresh one under $TMPDIR, removed after).") var dir: String?
    @Flag(help: "Print only the JSON result line.") var json = false
    @Flag(help: .hidden) var selfTestLeak = false

    static let periods = 5

    func validate() throws {
        guard seconds >= 10, warmup >= 0 else { throw ValidationError("--seconds must be at least 10 and --warmup at least 0") }
        guard readers >= 0, writers >= 0, loaders >= 0, readers + writers + loaders > 0 else {
            throw ValidationError("--readers, --writers and --loaders must be at least 0, and one of them more")
        }
        guard files >= 16 else { throw ValidationError("--files must be at least 16") }
    }

    func progress(_ s: String) { Self.progress(s) }
    static func progress(_ s: String) { FileHandle.standardError.write(Data(("bench soak: " + s + "\n").utf8)) }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let wallStart = FileClient.seconds()
        let root = dir ?? NSTemporaryDirectory() + "granary-soak-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
        let fuse = FUSELibrary.deviceUsable
        let mountNote = fuse ? "a child `granary mount --foreground` process; its cache: learned policy, 32 MiB memory tier, 64 MiB disk tier"
            : "skipped: /dev/fuse cannot be opened here, so no mount readers or writers ran (loaders only)"
        if !fuse { progress("NOTE: /dev/fuse cannot be opened here; the mount part is skipped, loaders only") }
        let mountReaders = fuse ? readers : 0, mountWriters = fuse ? writers : 0
        guard mountReaders + mountWriters + loaders > 0 else { throw CLIError("bench soak: without a mount there is nothing to run (--loaders 0)") }

        progress("writing the dataset: \(files) sample files and 8 large files")
        let dataset = try SoakDataset.write(under: root + "/data", small: files, large: 8)

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var repair = DaemonConfig.Repair()
        repair.gcIntervalS = 10  // collect removed files' stripes during the run, so space stays bounded
        let cluster = try LocalCluster(dir: root + "/cluster", nodes: 3, drives: 2, port: 0, heartbeatTimeoutMs: 5000, repair: repair)
        defer { cluster.stop() }
        _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
        let (client, transport) = try cluster.fileClient(logger: logger)
        defer { transport.closeAll() }
        progress("importing \(dataset.paths.count) files (\(ByteSize(dataset.bytes))) into the cluster")
        _ = try await Importer(client: client, parallel: 4, verify: false).run(local: root + "/data", to: "/soak/data") { _ in }
        try? FileManager.default.removeItem(atPath: root + "/data")
        _ = try await client.meta.mkdirAll("/soak/scratch")
        // Build the loaders' index once, so each loader's open reuses it.
        _ = try await Dataset.open("/soak/data/samples", format: .files(extensions: ["bin"]), label: .pathComponent(-2), client: client)

        var mount: SoakMountProcess?
        defer { mount?.stop() }
        let mnt = root + "/mnt"
        if fuse {
            let config = root + "/client.toml"
            try FileIO.writeAtomically(config, ClientConfig(file: config, managers: [cluster.managerEndpoint], secretFile: cluster.secretFile).toml)
            try FileIO.makeDirectories(mnt)
            let m = try SoakMountProcess(mountpoint: mnt, config: config, cacheDir: root + "/cache", cacheMemory: "32MiB", cacheDisk: "64MiB",
                                         log: cluster.dir + "/logs/mount.log")
            try m.start()
            mount = m
            guard FileIO.isDirectory(mnt + "/soak/data/samples") else { throw CLIError("bench soak: the dataset is not visible at \(mnt)/soak/data") }
            progress("mounted at \(mnt) (process \(m.pid))")
        }

        var watched = cluster.processes.map { SoakWatched(name: $0.name, pid: $0.process.processIdentifier) }
        if let mount { watched.append(SoakWatched(name: "mount", pid: mount.pid)) }
        watched.append(SoakWatched(name: "bench", pid: getpid()))
        let secret = try cluster.secret()
        let start = FileClient.seconds()
        let recorder = SoakRecorder(start: start, warmup: warmup, seconds: seconds, periods: Self.periods, selfTestLeak: selfTestLeak)
        if selfTestLeak { progress("SELF-TEST: the mount readers leak 16 KiB and 0.1 fd per read in this process on purpose; the verdict must be a leak") }
        let sampler = SoakProcessSampler(watched: watched, start: start, expectedSamples: Int(warmup + seconds) + 16)
        let driveStart = Self.bytes(under: cluster.dir, matching: { $0.hasPrefix("node-") })
        let managerStart = Self.bytes(under: cluster.dir + "/manager", matching: { _ in true })
        progress("load: \(mountReaders) mount readers, \(mountWriters) mount writers, \(loaders) loaders; \(Int(warmup)) s warm-up, then \(Int(seconds)) s measured")

        let outcomes = await withTaskGroup(of: SoakLoaderWorker.Outcome?.self) { group in
            for r in 0..<mountReaders {
                group.addTask {
                    await Self.onThread { SoakMountWorkers.reader(id: r, root: mnt + "/soak/data", dataset: dataset, recorder: recorder) }
                    return nil
                }
            }
            for w in 0..<mountWriters {
                group.addTask {
                    await Self.onThread { SoakMountWorkers.writer(id: w, dir: mnt + "/soak/scratch", keep: 3, maxSize: 2 << 20, recorder: recorder) }
                    return nil
                }
            }
            for l in 0..<loaders {
                let worker = SoakLoaderWorker(id: l, managers: [cluster.managerEndpoint], secret: secret, root: "/soak/data/samples", dataset: dataset, recorder: recorder, logger: logger)
                group.addTask { await worker.run() }
            }
            let until = warmup + seconds
            let clusterDir = cluster.dir
            let ops = SoakOp.allCases.filter { $0 == .loaderBatch ? loaders > 0 : fuse }
            group.addTask {
                await Self.watch(sampler: sampler, recorder: recorder, until: until, ops: ops) { Self.bytes(under: clusterDir, matching: { $0.hasPrefix("node-") }) }
                return nil
            }
            var outcomes: [SoakLoaderWorker.Outcome] = []
            for await o in group { if let o { outcomes.append(o) } }
            return outcomes
        }
        let loadEnded = FileClient.seconds() - start
        // Idle a moment, so in-flight work drains, then take the "after" sample.
        try await Task.sleep(for: .seconds(3))
        _ = sampler.sample()
        let driveEnd = Self.bytes(under: cluster.dir, matching: { $0.hasPrefix("node-") })
        let managerBytes = Self.bytes(under: cluster.dir + "/manager", matching: { _ in true })
        if let mount, !mount.isRunning { recorder.error("the mount process exited with status \(mount.terminationStatus); \(mount.log):\n\(mount.logTail())") }
        if let dead = cluster.exited() { recorder.error("\(dead.name) exited with status \(dead.status)") }

        let from = warmup, to = min(warmup + seconds, loadEnded)
        var figures: [SoakLeakRule.Figures] = []
        for (i, w) in watched.enumerated() {
            let r = sampler.readings(i)
            let after = r.last.flatMap { $0.t > loadEnded ? $0 : nil }
            if let f = SoakLeakRule.judge(process: w.name, pid: w.pid, readings: r, from: from, to: to, after: after) { figures.append(f) }
            else { recorder.error("\(w.name): no samples in the measured time") }
        }
        var leaks = figures.filter(\.leak).map { "\($0.process): " + $0.reasons.joined(separator: "; ") }
        for (l, o) in outcomes.enumerated() where o.poolInUseAfter > 0 {
            leaks.append("loader \(l): \(o.poolInUseAfter) pool buffers still held after it stopped")
        }
        let final = recorder.snapshot
        let space = SoakLeakRule.judgeSpace(final.driveBytes, from: from, to: to)
        if let reason = space.reason { leaks.append(reason) }
        var latency: [String: SoakReport.Latency] = [:]
        for op in SoakOp.allCases where op == .loaderBatch ? loaders > 0 : fuse {
            latency[op.name] = Self.latency(final.histograms[op.rawValue])
        }
        let report = SoakReport(
            passed: final.errors == 0 && final.wrongBytes == 0 && leaks.isEmpty, seconds: seconds, warmupSeconds: warmup,
            wallSeconds: SoakLeakRule.round(FileClient.seconds() - wallStart), readers: mountReaders, writers: mountWriters, loaders: loaders,
            mount: mountNote, datasetFiles: dataset.paths.count, datasetBytes: dataset.bytes,
            ops: [SoakOp.mountRead.name: final.ops[SoakOp.mountRead.rawValue], SoakOp.mountWrite.name: final.ops[SoakOp.mountWrite.rawValue],
                  SoakOp.loaderBatch.name: final.ops[SoakOp.loaderBatch.rawValue], "loaderSamples": final.samplesVerified,
                  "filesRemoved": final.filesRemoved],
            bytesVerified: final.bytesVerified, samplesVerified: final.samplesVerified, errors: final.errors, wrongBytes: final.wrongBytes,
            errorMessages: final.messages, latency: latency, processes: figures, leaks: leaks, loaderRuns: outcomes,
            space: SoakReport.Space(driveBytesStart: driveStart, driveBytesEnd: driveEnd,
                                    driveMBEvery2s: final.driveBytes.map { SoakLeakRule.round(Double($0.bytes) / 1e6) },
                                    driveGrowthMiB: SoakLeakRule.round(SoakLeakRule.mib(space.growth)), driveLimitMiB: SoakLeakRule.round(SoakLeakRule.mib(space.limit)),
                                    managerBytesStart: managerStart, managerBytesEnd: managerBytes))
        if !json { printSummary(report) }
        print(Output.jsonLine(report))
        guard report.passed else {
            throw CLIError("bench soak failed: \(final.errors) errors, \(final.wrongBytes) wrong bytes, \(leaks.count) leaks"
                           + (leaks.isEmpty ? "" : ": " + leaks.joined(separator: " | ")))
        }
    }

    /// Samples every process once a second and the drives' bytes every 2 s until `until` seconds
    /// after the start, printing a line of progress every 10 s; stops the load early when a
    /// process of the run has died.
    static func watch(sampler: SoakProcessSampler, recorder: SoakRecorder, until: Double, ops running: [SoakOp], driveBytes: @Sendable () -> Int64) async {
        var tick = 0
        var last = recorder.snapshot
        while true {
            let elapsed = FileClient.seconds() - recorder.start
            if elapsed >= until { break }
            try? await Task.sleep(for: .seconds(min(1, until - elapsed)))
            let missing = sampler.sample()
            if !missing.isEmpty {
                recorder.error("process gone: \(missing.joined(separator: ", "))")
                break
            }
            tick += 1
            guard tick % 2 == 0 else { continue }
            let drives = driveBytes()
            recorder.space(driveBytes: drives)
            if tick % 10 == 0 {
                let now = recorder.snapshot
                let t = Int(FileClient.seconds() - recorder.start)
                let phase = Double(t) < recorder.warmup ? "warm-up" : "measured"
                let ops = running.map { "\($0.name) +\(now.ops[$0.rawValue] - last.ops[$0.rawValue])" }.joined(separator: ", ")
                let procs = sampler.latest().map {
                    String(format: "%@ %.0f/%.0fM/%d", $0.0, Double($0.1.rssBytes) / 1_048_576, Double($0.1.anonBytes) / 1_048_576, $0.1.fds)
                }.joined(separator: " ")
                progress("t=\(t)s (\(phase)): \(ops); errors \(now.errors); drives \(drives / 1_000_000) MB; RSS/anon/fds: \(procs)")
                last = now
            }
        }
        recorder.stop.store(true, ordering: .relaxed)
    }

    static func latency(_ slots: [SoakHistogram]) -> SoakReport.Latency {
        var all = SoakHistogram()
        for s in slots.dropFirst() { all.merge(s) }
        let periods = slots.dropFirst().map { $0.percentile(0.99).map(SoakLeakRule.round) }
        let first = periods.first ?? nil, last = periods.last ?? nil
        return SoakReport.Latency(count: all.total, p50Ms: all.percentile(0.5).map(SoakLeakRule.round), p99Ms: all.percentile(0.99).map(SoakLeakRule.round),
                                  firstPeriodP99Ms: first, lastPeriodP99Ms: last,
                                  p99Ratio: first.flatMap { f in last.map { SoakLeakRule.round($0 / max(f, 1e-9)) } }, periodP99Ms: periods)
    }

    func printSummary(_ r: SoakReport) {
        progress(String(format: "%@: %d errors, %d wrong bytes, %.1f MB verified, wall %.0f s", r.passed ? "PASSED" : "FAILED", r.errors, r.wrongBytes,
                        Double(r.bytesVerified) / 1e6, r.wallSeconds))
        progress("ops: " + r.ops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        for (name, l) in r.latency.sorted(by: { $0.key < $1.key }) {
            progress(String(format: "%@: %d ops, p50 %.2f ms, p99 %.2f ms; p99 first period %.2f ms, last %.2f ms (ratio %.2f)", name, l.count,
                            l.p50Ms ?? 0, l.p99Ms ?? 0, l.firstPeriodP99Ms ?? 0, l.lastPeriodP99Ms ?? 0, l.p99Ratio ?? 0))
        }
        for p in r.processes {
            progress(String(format: "%@: RSS %.1f → %.1f MiB (max %.1f, ratio %.2f, 2nd-half growth %.1f of %.1f MiB, slope %.2f MiB/min); fds %d → %d (max %d, after %@)%@",
                            p.process, p.rssStartMiB, p.rssEndMiB, p.rssMaxMiB, p.rssRatio, p.rssSecondHalfGrowthMiB, p.rssLimitMiB,
                            p.rssSlopeMiBPerMinute, p.fdsStart, p.fdsEnd, p.fdsMax, p.fdsAfter.map(String.init) ?? "-", p.leak ? " LEAK" : ""))
        }
        progress(String(format: "drives: %.1f → %.1f MB (last-quarter high-water %.1f MiB over the first half's, limit %.1f); manager directory %.1f → %.1f MB",
                        Double(r.space.driveBytesStart) / 1e6, Double(r.space.driveBytesEnd) / 1e6, r.space.driveGrowthMiB, r.space.driveLimitMiB,
                        Double(r.space.managerBytesStart) / 1e6, Double(r.space.managerBytesEnd) / 1e6))
        for l in r.leaks { progress("LEAK: " + l) }
        for m in r.errorMessages { progress("error: " + m) }
    }

    /// Runs `body` on a thread of its own (blocking system calls stay off the cooperative pool).
    static func onThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread { body(); c.resume() }.start()
        }
    }

    /// Bytes of the regular files among `dir`'s entries whose names pass `matching`, and below
    /// those that are directories.
    static func bytes(under dir: String, matching: (String) -> Bool) -> Int64 {
        let fm = FileManager.default
        func size(_ path: String) -> Int64 {
            guard let attrs = try? fm.attributesOfItem(atPath: path), attrs[.type] as? FileAttributeType == .typeRegular,
                  let size = attrs[.size] as? NSNumber else { return 0 }
            return size.int64Value
        }
        var total: Int64 = 0
        for top in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where matching(top) {
            let path = dir + "/" + top
            guard FileIO.isDirectory(path) else {
                total += size(path)
                continue
            }
            guard let walker = fm.enumerator(atPath: path) else { continue }
            while let rel = walker.nextObject() as? String { total += size(path + "/" + rel) }
        }
        return total
    }
}
