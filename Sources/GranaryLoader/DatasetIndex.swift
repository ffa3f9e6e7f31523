import GranaryCore
import GranaryMeta

/// A dataset's listing in one compact binary blob, stored in Granary beside the data
/// (`ROOT/.granary/index-FORMAT`) so the tree is walked and the shards parsed once, not at every
/// start: opening a dataset reads this file, checks its CRC32C, and asks the managers in one round
/// trip whether any directory or shard it recorded has changed.
///
/// Guarantees: decoding is bounded — every count, offset and string is checked against the blob
/// before use, and a damaged or foreign blob is a `.badIndex` error naming the byte offset, never
/// a crash or an over-read. Records are fixed-size and read in place (no per-sample objects are
/// made at open), which is what makes a million-sample dataset open in milliseconds.
///
/// Layout (little-endian): an 80-byte header; directories (24 B each: inode, mtime bits, path
/// ref); shards (32 B: inode, size, mtime bits, path ref); classes (8 B: name ref); samples
/// (48 B: file inode or shard number, offset, length, key ref, label, first part, part count);
/// parts (16 B: offset in the sample's span, size, extension ref); the string heap; CRC32C of all
/// that. A "ref" is a (heap offset, length) pair of UInt32s.
public struct DatasetIndex: Sendable {
    static let magic: [UInt8] = Array("GRNYIDX1".utf8)
    static let version: UInt32 = 1
    static let headerSize = 80, dirSize = 24, shardSize = 32, classSize = 8, sampleSize = 48, partSize = 16

    /// A directory (or, for tar datasets, shard) whose attributes the index was built against.
    public struct Directory: Sendable, Equatable {
        public var inode: InodeID
        public var mtime: Double
        public var path: String

        public init(inode: InodeID, mtime: Double, path: String) {
            self.inode = inode
            self.mtime = mtime
            self.path = path
        }
    }

    public struct Shard: Sendable, Equatable {
        public var inode: InodeID
        public var size: Int64
        public var mtime: Double
        /// Relative to the root.
        public var path: String

        public init(inode: InodeID, size: Int64, mtime: Double, path: String) {
            self.inode = inode
            self.size = size
            self.mtime = mtime
            self.path = path
        }
    }

    /// One member of a tar sample: where its bytes sit in the sample's span.
    public struct Part: Sendable, Equatable {
        public var ext: String
        public var offset: Int
        public var size: Int

        public init(ext: String, offset: Int, size: Int) {
            self.ext = ext
            self.offset = offset
            self.size = size
        }
    }

    /// One sample as the builder describes it.
    public struct Entry: Sendable, Equatable {
        /// Files: the sample file's inode; tar: the shard's number in `shards`.
        public var ref: UInt64
        public var offset: Int64
        public var length: Int64
        /// Files: the path below the root; tar: the member key.
        public var key: String
        /// The class index, or -1 (no label, or a label read from a member at load time).
        public var label: Int32
        public var parts: [Part]

        public init(ref: UInt64, offset: Int64, length: Int64, key: String, label: Int32, parts: [Part]) {
            self.ref = ref
            self.offset = offset
            self.length = length
            self.key = key
            self.label = label
            self.parts = parts
        }
    }

    public let bytes: [UInt8]
    /// Where the index is stored (for errors).
    public let path: String
    public let format: UInt8
    public let options: String
    public let root: String
    public let directoryCount: Int, shardCount: Int, classCount: Int, count: Int, partCount: Int
    let dirsAt: Int, shardsAt: Int, classesAt: Int, samplesAt: Int, partsAt: Int, heapAt: Int, heapBytes: Int

    // MARK: Encoding

