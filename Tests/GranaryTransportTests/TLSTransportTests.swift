import Foundation
import GranaryCore
import GranaryTestSupport
import GranaryTransport
import GranaryTransportConformance
import Testing

/// TLS on the TCP transport: the whole conformance suite inside TLS, then every way a handshake
/// must fail (no TLS on one side, an untrusted CA, a certificate for another address, a missing
/// client certificate) and the setup errors, each naming what is wrong.
@Suite struct TLSTransportTests {
    static let names = TransportConformance.checks.map(\.name)

    static func certs() throws -> TestCertificates { try TestCertificates.shared() }
    static func serverTLS(_ c: TestCertificates, cert: String? = nil, key: String? = nil, requireClientCert: Bool = false) -> TLSSettings {
        TLSSettings(caFile: c.caFile, certFile: cert ?? c.nodeCert, keyFile: key ?? c.nodeKey, requireClientCert: requireClientCert)
    }
    static func clientTLS(_ c: TestCertificates) -> TLSSettings { TLSSettings(caFile: c.caFile) }

    @Test(arguments: names) func conformance(_ name: String) async throws {
        let c = try Self.certs()
        let failed = await TransportConformance.run(.tls(server: Self.serverTLS(c), client: Self.clientTLS(c), logger: TestCluster.logger), filter: name)
        #expect(failed.isEmpty)
    }

    static func tlsServer(_ tls: TLSSettings?) throws -> TCPServer {
        var s = TransportSettings()
        s.tls = tls
        s.authTimeoutMs = 2_000
        return try TestCluster.server(settings: s)
    }

    static func client(_ tls: TLSSettings?) throws -> any Transport {
        var s = TransportSettings()
        s.tls = tls
        s.authTimeoutMs = 2_000
        return try Transports.client(secret: TestCluster.secret, settings: s, logger: TestCluster.logger)
    }

    static func handshakeError(_ t: any Transport, _ server: TCPServer) async -> TransportError? {
        do {
            _ = try await t.call(server.endpoint, .ping, [1])
            return nil
        } catch { return error }
    }

    @Test func aPlaintextClientIsRefusedBeforeAnythingIsServed() async throws {
        let server = try Self.tlsServer(Self.serverTLS(try Self.certs()))
        defer { server.stop() }
        let t = try Self.client(nil)
        defer { t.closeAll() }
        let e = await Self.handshakeError(t, server)
        #expect(e != nil)
        // The server counts the failed handshake when its own wait ends, which may be just after
        // the client gave up.
        for _ in 0..<50 where server.stats.authFailures == 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(server.stats.authFailures == 1 && server.stats.requests == 0 && server.stats.authenticated == 0)
    }

    @Test func aTLSClientToAPlaintextServerSaysSo() async throws {
        let server = try Self.tlsServer(nil)
        defer { server.stop() }
        let t = try Self.client(Self.clientTLS(try Self.certs()))
        defer { t.closeAll() }
        let e = await Self.handshakeError(t, server)
        guard case let .tlsHandshake(peer, reason)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(peer == server.endpoint)
        #expect(reason.contains("TLS on"), "\(reason)")
        #expect(server.stats.requests == 0)
    }

    @Test func aServerCertificateFromAnotherCAIsRefused() async throws {
        let c = try Self.certs()
        let server = try Self.tlsServer(Self.serverTLS(c, cert: c.rogueCert, key: c.rogueKey))
        defer { server.stop() }
        let t = try Self.client(Self.clientTLS(c))
        defer { t.closeAll() }
        let e = await Self.handshakeError(t, server)
        guard case let .tlsHandshake(_, reason)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(reason.contains("certificate was refused") && reason.contains("local issuer"), "\(reason)")
    }

    @Test func aCertificateForAnotherAddressIsRefusedUnlessNameChecksAreOff() async throws {
        let c = try Self.certs()
        let server = try Self.tlsServer(Self.serverTLS(c, cert: c.otherNameCert, key: c.otherNameKey))
        defer { server.stop() }
        let strict = try Self.client(Self.clientTLS(c))
        defer { strict.closeAll() }
        let e = await Self.handshakeError(strict, server)
        guard case let .tlsHandshake(_, reason)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(reason.contains("IP address mismatch"), "\(reason)")
        var lax = Self.clientTLS(c)
        lax.verifyName = false
        let t = try Self.client(lax)
        defer { t.closeAll() }
        #expect(try await t.call(server.endpoint, .ping, [4, 2]) == [4, 2])
    }

    @Test func mutualTLSRefusesAClientWithoutACertificate() async throws {
        let c = try Self.certs()
        let server = try Self.tlsServer(Self.serverTLS(c, requireClientCert: true))
        defer { server.stop() }
        let anonymous = try Self.client(Self.clientTLS(c))
        defer { anonymous.closeAll() }
        // TLS 1.3 finishes the client's side of the handshake before the server checks the
        // certificate, so the refusal arrives as the connection closing during authentication.
        #expect(await Self.handshakeError(anonymous, server) != nil)
        #expect(server.stats.authenticated == 0 && server.stats.requests == 0)
        let named = try Self.client(TLSSettings(caFile: c.caFile, certFile: c.clientCert, keyFile: c.clientKey))
        defer { named.closeAll() }
        #expect(try await named.call(server.endpoint, .ping, [7]) == [7])
    }

    @Test func setupErrorsNameTheFile() throws {
        let c = try Self.certs()
        #expect { _ = try Self.tlsServer(Self.serverTLS(c, cert: c.nodeCert, key: c.clientKey)) } throws: { e in
            guard case let .tlsSetup(reason) = e as? TransportError else { return false }
            return reason.contains(c.clientKey) && reason.contains("key values mismatch")
        }
        let notPEM = c.dir + "/not-a-ca.pem"
        try "not a certificate\n".write(toFile: notPEM, atomically: true, encoding: .utf8)
        #expect { _ = try Self.client(TLSSettings(caFile: notPEM)) } throws: { e in
            guard case let .tlsSetup(reason) = e as? TransportError else { return false }
            return reason.contains("tls.ca_file") && reason.contains(notPEM)
        }
    }
}
