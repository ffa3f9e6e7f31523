import GranaryCore

/// The header of a chunk file: which fragment it holds, how long the data is, and CRC32Cs of the
/// data as a whole and of every block of it.
///
/// A chunk file is the header followed by the data. All integers are little-endian:
///
/// ```
/// offset    size  field
///      0       4  magic "GRCK"
///      4       2  format version (1)
///      6       2  reserved, 0
///      8       8  stripe id
///     16       4  fragment index
///     20       4  block size (65536 as written; a power of two from 4 KiB to 16 MiB is accepted)
///     24       8  data length in bytes
///     32       4  CRC32C of the whole data
///     36       4  block count n = ceil(data length / block size)
///     40      4n  CRC32C of each block of data (the last block may be short)
///  40+4n       4  CRC32C of bytes [0, 40+4n): the header and block table
///  44+4n  length  data
/// ```
///
/// Guarantees: `decode` accepts only a header that is intact (magic, version, header CRC), internally
/// consistent (block count agrees with length and block size), agrees with the size of the file it
/// came from, and names the key the file is stored under; anything else is a `ChunkFormatError`
/// saying what is wrong. The per-block CRCs let a range read verify just the blocks it touches (as
/// HDFS and 3FS do) rather than the whole chunk; the whole-data CRC lets a full read, and a client
/// that has the fragment, check the data end to end with one number.
public struct ChunkHeader: Sendable, Equatable {
    /// "GRCK" as stored (bytes G R C K, read as a little-endian UInt32).
    public static let magic: UInt32 = 0x4B43_5247
    public static let currentVersion: UInt16 = 1
    public static let defaultBlockSize = 64 << 10
    /// Bytes before the block table.
    public static let fixedSize = 40
    static let blockSizes = (4 << 10)...(16 << 20)

    public var key: ChunkKey
    public var dataLength: Int
    public var blockSize: Int
    public var dataChecksum: UInt32
    public var blockChecksums: [UInt32]

    public var blockCount: Int { blockChecksums.count }
    /// Bytes of header (fixed part, block table, header CRC); the data starts here in the file.
    public var encodedSize: Int { Self.encodedSize(blockCount: blockCount) }
    /// Size of the whole chunk file.
    public var fileSize: Int { encodedSize + dataLength }

    static func encodedSize(blockCount: Int) -> Int { fixedSize + 4 * blockCount + 4 }

    static func blockCount(dataLength: Int, blockSize: Int) -> Int {
        dataLength == 0 ? 0 : (dataLength - 1) / blockSize + 1
    }

    /// The header for `data`, computing its block and whole-data CRCs.
    /// `blockSize` must be a power of two from 4 KiB to 16 MiB (64 KiB unless a test needs otherwise).
    public init(key: ChunkKey, data: UnsafeRawBufferPointer, blockSize: Int = ChunkHeader.defaultBlockSize) {
        precondition(Self.blockSizes.contains(blockSize) && blockSize & (blockSize - 1) == 0,
                     "block size must be a power of two from 4 KiB to 16 MiB")
        let count = Self.blockCount(dataLength: data.count, blockSize: blockSize)
        var blocks: [UInt32] = []
        blocks.reserveCapacity(count)
        var whole: UInt32 = 0
        var offset = 0
        while offset < data.count {
            let block = UnsafeRawBufferPointer(rebasing: data[offset..<min(offset + blockSize, data.count)])
            blocks.append(CRC32C.checksum(block))
            // Chained over the block just checksummed, while it is still in cache.
            whole = CRC32C.checksum(block, seed: whole)
            offset += blockSize
        }
        self.init(key: key, dataLength: data.count, blockSize: blockSize, dataChecksum: whole, blockChecksums: blocks)
    }

    public init(key: ChunkKey, dataLength: Int, blockSize: Int, dataChecksum: UInt32, blockChecksums: [UInt32]) {
        self.key = key
        self.dataLength = dataLength
        self.blockSize = blockSize
        self.dataChecksum = dataChecksum
        self.blockChecksums = blockChecksums
    }

