import Foundation
import GranaryClient
import GranaryCore
import GranaryLoader
import GranaryManager
import GranaryTestSupport
import GranaryTransport
import Synchronization
import Testing

extension IntegrationSuites {
    /// Security on a live cluster of real processes: TLS between every daemon and client, and a
    /// secret rotation under a read load with not one read failing.
    @Suite(.serialized) struct SecurityIntegrationTests {
        static func fileClient(_ cluster: ClusterHarness, transport: any Transport) -> FileClient {
            var s = FileClientSettings()
            s.mapMaxAgeMs = 0
            return FileClient(managers: cluster.managerEndpoints, transport: transport, settings: s, logger: cluster.logger)
        }

        @Test func aTLSClusterServesTLSClientsOnly() async throws {
            let certs = try TestCertificates.shared()
            let daemonTLS = TLSSettings(caFile: certs.caFile, certFile: certs.nodeCert, keyFile: certs.nodeKey)
            let cluster = try ClusterHarness(nodes: 3, drives: 2, tls: daemonTLS, clientTLS: TLSSettings(caFile: certs.caFile))
            defer { cluster.shutdown() }
            // Nodes register and heartbeat over TLS.
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil, "manager log:\n\(cluster.log("manager"))")
            let t = try Transports.client(secret: cluster.secret, settings: cluster.clientSettings, logger: cluster.logger)
            defer { t.closeAll() }
            let client = Self.fileClient(cluster, transport: t)
            let bytes = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            _ = try await client.meta.mkdirAll("/tls")
            _ = try await client.writeFile("/tls/file.bin", bytes: bytes)
            #expect(try await client.readFile("/tls/file.bin") == bytes)
            // A client without TLS, holding the right secret, gets nothing from the manager or a node.
            var quick = TransportSettings()
            quick.authTimeoutMs = 1_000
            let plain = TCPTransport(secret: cluster.secret, settings: quick, logger: cluster.logger)
            defer { plain.closeAll() }
            for ep in [cluster.managerEndpoint] + cluster.nodeEndpoints.values.sorted(by: { $0.port < $1.port }) {
                await #expect(throws: TransportError.self) { _ = try await plain.call(ep, .ping, [1]) }
            }
            #expect(cluster.log("manager").contains("TLS handshake failed"))
            // Nothing secret reaches the daemons' logs.
            for name in ["manager", "node-1"] {
                #expect(!cluster.log(name).contains(cluster.secret.hex))
            }
        }

        @Test func theClusterSecretRotatesUnderLoadWithoutAFailedRead() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let keys = try ClusterKeys(path: cluster.secretFile)
            let watch = keys.watch(every: 0.2) { _ in }
            defer { watch.cancel() }
            let t = TCPTransport(keys: keys, logger: cluster.logger)
            defer { t.closeAll() }
            let client = Self.fileClient(cluster, transport: t)
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
            _ = try await client.meta.mkdirAll("/rot")
            _ = try await client.writeFile("/rot/file.bin", bytes: bytes)

            // A reader that opens fresh connections all along (a new transport every round).
            let stop = ManagedAtomicFlag()
            let reader = Task { () -> (reads: Int, failures: [String]) in
                var reads = 0
                var failures: [String] = []
                while !stop.isSet {
                    let fresh = TCPTransport(keys: keys, logger: cluster.logger)
                    do {
                        let got = try await Self.fileClient(cluster, transport: fresh).readFile("/rot/file.bin")
                        if got != bytes { failures.append("wrong bytes") }
                    } catch { failures.append("\(error)") }
                    fresh.closeAll()
                    reads += 1
                }
                return (reads, failures)
            }

