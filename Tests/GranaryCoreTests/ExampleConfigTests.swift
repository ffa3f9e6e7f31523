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
}
