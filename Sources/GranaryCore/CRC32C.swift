import CISAL

/// CRC32C (Castagnoli), computed by ISA-L's `crc32_iscsi` (hardware-accelerated where the CPU has it).
///
/// Guarantees the standard CRC-32C as used by iSCSI, ext4 and 3FS: initial value and final XOR
/// `0xFFFFFFFF`, reflected. `CRC32C.checksum("123456789")` is `0xE3069283`. Incremental use:
/// feed the previous result back as `seed`.
public enum CRC32C {
    /// Checksums `bytes`, continuing from `seed` (the result of a previous call, or 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        // ISA-L's crc32_iscsi takes and returns the raw register (no final XOR), so invert on the
        // way in and out to get the standard, chainable CRC-32C.
        var crc = ~seed
        var offset = 0
        // crc32_iscsi takes an `int` length: feed it in pieces below Int32.max.
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = crc32_iscsi(
                UnsafeMutablePointer(mutating: base.advanced(by: offset).assumingMemoryBound(to: UInt8.self)),
                Int32(n), crc)
            offset += n
        }
        return ~crc
    }

    /// Checksums a byte array.
    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// Checksums the UTF-8 bytes of a string.
    public static func checksum(_ string: String, seed: UInt32 = 0) -> UInt32 {
        checksum(Array(string.utf8), seed: seed)
    }
}
