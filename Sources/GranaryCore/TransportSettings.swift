/// Limits and timeouts of the wire protocol and transport, shared by daemons and clients
/// (`[transport]` in both config files).
public struct TransportSettings: Sendable, Equatable {
    /// Which transport carries the cluster's traffic: `transport = "tcp"` (the default) or
    /// `"rdma"` in the config's `[cluster]` section — per cluster for granaryd, per client for
    /// client.toml.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case tcp, rdma
    }

    public var kind: Kind = .tcp
    /// Frames with a longer payload are refused and the connection closed.
    public var maxFrameBytes: Int = 64 << 20
    public var connectTimeoutMs: Int = 3_000
    /// A request with no response by then fails with a timeout (the connection stays usable).
    public var requestTimeoutMs: Int = 30_000
    /// A peer that has not authenticated by then is disconnected.
    public var authTimeoutMs: Int = 5_000
    /// TLS on the TCP transport (`[tls]`); nil: plaintext, authenticated by the cluster secret.
    public var tls: TLSSettings?

    public init() {}

    static let keysHelp = "max_frame, connect_timeout_ms, request_timeout_ms, auth_timeout_ms"

    /// Reads `[transport]` if present, `transport` from the `[cluster]` table, and `[tls]`
    /// (`daemon`: a certificate and key are required).
    public static func read(from root: ConfigReader, cluster: ConfigReader?, daemon: Bool) throws(ConfigError) -> TransportSettings {
        var s = TransportSettings()
        if let cluster, let v = try cluster.string("transport") {
            guard let kind = Kind(rawValue: v) else {
                throw .badValue(file: root.file, key: "cluster.transport", value: "\"\(v)\"", expected: "\"tcp\" or \"rdma\"")
            }
            s.kind = kind
        }
        s.tls = try TLSSettings.read(from: root, daemon: daemon, kind: s.kind)
        guard let t = try root.table("transport") else { return s }
        if let v = try t.byteSize("max_frame", range: 4096...(1 << 30)) { s.maxFrameBytes = Int(v.bytes) }
        if let v = try t.int("connect_timeout_ms", range: 1...600_000) { s.connectTimeoutMs = v }
        if let v = try t.int("request_timeout_ms", range: 1...3_600_000) { s.requestTimeoutMs = v }
        if let v = try t.int("auth_timeout_ms", range: 1...600_000) { s.authTimeoutMs = v }
        return s
    }
}
