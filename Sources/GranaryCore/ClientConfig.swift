#if canImport(Glibc)
import Glibc
#endif

/// What a client (the `granary` CLI, a mount, a loader) needs to reach a cluster: the managers and
/// the secret. `granary up` writes one to `defaultPath`, where every other command looks first.
public struct ClientConfig: Sendable, Equatable {
    public var file: String
    public var managers: [Endpoint]
    public var secretFile: String
    public var transport: TransportSettings
    /// The client cache (`[cache]`): tiers, policy, prefetch.
    public var cache: CacheSettings

    public init(file: String, managers: [Endpoint], secretFile: String, transport: TransportSettings = .init(), cache: CacheSettings = .init()) {
        self.file = file
        self.managers = managers
        self.secretFile = secretFile
        self.transport = transport
        self.cache = cache
    }

    /// `$GRANARY_CONFIG`, else `$XDG_CONFIG_HOME/granary/client.toml`, else `~/.config/granary/client.toml`.
    public static var defaultPath: String {
        if let p = getenv("GRANARY_CONFIG") { return String(cString: p) }
        return FileIO.userDirectory(xdg: "XDG_CONFIG_HOME", homeRelative: ".config") + "/granary/client.toml"
    }

    public static func load(path: String) throws(ConfigError) -> ClientConfig {
        let r = try ConfigReader(path: path)
        guard let cluster = try r.table("cluster") else { throw .missingKey(file: path, key: "cluster") }
        let secret = try cluster.requiredString("secret_file")
        let managers = try cluster.endpoints("managers") ?? []
        if managers.isEmpty { throw .missingKey(file: path, key: "cluster.managers") }
        let transport = try TransportSettings.read(from: r, cluster: cluster, daemon: false)
        let cache = try CacheSettings.read(from: r)
        try r.finish()
        return ClientConfig(file: path, managers: managers, secretFile: secret, transport: transport, cache: cache)
    }

    /// The TOML text of this config.
    public var toml: String {
        """
        # Granary client configuration (written by `granary up`).
        [cluster]
        managers = [\(managers.map { "\"\($0)\"" }.joined(separator: ", "))]
        secret_file = "\(secretFile)"\(transport.kind == .tcp ? "" : "\ntransport = \"\(transport.kind.rawValue)\"")
        \(tlsTOML)
        """
    }

    /// The `[tls]` section, when TLS is on.
    var tlsTOML: String {
        guard let t = transport.tls else { return "" }
        var lines = ["", "[tls]", "ca_file = \"\(t.caFile)\""]
        if let c = t.certFile, let k = t.keyFile { lines += ["cert_file = \"\(c)\"", "key_file = \"\(k)\""] }
        if !t.verifyName { lines.append("verify_name = false") }
        return lines.joined(separator: "\n") + "\n"
    }
}