    /// The blob for these records.
    public static func encode(format: UInt8, options: String, root: String, directories: [Directory], shards: [Shard],
                              classes: [String], entries: [Entry]) -> [UInt8] {
        var heap: [UInt8] = []
        var interned: [String: (UInt32, UInt32)] = [:]
        func ref(_ s: String) -> (UInt32, UInt32) {
            if let r = interned[s] { return r }
            let r = (UInt32(heap.count), UInt32(s.utf8.count))
            heap.append(contentsOf: s.utf8)
            if s.utf8.count <= 16 { interned[s] = r }  // extensions and class names repeat; keys do not
            return r
        }
        let partCount = entries.reduce(0) { $0 + $1.parts.count }
        var out = [UInt8]()
        out.reserveCapacity(headerSize + directories.count * dirSize + shards.count * shardSize + classes.count * classSize
                            + entries.count * sampleSize + partCount * partSize + entries.count * 32)
        func u8(_ v: UInt8) { out.append(v) }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func pair(_ r: (UInt32, UInt32)) { u32(r.0); u32(r.1) }
        let optionsRef = ref(options), rootRef = ref(root)
        var body: [UInt8] = []
        swap(&out, &body)
        for d in directories { u64(d.inode.rawValue); u64(d.mtime.bitPattern); pair(ref(d.path)) }
        for s in shards { u64(s.inode.rawValue); u64(UInt64(bitPattern: s.size)); u64(s.mtime.bitPattern); pair(ref(s.path)) }
        for c in classes { pair(ref(c)) }
        var firstPart: UInt32 = 0
        for e in entries {
            u64(e.ref); u64(UInt64(bitPattern: e.offset)); u64(UInt64(bitPattern: e.length)); pair(ref(e.key))
            u32(UInt32(bitPattern: e.label)); u32(firstPart); u32(UInt32(e.parts.count)); u32(0)
            firstPart += UInt32(e.parts.count)
        }
        for e in entries {
            for p in e.parts { u32(UInt32(p.offset)); u32(UInt32(p.size)); pair(ref(p.ext)) }
        }
        swap(&out, &body)
        out.append(contentsOf: magic)
        u32(version); u8(format); u8(0); u8(0); u8(0); u32(0)
        pair(optionsRef)
        u32(UInt32(directories.count)); u32(UInt32(shards.count)); u32(UInt32(classes.count))
        u64(UInt64(entries.count)); u64(UInt64(partCount)); u64(UInt64(heap.count))
        pair(rootRef); u64(0)
        out.append(contentsOf: body)
        out.append(contentsOf: heap)
        u32(CRC32C.checksum(out))
        return out
    }

    // MARK: Decoding

    /// Checks `bytes` (magic, version, CRC32C, every section inside the blob) and opens it.
    public init(bytes: [UInt8], path: String) throws(LoaderError) {
        func bad(_ offset: Int, _ reason: String) -> LoaderError { .badIndex(path: path, offset: offset, reason: reason) }
        guard bytes.count >= Self.headerSize + 4 else { throw bad(0, "\(bytes.count) bytes, shorter than the \(Self.headerSize)-byte header") }
        guard Array(bytes[0..<8]) == Self.magic else { throw bad(0, "not a Granary dataset index (bad magic)") }
        let stored = Self.le32(bytes, bytes.count - 4)
        let actual = CRC32C.checksum(Array(bytes[0..<(bytes.count - 4)]))
        guard stored == actual else {
            throw bad(bytes.count - 4, "CRC32C \(String(stored, radix: 16)) where the contents sum to \(String(actual, radix: 16)) (damaged)")
        }
        let version = Self.le32(bytes, 8)
        guard version == Self.version else { throw bad(8, "version \(version), this build reads version \(Self.version)") }
        self.bytes = bytes
        self.path = path
        format = bytes[12]
        directoryCount = Int(Self.le32(bytes, 28))
        shardCount = Int(Self.le32(bytes, 32))
        classCount = Int(Self.le32(bytes, 36))
        let samples = Self.le64(bytes, 40), parts = Self.le64(bytes, 48), heap = Self.le64(bytes, 56)
        guard samples < 1 << 40, parts < 1 << 40, heap < 1 << 40 else { throw bad(40, "implausible counts") }
        count = Int(samples)
        partCount = Int(parts)
        heapBytes = Int(heap)
        dirsAt = Self.headerSize
        shardsAt = dirsAt + directoryCount * Self.dirSize
        classesAt = shardsAt + shardCount * Self.shardSize
        samplesAt = classesAt + classCount * Self.classSize
        partsAt = samplesAt + count * Self.sampleSize
        heapAt = partsAt + partCount * Self.partSize
        guard heapAt + heapBytes + 4 == bytes.count else {
            throw bad(28, "its counts describe \(heapAt + heapBytes + 4) bytes, the file has \(bytes.count)")
        }
        options = try Self.string(bytes, at: 20, heapAt: heapAt, heapBytes: heapBytes, path: path)
        root = try Self.string(bytes, at: 64, heapAt: heapAt, heapBytes: heapBytes, path: path)
        // Check every record's references once, so the accessors below cannot over-read.
        for i in 0..<directoryCount { _ = try Self.string(bytes, at: dirsAt + i * Self.dirSize + 16, heapAt: heapAt, heapBytes: heapBytes, path: path) }
        for i in 0..<shardCount { _ = try Self.string(bytes, at: shardsAt + i * Self.shardSize + 24, heapAt: heapAt, heapBytes: heapBytes, path: path) }
        for i in 0..<classCount { _ = try Self.checkRef(bytes, at: classesAt + i * Self.classSize, heapBytes: heapBytes, path: path) }
        for i in 0..<count {
            let at = samplesAt + i * Self.sampleSize
            try Self.checkRef(bytes, at: at + 24, heapBytes: heapBytes, path: path)
            let first = Int(Self.le32(bytes, at + 36)), n = Int(Self.le32(bytes, at + 40))
            guard first + n <= partCount else { throw bad(at + 36, "sample \(i) names parts \(first)..<\(first + n) of \(partCount)") }
            let label = Int32(bitPattern: Self.le32(bytes, at + 32))
            guard label >= -1, label < 0 || Int(label) < classCount else {
                throw bad(at + 32, "sample \(i) has label \(label) of \(classCount) classes")
            }
            if format == 1 {
                guard Self.le64(bytes, at) < UInt64(shardCount) else { throw bad(at, "sample \(i) names shard \(Self.le64(bytes, at)) of \(shardCount)") }
            }
        }
        for i in 0..<partCount { try Self.checkRef(bytes, at: partsAt + i * Self.partSize + 8, heapBytes: heapBytes, path: path) }
    }

