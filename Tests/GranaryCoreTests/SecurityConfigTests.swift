#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Testing

/// The security rules of config and secret files: unsafe modes refused with the file named, the
/// secret file's rotation format, reloads that never lose the keys in use, and `[tls]`.
@Suite struct SecurityConfigTests {
    static func tempDir() -> String {
        var template = Array("/tmp/granary-sec-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    static func daemonConfig(_ dir: String, extra: String = "", meta: String? = nil) -> String {
        """
        roles = ["manager"]
        [cluster]
        secret_file = "\(dir)/cluster.secret"
        managers = ["127.0.0.1:7400"]
        [manager]
        listen = "127.0.0.1:7400"
        data_dir = "\(dir)/m"
        \(meta.map { "meta = \"\($0)\"" } ?? "")
        \(extra)
        """
    }

    @Test func aConfigOthersCanWriteIsRefused() throws {
        let dir = Self.tempDir()
        let path = dir + "/granaryd.toml"
        try FileIO.writeAtomically(path, Self.daemonConfig(dir), mode: 0o644)
        _ = try DaemonConfig.load(path: path)
        chmod(path, 0o664)
        #expect(throws: ConfigError.unsafePermissions(file: path, mode: "664", problem: .writableByOthers)) { try DaemonConfig.load(path: path) }
        chmod(path, 0o646)
        #expect { try DaemonConfig.load(path: path) } throws: { e in "\(e)".contains("chmod go-w \(path)") }
        let client = dir + "/client.toml"
        try FileIO.writeAtomically(client, "[cluster]\nmanagers = [\"127.0.0.1:7400\"]\nsecret_file = \"\(dir)/s\"\n", mode: 0o666)
        chmod(client, 0o666)
        #expect(throws: ConfigError.unsafePermissions(file: client, mode: "666", problem: .writableByOthers)) { try ClientConfig.load(path: client) }
    }

    @Test func aConfigHoldingADatabasePasswordMustBePrivate() throws {
        let dir = Self.tempDir()
        let path = dir + "/granaryd.toml"
        try FileIO.writeAtomically(path, Self.daemonConfig(dir, meta: "postgres://granary:s3cret@db.example:5432/granary"), mode: 0o644)
        #expect(throws: ConfigError.unsafePermissions(file: path, mode: "644", problem: .readableByOthers)) { try DaemonConfig.load(path: path) }
        chmod(path, 0o600)
        #expect(try DaemonConfig.load(path: path).manager?.meta == "postgres://granary:s3cret@db.example:5432/granary")
        // No password in the URL: the file may be world-readable.
        try FileIO.writeAtomically(path, Self.daemonConfig(dir, meta: "postgres://granary@db.example/granary?sslmode=disable"), mode: 0o644)
        _ = try DaemonConfig.load(path: path)
        try FileIO.writeAtomically(path, Self.daemonConfig(dir, meta: "postgres://granary@db.example/granary?password=x"), mode: 0o644)
        #expect(throws: ConfigError.self) { try DaemonConfig.load(path: path) }
    }

    @Test func secretFileHoldsAPreviousSecretAndAClusterID() throws {
        let a = ClusterSecret.generate(), b = ClusterSecret.generate()
        let k = ClusterKeyring(current: b, previous: a, clusterID: "0123456789abcdef")
        #expect(try ClusterKeyring.parse(k.text, path: "f") == k)
        #expect(!"\(k)".contains(a.hex) && !"\(k)".contains(b.hex))
        #expect(try ClusterKeyring.parse("# comment\n\(a.hex)\n\n", path: "f") == ClusterKeyring(current: a))
        #expect(throws: ClusterSecret.Failure.malformedLine(path: "f", line: 3, reason: "a third secret (a file holds the current one and at most the previous one)")) {
            try ClusterKeyring.parse("\(a.hex)\n\(b.hex)\n\(a.hex)\n", path: "f")
        }
        #expect(throws: ClusterSecret.Failure.malformedLine(path: "f", line: 2, reason: "expected cluster-id and 16 hex digits")) {
            try ClusterKeyring.parse("\(a.hex)\ncluster-id xyz\n", path: "f")
        }
    }

    @Test func keysFollowTheFileAndKeepWorkingKeysWhenItIsBad() throws {
        let dir = Self.tempDir()
        let path = dir + "/cluster.secret"
        let a = ClusterSecret.generate(), b = ClusterSecret.generate()
        try a.save(path: path)
        let keys = try ClusterKeys(path: path)
        #expect(keys.reloadIfChanged() == .unchanged)
        let rotated = ClusterKeyring(current: b, previous: a, clusterID: "00000000000000aa")
        try FileIO.writeAtomically(path, rotated.text, mode: 0o600)
        #expect(keys.reloadIfChanged() == .reloaded(rotated))
        #expect(keys.keyring == rotated)
        // A half-written file, then one others can read: refused, and the keys stay as they were.
        try FileIO.writeAtomically(path, String(b.hex.prefix(40)) + "\n", mode: 0o600)
        guard case .refused(.malformedLine(path, 1, _)) = keys.reloadIfChanged() else { Issue.record("a truncated file was not refused"); return }
        #expect(keys.keyring == rotated)
        try FileIO.writeAtomically(path, rotated.text, mode: 0o644)
        #expect(keys.reloadIfChanged() == .refused(.unsafeMode(path: path, mode: "644")))
        #expect(keys.keyring == rotated)
    }

    @Test func tlsSectionIsCheckedWhenRead() throws {
        let dir = Self.tempDir()
        for f in ["ca.pem", "node.pem"] { try FileIO.writeAtomically(dir + "/" + f, "x", mode: 0o644) }
        try FileIO.writeAtomically(dir + "/node.key", "x", mode: 0o600)
        func parse(_ tls: String, transport: String = "") throws(ConfigError) -> DaemonConfig {
            try DaemonConfig.parse(text: Self.daemonConfig(dir, extra: "[tls]\n" + tls).replacingOccurrences(of: "[cluster]\n", with: "[cluster]\n\(transport)"), file: "d.toml")
        }
        let ok = try parse("ca_file = \"\(dir)/ca.pem\"\ncert_file = \"\(dir)/node.pem\"\nkey_file = \"\(dir)/node.key\"\n")
        #expect(ok.transport.tls == TLSSettings(caFile: dir + "/ca.pem", certFile: dir + "/node.pem", keyFile: dir + "/node.key"))
        #expect(try parse("enabled = false\n").transport.tls == nil)
        #expect(throws: ConfigError.missingKey(file: "d.toml", key: "tls.cert_file")) { try parse("ca_file = \"\(dir)/ca.pem\"\n") }
        #expect(throws: ConfigError.badValue(file: "d.toml", key: "tls.ca_file", value: "\"\(dir)/none.pem\"", expected: "an existing PEM file")) {
            try parse("ca_file = \"\(dir)/none.pem\"\ncert_file = \"\(dir)/node.pem\"\nkey_file = \"\(dir)/node.key\"\n")
        }
        chmod(dir + "/node.key", 0o640)
        #expect(throws: ConfigError.unsafePermissions(file: dir + "/node.key", mode: "640", problem: .readableByOthers)) {
            try parse("ca_file = \"\(dir)/ca.pem\"\ncert_file = \"\(dir)/node.pem\"\nkey_file = \"\(dir)/node.key\"\n")
        }
        chmod(dir + "/node.key", 0o600)
        #expect { try parse("ca_file = \"\(dir)/ca.pem\"\n", transport: "transport = \"rdma\"\n") } throws: { e in
            "\(e)".contains("tls.enabled") && "\(e)".contains("TCP transport only")
        }
        #expect(throws: ConfigError.unknownKey(file: "d.toml", key: "tls.certfile")) {
            try parse("ca_file = \"\(dir)/ca.pem\"\ncertfile = \"x\"\ncert_file = \"\(dir)/node.pem\"\nkey_file = \"\(dir)/node.key\"\n")
        }
    }
}
