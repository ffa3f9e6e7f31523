#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import GranaryCore

/// One OpenSSL context for a transport (client side) or a server: certificates and the trust
/// store are loaded once, then every connection's handshake runs against it.
///
/// Guarantees: TLS 1.3 only (both ends are Granary, so no older peer needs the weaker versions);
/// a peer's certificate must chain to `ca_file`, and, with `verify_name`, name the host it was
/// dialed at; a server asks every client for a certificate and, with `require_client_cert`, refuses
/// one without. Setup errors name the file at fault.
///
/// Why OpenSSL directly and not swift-nio-ssl: the TCP transport is blocking POSIX sockets (chosen
/// by measurement in issue 2) that receive a read's data straight into the caller's buffer;
/// swift-nio-ssl runs only inside a NIO channel pipeline, so it would need a channel per
/// connection and a copy out of NIO's buffers on every read. `SSL_read` decrypts straight into the
/// destination, which keeps the read path's zero-copy promise under TLS.
package final class TLSContext: Sendable {
    package enum Role: Sendable { case client, server }

    // SSL_CTX is safe to share between threads once configured (OpenSSL documents SSL_new on one
    // context from many threads); it is configured in `init` and never changed afterwards.
    nonisolated(unsafe) let ctx: OpaquePointer
    let role: Role
    let settings: TLSSettings

    package init(_ settings: TLSSettings, role: Role) throws(TransportError) {
        guard let method = role == .client ? TLS_client_method() : TLS_server_method(), let ctx = SSL_CTX_new(method) else {
            throw .tlsSetup(reason: "cannot create an OpenSSL context: \(Self.errorText())")
        }
        self.ctx = ctx
        self.role = role
        self.settings = settings
        guard granary_ssl_ctx_min_tls13(ctx) == 1 else { throw .tlsSetup(reason: "OpenSSL refuses TLS 1.3: \(Self.errorText())") }
        granary_ssl_ctx_ignore_unexpected_eof(ctx)
        granary_ssl_ctx_read_ahead(ctx)
        guard SSL_CTX_load_verify_locations(ctx, settings.caFile, nil) == 1 else {
            throw .tlsSetup(reason: "tls.ca_file \(settings.caFile): \(Self.errorText())")
        }
        if let cert = settings.certFile, let key = settings.keyFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw .tlsSetup(reason: "tls.cert_file \(cert): \(Self.errorText())")
            }
            // OpenSSL checks the key against the certificate as it loads it.
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                throw .tlsSetup(reason: "tls.key_file \(key) is not a PEM key or not the key of tls.cert_file \(cert): \(Self.errorText())")
            }
        } else if role == .server {
            throw .tlsSetup(reason: "a server needs tls.cert_file and tls.key_file")
        }
        let verify = role == .server && settings.requireClientCert ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER
        SSL_CTX_set_verify(ctx, verify, nil)
    }

    deinit { SSL_CTX_free(ctx) }

    /// Runs the client handshake on a connected socket; the stream it returns carries everything
    /// after. `peer` is the name or address the certificate must hold (with `verify_name`).
    package func connect(_ socket: Socket, peer: Endpoint, timeoutMs: Int) throws(TransportError) -> TLSStream {
        guard let ssl = SSL_new(ctx) else { throw .tlsHandshake(peer, reason: Self.errorText()) }
        let stream = TLSStream(socket: socket, ssl: ssl)
        if settings.verifyName {
            let isAddress = peer.host.contains(":") || peer.host.allSatisfy { $0.isNumber || $0 == "." }
            let ok = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer.host) : SSL_set1_host(ssl, peer.host)
            guard ok == 1 else { throw .tlsHandshake(peer, reason: "cannot check the certificate against \(peer.host): \(Self.errorText())") }
            if !isAddress { _ = granary_ssl_set_sni(ssl, peer.host) }
        }
        if let reason = stream.handshake(client: true, timeoutMs: timeoutMs) {
            throw .tlsHandshake(peer, reason: reason + (reason.contains("wrong version number") ? " (does the server have TLS on? see [tls] in its config)" : ""))
        }
        return stream
    }

    /// Runs the server handshake on an accepted socket; on failure, says why for the log.
    package func accept(_ socket: Socket, timeoutMs: Int) -> Result<TLSStream, TLSFailure> {
        guard let ssl = SSL_new(ctx) else { return .failure(TLSFailure(reason: Self.errorText())) }
        let stream = TLSStream(socket: socket, ssl: ssl)
        if let reason = stream.handshake(client: false, timeoutMs: timeoutMs) {
            let hint = reason.contains("http request") || reason.contains("wrong version number") || reason.contains("packet length too long")
                ? " (a client without TLS? see [tls] in its config)" : ""
            return .failure(TLSFailure(reason: reason + hint))
        }
        return .success(stream)
    }

    /// Why a server-side handshake failed.
    package struct TLSFailure: Error, Sendable { package let reason: String }

    /// Drains this thread's OpenSSL error queue into one line.
    static func errorText() -> String {
        var parts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(Socket.cText(buf))
        }
        return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: "; ")
    }
}
