#if canImport(Glibc)
import Glibc
#endif
import GranaryClient
import GranaryCore

/// Pseudo-random benchmark files: every file's bytes differ (splitmix64 seeded per file), so no
/// layer can pass by recognising repeated content. Written without fsync: the caller `sync()`s
/// once before timing anything, so no writeback of these files runs during a timed phase.
enum BenchData {
    /// `count` files of `size` bytes named `dNNN/fNNNNNN.bin` under `dir`, `perDirectory` to a
    /// directory (an image-folder data set's shape); `progress(filesDone)` after each.
    static func writeFiles(count: Int, size: Int, under dir: String, perDirectory: Int, progress: (Int) -> Void) throws {
        let buffer = OwnedBuffer(count: min(size, 16 << 20))
        for i in 0..<count {
            let sub = dir + "/" + String(format: "d%03d", i / perDirectory)
            if i % perDirectory == 0 { try FileIO.makeDirectories(sub) }
            try writeFile(sub + "/" + String(format: "f%06d.bin", i), size: Int64(size), seed: UInt64(i + 1), buffer: buffer.raw)
            progress(i + 1)
        }
    }

    /// One file of `size` bytes, generated `buffer.count` bytes at a time.
    static func writeFile(_ path: String, size: Int64, seed: UInt64, buffer: UnsafeMutableRawBufferPointer) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.Failure("create", path) }
        defer { close(fd) }
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        var done: Int64 = 0
        while done < size {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), size - done))])
            fill(piece, state: &state)
            try FileIO.writeAll(fd, UnsafeRawBufferPointer(piece), path: path)
            done += Int64(piece.count)
        }
    }

    /// Fills `buffer` with splitmix64 output, continuing from `state`.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, state: inout UInt64) {
        guard let base = buffer.baseAddress else { return }
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let words = buffer.count / 8
        for i in 0..<words { base.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        var last = next()
        for i in (words * 8)..<buffer.count {
            base.storeBytes(of: UInt8(truncatingIfNeeded: last), toByteOffset: i, as: UInt8.self)
            last >>= 8
        }
    }
}
