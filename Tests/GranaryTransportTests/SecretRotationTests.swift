import GranaryCore
import GranaryTransport
import GranaryWire
import Testing

/// A secret rotation never refuses a peer that holds either secret: servers accept both while the
/// rotation lasts, and a client whose new secret a server does not know yet falls back to the old.
@Suite struct SecretRotationTests {
    static let a = ClusterSecret(bytes: Array(repeating: 0xA1, count: 32))
    static let b = ClusterSecret(bytes: Array(repeating: 0xB2, count: 32))
    static let rotating = ClusterKeys(fixed: ClusterKeyring(current: b, previous: a))

    static func ping(_ transport: any Transport, _ server: TCPServer) async throws -> [UInt8] {
        defer { transport.closeAll() }
        return try await transport.call(server.endpoint, .ping, [1, 2])
    }

    @Test func everyMixOfOldAndNewPeersConnects() async throws {
        let logger = TestCluster.logger
        // A server that has the rotated file: clients with the old or the new secret get in.
        let rotated = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), keys: Self.rotating, handler: EchoHandler(), logger: logger)
        rotated.start()
        defer { rotated.stop() }
        #expect(try await Self.ping(TCPTransport(secret: Self.a, logger: logger), rotated) == [1, 2])
        #expect(try await Self.ping(TCPTransport(secret: Self.b, logger: logger), rotated) == [1, 2])
        #expect(try await Self.ping(TCPTransport(keys: Self.rotating, logger: logger), rotated) == [1, 2])
        // A server still on the old file: a rotated client falls back to the previous secret.
        let old = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), secret: Self.a, handler: EchoHandler(), logger: logger)
        old.start()
        defer { old.stop() }
        #expect(try await Self.ping(TCPTransport(keys: Self.rotating, logger: logger), old) == [1, 2])
        #expect(old.stats.authFailures == 1 && old.stats.authenticated == 1)
        // A third secret is refused by both, and the rotated client does not get in with it either.
        let stranger = ClusterSecret(bytes: Array(repeating: 0xC3, count: 32))
        for server in [rotated, old] {
            await #expect(throws: TransportError.self) { try await Self.ping(TCPTransport(secret: stranger, logger: logger), server) }
        }
        // After the rotation finishes, the old secret is refused.
        let finished = try TCPServer(listen: Endpoint(host: "127.0.0.1", port: 0), keys: ClusterKeys(secret: Self.b),
                                     handler: EchoHandler(), logger: logger)
        finished.start()
        defer { finished.stop() }
        await #expect(throws: TransportError.self) { try await Self.ping(TCPTransport(secret: Self.a, logger: logger), finished) }
        #expect(try await Self.ping(TCPTransport(keys: Self.rotating, logger: logger), finished) == [1, 2])
    }

    @Test func theClusterFingerprintSurvivesARotation() {
        let before = Authenticator(secret: Self.a).clusterFingerprint
        let after = Authenticator(keys: ClusterKeys(fixed: ClusterKeyring(current: Self.b, clusterID: before))).clusterFingerprint
        #expect(before == after && before == Authenticator.fingerprint(of: Self.a))
    }
}
