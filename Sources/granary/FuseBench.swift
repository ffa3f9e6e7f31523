import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryTransport
import Logging

/// `granary bench fuse`: the same 1 GiB file and the same small files read from tmpfs and through a
/// Granary mount of an embedded cluster, cold (first read) and hot (second read), plus 4 KiB
/// random reads with the file's cached pages dropped and readahead off. `ratio` is the mount's hot
/// large-file throughput over tmpfs's. The last line is one JSON object.
struct FuseBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuse", abstract: "Reads through a FUSE mount vs the same bytes on tmpfs.")

    @Option(help: "Size of the large file.") var largeSize = "1GiB"
    @Option(help: "Number of small files.") var smallCount = 10_000
    @Option(help: "Size of each small file.") var smallSize = "100KiB"
    @Option(help: "Seconds of 4 KiB random reads on each side.") var iopsSeconds = 3.0
    @Option(help: "tmpfs directory for the baseline copy.") var tmpfs = "/dev/shm"
    @Flag(help: "Print only the JSON result line.") var json = false

    struct Side: Codable {
        var coldGBps: Double
        var hotGBps: Double
        var coldFilesPerSecond: Double?
        var hotFilesPerSecond: Double?
    }

    struct Result: Codable {
        var bench = "fuse"
        /// Hot large-file read through the mount over the same read from tmpfs.
        var ratio: Double
        var target = 0.4
        var baseline = "the same files read from tmpfs with the same 1 MiB reads (open, read to the end, close), in the same run"
        var largeBytes: Int64
        var large: [String: Side]
        var smallFiles: Int
        var smallBytes: Int64
        var small: [String: Side]
        /// 4 KiB random preads per second, cached pages dropped first (POSIX_FADV_DONTNEED) and
        /// readahead off (POSIX_FADV_RANDOM).
        var iops4k: [String: Double]
        var cluster = "1 manager + 3 storage nodes × 2 directory drives, granaryd processes on loopback (as granary up), layout 4+2"
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data(("bench fuse: " + s + "\n").utf8)) }

    func run() async throws {
        guard let large = ByteSize(parsing: largeSize), let small = ByteSize(parsing: smallSize) else {
            throw ValidationError("sizes: expected values such as 1GiB, 100KiB")
        }
        guard FUSELibrary.deviceUsable else { throw CLIError("bench fuse: /dev/fuse cannot be opened here") }
        let root = NSTemporaryDirectory() + "granary-fuse-bench-\(getpid())"
        let shm = tmpfs + "/granary-fuse-bench-\(getpid())"
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: shm)
        }
        progress("writing \(smallCount) files of \(small) and one of \(large) to \(shm)")
        try BenchData.writeFiles(count: smallCount, size: Int(small.bytes), under: shm + "/small", perDirectory: 1000) { _ in }
        try FileIO.makeDirectories(shm + "/large")
        let gen = OwnedBuffer(count: 16 << 20)
        try BenchData.writeFile(shm + "/large/large.bin", size: large.bytes, seed: 7, buffer: gen.raw)

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let cluster = try LocalCluster(dir: root + "/cluster", nodes: 3, drives: 2, port: 0, heartbeatTimeoutMs: 5000)
        defer { cluster.stop() }
        _ = try await cluster.waitUntilReady(timeoutSeconds: 60, logger: logger)
        let (client, transport) = try cluster.fileClient(logger: logger)
        defer { transport.closeAll() }
        progress("importing into the cluster")
        _ = try await Importer(client: client, parallel: 4, verify: false).run(local: shm, to: "/bench") { _ in }

        let mnt = root + "/mnt"
        try FileIO.makeDirectories(mnt)
        let mount = try FUSEMount(mountpoint: mnt, fileSystem: GranaryFileSystem(client: client, options: MountOptions(), logger: logger), logger: logger)
        mount.start()
        defer { mount.stop() }

        let smallPaths = (0..<smallCount).map { String(format: "/small/d%03d/f%06d.bin", $0 / 1000, $0) }
        let seconds = iopsSeconds
        let progress = self.progress
        // Blocking reads on a thread of their own: the mount's replies need the cooperative pool.
        let result: Result = try await withCheckedThrowingContinuation { c in
            Thread {
                do {
                    var largeSides: [String: Side] = [:], smallSides: [String: Side] = [:], iops: [String: Double] = [:]
                    for (name, base) in [("tmpfs", shm), ("mount", mnt + "/bench")] {
                        var runs: [Double] = []
                        for pass in ["cold", "hot"] {
                            let t = try Self.timed { try Self.readWhole(base + "/large/large.bin") }
                            runs.append(Double(large.bytes) / t / 1e9)
                            progress("\(name) large \(pass): \(String(format: "%.2f", runs.last ?? 0)) GB/s")
                        }
                        var files: [Double] = []
                        for pass in ["cold", "hot"] {
                            let t = try Self.timed { for p in smallPaths { try Self.readWhole(base + p) } }
                            files.append(Double(smallPaths.count) / t)
                            progress("\(name) small \(pass): \(Int(files.last ?? 0)) files/s")
                        }
                        largeSides[name] = Side(coldGBps: runs[0], hotGBps: runs[1])
                        smallSides[name] = Side(coldGBps: files[0] * Double(small.bytes) / 1e9, hotGBps: files[1] * Double(small.bytes) / 1e9,
                                                coldFilesPerSecond: files[0], hotFilesPerSecond: files[1])
                        iops[name] = try Self.randomReads(base + "/large/large.bin", size: large.bytes, seconds: seconds)
                        progress("\(name) 4 KiB random reads: \(Int(iops[name] ?? 0))/s")
                    }
                    let ratio = (largeSides["mount"]?.hotGBps ?? 0) / max(largeSides["tmpfs"]?.hotGBps ?? 1, 1e-9)
                    c.resume(returning: Result(ratio: (ratio * 1000).rounded() / 1000, largeBytes: large.bytes, large: largeSides,
                                               smallFiles: smallPaths.count, smallBytes: small.bytes, small: smallSides, iops4k: iops))
                } catch { c.resume(throwing: error) }
            }.start()
        }
        if !json {
            progress("ratio (hot large file, mount / tmpfs): \(result.ratio) (target \(result.target))")
        }
        print(Output.jsonLine(result))
    }

    static func timed(_ body: () throws -> Void) throws -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    /// Reads a whole file with 1 MiB reads and returns its size.
    @discardableResult
    static func readWhole(_ path: String) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("bench fuse: open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer, 1 << 20)
            if n < 0 { throw CLIError("bench fuse: read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { return total }
            total += Int64(n)
        }
    }

    /// 4 KiB preads at random aligned offsets for `seconds`, after dropping the file's cached pages
    /// and turning readahead off; reads per second.
    static func randomReads(_ path: String, size: Int64, seconds: Double) throws -> Double {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("bench fuse: open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        var rng: UInt64 = 0x1234_5678
        let blocks = UInt64(max(size / 4096, 1))
        var count = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            for _ in 0..<64 {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                guard pread(fd, buffer, 4096, off_t((rng >> 20) % blocks) * 4096) == 4096 else {
                    throw CLIError("bench fuse: pread \(path): \(String(cString: strerror(errno)))")
                }
                count += 1
            }
        }
        return Double(count) / Date().timeIntervalSince(start)
    }
}
