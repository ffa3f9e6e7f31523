import Foundation
@testable import GranaryLoader

/// Helpers shared by the tar tests: chunked scanning, header surgery, external tools, temp files.
enum TarTestSupport {
    /// Scans `archive` fed in chunks of `chunkSize` bytes (the whole archive at once for a size
    /// at least as large), then finishes the stream.
    static func scan(_ archive: [UInt8], chunkSize: Int = .max, shard: String = "test.tar") -> Result<[TarMember], TarError> {
        var scanner = TarScanner(shard: shard)
        var members: [TarMember] = []
        return archive.withUnsafeBytes { raw -> Result<[TarMember], TarError> in
            var start = 0
            do throws(TarError) {
                while start < raw.count {
                    let end = start + min(chunkSize, raw.count - start)
                    members += try scanner.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                    start = end
                }
                try scanner.finish()
                return .success(members)
            } catch {
                return .failure(error)
            }
        }
    }

    /// Feeds one chunk held in an array.
    static func feed(_ scanner: inout TarScanner, _ bytes: [UInt8]) throws(TarError) -> [TarMember] {
        let result = bytes.withUnsafeBytes { raw -> Result<[TarMember], TarError> in
            do throws(TarError) {
                return .success(try scanner.feed(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The error scanning `archive` fails with, or nil when it parses.
    static func scanError(_ archive: [UInt8], chunkSize: Int = .max, shard: String = "test.tar") -> TarError? {
        if case let .failure(error) = scan(archive, chunkSize: chunkSize, shard: shard) { return error }
        return nil
    }

    /// Groups scanned members into samples, including the last one.
    static func group(_ members: [TarMember], shard: String = "test.tar") throws(TarError) -> (samples: [TarSample], skipped: Int) {
        var grouper = WebDatasetGrouper(shard: shard)
        var samples: [TarSample] = []
        for member in members {
            if let sample = try grouper.add(member) { samples.append(sample) }
        }
        if let last = grouper.finish() { samples.append(last) }
        return (samples, grouper.skippedMembers)
    }

    static func data(of member: TarMember, in archive: [UInt8]) -> [UInt8] {
        Array(archive[Int(member.dataOffset)..<Int(member.dataOffset + member.size)])
    }

    /// Deterministic member contents, computed identically by the Python fixture script.
    static func content(size: Int, seed: Int) -> [UInt8] {
        (0..<size).map { UInt8((($0 * 7) + seed) % 251) }
    }

    /// Rewrites the checksum of the header at `offset` after a test edited it on purpose.
    static func rechecksum(_ archive: inout [UInt8], header offset: Int) {
        for i in 148..<156 { archive[offset + i] = UInt8(ascii: " ") }
        let sum = archive[offset..<(offset + 512)].reduce(0) { $0 + Int($1) }
        let digits = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, UInt8(ascii: " ")]
        for (i, b) in field.enumerated() { archive[offset + 148 + i] = b }
    }

    static func put(_ bytes: [UInt8], into archive: inout [UInt8], at offset: Int) {
        for (i, b) in bytes.enumerated() { archive[offset + i] = b }
    }

    // MARK: - External tools

    /// The tool's path if it is installed (checked in PATH and the usual system directories).
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = ["/usr/bin", "/bin", "/usr/local/bin"] + path.split(separator: ":").map(String.init)
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ tool: String, _ arguments: [String], in directory: URL? = nil) throws -> ToolResult {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        // Files rather than pipes: nothing can block on a full pipe while we wait for the exit.
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return ToolResult(status: process.terminationStatus,
                          output: try Data(contentsOf: outURL),
                          errorText: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("granary-tar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }
}
