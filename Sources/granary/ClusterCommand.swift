import ArgumentParser
import Foundation
import GranaryCore
import GranaryManager
import GranaryMeta
import GranaryTransport

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Create a cluster and see its state.",
                                                    subcommands: [Init.self, Status.self, RotateSecret.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate the cluster secret (mode 0600) that every node and client proves it knows.")

        @Option(help: "Where to write the secret.")
        var secretFile = "/etc/granary/cluster.secret"

        @Flag(help: "Replace an existing secret (every node and client must then get the new one).")
        var force = false

        @Option(help: ArgumentHelp("Also prepare the metadata database the managers will share: a postgres://user[:password]@host[:port]/database URL (or an SQLite file). Its schema is created or migrated and the cluster's id recorded; put the same URL in each manager's [manager] meta.", valueName: "url"))
        var meta: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            // The database first: a bad URL or an unreachable server leaves no new secret behind.
            var info: ClusterInfo?
            if let meta {
                do {
                    let store = try MetaStores.open(meta)
                    if try store.clusterInfo() == nil {
                        try store.initializeCluster(id: UUID().uuidString.lowercased(), createdAt: Date().timeIntervalSince1970)
                    }
                    info = try store.clusterInfo()
                } catch { throw CLIError("\(error)") }
            }
            do {
                try FileIO.makeDirectories(FileIO.parent(of: secretFile), mode: 0o700)
                try ClusterSecret.generate().save(path: secretFile, overwrite: force)
            } catch { throw CLIError("\(error)") }
            if json {
                var out = ["secret_file": secretFile, "mode": "0600"]
                if let meta, let info {
                    out["meta"] = MetaStores.redacted(meta)
                    out["cluster_id"] = info.id
                }
                print(Output.json(out))
            } else {
                print("wrote cluster secret to \(secretFile) (mode 0600); give it to every node and client")
                if let meta, let info {
                    print("metadata ready in \(MetaStores.redacted(meta)) (cluster \(info.id)); set meta = \"<that URL>\" in every manager's [manager] section")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Nodes, drives and capacity of the cluster.")
        @OptionGroup var options: ClientOptions

        struct Summary: Codable {
            var mapVersion: UInt64
            var nodesUp: Int
            var nodesTotal: Int
            var drivesUp: Int
            var drivesTotal: Int
            var capacityBytes: Int64
            var usedBytes: Int64
            var freeBytes: Int64
            var healthy: Bool
            var nodes: [NodeInfo]
            /// Every configured manager: which leads, which follow, which do not answer.
            var managers: [ManagerStatus] = []
        }

        static func summary(_ map: ClusterMap) -> Summary {
            let drives = map.drives
            return Summary(mapVersion: map.version, nodesUp: map.nodes.filter { $0.state == .up }.count, nodesTotal: map.nodes.count,
                           drivesUp: drives.filter { $0.state == .up }.count, drivesTotal: drives.count,
                           capacityBytes: drives.reduce(0) { $0 + $1.capacityBytes }, usedBytes: drives.reduce(0) { $0 + $1.usedBytes },
                           freeBytes: drives.reduce(0) { $0 + $1.freeBytes },
                           healthy: !map.nodes.isEmpty && map.nodes.allSatisfy { $0.state == .up } && drives.allSatisfy { $0.state == .up },
                           nodes: map.nodes)
        }

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            let map: ClusterMap
            do { map = try await client.clusterMap() } catch { throw CLIError("\(error)") }
            var s = Self.summary(map)
            s.managers = await client.managerStatuses()
            if options.json {
                print(Output.json(s))
                return
            }
            print("cluster map version \(s.mapVersion): \(s.healthy ? "healthy" : "DEGRADED")")
            print("nodes:  \(s.nodesUp)/\(s.nodesTotal) up")
            print("drives: \(s.drivesUp)/\(s.drivesTotal) up")
            print("space:  \(ByteSize(s.usedBytes)) used, \(ByteSize(s.freeBytes)) free of \(ByteSize(s.capacityBytes))")
            for m in s.managers {
                if let why = m.unreachable {
                    print("manager \(m.endpoint): UNREACHABLE (\(why))")
                } else {
                    print("manager \(m.name) (\(m.endpoint)): \(m.leading ? "leader" : "follower" + (m.leader.map { ", \($0) leads" } ?? ", no leader yet")), lease epoch \(m.epoch), map version \(m.mapVersion)")
                }
            }
            for n in map.nodes where n.state != .up { print("  node \(n.id) is \(n.state) (last heartbeat \(Output.age(n.lastHeartbeat)))") }
            for d in map.drives where d.state != .up { print("  drive \(d.id) is \(d.state)\(d.problem.map { ": \($0)" } ?? "")") }
        }
    }
}

/// `granary cluster rotate-secret`: replaces the cluster secret without downtime, in two steps.
/// The first makes a new current secret and keeps the old one as the previous (still accepted);
/// once every node and client has that file (daemons and mounts re-read it within seconds),
/// `--finish` drops the old secret. The cluster's id for the client cache stays the same.
struct RotateSecret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rotate-secret",
                                                    abstract: "Rotate the cluster secret without downtime (then --finish once every host has the file).")

    @Option(help: "The secret file (default: the one the client config names).")
    var secretFile: String?

    @Option(help: "Client config whose secret_file to rotate (default: $GRANARY_CONFIG or ~/.config/granary/client.toml).")
    var config: String?

    @Flag(help: "Second step: drop the previous secret (every node and client must have the current file by now).")
    var finish = false

    @Flag(help: "Print JSON (never the secrets).")
    var json = false

    struct Outcome: Codable {
        var secretFile: String
        var step: String
        var secrets: Int
        var clusterID: String
    }

    func run() async throws {
        let path: String
        if let secretFile {
            path = secretFile
        } else {
            do { path = try ClientConfig.load(path: config ?? ClientConfig.defaultPath).secretFile } catch {
                throw CLIError("\(error)\n(pass --secret-file)")
            }
        }
        var keyring: ClusterKeyring
        do { keyring = try ClusterSecret.loadKeyring(path: path) } catch { throw CLIError("\(error)") }
        let id = keyring.clusterID ?? Authenticator.fingerprint(of: keyring.current)
        if finish {
            guard keyring.previous != nil else { throw CLIError("\(path) holds one secret: no rotation is in progress") }
            keyring = ClusterKeyring(current: keyring.current, previous: nil, clusterID: id)
        } else {
            guard keyring.previous == nil else {
                throw CLIError("\(path) already holds a previous secret: finish that rotation first (granary cluster rotate-secret --finish, once every node and client has this file)")
            }
            keyring = ClusterKeyring(current: ClusterSecret.generate(), previous: keyring.current, clusterID: id)
        }
        do { try FileIO.writeAtomically(path, keyring.text, mode: 0o600) } catch { throw CLIError("cluster secret \(path): \(error)") }
        if json {
            print(Output.jsonLine(Outcome(secretFile: path, step: finish ? "finished" : "started", secrets: keyring.previous == nil ? 1 : 2, clusterID: id)))
        } else if finish {
            print("\(path): the previous secret is dropped; copy this file to every node and client again (daemons and mounts re-read it within seconds)")
        } else {
            print("""
            \(path): new current secret; the previous one is still accepted.
            Next: copy this file (mode 0600) to every node and client; daemons and mounts re-read it within seconds, and
            connections stay up. Then run `granary cluster rotate-secret --finish` and copy the file once more.
            """)
        }
    }
}