    /// The header bytes, ending with the header CRC.
    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedSize)
        out.appendLittleEndian(Self.magic)
        out.appendLittleEndian(Self.currentVersion)
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(key.stripe)
        out.appendLittleEndian(key.fragment)
        out.appendLittleEndian(UInt32(blockSize))
        out.appendLittleEndian(UInt64(dataLength))
        out.appendLittleEndian(dataChecksum)
        out.appendLittleEndian(UInt32(blockCount))
        for crc in blockChecksums { out.appendLittleEndian(crc) }
        out.appendLittleEndian(CRC32C.checksum(out))
        return out
    }

    /// How many header bytes to read, from the first `fixedSize` bytes of a file of `fileSize` bytes.
    ///
    /// Checks magic and version first, so a foreign file is reported as such rather than as a size
    /// problem, and bounds the block table by the file size, so a garbage count cannot make the
    /// reader allocate gigabytes.
    public static func encodedSize(prefix: UnsafeRawBufferPointer, fileSize: Int) throws(ChunkFormatError) -> Int {
        guard prefix.count >= fixedSize, fileSize >= fixedSize else {
            throw .truncated(fileSize: fileSize, minimum: fixedSize)
        }
        let magic: UInt32 = prefix.littleEndian(at: 0)
        guard magic == Self.magic else { throw .badMagic(magic) }
        let version: UInt16 = prefix.littleEndian(at: 4)
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        let count = Int(prefix.littleEndian(at: 36) as UInt32)
        let size = encodedSize(blockCount: count)
        guard size <= fileSize else { throw .truncated(fileSize: fileSize, minimum: size) }
        return size
    }

    /// Decodes and validates a header. `bytes` starts at the beginning of the file and holds at least
    /// the whole header (it may hold data after it); `fileSize` is the size of the file;
    /// `expectedKey` is the key parsed from the file's name.
    public static func decode(_ bytes: UnsafeRawBufferPointer, fileSize: Int,
                              expectedKey: ChunkKey) throws(ChunkFormatError) -> ChunkHeader {
        let size = try encodedSize(prefix: bytes, fileSize: fileSize)
        guard bytes.count >= size else { throw .truncated(fileSize: bytes.count, minimum: size) }
        let stored: UInt32 = bytes.littleEndian(at: size - 4)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(size - 4)]))
        guard stored == computed else { throw .headerChecksumMismatch(stored: stored, computed: computed) }

        // From here the header is as its writer wrote it; what is still wrong is the writer's fault
        // (or a format this reader does not understand), not bit rot.
        let reserved: UInt16 = bytes.littleEndian(at: 6)
        guard reserved == 0 else { throw .invalidHeader("reserved field is \(reserved), not 0") }
        let blockSize = Int(bytes.littleEndian(at: 20) as UInt32)
        guard blockSizes.contains(blockSize), blockSize & (blockSize - 1) == 0 else {
            throw .invalidHeader("block size \(blockSize) is not a power of two from 4 KiB to 16 MiB")
        }
        let rawLength: UInt64 = bytes.littleEndian(at: 24)
        guard rawLength <= UInt64(Int.max - size) else { throw .invalidHeader("data length \(rawLength) is too large") }
        let length = Int(rawLength)
        let count = (size - fixedSize - 4) / 4
        guard count == blockCount(dataLength: length, blockSize: blockSize) else {
            throw .invalidHeader("\(count) block checksums for \(length) bytes in blocks of \(blockSize)")
        }
        guard size + length == fileSize else { throw .sizeMismatch(fileSize: fileSize, expected: size + length) }
        let key = ChunkKey(stripe: bytes.littleEndian(at: 8), fragment: bytes.littleEndian(at: 16))
        guard key == expectedKey else { throw .keyMismatch(header: key, fileName: expectedKey) }
        var blocks: [UInt32] = []
        blocks.reserveCapacity(count)
        for i in 0..<count { blocks.append(bytes.littleEndian(at: fixedSize + 4 * i)) }
        return ChunkHeader(key: key, dataLength: length, blockSize: blockSize,
                           dataChecksum: bytes.littleEndian(at: 32), blockChecksums: blocks)
    }

    /// The byte range of block `index` within the data.
    public func blockRange(_ index: Int) -> Range<Int> {
        let start = index * blockSize
        return start..<min(start + blockSize, dataLength)
    }

    /// Checks `bytes`, the whole of block `index`, against the block table.
    public func verifyBlock(_ index: Int, _ bytes: UnsafeRawBufferPointer) throws(ChunkFormatError) {
        let computed = CRC32C.checksum(bytes)
        guard bytes.count == blockRange(index).count, computed == blockChecksums[index] else {
            throw .blockChecksumMismatch(block: index, stored: blockChecksums[index], computed: computed)
        }
    }

    /// Checks `data`, the whole of the chunk's data, against the whole-data CRC.
    public func verifyData(_ data: UnsafeRawBufferPointer) throws(ChunkFormatError) {
        let computed = CRC32C.checksum(data)
        guard data.count == dataLength, computed == dataChecksum else {
            throw .dataChecksumMismatch(stored: dataChecksum, computed: computed)
        }
    }
}

