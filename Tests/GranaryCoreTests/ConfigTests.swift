#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Testing

@Suite struct ConfigTests {
    static func tempDir() -> String {
        var template = Array("/tmp/granary-core-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    static func config(drivePath: String, extra: String = "", storageExtra: String = "") -> String {
        """
        roles = ["manager", "storage"]
        \(extra)
        [cluster]
        secret_file = "/tmp/s"
        managers = ["127.0.0.1:7400"]

        [manager]
        listen = "127.0.0.1:7400"
        data_dir = "/tmp/m"

        [storage]
        node_id = "node-1"
        listen = "127.0.0.1:0"
        \(storageExtra)
        [[storage.drives]]
        name = "d0"
        path = "\(drivePath)"
        """
    }

    @Test func validConfigParses() throws {
        let dir = Self.tempDir()
        let c = try DaemonConfig.parse(text: Self.config(drivePath: dir), file: "g.toml")
        #expect(c.roles == [.manager, .storage])
        #expect(c.storage?.drives == [.init(name: "d0", path: dir)])
        #expect(c.manager?.heartbeatTimeoutMs == 5000)
        #expect(c.transport.maxFrameBytes == 64 << 20)
    }

    @Test func unknownKeyIsNamedWithItsPath() {
        let dir = Self.tempDir()
        #expect(throws: ConfigError.unknownKey(file: "g.toml", key: "storage.hearbeat_interval_ms")) {
            try DaemonConfig.parse(text: Self.config(drivePath: dir, storageExtra: "hearbeat_interval_ms = 5"), file: "g.toml")
        }
        #expect(throws: ConfigError.unknownKey(file: "g.toml", key: "colour")) {
            try DaemonConfig.parse(text: Self.config(drivePath: dir, extra: "colour = 1"), file: "g.toml")
        }
    }

    @Test func badValuesAreNamed() {
        let dir = Self.tempDir()
        #expect {
            try DaemonConfig.parse(text: Self.config(drivePath: dir, storageExtra: "heartbeat_interval_ms = \"soon\""), file: "g.toml")
        } throws: { e in
            guard case let .badValue(_, key, _, _) = e as? ConfigError else { return false }
            return key == "storage.heartbeat_interval_ms"
        }
        let badRole = Self.config(drivePath: dir).replacingOccurrences(of: "\"storage\"]", with: "\"stroage\"]")
        #expect { try DaemonConfig.parse(text: badRole, file: "g.toml") } throws: { e in
            guard case let .badValue(_, key, _, _) = e as? ConfigError else { return false }
            return key == "roles"
        }
    }

    @Test func chunkCacheSizeIsReadAndABadOneIsNamed() throws {
        let dir = Self.tempDir()
        #expect(try DaemonConfig.parse(text: Self.config(drivePath: dir), file: "g.toml").storage?.chunkCacheBytes == 256 << 20)
        #expect(try DaemonConfig.parse(text: Self.config(drivePath: dir, storageExtra: "chunk_cache = \"1GiB\""), file: "g.toml").storage?.chunkCacheBytes == 1 << 30)
        #expect(try DaemonConfig.parse(text: Self.config(drivePath: dir, storageExtra: "chunk_cache = 0"), file: "g.toml").storage?.chunkCacheBytes == 0)
        for bad in ["chunk_cache = \"lots\"", "chunk_cache = -1", "chunk_cache = \"2TiB\""] {
            #expect {
                try DaemonConfig.parse(text: Self.config(drivePath: dir, storageExtra: bad), file: "g.toml")
            } throws: { e in
                guard case let .badValue(_, key, _, _) = e as? ConfigError else { return false }
                return key == "storage.chunk_cache"
            }
        }
    }

    @Test func missingDriveDirectoryIsNamed() {
        #expect(throws: ConfigError.missingDirectory(file: "g.toml", key: "storage.drives[0].path", path: "/nonexistent/granary/d0")) {
            try DaemonConfig.parse(text: Self.config(drivePath: "/nonexistent/granary/d0"), file: "g.toml")
        }
    }

    @Test func syntaxErrorHasLine() {
        #expect { try DaemonConfig.parse(text: "roles = [\n[cluster", file: "g.toml") } throws: { e in
            guard case let .syntax(file, line, _, _) = e as? ConfigError else { return false }
            return file == "g.toml" && line > 0
        }
    }

    @Test func missingSectionForRole() {
        #expect(throws: ConfigError.missingKey(file: "g.toml", key: "manager")) {
            try DaemonConfig.parse(text: """
            roles = ["manager"]
            [cluster]
            secret_file = "/tmp/s"
            managers = ["127.0.0.1:7400"]
            """, file: "g.toml")
        }
    }

    @Test func secretIsStoredPrivateAndUnsafeModesRefused() throws {
        let dir = Self.tempDir()
        let path = dir + "/cluster.secret"
        let s = ClusterSecret.generate()
        try s.save(path: path)
        #expect(try FileIO.mode(path) == 0o600)
        #expect(try ClusterSecret.load(path: path) == s)
        #expect(!"\(s)".contains(s.hex))
        #expect(throws: ClusterSecret.Failure.exists(path: path)) { try ClusterSecret.generate().save(path: path) }
        chmod(path, 0o644)
        #expect(throws: ClusterSecret.Failure.unsafeMode(path: path, mode: "644")) { try ClusterSecret.load(path: path) }
        try FileIO.writeAtomically(path, "not hex", mode: 0o600)
        #expect(throws: ClusterSecret.Failure.malformedLine(path: path, line: 1, reason: "expected 64 hex digits")) { try ClusterSecret.load(path: path) }
        try FileIO.writeAtomically(path, "# only a comment\n", mode: 0o600)
        #expect(throws: ClusterSecret.Failure.malformed(path: path)) { try ClusterSecret.load(path: path) }
    }

    @Test func clientConfigRoundTrips() throws {
        let dir = Self.tempDir()
        let c = ClientConfig(file: dir + "/client.toml", managers: [Endpoint(host: "127.0.0.1", port: 7400)], secretFile: dir + "/s")
        try FileIO.writeAtomically(c.file, c.toml)
        #expect(try ClientConfig.load(path: c.file) == c)
    }

    /// `[cluster] transport` picks TCP (the default) or RDMA; anything else is refused by name.
    @Test func transportKindIsReadFromTheClusterSection() throws {
        let dir = Self.tempDir()
        #expect(try DaemonConfig.parse(text: Self.config(drivePath: dir), file: "g.toml").transport.kind == .tcp)
        let rdma = Self.config(drivePath: dir).replacingOccurrences(of: "[cluster]\n", with: "[cluster]\ntransport = \"rdma\"\n")
        #expect(try DaemonConfig.parse(text: rdma, file: "g.toml").transport.kind == .rdma)
        let bad = Self.config(drivePath: dir).replacingOccurrences(of: "[cluster]\n", with: "[cluster]\ntransport = \"infiniband\"\n")
        #expect(throws: ConfigError.badValue(file: "g.toml", key: "cluster.transport", value: "\"infiniband\"", expected: "\"tcp\" or \"rdma\"")) {
            try DaemonConfig.parse(text: bad, file: "g.toml")
        }
        var settings = TransportSettings()
        settings.kind = .rdma
        let c = ClientConfig(file: dir + "/client-rdma.toml", managers: [Endpoint(host: "10.0.0.1", port: 7400)], secretFile: dir + "/s", transport: settings)
        try FileIO.writeAtomically(c.file, c.toml)
        #expect(try ClientConfig.load(path: c.file).transport.kind == .rdma)
    }

    /// The pieces a mount, warmup and the disk tier cache a file in.
    @Test func cachePiecesAreWholeSmallFilesAndBlocksOfLargeOnes() {
        var c = CacheSettings()
        c.blockBytes = 1000
        #expect(c.pieces(ofFileSize: 0).isEmpty)
        #expect(c.pieces(ofFileSize: 700).map { [$0.offset, Int64($0.length)] } == [[0, 700]])
        #expect(c.pieces(ofFileSize: 1000).map { [$0.offset, Int64($0.length)] } == [[0, 1000]])
        #expect(c.pieces(ofFileSize: 2500).map { [$0.offset, Int64($0.length)] } == [[0, 1000], [1000, 1000], [2000, 500]])
    }
}
