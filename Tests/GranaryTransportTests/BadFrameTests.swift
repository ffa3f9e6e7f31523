#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
@testable import GranaryTransport
import GranaryWire
import Testing

/// Sends hostile bytes to a live server over raw sockets and checks it drops only that peer.
@Suite struct BadFrameTests {
    /// Connects a raw socket and completes the real handshake, so the bytes that follow reach the
    /// frame decoder of an authenticated connection.
    static func authenticatedRawSocket(_ server: TCPServer) throws -> Socket {
        let s = try Socket.connect(server.endpoint, timeoutMs: 2000)
        s.setReceiveTimeout(ms: 2000)
        guard case let .success(frame) = FrameIO.readFrame(s, maxPayload: 4096) else { throw TransportError.connectionClosed(server.endpoint, reason: "no challenge") }
        let challenge = try AuthChallenge.decode(frame.payload)
        let nonce = Authenticator.nonce()
        let body = AuthResponse(clientNonce: nonce, mac: Authenticator(secret: TestCluster.secret).clientProof(serverNonce: challenge.serverNonce, clientNonce: nonce)).encoded
        _ = FrameIO.send(s, FrameHeader(type: .authResponse, requestID: 0, payloadLength: body.count), body)
        guard case let .success(result) = FrameIO.readFrame(s, maxPayload: 4096), !result.header.isError else {
            throw TransportError.authenticationFailed(server.endpoint, reason: "refused")
        }
        return s
    }

    /// True when the server closed the socket (read returns EOF).
    static func closedByServer(_ s: Socket) -> Bool {
        var b = [UInt8](repeating: 0, count: 1)
        let r = b.withUnsafeMutableBytes { s.receive(into: $0) }
        return r == .eof(got: 0)
    }

    static func send(_ s: Socket, _ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { s.send([$0]) } }

    func expectServerStillServes(_ server: TCPServer) async throws {
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        #expect(try await t.call(server.endpoint, .ping, [42]) == [42])
    }

    @Test func garbageIsRejectedAndOthersStillServed() async throws {
        var settings = TransportSettings()
        settings.maxFrameBytes = 1 << 20
        let server = try TestCluster.server(settings: settings)
        defer { server.stop() }

        // A good client connected before the attack keeps working through it.
        let bystander = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { bystander.closeAll() }
        #expect(try await bystander.call(server.endpoint, .ping, [1]) == [1])

        let cases: [(String, [UInt8])] = [
            ("garbage", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
            ("oversized", FrameHeader(type: .ping, requestID: 1, payloadLength: (1 << 20) + 1).encoded),
            ("unknown type", { var h = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded; h[6] = 0x7F; h[7] = 0x7F; return h }()),
            ("bad version", { var h = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded; h[4] = 99; return h }()),
            ("bad flags", { var h = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded; h[5] = 0x80; return h }()),
            ("response as request", FrameHeader(type: .ping, flags: FrameHeader.responseFlag, requestID: 1, payloadLength: 0).encoded),
        ]
        for (name, bytes) in cases {
            let s = try Self.authenticatedRawSocket(server)
            Self.send(s, bytes)
            #expect(Self.closedByServer(s), "server kept a connection open after \(name)")
        }
        #expect(server.stats.protocolErrors == cases.count - 1 + 1)
        #expect(try await bystander.call(server.endpoint, .ping, [2]) == [2])
        try await expectServerStillServes(server)
    }

    @Test func truncatedFrameThenHangUp() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let s = try Self.authenticatedRawSocket(server)
        var frame = Frame(type: .ping, requestID: 3, payload: Array(repeating: 1, count: 100)).encoded
        frame.removeLast(40)
        Self.send(s, frame)
        s.shutdown()
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.stats.protocolErrors == 1)
        #expect(server.stats.requests == 0)
        try await expectServerStillServes(server)
    }

    @Test func malformedBodyGetsBadRequestAndConnectionStays() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let t = TCPTransport(secret: TestCluster.secret, logger: TestCluster.logger)
        defer { t.closeAll() }
        await #expect {
            _ = try await t.call(server.endpoint, .readChunk, [1, 2, 3])
        } throws: { e in (e as? TransportError)?.remoteError?.code == .badRequest }
        #expect(try await t.call(server.endpoint, .ping, [7]) == [7])
    }

    @Test func requestBeforeAuthenticationIsRefused() async throws {
        let server = try TestCluster.server()
        defer { server.stop() }
        let s = try Socket.connect(server.endpoint, timeoutMs: 2000)
        s.setReceiveTimeout(ms: 2000)
        _ = FrameIO.readFrame(s, maxPayload: 4096)
        Self.send(s, Frame(type: .listChunks, requestID: 1, payload: DriveName("d0").encoded).encoded)
        #expect(Self.closedByServer(s))
        #expect(server.stats.authFailures == 1)
        #expect(server.stats.requests == 0)
    }

    @Test func silentPeerIsDisconnectedAfterAuthTimeout() async throws {
        var settings = TransportSettings()
        settings.authTimeoutMs = 100
        let server = try TestCluster.server(settings: settings)
        defer { server.stop() }
        let s = try Socket.connect(server.endpoint, timeoutMs: 2000)
        s.setReceiveTimeout(ms: 3000)
        _ = FrameIO.readFrame(s, maxPayload: 4096)
        #expect(Self.closedByServer(s))
        #expect(server.stats.authFailures == 1)
    }
}