    public func directory(_ i: Int) -> Directory {
        let at = dirsAt + i * Self.dirSize
        return Directory(inode: InodeID(Self.le64(bytes, at)), mtime: Double(bitPattern: Self.le64(bytes, at + 8)), path: heapString(at + 16))
    }

    public func shard(_ i: Int) -> Shard {
        let at = shardsAt + i * Self.shardSize
        return Shard(inode: InodeID(Self.le64(bytes, at)), size: Int64(bitPattern: Self.le64(bytes, at + 8)),
                     mtime: Double(bitPattern: Self.le64(bytes, at + 16)), path: heapString(at + 24))
    }

    public func className(_ i: Int) -> String { heapString(classesAt + i * Self.classSize) }

    /// Sample `i`'s record.
    public func entry(_ i: Int) -> Entry {
        let at = samplesAt + i * Self.sampleSize
        let first = Int(Self.le32(bytes, at + 36)), n = Int(Self.le32(bytes, at + 40))
        var parts: [Part] = []
        parts.reserveCapacity(n)
        for p in first..<(first + n) {
            let pa = partsAt + p * Self.partSize
            parts.append(Part(ext: heapString(pa + 8), offset: Int(Self.le32(bytes, pa)), size: Int(Self.le32(bytes, pa + 4))))
        }
        return Entry(ref: Self.le64(bytes, at), offset: Int64(bitPattern: Self.le64(bytes, at + 8)),
                     length: Int64(bitPattern: Self.le64(bytes, at + 16)), key: heapString(at + 24),
                     label: Int32(bitPattern: Self.le32(bytes, at + 32)), parts: parts)
    }

    private func heapString(_ refAt: Int) -> String {
        let off = Int(Self.le32(bytes, refAt)), len = Int(Self.le32(bytes, refAt + 4))
        return String(decoding: bytes[(heapAt + off)..<(heapAt + off + len)], as: UTF8.self)
    }

    @discardableResult
    private static func checkRef(_ b: [UInt8], at: Int, heapBytes: Int, path: String) throws(LoaderError) -> (Int, Int) {
        let off = Int(le32(b, at)), len = Int(le32(b, at + 4))
        guard off + len <= heapBytes else {
            throw .badIndex(path: path, offset: at, reason: "string \(off)..<\(off + len) outside the \(heapBytes)-byte heap")
        }
        return (off, len)
    }

    private static func string(_ b: [UInt8], at: Int, heapAt: Int, heapBytes: Int, path: String) throws(LoaderError) -> String {
        let (off, len) = try checkRef(b, at: at, heapBytes: heapBytes, path: path)
        guard let s = String(validating: b[(heapAt + off)..<(heapAt + off + len)], as: UTF8.self) else {
            throw .badIndex(path: path, offset: at, reason: "a string that is not UTF-8")
        }
        return s
    }

    static func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
        b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }

    static func le64(_ b: [UInt8], _ at: Int) -> UInt64 {
        b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }
}

extension DatasetIndex {
    /// Sample `i`'s length in bytes, without decoding the rest of its record.
    public func length(_ i: Int) -> Int64 { Int64(bitPattern: Self.le64(bytes, samplesAt + i * Self.sampleSize + 16)) }
}
