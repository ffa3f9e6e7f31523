import GranaryCore

/// The header at the start of every disk-cache entry: what the entry holds and how to check it.
///
/// Layout (little-endian): magic `GRC1`, version (u16), key length (u16), data length (u64),
/// validation tag (u64), CRC32C of the data (u32), CRC32C of the header and key (u32); then the key's
/// UTF-8 bytes; then the data. `parse` returns nil for anything that is not a whole, intact header.
struct DiskCacheHeader: Sendable, Equatable {
    static let fixedSize = 32
    static let maxKeyBytes: UInt16 = 4096
    static let magic: [UInt8] = Array("GRC1".utf8)
    static let version: UInt16 = 1

    var key: String
    var tag: UInt64
    var length: Int
    var crc: UInt32

    func encoded() -> [UInt8] {
        let k = Array(key.utf8.prefix(Int(Self.maxKeyBytes)))
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(Self.version)
        put(UInt16(k.count))
        put(UInt64(length))
        put(tag)
        put(crc)
        put(CRC32C.checksum(out + k))
        return out + k
    }

    static func parse(_ bytes: [UInt8]) -> DiskCacheHeader? {
        guard bytes.count >= fixedSize, Array(bytes[0..<4]) == magic else { return nil }
        func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var v: T = 0
            for i in 0..<MemoryLayout<T>.size { v |= T(bytes[at + i]) << (8 * i) }
            return v
        }
        guard get(4, UInt16.self) == version else { return nil }
        let keyCount = Int(get(6, UInt16.self))
        guard keyCount <= Int(maxKeyBytes), bytes.count >= fixedSize + keyCount else { return nil }
        let length = get(8, UInt64.self)
        guard length <= UInt64(Int.max / 2) else { return nil }
        var covered = Array(bytes[0..<28])
        covered.append(contentsOf: bytes[fixedSize..<(fixedSize + keyCount)])
        guard CRC32C.checksum(covered) == get(28, UInt32.self) else { return nil }
        return DiskCacheHeader(key: String(decoding: bytes[fixedSize..<(fixedSize + keyCount)], as: UTF8.self),
                               tag: get(16, UInt64.self), length: Int(length), crc: get(24, UInt32.self))
    }
}
