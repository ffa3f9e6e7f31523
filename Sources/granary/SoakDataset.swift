import Foundation
import GranaryClient
import GranaryCore

/// The data set the soak test imports and then reads for its whole run: `samples/dNNN/fNNNNNN.bin`
/// (small files of 4–256 KiB, the sizes of training samples; the loader's dataset) and
/// `large/gNN.bin` (files of 2–6 MiB, several stripes each; read through the mount only).
/// Pseudo-random bytes (`BenchData`), every file different.
///
/// Guarantees: `expected` holds every file's length and CRC32C, keyed by its path below the data
/// set's root, computed from the bytes as written.
struct SoakDataset: Sendable {
    struct File: Sendable {
        var length: Int
        var crc: UInt32
    }

    /// Path below the root → length and CRC32C.
    var expected: [String: File]
    /// The same paths, sorted (readers pick from these).
    var paths: [String]
    var bytes: Int64

    static let perDirectory = 100

    /// Writes the data set under `dir`: `small` sample files and `large` big ones.
    static func write(under dir: String, small: Int, large: Int) throws -> SoakDataset {
        var rng: UInt64 = 0x736f_616b
        func next() -> UInt64 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return rng >> 17
        }
        let buffer = OwnedBuffer(count: 1 << 20)
        var expected: [String: File] = [:]
        var total: Int64 = 0
        var files: [(String, Int)] = []
        for i in 0..<small {
            files.append((String(format: "samples/d%03d/f%06d.bin", i / perDirectory, i), 4096 + Int(next() % (252 << 10))))
        }
        for i in 0..<large { files.append((String(format: "large/g%02d.bin", i), (2 << 20) + Int(next() % (4 << 20)))) }
        for (n, (path, size)) in files.enumerated() {
            let full = dir + "/" + path
            try FileIO.makeDirectories(FileIO.parent(of: full))
            try BenchData.writeFile(full, size: Int64(size), seed: UInt64(n) &+ 0x5eed, buffer: buffer.raw)
            let bytes = try FileIO.readBytes(full)
            guard bytes.count == size else { throw CLIError("bench soak: \(full) has \(bytes.count) bytes, wrote \(size)") }
            expected[path] = File(length: size, crc: CRC32C.checksum(bytes))
            total += Int64(size)
        }
        return SoakDataset(expected: expected, paths: files.map(\.0).sorted(), bytes: total)
    }
}
