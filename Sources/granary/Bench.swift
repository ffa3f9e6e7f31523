import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryStorage
import GranaryTransport
import GranaryWire
import Logging

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks that compare Granary against a baseline in the same run.",
                                                    subcommands: [TransportBench.self, EcBench.self, FuseBench.self, LoaderBench.self, CacheBench.self, PrefetchBenchCommand.self, HealthBench.self, MetaBench.self, SoakBench.self, PinnedBench.self])
}

/// `granary bench transport`: 1 MiB chunk reads from a real storage node on loopback (TCP,
/// authenticated, chunks on a directory drive, every read checked against the node's CRC32Cs in
/// the reader's buffer), against a raw TCP stream of the same bytes between two sockets — the same
/// chunks' data, from as many separate buffers as there are chunks — in the same run. The stream
/// from one hot buffer is measured too and reported beside it. The last line is one JSON object.
struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transport", abstract: "Chunk reads from a storage node vs a raw TCP stream.")

    @Option(help: "Bytes per chunk read.") var chunkSize = "1MiB"
    @Option(help: "Distinct chunks stored (the working set).") var chunks = 64
    @Option(help: "Bytes read per measured run.") var bytes = "2GiB"
    @Option(help: "Reads in flight at once.") var depth = 8
    @Option(help: "Measured runs of each side (the best run of each counts).") var runs = 3
    @Option(help: "Directory for the benchmark drive (default: a fresh directory under /tmp).") var dir: String?
    @Flag(help: "Print only the JSON result line.") var json = false
    @Flag(help: "Skip the TLS row (it needs the openssl command to make a certificate).") var noTLS = false

    struct Result: Codable {
        var bench = "transport"
        var ratio: Double
        var target = 0.7
        var baseline = "raw TCP stream of the same bytes (the chunks' data, one buffer per chunk) between two sockets on loopback"
        var granaryGBps: Double
        var baselineGBps: Double
        /// The raw stream re-sending one buffer that stays in the CPU cache, and Granary's ratio to it.
        var hotBufferGBps: Double
        var hotBufferRatio: Double
        var chunkBytes: Int
        var bytesPerRun: Int
        var depth: Int
        var runs: Int
        var granaryRunsGBps: [Double]
        var baselineRunsGBps: [Double]
        var hotBufferRunsGBps: [Double]
        /// Measured over every Granary read: bytes the socket put straight into the read's buffer,
        /// and bytes copied into it from elsewhere, per byte read.
        var directBytesPerByteRead: Double
        var copiedBytesPerByteRead: Double
        /// The RDMA row: on a host without an RDMA device, why not (ops/rdma-check-test measures it
        /// over soft-RoCE, correctness only).
        var rdma: RDMARow
        /// The same reads with `[tls]` on (TLS 1.3, a certificate made for the run), against the
        /// plaintext reads above; nil with `--no-tls`.
        var tls: TLSRow?
        /// The node's chunk cache (on by default in granaryd, as above) and the same reads from a
        /// node without it, where every read copies the chunk out of the page cache first.
        var nodeCache: NodeCacheRow
    }

    struct NodeCacheRow: Codable {
        var capacityBytes: Int
        /// Hits / reads of the cached node over the whole run (its first pass over the chunks misses).
        var hitRatio: Double
        var uncachedGBps: Double
        /// Uncached reads / the raw stream.
        var uncachedRatio: Double
        var uncachedRunsGBps: [Double]
    }

    struct TLSRow: Codable {
        var granaryGBps: Double
        /// TLS reads / plaintext reads of this run.
        var ratioToPlain: Double
        var runsGBps: [Double]
        var copiedBytesPerByteRead: Double
        var cipher = "TLS 1.3 (OpenSSL's default suite order: AES-256-GCM first)"
    }

    struct RDMARow: Codable {
        var available: Bool
        var devices: [String]
        var note: String
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func run() async throws {
        guard let chunk = ByteSize(parsing: chunkSize), chunk.bytes > 0, chunk.bytes <= Int64(ReadChunkRequest.maxLength) else {
            throw ValidationError("--chunk-size: expected a size up to 64MiB")
        }
        guard let total = ByteSize(parsing: bytes), total.bytes >= chunk.bytes else { throw ValidationError("--bytes: expected a size of at least one chunk") }
        guard depth >= 1, runs >= 1, chunks >= 1 else { throw ValidationError("--depth, --runs and --chunks must be at least 1") }
        let chunkBytes = Int(chunk.bytes)
        let reads = Int(total.bytes) / chunkBytes
        let runBytes = reads * chunkBytes

        let root = dir ?? NSTemporaryDirectory() + "granary-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/d0", withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }

        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        guard let node = NodeID("bench-node") else { throw CLIError("internal: bad node id") }
        let secret = ClusterSecret.generate()
        let store = try ChunkStore(node: node, drives: [("d0", root + "/d0")], logger: logger)
        // As granaryd runs it: with its chunk cache of the default size. A second listener on the
        // same drive has none, for the uncached row.
        let cache = ChunkCache(capacityBytes: DaemonConfig.Storage.defaultChunkCacheBytes)
        let server = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: secret,
                                   handler: StorageService(store: store, logger: logger, cache: cache), logger: logger)
        server.start()
        defer { server.stop() }
        let uncachedServer = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: secret,
                                           handler: StorageService(store: store, logger: logger), logger: logger)
        uncachedServer.start()
        defer { uncachedServer.stop() }
        let transport = TCPTransport(secret: secret, logger: logger)
        defer { transport.closeAll() }

        progress("bench transport: writing \(chunks) chunks of \(chunk) through the storage node")
        let data = (0..<chunkBytes).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let client = StorageClient(transport: transport)
        for i in 0..<chunks {
            try await client.put(server.endpoint, drive: "d0", key: ChunkKey(stripe: UInt64(i), fragment: 0), data: data)
        }

        // The TLS side: a second listener on the same drive, with a certificate made for this run.
        var tlsSide: (server: TCPServer, transport: TCPTransport, client: StorageClient)?
        if !noTLS {
            let (cert, key) = try BenchCertificate.make(in: root)
            var serverSettings = TransportSettings()
            serverSettings.tls = TLSSettings(caFile: cert, certFile: cert, keyFile: key)
            var clientSettings = TransportSettings()
            clientSettings.tls = TLSSettings(caFile: cert)
            let tlsServer = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: secret, settings: serverSettings,
                                          handler: StorageService(store: store, logger: logger, cache: cache), logger: logger)
            tlsServer.start()
            let tlsTransport = TCPTransport(secret: secret, settings: clientSettings, logger: logger)
            try tlsTransport.checkTLS()
            tlsSide = (tlsServer, tlsTransport, StorageClient(transport: tlsTransport))
        }
        defer {
            tlsSide?.server.stop()
            tlsSide?.transport.closeAll()
        }

        var granary: [Double] = []
        var baseline: [Double] = []
        var hot: [Double] = []
        var tlsRuns: [Double] = []
        var uncached: [Double] = []
        for r in 1...runs {
            if let t = tlsSide {
                let s = try await readRun(t.client, node: t.server.endpoint, reads: reads, chunkBytes: chunkBytes, check: data)
                tlsRuns.append(Double(runBytes) / s / 1e9)
                progress(String(format: "bench transport: run %d/%d: granary with TLS %.2f GB/s", r, runs, tlsRuns.last ?? 0))
            }
            let b = try LoopbackStream.measure(totalBytes: runBytes, chunk: data, copies: chunks)
            baseline.append(Double(runBytes) / b / 1e9)
            let h = try LoopbackStream.measure(totalBytes: runBytes, chunk: data, copies: 1)
            hot.append(Double(runBytes) / h / 1e9)
            let u = try await readRun(client, node: uncachedServer.endpoint, reads: reads, chunkBytes: chunkBytes, check: data)
            uncached.append(Double(runBytes) / u / 1e9)
            let g = try await readRun(client, node: server.endpoint, reads: reads, chunkBytes: chunkBytes, check: data)
            granary.append(Double(runBytes) / g / 1e9)
            progress(String(format: "bench transport: run %d/%d: granary %.2f GB/s (without the node's chunk cache %.2f), raw TCP %.2f GB/s (one hot buffer: %.2f GB/s)",
                            r, runs, granary.last ?? 0, uncached.last ?? 0, baseline.last ?? 0, hot.last ?? 0))
        }
        func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        let g = granary.max() ?? 0
        let b = baseline.max() ?? 1
        let h = hot.max() ?? 1
        let counters = transport.readCounters
        let readBytes = Double(max(counters.directBytes + counters.copiedBytes, 1))
        let rdma: RDMARow
        switch RDMADevices.list() {
        case let .success(names):
            rdma = RDMARow(available: true, devices: names,
                           note: "run ops/rdma-check-test (or granary-rdma-check bench --address IP) for the RDMA figures")
        case let .failure(e):
            rdma = RDMARow(available: false, devices: [], note: e.description)
        }
        let result = Result(ratio: round3(g / b), granaryGBps: round3(g), baselineGBps: round3(b),
                            hotBufferGBps: round3(h), hotBufferRatio: round3(g / h),
                            chunkBytes: chunkBytes, bytesPerRun: runBytes, depth: depth, runs: runs,
                            granaryRunsGBps: granary.map(round3), baselineRunsGBps: baseline.map(round3), hotBufferRunsGBps: hot.map(round3),
                            directBytesPerByteRead: round3(Double(counters.directBytes) / readBytes),
                            copiedBytesPerByteRead: round3(Double(counters.copiedBytes) / readBytes), rdma: rdma,
                            tls: tlsSide.map { t in
                                let c = t.transport.readCounters
                                let best = tlsRuns.max() ?? 0
                                return TLSRow(granaryGBps: round3(best), ratioToPlain: round3(best / max(g, 1e-9)), runsGBps: tlsRuns.map(round3),
                                              copiedBytesPerByteRead: round3(Double(c.copiedBytes) / Double(max(c.directBytes + c.copiedBytes, 1))))
                            },
                            nodeCache: {
                                let st = cache.stats()
                                let u = uncached.max() ?? 0
                                return NodeCacheRow(capacityBytes: cache.capacityBytes, hitRatio: round3(Double(st.hits) / Double(max(st.hits + st.misses, 1))),
                                                    uncachedGBps: round3(u), uncachedRatio: round3(u / b), uncachedRunsGBps: uncached.map(round3))
                            }())
        if !json {
            print(String(format: "granary chunk reads: %.2f GB/s; raw TCP stream of the same bytes: %.2f GB/s; ratio %.3f (target ≥ %.1f); "
                            + "one hot buffer: %.2f GB/s (ratio %.3f); copied bytes per byte read %.3f", g, b, result.ratio, result.target, h,
                            result.hotBufferRatio, result.copiedBytesPerByteRead))
            if let t = result.tls {
                print(String(format: "with TLS: %.2f GB/s (ratio to plaintext %.3f); copied bytes per byte read %.3f", t.granaryGBps, t.ratioToPlain, t.copiedBytesPerByteRead))
            }
            print(String(format: "without the node's chunk cache: %.2f GB/s (ratio %.3f); cache hit ratio %.3f",
                         result.nodeCache.uncachedGBps, result.nodeCache.uncachedRatio, result.nodeCache.hitRatio))
            print("rdma: " + (rdma.available ? "devices \(rdma.devices.joined(separator: ", ")); " : "") + rdma.note)
        }
        print(Output.jsonLine(result))
    }

    /// Reads `reads` chunks, `depth` at a time, each straight into its own reused buffer and checked
    /// there against the node's checksums (as every client read is). Also compares one buffer byte
    /// for byte at the end, so a broken read cannot look fast.
    func readRun(_ client: StorageClient, node: Endpoint, reads: Int, chunkBytes: Int, check: [UInt8]) async throws -> Double {
        let buffers = (0..<depth).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 4096) }
        defer { buffers.forEach { $0.deallocate() } }
        for b in buffers { b.initializeMemory(as: UInt8.self, repeating: 0) }
        let handles = buffers.map { BufferHandle(buffer: $0) }
        let start = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<depth {
                let handle = handles[lane]
                let n = chunks
                group.addTask {
                    var i = lane
                    while i < reads {
                        try await client.read(node, drive: "d0", key: ChunkKey(stripe: UInt64(i % n), fragment: 0), offset: 0, into: handle.buffer)
                        i += depth
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard Array(UnsafeRawBufferPointer(handles[0].buffer)) == check else { throw CLIError("bench transport: a chunk read back different bytes") }
        return seconds
    }
}

/// A benchmark buffer handed to one reader task at a time.
///
/// `@unchecked Sendable` is safe: each buffer belongs to exactly one task of the group (its lane),
/// and the owner reads it only after the group has finished.
struct BufferHandle: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
}