/// What is wrong with a chunk file, found while decoding its header or verifying its data.
///
/// Guarantees each case is specific enough to tell bit rot (checksum cases) from a truncated or
/// foreign file, or a file stored under the wrong name.
public enum ChunkFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is shorter than its header (`minimum` bytes).
    case truncated(fileSize: Int, minimum: Int)
    /// The file does not start with "GRCK"; it is not a chunk file.
    case badMagic(UInt32)
    /// A chunk format this code does not know.
    case unsupportedVersion(UInt16)
    /// The header or its block table was damaged.
    case headerChecksumMismatch(stored: UInt32, computed: UInt32)
    /// The header is intact but its fields do not make sense together.
    case invalidHeader(String)
    /// The file is not the size the header describes (truncated data, or bytes appended).
    case sizeMismatch(fileSize: Int, expected: Int)
    /// The header names a different chunk than the file name does (a misplaced or misnamed file).
    case keyMismatch(header: ChunkKey, fileName: ChunkKey)
    /// A block of data does not match its CRC.
    case blockChecksumMismatch(block: Int, stored: UInt32, computed: UInt32)
    /// The data as a whole does not match its CRC.
    case dataChecksumMismatch(stored: UInt32, computed: UInt32)

    public var description: String {
        switch self {
        case .truncated(let size, let minimum):
            return "file is truncated: \(size) bytes, shorter than its \(minimum)-byte header"
        case .badMagic(let magic):
            return "not a chunk file: magic is 0x\(String(magic, radix: 16)), not \"GRCK\""
        case .unsupportedVersion(let v):
            return "unsupported chunk format version \(v) (this build reads version \(ChunkHeader.currentVersion))"
        case .headerChecksumMismatch(let stored, let computed):
            return "header CRC32C mismatch (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)))"
        case .invalidHeader(let why):
            return "invalid header: \(why)"
        case .sizeMismatch(let size, let expected):
            return size < expected
                ? "file is truncated: \(size) bytes, the header describes \(expected)"
                : "file is \(size) bytes, longer than the \(expected) its header describes"
        case .keyMismatch(let header, let fileName):
            return "header names \(header) but the file name names \(fileName)"
        case .blockChecksumMismatch(let block, let stored, let computed):
            return "CRC32C mismatch in block \(block) (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)))"
        case .dataChecksumMismatch(let stored, let computed):
            return "data CRC32C mismatch (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)))"
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at `offset`; callers have checked the bounds.
    fileprivate func littleEndian<T: FixedWidthInteger>(at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
