#if canImport(Glibc)
import Glibc
#endif
import GranaryClient
import GranaryCore
import GranaryStorage
import GranaryTransport
import GranaryWire
import Logging
import Testing

/// The chunk client against a real storage service on loopback (TCP, authenticated, a directory
/// drive): ranged reads land in the caller's buffer checked against the node's segment checksums,
/// and bytes corrupted on the drive never come back as data.
@Suite struct StorageClientTests {
    /// A storage node serving one drive, and a client for it.
    struct Node {
        let server: TCPServer
        let store: ChunkStore
        let client: StorageClient
        let transport: TCPTransport
        var endpoint: Endpoint { server.endpoint }

        init() throws {
            var template = Array("/tmp/granary-client-XXXXXX".utf8CString)
            let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            try FileIO.makeDirectories(dir + "/d0")
            var l = Logger(label: "t")
            l.logLevel = .critical
            let secret = ClusterSecret(bytes: Array(repeating: 3, count: 32))
            store = try ChunkStore(node: try #require(NodeID("n1")), drives: [("d0", dir + "/d0")], logger: l)
            server = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: secret, handler: StorageService(store: store, logger: l), logger: l)
            server.start()
            transport = TCPTransport(secret: secret, logger: l)
            client = StorageClient(transport: transport)
        }

        func stop() {
            transport.closeAll()
            server.stop()
        }

        /// Flips one bit of data byte `at` in chunk `key`'s file, as a failing drive would.
        func corrupt(_ key: ChunkKey, dataLength: Int, at: Int) throws {
            let path = try store.drive(named: "d0").filePath(for: key)
            let fd = open(path, O_RDWR)
            try #require(fd >= 0)
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            let position = off_t(Int(st.st_size) - dataLength + at)
            var byte: UInt8 = 0
            try #require(pread(fd, &byte, 1, position) == 1)
            byte ^= 0x10
            try #require(pwrite(fd, &byte, 1, position) == 1)
        }
    }

    static let data = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 11) }

    func read(_ node: Node, _ key: ChunkKey, _ range: Range<Int>) async throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: range.count, alignment: 4096)
        defer { buffer.deallocate() }
        try await node.client.read(node.endpoint, drive: "d0", key: key, offset: range.lowerBound, into: buffer)
        return Array(buffer)
    }

    @Test func rangedReadsOfEveryAlignment() async throws {
        let node = try Node()
        defer { node.stop() }
        let key = ChunkKey(stripe: 7, fragment: 1)
        try await node.client.put(node.endpoint, drive: "d0", key: key, data: Self.data)
        for range in [0..<(1 << 20), 0..<65_536, 65_536..<196_608, 1..<2, 65_535..<65_537, 100_000..<900_000, (1 << 20) - 3..<(1 << 20), 5..<5] {
            #expect(try await read(node, key, range) == Array(Self.data[range]), "range \(range)")
        }
        #expect(try await node.client.get(node.endpoint, drive: "d0", key: key) == Self.data)
        #expect(try await node.client.list(node.endpoint, drive: "d0") == [key])
        try await node.client.delete(node.endpoint, drive: "d0", key: key)
        await #expect { _ = try await read(node, key, 0..<10) } throws: { e in
            (e as? ClientError)?.remoteError?.code == .notFound
        }
    }

    @Test func corruptionInAWholeBlockIsCaughtByTheReader() async throws {
        let node = try Node()
        defer { node.stop() }
        let key = ChunkKey(stripe: 8, fragment: 0)
        try await node.client.put(node.endpoint, drive: "d0", key: key, data: Self.data)
        try node.corrupt(key, dataLength: Self.data.count, at: 300_000)
        // Block 4 (262_144..<327_680) is wholly inside the range: the node sends it from the page
        // cache with its stored checksum, and the reader finds the mismatch in its own buffer.
        await #expect { _ = try await read(node, key, 0..<(1 << 20)) } throws: { e in
            guard case let .corruptRead(n, drive, k, offset, length, _, _) = e as? ClientError else { return false }
            return n == node.endpoint && drive == "d0" && k == key && offset == 262_144 && length == 65_536
                && (e as? ClientError)?.description.contains("bytes 262144..<327680") == true
        }
        // Ranges that miss the bad block still read.
        #expect(try await read(node, key, 0..<262_144) == Array(Self.data[0..<262_144]))
        #expect(try await read(node, key, 327_680..<400_000) == Array(Self.data[327_680..<400_000]))
    }

    @Test func corruptionInAPartlyReadBlockIsCaughtByTheNode() async throws {
        let node = try Node()
        defer { node.stop() }
        let key = ChunkKey(stripe: 9, fragment: 0)
        try await node.client.put(node.endpoint, drive: "d0", key: key, data: Self.data)
        try node.corrupt(key, dataLength: Self.data.count, at: 70_000)
        // The range covers only part of block 1, so the node reads and checks the whole block
        // before it can vouch for the part: the answer is the node's corrupt-chunk error.
        await #expect { _ = try await read(node, key, 66_000..<67_000) } throws: { e in
            let r = (e as? ClientError)?.remoteError
            return r?.code == .corrupt && r?.message.contains("n1/d0") == true
        }
        #expect(try node.store.drive(named: "d0").counters().checksumFailures == 1)
    }

    @Test func readsOutOfRangeAreRefusedByName() async throws {
        let node = try Node()
        defer { node.stop() }
        let key = ChunkKey(stripe: 10, fragment: 0)
        try await node.client.put(node.endpoint, drive: "d0", key: key, data: [1, 2, 3])
        await #expect { _ = try await read(node, key, 2..<5) } throws: { e in
            (e as? ClientError)?.remoteError?.code == .rangeOutOfBounds
        }
        await #expect { _ = try await node.client.get(node.endpoint, drive: "nope", key: key) } throws: { e in
            (e as? ClientError)?.remoteError?.code == .notFound
        }
        #expect(try await read(node, key, 0..<3) == [1, 2, 3])
    }
}
