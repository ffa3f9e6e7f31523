#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryTransport
import GranaryWire
import Testing

@Suite struct TCPTransportTests {
    @Test func pingRoundTripsAndConnectionIsReused() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        let reply = try await t.call(server.endpoint, .ping, [1, 2, 3])
        #expect(reply == [1, 2, 3])
        let c1 = try await t.connection(to: server.endpoint)
        let c2 = try await t.connection(to: server.endpoint)
        #expect(c1 === c2)
        #expect(server.stats.accepted == 1)
        #expect(server.stats.authenticated == 1)
    }

    @Test func wrongSecretIsRefusedAndNothingIsServed() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: ClusterSecret(bytes: Array(repeating: 9, count: 32)), logger: TestCluster.logger)
        await #expect {
            _ = try await t.call(server.endpoint, .ping, [1])
        } throws: { e in
            guard case let .authenticationFailed(_, reason) = e as? TransportError else { return false }
            return reason.contains("wrong cluster secret")
        }
        #expect(server.stats.authFailures == 1)
        #expect(server.stats.requests == 0)
    }

    @Test func manyRequestsInFlightOnOneConnectionAnsweredOutOfOrder() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        let c = try await t.connection(to: server.endpoint)
        // The slow request is sent first and answered last; the fast ones must not wait for it.
        try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
            for ms in [400, 1, 2, 3, 4, 5, 6, 7] {
                let name = "d\(ms)"
                group.addTask { (name, try await c.call(.getChunk, ChunkRequest(drive: name, key: ChunkKey(stripe: 1, fragment: 0)).encoded, timeoutMs: nil)) }
            }
            var order: [String] = []
            for try await (name, body) in group {
                #expect(body == Array(name.utf8))
                order.append(name)
            }
            #expect(order.count == 8)
            #expect(order.last == "d400")
        }
        #expect(server.stats.accepted == 1)
    }

    @Test func readLandsInCallerBufferAndWrongSizeIsAnError() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        let req = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 2, fragment: 1), offset: 5, length: UInt32(1 << 20)).encoded
        let head = try await t.read(server.endpoint, .readChunk, req, into: buffer)
        #expect(head == Array("5".utf8))
        #expect(Array(buffer) == EchoHandler.pattern(offset: 5, count: 1 << 20))
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 8)
        defer { small.deallocate() }
        await #expect(throws: TransportError.unexpectedLength(server.endpoint, expected: 10, got: 1 << 20)) {
            try await t.read(server.endpoint, .readChunk, req, into: small)
        }
        // The connection survives a length mismatch.
        #expect(try await t.call(server.endpoint, .ping, [9]) == [9])
    }

    @Test func dataAnswersBelongToReadsOnly() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 8)
        defer { buffer.deallocate() }
        // A read answered with a plain body, and a call answered with bulk data, are protocol errors.
        await #expect(throws: TransportError.protocolError(server.endpoint, .malformed(type: .ping, field: "flags", reason: "answer to a read carries no data"))) {
            try await t.read(server.endpoint, .ping, [1], into: buffer)
        }
        let req = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 2, fragment: 1), offset: 0, length: 1).encoded
        await #expect(throws: TransportError.protocolError(server.endpoint, .malformed(type: .readChunk, field: "flags", reason: "bulk data in answer to a call"))) {
            _ = try await t.call(server.endpoint, .readChunk, req, idempotent: false)
        }
        // The pool reconnects for the next request.
        #expect(try await t.call(server.endpoint, .ping, [4]) == [4])
    }

    @Test func remoteErrorsCarryCodeAndMessage() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        await #expect(throws: TransportError.remote(server.endpoint, RemoteError(.notFound, "no such thing as delete-chunk"))) {
            _ = try await t.call(server.endpoint, .deleteChunk, ChunkRequest(drive: "d", key: ChunkKey(stripe: 0, fragment: 0)).encoded)
        }
    }

    @Test func timeoutFailsTheCallButNotTheConnection() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        let c = try await t.connection(to: server.endpoint)
        await #expect(throws: TransportError.timeout(server.endpoint, .getChunk, ms: 50)) {
            _ = try await c.call(.getChunk, ChunkRequest(drive: "d300", key: ChunkKey(stripe: 0, fragment: 0)).encoded, timeoutMs: 50)
        }
        #expect(try await c.call(.ping, [4], timeoutMs: nil) == [4])
        // The late response arrives and is discarded; the connection still works after it.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await c.call(.ping, [5], timeoutMs: nil) == [5])
        #expect(c.isOpen)
    }

    @Test func reconnectsAfterTheServerRestarts() async throws {
        let first = try TestCluster.server()
        let endpoint = first.endpoint
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        #expect(try await t.call(endpoint, .ping, [1]) == [1])
        first.stop()
        try await Task.sleep(for: .milliseconds(50))
        let second = try TCPServer(listen: endpoint, secret: TestCluster.secret, handler: EchoHandler(), logger: TestCluster.logger)
        second.start()
        defer { second.stop() }
        #expect(try await t.call(endpoint, .ping, [2]) == [2])
        #expect(second.stats.authenticated == 1)
    }

    @Test func connectToClosedPortFailsNamingThePeer() async throws {
        let s = try Socket.listen(Endpoint(host: "127.0.0.1", port: 0))
        let port = s.localPort
        s.shutdown()
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        await #expect {
            _ = try await t.call(Endpoint(host: "127.0.0.1", port: port), .ping, [])
        } throws: { e in
            guard case let .connectFailed(peer, _) = e as? TransportError else { return false }
            return peer.port == port
        }
    }

    @Test func rdmaProbeExplainsAbsenceAndNamesTCPFallback() {
        switch RDMADevices.list() {
        case let .success(names): #expect(!names.isEmpty)
        case let .failure(e): #expect(e.description.contains("transport = \"tcp\""))
        }
    }
}
