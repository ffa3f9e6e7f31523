import Foundation

/// Throwaway X.509 material for the TLS tests, made with the `openssl` command (Debian's openssl
/// package, installed by ops/install-deps.sh) in a fresh directory: a cluster CA, a node
/// certificate naming 127.0.0.1 and localhost, a client certificate, a certificate naming only
/// another address, and a second CA nobody trusts with a node certificate of its own. Keys are
/// mode 0600, as Granary requires.
public struct TestCertificates: Sendable {
    public let dir: String
    public var caFile: String { dir + "/ca.pem" }
    public var nodeCert: String { dir + "/node.pem" }
    public var nodeKey: String { dir + "/node.key" }
    public var clientCert: String { dir + "/client.pem" }
    public var clientKey: String { dir + "/client.key" }
    /// Signed by the cluster CA, but naming 10.99.99.99 only.
    public var otherNameCert: String { dir + "/other.pem" }
    public var otherNameKey: String { dir + "/other.key" }
    /// Signed by a CA that is not `caFile`.
    public var rogueCert: String { dir + "/rogue.pem" }
    public var rogueKey: String { dir + "/rogue.key" }

    /// Why the certificates could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes the set once per process (a few hundred milliseconds of openssl).
    public static func shared() throws -> TestCertificates {
        try cached.get()
    }

    private static let cached: Result<TestCertificates, Failure> = {
        do { return .success(try make()) } catch let f as Failure { return .failure(f) } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    static func make() throws -> TestCertificates {
        let dir = NSTemporaryDirectory() + "granary-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let certs = TestCertificates(dir: dir)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "rogue-ca"] {
            try run(["req", "-x509"] + curve + ["-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).pem", "-days", "2", "-subj", "/CN=granary-test-\(ca)"])
        }
        let leaves: [(name: String, ca: String, san: String)] = [
            ("node", "ca", "IP:127.0.0.1,DNS:localhost"),
            ("client", "ca", "DNS:granary-client"),
            ("other", "ca", "IP:10.99.99.99"),
            ("rogue", "rogue-ca", "IP:127.0.0.1,DNS:localhost"),
        ]
        for leaf in leaves {
            try run(["req"] + curve + ["-keyout", "\(dir)/\(leaf.name).key", "-out", "\(dir)/\(leaf.name).csr", "-subj", "/CN=granary-test-\(leaf.name)"])
            try "subjectAltName=\(leaf.san)\n".write(toFile: "\(dir)/\(leaf.name).ext", atomically: true, encoding: .utf8)
            try run(["x509", "-req", "-in", "\(dir)/\(leaf.name).csr", "-CA", "\(dir)/\(leaf.ca).pem", "-CAkey", "\(dir)/\(leaf.ca).key",
                     "-CAcreateserial", "-out", "\(dir)/\(leaf.name).pem", "-days", "2", "-extfile", "\(dir)/\(leaf.name).ext"])
        }
        for name in ["ca", "rogue-ca", "node", "client", "other", "rogue"] {
            chmod("\(dir)/\(name).key", 0o600)
        }
        return certs
    }

    static func run(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw Failure(description: "cannot run /usr/bin/openssl (install Debian's openssl: ops/install-deps.sh): \(error)")
        }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}
