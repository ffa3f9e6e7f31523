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
    }

    @Test func renderedConfigsReadBack() throws {
        let ep = Endpoint(host: "127.0.0.1", port: 7400)
        let m = try DaemonConfig.parse(text: DaemonConfig.managerTOML(secretFile: "/s", listen: ep, dataDir: "/m", heartbeatTimeoutMs: 1234), file: "m.toml")
        #expect(m.roles == [.manager])
        #expect(m.manager?.heartbeatTimeoutMs == 1234)
        let node = try #require(NodeID("node-7"))
        let drives = [DaemonConfig.Drive(name: "d0", path: "/tmp"), DaemonConfig.Drive(name: "d1", path: "/")]
        let s = try DaemonConfig.parse(text: DaemonConfig.storageTOML(secretFile: "/s", managers: [ep], node: node, listen: Endpoint(host: "127.0.0.1", port: 7401), heartbeatIntervalMs: 250, drives: drives), file: "s.toml")
        #expect(s.storage?.nodeID == node)
        #expect(s.storage?.drives == drives)
        #expect(s.storage?.heartbeatIntervalMs == 250)
        #expect(s.managers == [ep])
    }
}
