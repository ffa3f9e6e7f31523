#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import Testing

/// The documented example configs in conf/ must stay valid (their drive directories aside).
@Suite struct ExampleConfigTests {
    static let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))

    @Test func exampleDaemonConfigParsesExceptForItsDriveDirectories() throws {
        let text = try FileIO.readString(Self.root + "/conf/granaryd.toml")
        let local = text.replacingOccurrences(of: "/srv/granary/d0", with: "/tmp").replacingOccurrences(of: "/srv/granary/d1", with: "/")
        let c = try DaemonConfig.parse(text: local, file: "conf/granaryd.toml")
        #expect(c.roles == [.manager, .storage])
        #expect(c.storage?.drives.count == 2)
        #expect(throws: ConfigError.missingDirectory(file: "conf/granaryd.toml", key: "storage.drives[0].path", path: "/srv/granary/d0")) {
            try DaemonConfig.parse(text: text, file: "conf/granaryd.toml")
        }
    }

    @Test func exampleClientConfigParses() throws {
        let c = try ClientConfig.load(path: Self.root + "/conf/client.toml")
        #expect(c.managers == [Endpoint(host: "127.0.0.1", port: 7400)])
        #expect(c.cache.policy == .learned)
        #expect(c.cache.memoryBytes == 512 << 20)
        #expect(c.cache.directory == "/var/cache/granary")
        #expect(c.cache.diskBytes == 10 << 30)
        #expect(c.cache.minFreeRatio == 0.1)
        #expect(c.cache.blockBytes == 1 << 20)
    }

    /// A bad `[cache]` value is refused naming the key and what was expected.
    @Test func badCacheSettingsNameTheKey() throws {
        let dir = "/tmp/granary-cfg-\(getpid())"
        try FileIO.makeDirectories(dir)
        for (line, key) in [("policy = \"mru\"", "cache.policy"), ("min_free_ratio = 2.5", "cache.min_free_ratio"),
                            ("memory = \"lots\"", "cache.memory"), ("block = \"1KiB\"", "cache.block"), ("colour = 1", "cache.colour")] {
            let path = dir + "/c.toml"
            try FileIO.writeAtomically(path, "[cluster]\nmanagers = [\"127.0.0.1:7400\"]\nsecret_file = \"/s\"\n[cache]\n\(line)\n")
            do {
                _ = try ClientConfig.load(path: path)
                Issue.record("\(line) was accepted")
            } catch {
                #expect(error.description.contains(key), "\(error)")
            }
        }
    }

    @Test func renderedConfigsReadBack() throws {
        let ep = Endpoint(host: "127.0.0.1", port: 7400)
        let m = try DaemonConfig.parse(text: DaemonConfig.managerTOML(secretFile: "/s", listen: ep, dataDir: "/m", heartbeatTimeoutMs: 1234), file: "m.toml")
        #expect(m.roles == [.manager])
        #expect(m.manager?.heartbeatTimeoutMs == 1234)
        let node = try #require(NodeID("node-7"))
        let drives = [DaemonConfig.Drive(name: "d0", path: "/tmp"), DaemonConfig.Drive(name: "d1", path: "/")]
        let s = try DaemonConfig.parse(text: DaemonConfig.storageTOML(secretFile: "/s", managers: [ep], node: node, listen: Endpoint(host: "127.0.0.1", port: 7401), heartbeatIntervalMs: 250, drives: drives, injectReadLatencyMs: 7), file: "s.toml")
        #expect(s.storage?.nodeID == node)
        #expect(s.storage?.drives == drives)
        #expect(s.storage?.heartbeatIntervalMs == 250)
        #expect(s.storage?.injectReadLatencyMs == 7)
        #expect(s.managers == [ep])
    }
}