            let old = cluster.secret
            try Self.granary(["cluster", "rotate-secret", "--secret-file", cluster.secretFile])
            let rotated = try ClusterSecret.loadKeyring(path: cluster.secretFile)
            #expect(rotated.previous == old && rotated.current != old)
            // Every daemon takes the file within seconds; both secrets work meanwhile.
            #expect(await Self.eventually(seconds: 10) { ["manager", "node-1", "node-2", "node-3"].allSatisfy { cluster.log($0).contains("reloaded") } })
            for secret in [old, rotated.current] {
                let only = TCPTransport(secret: secret, logger: cluster.logger)
                defer { only.closeAll() }
                #expect(try await Self.fileClient(cluster, transport: only).readFile("/rot/file.bin") == bytes)
            }
            try Self.granary(["cluster", "rotate-secret", "--secret-file", cluster.secretFile, "--finish"])
            #expect(await Self.eventually(seconds: 10) {
                ["manager", "node-1", "node-2", "node-3"].allSatisfy { cluster.log($0).components(separatedBy: "reloaded").count >= 3 }
            })
            try await Task.sleep(for: .milliseconds(500))
            stop.set()
            let (reads, failures) = await reader.value
            #expect(reads > 5 && failures.isEmpty, "\(reads) reads, failures: \(failures.prefix(3))")
            // The old secret is now refused everywhere; the new one still works, and nodes still heartbeat.
            let oldOnly = TCPTransport(secret: old, logger: cluster.logger)
            defer { oldOnly.closeAll() }
            await #expect(throws: TransportError.self) { _ = try await oldOnly.call(cluster.managerEndpoint, .ping, [1]) }
            let newOnly = TCPTransport(secret: rotated.current, logger: cluster.logger)
            defer { newOnly.closeAll() }
            #expect(try await Self.fileClient(cluster, transport: newOnly).readFile("/rot/file.bin") == bytes)
            // The cache's name for the cluster did not change.
            #expect(Authenticator(keys: keys).clusterFingerprint == Authenticator.fingerprint(of: old))
            // A node restarted now starts with the new file and rejoins.
            cluster.kill9("node-2")
            try cluster.restart("node-2")
            let manager = ManagerClient(managers: cluster.managerEndpoints, transport: newOnly)
            var upAgain = false
            for _ in 0..<200 where !upAgain {
                if let map = try? await manager.clusterMap(), map.allUp, map.nodes.count == 3 { upAgain = true } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(upAgain, "node-2 did not rejoin with the new secret:\n\(cluster.log("node-2"))")
            for name in ["manager", "node-1"] {
                #expect(!cluster.log(name).contains(old.hex) && !cluster.log(name).contains(rotated.current.hex))
            }
        }

        @Test func theClientAPIChecksModesAsTheMountDoes() async throws {
            let cluster = try ClusterHarness(nodes: 3, drives: 2)
            defer { cluster.shutdown() }
            #expect(await cluster.waitFor(seconds: 30) { $0.nodes.count == 3 && $0.allUp } != nil)
            let t = TCPTransport(secret: cluster.secret, logger: cluster.logger)
            defer { t.closeAll() }
            func client(_ who: AccessIdentity?) -> FileClient {
                var s = FileClientSettings()
                s.mapMaxAgeMs = 0
                s.identity = who
                return FileClient(managers: cluster.managerEndpoints, transport: t, settings: s, logger: cluster.logger)
            }
            let trusted = client(nil)
            let alice = client(AccessIdentity(uid: 1000, gids: [1000]))
            let team = client(AccessIdentity(uid: 3000, gids: [3000, 1000]))
            let bob = client(AccessIdentity(uid: 2000, gids: [2000]))
            let root = client(AccessIdentity(uid: 0, gids: [0]))
            _ = try await trusted.meta.mkdirAll("/home", mode: 0o755)
            _ = try await trusted.meta.mkdirAll("/home/alice", mode: 0o750, uid: 1000, gid: 1000)
            let text = Array("alice's notes".utf8)
            // Alice writes in her directory; the file is hers.
            _ = try await alice.writeFile("/home/alice/notes.txt", bytes: text, mode: 0o640)
            let made = try await trusted.meta.resolve("/home/alice/notes.txt")
            #expect(made.uid == 1000 && made.gid == 1000 && made.mode & 0o777 == 0o640)
            #expect(try await alice.readFile("/home/alice/notes.txt") == text)
            // Her group may read (directory r-x, file r--) but not write there or replace the file.
            #expect(try await team.readFile("/home/alice/notes.txt") == text)
            await #expect { try await team.writeFile("/home/alice/new.txt", bytes: [1]) } throws: { e in
                guard case let .permissionDenied(path, need, _)? = e as? ClientError else { return false }
                return path == "/home/alice" && need == "write+search"
            }
            await #expect(throws: ClientError.self) { try await team.writeFile("/home/alice/notes.txt", bytes: [1], replace: true) }
            // Anyone else cannot even walk into her directory.
            await #expect { _ = try await bob.readFile("/home/alice/notes.txt") } throws: { e in
                guard case let .permissionDenied(path, need, identity)? = e as? ClientError else { return false }
                return path == "/home/alice" && need == "search" && identity == "uid 2000, gid 2000"
            }
            // Root and trusted clients pass; nothing a refused call tried left a trace.
            #expect(try await root.readFile("/home/alice/notes.txt") == text)
            let home = try await trusted.meta.resolve("/home/alice")
            #expect(try await trusted.meta.readdir(home.id).map(\.name) == ["notes.txt"])

            // The loader, for a user: a sample it may not read stops the index build by name; once
            // readable, the dataset opens, and its index (which it may not store beside a
            // root-owned dataset) is kept in memory.
            _ = try await trusted.meta.mkdirAll("/data/ds/a", mode: 0o755)
            for i in 0..<4 { _ = try await trusted.writeFile("/data/ds/a/s\(i).bin", bytes: [UInt8](repeating: UInt8(i), count: 100)) }
            let locked = try await trusted.writeFile("/data/ds/a/locked.bin", bytes: [9], mode: 0o600)
            await #expect { _ = try await Dataset.open("/data/ds", format: .files(extensions: ["bin"]), client: alice) } throws: { e in
                guard case let .client(.permissionDenied(path, need, _))? = e as? LoaderError else { return false }
                return path == "/data/ds/a/locked.bin" && need == "read"
            }
            _ = try await trusted.meta.setAttributes(locked.id, mode: 0o644)
            let opened = try await Dataset.open("/data/ds", format: .files(extensions: ["bin"]), client: alice)
            #expect(opened.count == 5)
            await #expect(throws: ClientError.self) { _ = try await trusted.meta.resolve("/data/ds/.granary") }
            // Built by root, the stored index serves the user too.
            _ = try await Dataset.open("/data/ds", format: .files(extensions: ["bin"]), client: root)
            #expect(try await Dataset.open("/data/ds", format: .files(extensions: ["bin"]), client: alice).indexReused)
        }

        static func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
            let start = Date()
            while Date().timeIntervalSince(start) < seconds {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return condition()
        }

        static func granary(_ arguments: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ClusterHarness.binDir + "/granary")
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "granary \(arguments.joined(separator: " ")) exited \(p.terminationStatus)")
        }
    }
}

/// A flag one task sets and another polls.
final class ManagedAtomicFlag: Sendable {
    private let value = Synchronization.Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
