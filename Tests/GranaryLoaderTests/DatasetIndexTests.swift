import GranaryMeta
@testable import GranaryLoader
import Testing

/// The stored index: what goes in comes out, and a damaged blob is refused with the offset.
@Suite struct DatasetIndexTests {
    static func sampleBlob() -> [UInt8] {
        let dirs = [DatasetIndex.Directory(inode: InodeID(2), mtime: 1.5, path: ""),
                    DatasetIndex.Directory(inode: InodeID(3), mtime: 2.25, path: "cat")]
        let shards = [DatasetIndex.Shard(inode: InodeID(9), size: 4096, mtime: 3.0, path: "s/shard-0.tar")]
        let entries = [
            DatasetIndex.Entry(ref: 0, offset: 512, length: 1600, key: "cat/a", label: 0,
                               parts: [.init(ext: "jpg", offset: 0, size: 1000), .init(ext: "cls", offset: 1536, size: 1)]),
            DatasetIndex.Entry(ref: 0, offset: 2560, length: 10, key: "dog/ü-ß", label: 1, parts: [.init(ext: "txt", offset: 0, size: 10)]),
        ]
        return DatasetIndex.encode(format: 1, options: "tar;component(0)", root: "/ds", directories: dirs, shards: shards,
                                   classes: ["cat", "dog"], entries: entries)
    }

    @Test func roundTrip() throws {
        let index = try DatasetIndex(bytes: Self.sampleBlob(), path: "/ds/.granary/index-tar")
        #expect(index.count == 2 && index.directoryCount == 2 && index.shardCount == 1 && index.classCount == 2)
        #expect(index.root == "/ds" && index.options == "tar;component(0)")
        #expect(index.directory(1) == DatasetIndex.Directory(inode: InodeID(3), mtime: 2.25, path: "cat"))
        #expect(index.shard(0) == DatasetIndex.Shard(inode: InodeID(9), size: 4096, mtime: 3.0, path: "s/shard-0.tar"))
        #expect(index.className(1) == "dog")
        let e = index.entry(0)
        #expect(e.key == "cat/a" && e.offset == 512 && e.length == 1600 && e.label == 0)
        #expect(e.parts == [.init(ext: "jpg", offset: 0, size: 1000), .init(ext: "cls", offset: 1536, size: 1)])
        #expect(index.entry(1).key == "dog/ü-ß" && index.length(1) == 10)
    }

    @Test func damageIsRefusedWithItsOffset() {
        var blob = Self.sampleBlob()
        blob[100] ^= 0x40
        #expect(throws: LoaderError.self) { try DatasetIndex(bytes: blob, path: "x") }
        do {
            _ = try DatasetIndex(bytes: blob, path: "/ds/.granary/index-tar")
            Issue.record("a flipped byte was accepted")
        } catch {
            guard case let .badIndex(path, offset, reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path == "/ds/.granary/index-tar" && offset == blob.count - 4 && reason.contains("CRC32C"))
        }
        #expect(throws: LoaderError.self) { try DatasetIndex(bytes: Array(Self.sampleBlob().dropLast(9)), path: "x") }
        #expect(throws: LoaderError.self) { try DatasetIndex(bytes: Array("GRNYIDX1".utf8), path: "x") }
        #expect(throws: LoaderError.self) { try DatasetIndex(bytes: [UInt8](repeating: 0, count: 200), path: "x") }
    }

    /// A blob with a valid CRC but counts that lie must be refused, never over-read.
    @Test func inconsistentCountsWithAValidChecksumAreRefused() {
        var blob = Self.sampleBlob()
        blob.removeLast(4)
        blob[40] = 200  // claim 200 samples
        let crc = CRC(blob)
        blob.append(contentsOf: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        #expect(throws: LoaderError.self) { try DatasetIndex(bytes: blob, path: "x") }
    }

    func CRC(_ b: [UInt8]) -> UInt32 {
        // CRC32C (Castagnoli), bitwise: independent of the ISA-L implementation the index uses.
        var c: UInt32 = 0xFFFF_FFFF
        for byte in b {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
        }
        return ~c
    }
}
