import GranaryCore
@testable import GranaryStorage
import Testing

@Suite struct ChunkHeaderTests {
    let key = ChunkKey(stripe: 0x0123_4567_89AB_CDEF, fragment: 7)

    func header(for data: [UInt8]) -> ChunkHeader {
        data.withUnsafeBytes { ChunkHeader(key: key, data: $0) }
    }

    func decode(_ bytes: [UInt8], fileSize: Int? = nil, expectedKey: ChunkKey? = nil) throws(ChunkFormatError) -> ChunkHeader {
        let result: Result<ChunkHeader, ChunkFormatError> = bytes.withUnsafeBytes { b in
            Result { () throws(ChunkFormatError) in
                try ChunkHeader.decode(b, fileSize: fileSize ?? bytes.count, expectedKey: expectedKey ?? key)
            }
        }
        return try result.get()
    }

    @Test func layoutIsLittleEndianWithMagicFirst() {
        let data = [UInt8](repeating: 0xAB, count: 65_536 + 1)
        let bytes = header(for: data).encode()
        #expect(bytes.count == 40 + 2 * 4 + 4)
        #expect(Array(bytes[0..<4]) == Array("GRCK".utf8))
        #expect(Array(bytes[4..<8]) == [1, 0, 0, 0])
        #expect(Array(bytes[8..<16]) == [0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01])
        #expect(Array(bytes[16..<20]) == [7, 0, 0, 0])
        #expect(Array(bytes[20..<24]) == [0, 0, 1, 0])  // 65536
        #expect(Array(bytes[24..<32]) == [1, 0, 1, 0, 0, 0, 0, 0])  // 65537
        #expect(Array(bytes[36..<40]) == [2, 0, 0, 0])
        let whole = CRC32C.checksum(data)
        #expect(Array(bytes[32..<36]) == [UInt8(whole & 0xFF), UInt8(whole >> 8 & 0xFF), UInt8(whole >> 16 & 0xFF), UInt8(whole >> 24)])
        let block1 = CRC32C.checksum([0xAB])
        #expect(Array(bytes[44..<48]) == [UInt8(block1 & 0xFF), UInt8(block1 >> 8 & 0xFF), UInt8(block1 >> 16 & 0xFF), UInt8(block1 >> 24)])
        let headerCRC = CRC32C.checksum(Array(bytes[0..<48]))
        #expect(Array(bytes[48..<52]) == [UInt8(headerCRC & 0xFF), UInt8(headerCRC >> 8 & 0xFF), UInt8(headerCRC >> 16 & 0xFF), UInt8(headerCRC >> 24)])
    }

    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 3 << 20])
    func roundTrip(length: Int) throws {
        let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let original = header(for: data)
        #expect(original.blockCount == (length + 65_535) / 65_536)
        #expect(original.dataChecksum == CRC32C.checksum(data))
        let decoded = try decode(original.encode(), fileSize: original.encodedSize + length)
        #expect(decoded == original)
    }

    @Test func rejectsWhatIsWrong() {
        let good = header(for: [UInt8](repeating: 1, count: 100)).encode()
        let size = good.count + 100

        #expect(throws: ChunkFormatError.truncated(fileSize: 10, minimum: 40)) {
            try decode(Array(good[0..<10]), fileSize: 10)
        }
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(throws: ChunkFormatError.badMagic(0x4B43_5258)) { try decode(magic, fileSize: size) }

        var version = good
        version[4] = 2
        #expect(throws: ChunkFormatError.unsupportedVersion(2)) { try decode(version, fileSize: size) }

        var flipped = good
        flipped[10] ^= 0x01
        #expect { try decode(flipped, fileSize: size) } throws: { error in
            if case .headerChecksumMismatch = error as? ChunkFormatError { return true }
            return false
        }

        #expect(throws: ChunkFormatError.sizeMismatch(fileSize: size - 1, expected: size)) {
            try decode(good, fileSize: size - 1)
        }
        #expect(throws: ChunkFormatError.sizeMismatch(fileSize: size + 1, expected: size)) {
            try decode(good, fileSize: size + 1)
        }
        let other = ChunkKey(stripe: 1, fragment: 0)
        #expect(throws: ChunkFormatError.keyMismatch(header: key, fileName: other)) {
            try decode(good, fileSize: size, expectedKey: other)
        }
        // A block count the file cannot hold is a truncation, found before allocating the table.
        var huge = good
        huge[36] = 0xFF
        huge[37] = 0xFF
        huge[38] = 0xFF
        #expect { try decode(huge, fileSize: size) } throws: { error in
            if case .truncated = error as? ChunkFormatError { return true }
            return false
        }
    }

    @Test func verifiesBlocksAndData() throws {
        var data = [UInt8](repeating: 9, count: 65_536 * 2 + 5)
        let h = header(for: data)
        try data.withUnsafeBytes { (b) throws in
            try h.verifyBlock(2, UnsafeRawBufferPointer(rebasing: b[131_072...]))
            try h.verifyData(b)
        }
        data[70_000] = 0
        data.withUnsafeBytes { b in
            #expect(throws: ChunkFormatError.self) { try h.verifyBlock(1, UnsafeRawBufferPointer(rebasing: b[65_536..<131_072])) }
            #expect(throws: ChunkFormatError.self) { try h.verifyData(b) }
        }
    }

    @Test func errorsDescribeTheProblem() {
        let k = ChunkKey(stripe: 1, fragment: 2)
        #expect(ChunkFormatError.keyMismatch(header: key, fileName: k).description.contains("file name"))
        #expect(ChunkFormatError.sizeMismatch(fileSize: 5, expected: 9).description.contains("truncated"))
        #expect(ChunkFormatError.badMagic(0).description.contains("not a chunk file"))
    }
}
