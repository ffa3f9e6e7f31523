import ArgumentParser
import Foundation
import GranaryBuffers
import GranaryCore
import Logging

/// `granary bench pinned`: host-to-device copy bandwidth from a buffer of the client's I/O pool,
/// its arena registered with CUDA (`cudaHostRegister`, as the loader's pool is where a GPU is),
/// against the same copy from ordinary pageable memory, in the same run. Every copy is read back
/// and compared, so a broken copy cannot look fast. Where libcudart or a device is missing, the
/// JSON line says so (`available: false`, `note`) and the command succeeds: nothing in Granary
/// depends on a GPU.
struct PinnedBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinned", abstract: "Host-to-device copies from CUDA-registered pool buffers vs pageable memory (needs an NVIDIA GPU).")

    @Option(help: "Bytes per copy (at most one 64 MiB arena of the pool).") var size = "64MiB"
    @Option(help: "Copies timed per side and run.") var copies = 20
    @Option(help: "Measured runs of each side (the best run of each counts).") var runs = 5
    @Flag(help: "Print only the JSON result line.") var json = false

    struct Result: Codable {
        var bench = "pinned"
        var available: Bool
        var note: String
        /// Pinned / pageable host-to-device bandwidth.
        var ratio: Double?
        var baseline = "cudaMemcpy host-to-device from pageable memory (allocated and touched, not registered)"
        var target: String = "pinned above pageable (ratio > 1)"
        var library: String?
        var devices: Int?
        var bytesPerCopy: Int
        var pinnedGBps: Double?
        var pageableGBps: Double?
        var pinnedRunsGBps: [Double] = []
        var pageableRunsGBps: [Double] = []
        /// The pool's registered bytes for "cuda" (one arena), as its stats report them.
        var registeredBytes: Int?
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func run() async throws {
        guard let parsed = ByteSize(parsing: size), parsed.bytes > 0, parsed.bytes <= 64 << 20 else {
            throw ValidationError("--size: expected a size from 1 byte to 64MiB")
        }
        guard copies >= 1, runs >= 1 else { throw ValidationError("--copies and --runs must be at least 1") }
        let bytes = Int(parsed.bytes)
        let result = await measure(bytes: bytes)
        if !json {
            if let r = result.ratio, let p = result.pinnedGBps, let q = result.pageableGBps {
                print(String(format: "host to device: pinned pool buffer %.2f GB/s, pageable %.2f GB/s, ratio %.2f (%@)", p, q, r, result.note))
            } else {
                print("bench pinned: not measured: \(result.note)")
            }
        }
        print(Output.jsonLine(result))
    }

    func measure(bytes: Int) async -> Result {
        var result = Result(available: false, note: "", bytesPerCopy: bytes)
        let cuda: CUDARuntime
        switch CUDARuntime.load() {
        case let .success(c): cuda = c
        case let .failure(e):
            result.note = "\(e)"
            return result
        }
        result.library = cuda.library
        switch cuda.deviceCount() {
        case let .success(n) where n > 0: result.devices = n
        case .success:
            result.note = "\(cuda.library) reports no CUDA device"
            return result
        case let .failure(e):
            result.note = "no usable CUDA device: \(e)"
            return result
        }
        do {
            try await run(cuda, bytes: bytes, into: &result)
            result.available = true
            result.note = "device 0, \(copies) synchronous copies of \(bytes) bytes per side and run, every one read back and compared"
        } catch {
            result.note = "measurement failed: \(error)"
        }
        return result
    }

    private func run(_ cuda: CUDARuntime, bytes: Int, into result: inout Result) async throws {
        guard case let .success(registrar) = CUDAHostRegistrar.load() else { throw CLIError("libcudart has no cudaHostRegister") }
        var logger = Logger(label: "bench-pinned")
        logger.logLevel = .warning
        let pool = try IOBufferPool(IOBufferPool.Configuration(arenaBytes: 64 << 20, limitBytes: 64 << 20), registrars: [registrar], logger: logger)
        let pinned = try await pool.take(bytes)
        result.registeredBytes = pool.stats.registeredBytes["cuda"]
        let pageable = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { pageable.deallocate() }
        let check = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { check.deallocate() }
        for i in 0..<bytes {
            let v = UInt8(truncatingIfNeeded: i &* 2654435761 >> 11)
            pinned.bytes[i] = v
            pageable[i] = v ^ 0x5A
        }
        guard let host = pinned.bytes.baseAddress, let plain = pageable.baseAddress, let back = check.baseAddress else {
            throw CLIError("empty buffer")
        }
        let device = try cuda.allocate(bytes).get()
        defer { cuda.free(device) }

        func timed(_ source: UnsafeRawPointer, _ expected: UnsafeRawBufferPointer, label: String) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<copies { try cuda.copy(to: device, from: source, bytes: bytes, .hostToDevice).get() }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try cuda.copy(to: back, from: UnsafeRawPointer(device), bytes: bytes, .deviceToHost).get()
            guard let want = expected.baseAddress, memcmp(back, want, bytes) == 0 else { throw CLIError("bench pinned: the \(label) copy read back different bytes") }
            return Double(bytes * copies) / seconds / 1e9
        }
        // One untimed copy of each first: the driver's first touch of a range costs more.
        _ = try timed(host, UnsafeRawBufferPointer(pinned.bytes), label: "pinned")
        _ = try timed(plain, UnsafeRawBufferPointer(pageable), label: "pageable")
        for r in 1...runs {
            result.pageableRunsGBps.append(try timed(plain, UnsafeRawBufferPointer(pageable), label: "pageable"))
            result.pinnedRunsGBps.append(try timed(host, UnsafeRawBufferPointer(pinned.bytes), label: "pinned"))
            progress(String(format: "bench pinned: run %d/%d: pinned %.2f GB/s, pageable %.2f GB/s", r, runs,
                            result.pinnedRunsGBps.last ?? 0, result.pageableRunsGBps.last ?? 0))
        }
        func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        let p = result.pinnedRunsGBps.max() ?? 0, q = result.pageableRunsGBps.max() ?? 1
        result.pinnedGBps = round3(p)
        result.pageableGBps = round3(q)
        result.ratio = round3(p / q)
        result.pinnedRunsGBps = result.pinnedRunsGBps.map(round3)
        result.pageableRunsGBps = result.pageableRunsGBps.map(round3)
    }
}
