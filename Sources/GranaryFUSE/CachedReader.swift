import GranaryClient
import GranaryMeta

/// Serves one FUSE read through the client cache, block by block: a file up to the cache's block
/// size is one item (`base`), a larger file is items `base#0`, `base#1`, … of one block each, so
/// the policy sees whole samples and sequential streams rather than the kernel's request sizes.
///
/// Guarantees the bytes returned are exactly those of `offset ..< offset + count` (cut at the end of
/// the file); the cache holds (and fetches) whole items and copies out only the part asked for.
struct CachedReader {
    let cache: ReadCache
    let map: FileMap
    let path: String
    let base: String
    let job: String

    /// Large files with more blocks than this are not registered ahead of reading.
    static let maxRegisteredBlocks = 1 << 16

    func read(offset: Int64, into out: UnsafeMutableRawBufferPointer) async throws -> Int {
        let size = map.inode.size
        guard offset >= 0, offset < size else { return 0 }
        let end = min(size, offset + Int64(out.count))
        let block = Int64(cache.settings.blockBytes)
        if size <= block {
            return try await piece(key: base, from: 0, to: size, want: offset..<end, out: out, outOffset: offset)
        }
        var at = offset
        while at < end {
            let b = at / block
            let lo = b * block, hi = min(size, lo + block)
            _ = try await piece(key: "\(base)#\(b)", from: lo, to: hi, want: at..<min(end, hi), out: out, outOffset: offset)
            at = min(end, hi)
        }
        return Int(end - offset)
    }

    /// Reads item `key` (file bytes `from ..< to`) through the cache and puts its part `want` into
    /// `out`, whose first byte is file byte `outOffset`.
    private func piece(key: String, from: Int64, to: Int64, want: Range<Int64>, out: UnsafeMutableRawBufferPointer,
                       outOffset: Int64) async throws -> Int {
        let dst = UnsafeMutableRawBufferPointer(rebasing: out[Int(want.lowerBound - outOffset)..<Int(want.upperBound - outOffset)])
        return try await cache.read(map, path: path, key: key, job: job, offset: from, length: Int(to - from),
                                    part: Int(want.lowerBound - from)..<Int(want.upperBound - from), into: dst)
    }

    /// Tells the cache about every block of a large file, so a sequential reader's next blocks can
    /// be fetched before it asks.
    static func registerBlocks(cache: ReadCache, map: FileMap, base: String) {
        let size = map.inode.size
        guard size > Int64(cache.settings.blockBytes), (size - 1) / Int64(cache.settings.blockBytes) < maxRegisteredBlocks else { return }
        cache.register(cache.settings.pieces(ofFileSize: size).enumerated().map { b, piece in
            (key: "\(base)#\(b)", inode: map.inode.id, offset: piece.offset, length: piece.length, path: base)
        })
    }
}
