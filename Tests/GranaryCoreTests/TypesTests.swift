import GranaryCore
import Testing

@Suite struct TypesTests {
    @Test func nodeAndDriveNames() throws {
        #expect(NodeID("node-1") != nil)
        for bad in ["", ".", "..", "a/b", "a b", String(repeating: "x", count: 65), "nöde"] { #expect(NodeID(bad) == nil, "\(bad)") }
        let d = try #require(DriveID(parsing: "node-1/d0"))
        #expect(d.description == "node-1/d0")
        #expect(DriveID(parsing: "node-1") == nil)
        #expect(DriveID(parsing: "node-1/../x") == nil)
    }

    @Test func chunkKeyFileNamesRoundTrip() {
        let k = ChunkKey(stripe: 0xABCDEF, fragment: 12)
        #expect(k.fileName == "0000000000abcdef.12")
        #expect(ChunkKey(fileName: k.fileName) == k)
        for bad in ["0000000000abcdef.12.tmp", "abcdef.12", "0000000000abcdef.x", "0000000000abcdef.012", "zzzzzzzzzzzzzzzz.1"] {
            #expect(ChunkKey(fileName: bad) == nil, "\(bad)")
        }
    }

    @Test func endpoints() {
        #expect(Endpoint(parsing: "127.0.0.1:7400") == Endpoint(host: "127.0.0.1", port: 7400))
        #expect(Endpoint(parsing: "[::1]:80")?.description == "[::1]:80")
        for bad in ["127.0.0.1", ":80", "h:0", "h:70000", "h:x"] { #expect(Endpoint(parsing: bad) == nil, "\(bad)") }
        #expect(Endpoint(parsing: "h:0", allowAnyPort: true)?.port == 0)
    }

    @Test func byteSizes() {
        #expect(ByteSize(parsing: "64MiB")?.bytes == 64 << 20)
        #expect(ByteSize(parsing: "1.5 GiB")?.bytes == 3 << 29)
        #expect(ByteSize(parsing: "512")?.bytes == 512)
        #expect(ByteSize(parsing: "4k")?.bytes == 4096)
        for bad in ["", "-1", "1 parsec", "MiB"] { #expect(ByteSize(parsing: bad) == nil, "\(bad)") }
        #expect(ByteSize.mib(3).description == "3 MiB")
    }
}
