import ArgumentParser
import Foundation
import GranaryCore
import GranaryErasure
import Logging

/// `granary bench ec`: encode and decode throughput of the Swift codec (`ErasureCodec`) against
/// liberasurecode called from C (`CodecBaseline`) in the same run, per layout, in GB/s of data bytes.
///
/// Both sides use one codec instance (one descriptor: backend, k, m, no liberasurecode checksums),
/// the same data and, for decode, the same k fragments: the first min(m, k) data fragments left
/// out, so parity must be decoded (a degraded read, the case decode exists for). Decode is measured
/// twice: leaving the result in liberasurecode's buffer (`decode(_:)`, a degraded read copies out
/// only its range), and copying all of it into the caller's buffer (`decode(_:into:)`, against C
/// making the same copy). Decoded bytes are compared with the original outside the timed loops, so
/// a broken codec cannot look fast. Then, unless `--no-import`, the end-to-end import into an
/// embedded cluster against a plain local copy (`ImportBench`). The last line is one JSON object.
struct EcBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ec", abstract: "Erasure encode/decode through the Swift codec vs liberasurecode from C; end-to-end import vs a local copy.")

    @Option(help: "Layouts k+m, comma-separated.") var layouts = "4+2,6+3,8+3"
    @Option(help: "Data bytes per data fragment; a stripe is k times this.") var fragmentSize = "1MiB"
    @Option(help: "Data bytes per stripe for every layout (default: k × --fragment-size).") var stripeSize: String?
    @Option(help: "Encode or decode calls per measured run.") var iterations = 100
    @Option(help: "Measured runs of each side (the best run of each counts).") var runs = 5
    @Option(help: "End-to-end import: total bytes of 100 KiB files (0 skips them).") var importSmallTotal = "1GiB"
    @Option(help: "End-to-end import: size of the one large file (0 skips it).") var importLargeSize = "1GiB"
    @Option(help: "End-to-end import: stripes in flight (as `granary import --parallel`).") var importParallel = 4
    @Flag(help: "Skip the end-to-end import (it needs about 2.6 × the data in $TMPDIR, default /tmp).") var noImport = false
    @Flag(help: "Print only the JSON result line.") var json = false

    struct Result: Codable {
        var bench = "ec"
        /// The lowest Swift-to-C ratio over every layout and operation.
        var ratio: Double
        var target = 0.9
        var baseline = "liberasurecode_encode/liberasurecode_decode (each with its cleanup) called from C in a timed loop: "
            + "same descriptor (backend, k, m, CHKSUM_NONE), same data, same fragments"
        var layouts: [LayoutResult]
        var iterations: Int
        var runs: Int
        /// End-to-end import throughput, GB/s of file data: the one large file's (`import.large.GBps`).
        /// Always written, as null when the import did not run or had no large file.
        var importThroughput: Double?
        /// The end-to-end import, small files and one large file, each against a local copy; null
        /// with `--no-import`.
        var importResult: ImportBench.Result?

        enum CodingKeys: String, CodingKey {
            case bench, ratio, target, baseline, layouts, iterations, runs, importThroughput
            case importResult = "import"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(bench, forKey: .bench)
            try c.encode(ratio, forKey: .ratio)
            try c.encode(target, forKey: .target)
            try c.encode(baseline, forKey: .baseline)
            try c.encode(layouts, forKey: .layouts)
            try c.encode(iterations, forKey: .iterations)
            try c.encode(runs, forKey: .runs)
            try c.encode(importThroughput, forKey: .importThroughput)
            try c.encode(importResult, forKey: .importResult)
        }
    }

    struct LayoutResult: Codable {
        var layout: String
        var backend: String
        var dataBytes: Int
        var fragmentBytes: Int
        /// Fragment indices decode is given (data 0..<k, then parity).
        var decodeFrom: [Int]
        var encode: Throughput
        /// `ErasureCodec.decode(_:)`, the result left in liberasurecode's buffer, against
        /// `liberasurecode_decode` + `_decode_cleanup`.
        var decode: Throughput
        /// `ErasureCodec.decode(_:into:)`, the result copied into the caller's buffer, against the
        /// same C calls with the same copy (`memcpy`) before the cleanup.
        var decodeIntoBuffer: Throughput
    }

    struct Throughput: Codable {
        var swiftGBps: Double
        var cGBps: Double
        var ratio: Double
        var swiftRunsGBps: [Double]
        var cRunsGBps: [Double]
    }

    func progress(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func run() async throws {
        guard iterations >= 1, runs >= 1 else { throw ValidationError("--iterations and --runs must be at least 1") }
        var importBench: ImportBench?
        if !noImport {
            guard let small = ByteSize(parsing: importSmallTotal), let large = ByteSize(parsing: importLargeSize) else {
                throw ValidationError("--import-small-total, --import-large-size: expected sizes such as 1GiB, 16MiB or 0")
            }
            guard importParallel >= 1 else { throw ValidationError("--import-parallel must be at least 1") }
            let bench = ImportBench(smallTotal: small.bytes, largeSize: large.bytes, parallel: importParallel)
            guard small.bytes == 0 || bench.smallFiles > 0 else {
                throw ValidationError("--import-small-total: expected 0 or at least \(ByteSize(Int64(bench.smallFileSize)))")
            }
            importBench = bench
        }
        guard let fragment = ByteSize(parsing: fragmentSize), fragment.bytes > 0, fragment.bytes <= 64 << 20 else {
            throw ValidationError("--fragment-size: expected a size from 1 byte to 64MiB")
        }
        var stripeBytes: Int?
        if let stripeSize {
            guard let s = ByteSize(parsing: stripeSize), s.bytes > 0, s.bytes <= 1 << 30 else {
                throw ValidationError("--stripe-size: expected a size from 1 byte to 1GiB")
            }
            stripeBytes = Int(s.bytes)
        }
        let parsed = try Self.parse(layouts: layouts)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning

        var results: [LayoutResult] = []
        for (k, m) in parsed {
            let codec: ErasureCodec
            do { codec = try ErasureCodec.preferred(k: k, m: m, logger: logger) } catch { throw CLIError("bench ec: layout \(k)+\(m): \(error)") }
            let dataBytes = stripeBytes ?? k * Int(fragment.bytes)
            progress("bench ec: \(k)+\(m) (\(codec.backend.rawValue)), \(ByteSize(Int64(dataBytes))) per stripe, \(iterations) calls per run")
            results.append(try measure(codec, dataBytes: dataBytes))
        }

        func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        let ratio = results.flatMap { [$0.encode.ratio, $0.decode.ratio, $0.decodeIntoBuffer.ratio] }.min() ?? 0
        var result = Result(ratio: round3(ratio), layouts: results, iterations: iterations, runs: runs)
        if let importBench {
            let progress: @Sendable (String) -> Void = { s in FileHandle.standardError.write(Data((s + "\n").utf8)) }
            let imported = try await importBench.run(progress: progress)
            result.importResult = imported
            result.importThroughput = imported.large?.GBps
        }
        if !json {
            let rows = results.flatMap { r in
                [("encode", r.encode), ("decode", r.decode), ("decode into a buffer", r.decodeIntoBuffer)].map { name, t in
                    [r.layout, r.backend, name, String(format: "%.2f", t.swiftGBps), String(format: "%.2f", t.cGBps), String(format: "%.3f", t.ratio)]
                }
            }
            print(Output.table(["layout", "backend", "operation", "Swift GB/s", "C GB/s", "ratio"], rows))
            print(String(format: "lowest Swift/C ratio %.3f (target ≥ %.1f)", result.ratio, result.target))
            if let imported = result.importResult {
                let rows = [("100 KiB files", imported.small), ("one large file", imported.large)].compactMap { name, r in
                    r.map { r in
                        [name, "\(r.files)", ByteSize(r.bytes).description, String(format: "%.3f", r.GBps), String(format: "%.1f", r.filesPerSecond),
                         String(format: "%.3f", r.localCopyGBps), String(format: "%.3f", r.ratio),
                         String(format: "%.3f", r.localCopySyncOnceGBps), String(format: "%.3f", r.syncOnceRatio)]
                    }
                }
                print("end-to-end import, \(imported.layout), \(imported.cluster):")
                print(Output.table(["set", "files", "bytes", "import GB/s", "files/s", "local copy (fsync per file) GB/s", "ratio",
                                    "local copy (one sync) GB/s", "ratio"], rows))
            }
        }
        print(Output.jsonLine(result))
    }

    /// One layout: both sides checked once, then `runs` measured runs of each operation, the order
    /// of the two sides alternating between runs so neither always runs on a warmer cache.
    func measure(_ codec: ErasureCodec, dataBytes: Int) throws -> LayoutResult {
        let (k, m) = (codec.k, codec.m)
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: dataBytes, alignment: 4096)
        defer { data.deallocate() }
        var x: UInt32 = 0x9e37_79b9
        for i in 0..<dataBytes {
            x = x &* 1_664_525 &+ 1_013_904_223
            data[i] = UInt8(truncatingIfNeeded: x >> 24)
        }
        let input = UnsafeRawBufferPointer(data)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: dataBytes, alignment: 4096)
        defer { output.deallocate() }

        let stripe = try codec.encode(input)
        let lost = min(m, k)
        let from = Array((lost..<(k + m)).prefix(k))
        let fragments = from.map { stripe.fragment($0) }
        func fail(_ what: String) -> CLIError { CLIError("bench ec: \(k)+\(m): \(what) decoded different bytes") }
        func outputIsInput() -> Bool { Self.same(UnsafeRawBufferPointer(output), input) }
        guard try codec.decode(fragments).withUnsafeBytes({ Self.same($0, input) }) else { throw fail("the Swift codec") }
        guard try CodecBaseline.decodeMatches(codec, fragments: fragments, expected: input) else { throw fail("liberasurecode from C") }

        func gbps(_ ns: Int64) -> Double { Double(dataBytes) * Double(iterations) / Double(max(ns, 1)) }
        func swiftEncode() throws -> Int64 {
            let start = Self.now()
            for _ in 0..<iterations { _ = try codec.encode(input) }
            return Self.now() - start
        }
        func swiftDecode() throws -> Int64 {
            // Each result is released before the next decode, as the C loop releases each (two alive
            // at once would make the heap grow); the last one is checked once the clock has stopped.
            var last: DecodedStripe?
            let start = Self.now()
            for _ in 0..<iterations {
                last = nil
                last = try codec.decode(fragments)
            }
            let ns = Self.now() - start
            guard let last, last.withUnsafeBytes({ Self.same($0, input) }) else { throw fail("the Swift codec") }
            return ns
        }
        func swiftDecodeInto() throws -> Int64 {
            output.initializeMemory(as: UInt8.self, repeating: 0)
            let start = Self.now()
            for _ in 0..<iterations { try codec.decode(fragments, into: output) }
            let ns = Self.now() - start
            guard outputIsInput() else { throw fail("the Swift codec (into a buffer)") }
            return ns
        }
        func cEncode() throws -> Int64 { try CodecBaseline.encodeNanoseconds(codec, data: input, iterations: iterations) }
        func cDecode() throws -> Int64 { try CodecBaseline.decodeNanoseconds(codec, fragments: fragments, iterations: iterations) }
        func cDecodeInto() throws -> Int64 {
            output.initializeMemory(as: UInt8.self, repeating: 0)
            let ns = try CodecBaseline.decodeIntoNanoseconds(codec, fragments: fragments, into: output, iterations: iterations)
            guard outputIsInput() else { throw fail("liberasurecode from C (into a buffer)") }
            return ns
        }

        // One untimed call of each, so first-touch page faults and lazy setup count for neither side.
        _ = try codec.encode(input)
        _ = try CodecBaseline.encodeNanoseconds(codec, data: input, iterations: 1)
        _ = try codec.decode(fragments)
        _ = try CodecBaseline.decodeNanoseconds(codec, fragments: fragments, iterations: 1)
        try codec.decode(fragments, into: output)
        _ = try CodecBaseline.decodeIntoNanoseconds(codec, fragments: fragments, into: output, iterations: 1)

        let operations: [(swift: () throws -> Int64, c: () throws -> Int64)] = [
            (swiftEncode, cEncode), (swiftDecode, cDecode), (swiftDecodeInto, cDecodeInto),
        ]
        var swiftRuns = [[Double]](repeating: [], count: operations.count)
        var cRuns = swiftRuns
        for r in 1...runs {
            for (i, op) in operations.enumerated() {
                if r % 2 == 1 {
                    swiftRuns[i].append(gbps(try op.swift())); cRuns[i].append(gbps(try op.c()))
                } else {
                    cRuns[i].append(gbps(try op.c())); swiftRuns[i].append(gbps(try op.swift()))
                }
            }
            func last(_ runs: [[Double]], _ i: Int) -> Double { runs[i].last ?? 0 }
            progress(String(format: "bench ec: %d+%d run %d/%d: encode Swift %.2f, C %.2f; decode Swift %.2f, C %.2f; "
                                + "decode into a buffer Swift %.2f, C %.2f GB/s",
                            k, m, r, runs, last(swiftRuns, 0), last(cRuns, 0), last(swiftRuns, 1), last(cRuns, 1), last(swiftRuns, 2), last(cRuns, 2)))
        }

        func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        func throughput(_ i: Int) -> Throughput {
            let s = swiftRuns[i], c = cRuns[i]
            let best = (s.max() ?? 0, c.max() ?? 1)
            return Throughput(swiftGBps: round3(best.0), cGBps: round3(best.1), ratio: round3(best.0 / best.1),
                              swiftRunsGBps: s.map(round3), cRunsGBps: c.map(round3))
        }
        return LayoutResult(layout: "\(k)+\(m)", backend: codec.backend.rawValue, dataBytes: dataBytes, fragmentBytes: stripe.fragmentLength,
                            decodeFrom: from, encode: throughput(0), decode: throughput(1), decodeIntoBuffer: throughput(2))
    }

    /// `4+2,6+3` as (k, m) pairs; the codec checks the numbers themselves.
    static func parse(layouts text: String) throws -> [(Int, Int)] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.isEmpty else { throw ValidationError("--layouts: expected k+m pairs such as 4+2,6+3") }
        return try items.map { item in
            let parts = item.split(separator: "+", omittingEmptySubsequences: false)
            guard parts.count == 2, let k = Int(parts[0]), let m = Int(parts[1]) else {
                throw ValidationError("--layouts: '\(item)' is not k+m (for example 4+2)")
            }
            return (k, m)
        }
    }

    /// Whether two buffers hold the same bytes (memcmp: a byte loop would dominate the check).
    static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return memcmp(pa, pb, a.count) == 0
    }

    /// CLOCK_MONOTONIC, the clock the C baseline reads, so both sides are timed alike.
    static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
