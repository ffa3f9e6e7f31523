#if canImport(Glibc)
import Glibc
#endif

/// TLS for the TCP transport (`[tls]` in granaryd's and the client's config), off unless the
/// section is there.
///
/// Guarantees, checked when the config is read: every named file exists; the private key is not
/// readable by group or others (refused like the cluster secret); a daemon has a certificate and a
/// key, since it both serves and dials; TLS is refused with `transport = "rdma"`, which it does not
/// cover (RDMA traffic stays on the fabric's own isolation).
public struct TLSSettings: Sendable, Equatable {
    /// PEM file of the certificate authorities a peer's certificate must chain to.
    public var caFile: String
    /// PEM certificate chain this process presents (required for daemons; optional for clients).
    public var certFile: String?
    /// PEM private key of `certFile`.
    public var keyFile: String?
    /// The peer's certificate must name the host it was dialed at (a DNS or IP subject alternative
    /// name). On by default; off only for test clusters whose certificates name no addresses.
    public var verifyName: Bool = true
    /// A server refuses clients that present no certificate from `caFile` (mutual TLS). The cluster
    /// secret still authenticates every connection either way.
    public var requireClientCert: Bool = false

    public init(caFile: String, certFile: String? = nil, keyFile: String? = nil, verifyName: Bool = true, requireClientCert: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verifyName = verifyName
        self.requireClientCert = requireClientCert
    }

    /// Reads `[tls]`; nil when the section is absent or says `enabled = false`. `daemon` requires a
    /// certificate and key.
    public static func read(from root: ConfigReader, daemon: Bool, kind: TransportSettings.Kind) throws(ConfigError) -> TLSSettings? {
        guard let t = try root.table("tls") else { return nil }
        let enabled = try t.bool("enabled") ?? true
        let ca = try t.string("ca_file")
        let cert = try t.string("cert_file")
        let key = try t.string("key_file")
        let verifyName = try t.bool("verify_name") ?? true
        let requireClient = try t.bool("require_client_cert") ?? false
        guard enabled else { return nil }
        guard kind == .tcp else {
            throw .badValue(file: root.file, key: "tls.enabled", value: "true",
                            expected: "false with transport = \"rdma\" (TLS covers the TCP transport only)")
        }
        guard let ca else { throw .missingKey(file: root.file, key: "tls.ca_file") }
        if daemon {
            if cert == nil { throw .missingKey(file: root.file, key: "tls.cert_file") }
            if key == nil { throw .missingKey(file: root.file, key: "tls.key_file") }
        }
        if (cert == nil) != (key == nil) {
            throw .missingKey(file: root.file, key: cert == nil ? "tls.cert_file" : "tls.key_file")
        }
        for (name, path) in [("tls.ca_file", ca), ("tls.cert_file", cert), ("tls.key_file", key)] {
            guard let path else { continue }
            guard FileIO.exists(path), !FileIO.isDirectory(path) else {
                throw .badValue(file: root.file, key: name, value: "\"\(path)\"", expected: "an existing PEM file")
            }
        }
        if let key {
            let mode: mode_t
            do { mode = try FileIO.mode(key) } catch {
                throw .unreadable(file: key, reason: "\(error)")
            }
            if mode & 0o077 != 0 { throw .unsafePermissions(file: key, mode: String(mode & 0o7777, radix: 8), problem: .readableByOthers) }
        }
        return TLSSettings(caFile: ca, certFile: cert, keyFile: key, verifyName: verifyName, requireClientCert: requireClient)
    }
}
