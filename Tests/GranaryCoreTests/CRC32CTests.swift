import GranaryCore
import Testing

/// Published CRC-32C check values: RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check.
@Suite struct CRC32CTests {
    @Test func checkValue() { #expect(CRC32C.checksum("123456789") == 0xE306_9283) }

    @Test func rfc3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func emptyIsZeroAndChainingMatchesOneShot() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let whole = CRC32C.checksum(data)
        let first = CRC32C.checksum(Array(data[..<33_333]))
        #expect(CRC32C.checksum(Array(data[33_333...]), seed: first) == whole)
    }
}
