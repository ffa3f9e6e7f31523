#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryStorage
import GranaryTransport
import GranaryWire
import Logging
import Testing

/// The storage node's request handler over a real chunk store: every failure reaches the client
/// as a coded RemoteError naming the drive, and bad requests affect only themselves.
@Suite struct StorageServiceTests {
    static func service() throws -> StorageService {
        var template = Array("/tmp/granary-svc-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        try FileIO.makeDirectories(dir + "/d0")
        var l = Logger(label: "t")
        l.logLevel = .critical
        let store = try ChunkStore(node: try #require(NodeID("n1")), drives: [("d0", dir + "/d0"), ("gone", dir + "/missing")], logger: l)
        return StorageService(store: store, logger: l)
    }

    func call(_ s: StorageService, _ type: MessageType, _ body: [UInt8]) async -> Response {
        await s.handle(Request(type: type, id: 1, body: body, peer: "test"))
    }

    func error(_ r: Response) -> RemoteError? {
        if case let .error(e) = r { return e }
        return nil
    }

    @Test func putGetReadDeleteList() async throws {
        let s = try Self.service()
        let key = ChunkKey(stripe: 5, fragment: 2)
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        guard case .ok = await call(s, .putChunk, ChunkRequest(drive: "d0", key: key).encoded + data) else { Issue.record("put failed"); return }
        guard case let .ok(got) = await call(s, .getChunk, ChunkRequest(drive: "d0", key: key).encoded) else { Issue.record("get failed"); return }
        #expect(got == data)
        // A ranged read answers with the bytes asked for and a checksum per segment of them.
        guard case let .data(head, .buffer(buffer)) = await call(s, .readChunk, ReadChunkRequest(drive: "d0", key: key, offset: 65_000, length: 70_000).encoded) else {
            Issue.record("read failed"); return
        }
        let part = Array(buffer.bytes)
        #expect(part == Array(data[65_000..<135_000]))
        let reply = try ReadChunkReply.decode(head)
        // 65_000..<135_000 in 64 KiB blocks: the tail of block 0, then part of block 1, then part of block 2.
        #expect(reply.segments.map(\.length) == [536, 65_536, 3_928])
        #expect(part.withUnsafeBytes { reply.firstMismatch(in: $0) } == nil)
        guard case let .ok(list) = await call(s, .listChunks, DriveName("d0").encoded) else { Issue.record("list failed"); return }
        #expect(try ChunkList.decode(list).keys == [key])
        guard case .ok = await call(s, .deleteChunk, ChunkRequest(drive: "d0", key: key).encoded) else { Issue.record("delete failed"); return }
        #expect(error(await call(s, .getChunk, ChunkRequest(drive: "d0", key: key).encoded))?.code == .notFound)
    }

    @Test func failuresAreCodedAndNameTheDrive() async throws {
        let s = try Self.service()
        let key = ChunkKey(stripe: 1, fragment: 0)
        let unavailable = error(await call(s, .getChunk, ChunkRequest(drive: "gone", key: key).encoded))
        #expect(unavailable?.code == .driveUnavailable)
        #expect(unavailable?.message.contains("n1/gone") == true)
        #expect(error(await call(s, .getChunk, ChunkRequest(drive: "nope", key: key).encoded))?.code == .notFound)
        _ = await call(s, .putChunk, ChunkRequest(drive: "d0", key: key).encoded + [1, 2, 3])
        let past = error(await call(s, .readChunk, ReadChunkRequest(drive: "d0", key: key, offset: 2, length: 5).encoded))
        #expect(past?.code == .rangeOutOfBounds)
        #expect(error(await call(s, .putChunk, [0, 0]))?.code == .badRequest)
        #expect(error(await call(s, .registerNode, []))?.code == .unsupported)
        // The node still serves its good drive after all of that.
        guard case let .ok(b) = await call(s, .getChunk, ChunkRequest(drive: "d0", key: key).encoded) else { Issue.record("get failed"); return }
        #expect(b == [1, 2, 3])
    }

    @Test func driveStatusReportsTheFailedDrive() async throws {
        let s = try Self.service()
        guard case let .ok(body) = await call(s, .driveStatus, []) else { Issue.record("status failed"); return }
        let drives = try JSONMessage.decode([DriveInfo].self, from: body, message: .driveStatus)
        #expect(drives.map(\.state) == [.up, .failed])
        #expect(drives[1].problem?.contains("missing") == true)
    }
}
