import ArgumentParser
import Foundation
import GranaryClient
import GranaryFUSE
import GranaryCore
import GranaryTransport
import Logging

/// `granary up`: an embedded cluster on this machine — one manager and N storage nodes, each a
/// separate `granaryd` process on loopback with D directory drives and SQLite metadata — in the
/// foreground until Ctrl-C (or SIGTERM), when it stops every process it started.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a local cluster (manager + storage nodes as processes on loopback).")

    @Option(help: "Directory for the cluster's secret, configs, drives, metadata and logs.")
    var data = "/var/lib/granary/local"

    @Option(help: "Number of storage nodes.")
    var nodes = 3

    @Option(help: "Directory drives per storage node.")
    var drives = 2

    @Option(help: "Manager port (storage nodes take the next ones); 0 picks free ports.")
    var port: UInt16 = 7400

    @Option(help: "Heartbeat timeout after which a silent node is marked down (ms).")
    var heartbeatTimeoutMs = 5000

    @Option(help: "Rebuild write limit of the manager, MB/s (see rebuild_mb_per_s in conf/granaryd.toml).")
    var rebuildMbPerS = 200

    @Option(help: "A node down this long has its data rebuilt elsewhere (ms; failed and drained drives: at once).")
    var downOutMs = 600_000

    @Option(help: "Mount the cluster here (FUSE) once it is up, show the sample dataset read through it, and unmount at stop.")
    var mount: String?

    @Option(help: "Where to write the client config other commands read (default: $GRANARY_CONFIG or ~/.config/granary/client.toml).")
    var clientConfig: String?

    @Option(help: "How long to wait for every node to come up (seconds).")
    var readyTimeout = 60

    @Option(help: "Where in Granary to import the sample dataset once the cluster is up.")
    var sample = "/datasets/sample"

    @Flag(help: "Do not import the sample dataset.")
    var noSample = false

    func validate() throws {
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be 1...64") }
        guard (1...64).contains(drives) else { throw ValidationError("--drives must be 1...64") }
        guard (1...100_000).contains(rebuildMbPerS) else { throw ValidationError("--rebuild-mb-per-s must be 1...100000") }
        guard (100...86_400_000).contains(downOutMs) else { throw ValidationError("--down-out-ms must be 100...86400000") }
    }

    func run() async throws {
        let signals = SignalWatch()
        signal(SIGPIPE, SIG_IGN)
        let cluster: LocalCluster
        do {
            var repair = DaemonConfig.Repair()
            repair.rebuildMBps = rebuildMbPerS
            repair.downOutMs = downOutMs
            cluster = try LocalCluster(dir: data, nodes: nodes, drives: drives, port: port, heartbeatTimeoutMs: heartbeatTimeoutMs, repair: repair)
        } catch { throw CLIError("cannot start the cluster: \(error)") }
        let dir = cluster.dir
        let managerEndpoint = cluster.managerEndpoint
        do {
            let client = ClientConfig(file: clientConfig ?? ClientConfig.defaultPath, managers: [managerEndpoint], secretFile: cluster.secretFile)
            try FileIO.makeDirectories(FileIO.parent(of: client.file))
            try FileIO.writeAtomically(client.file, client.toml)
            try FileIO.writeAtomically(dir + "/client.toml", client.toml)
            print("granary: started manager on \(managerEndpoint) and \(nodes) storage nodes (logs in \(dir)/logs)")
            print("granary: client config written to \(client.file)")
        } catch {
            cluster.stop()
            throw CLIError("cannot start the cluster: \(error)")
        }

        // Wait until every node and drive reports up, showing progress.
        var logger = Logger(label: "granary")
        logger.logLevel = .critical
        let secret: ClusterSecret
        let map: ClusterMap
        do {
            secret = try cluster.secret()
            map = try await cluster.waitUntilReady(timeoutSeconds: readyTimeout, logger: logger)
        } catch {
            cluster.stop()
            throw error
        }
        let s = ClusterCommand.Status.summary(map)
        print("granary: cluster is up: \(s.nodesUp) nodes, \(s.drivesUp) drives, \(ByteSize(s.freeBytes)) free (map version \(s.mapVersion))")
        NodeCommand.printNodes(map, json: false)
        if !noSample {
            do { try await importSample(dir: dir, managerEndpoint: managerEndpoint, secret: secret, logger: logger) } catch {
                cluster.stop()
                throw CLIError("importing the sample dataset: \(error)")
            }
        }
        var mounted: (FUSEMount, TCPTransport)?
        if let mount { mounted = await mountAndShow(mount, managerEndpoint: managerEndpoint, secret: secret, logger: logger) }
        print("granary: running in the foreground; press Ctrl-C to stop")
        fflush(nil)

        let signalName = await signals.wait { cluster.exited().map { "\($0.name) exited with status \($0.status)" } }
        print("granary: \(signalName); stopping the cluster")
        if let (m, transport) = mounted {
            m.stop()
            transport.closeAll()
            print("granary: unmounted \(m.mountpoint)")
        }
        cluster.stop()
        print("granary: stopped")
    }

    /// Writes the sample dataset (once) and imports it to `sample`, with a layout the cluster can
    /// hold: 4+2 needs six drives, so a smaller cluster gets the widest layout it has drives for.
    func importSample(dir: String, managerEndpoint: Endpoint, secret: ClusterSecret, logger: Logger) async throws {
        let local = dir + "/sample-dataset"
        try SampleDataset.materialize(local)
        let transport = TCPTransport(secret: secret, logger: logger)
        defer { transport.closeAll() }
        let client = FileClient(managers: [managerEndpoint], transport: transport, logger: logger)
        let total = nodes * drives
        guard total >= 2 else {
            print("granary: not importing the sample dataset: one drive cannot hold an erasure-coded stripe")
            return
        }
        let target = try await client.meta.mkdirAll(sample)
        if total < StripeLayout.default.width {
            let m = min(2, total - 1)
            var layout = try await client.layoutForNewFiles(in: target.id)
            layout.k = total - m
            layout.m = m
            try await client.meta.setLayout(target.id, layout)
        }
        let report = try await Importer(client: client, parallel: 4, verify: true).run(local: local, to: sample) { p in
            if p.filesDone % 100 == 0 || p.filesDone == p.filesTotal {
                FileHandle.standardError.write(Data("granary: sample dataset \(p.phase): \(p.filesDone)/\(p.filesTotal) files\n".utf8))
            }
        }
        print("granary: sample dataset at \(sample): \(report.files + report.skipped) files (\(report.files) imported, \(report.skipped) already there) as \(report.stripes) stripes"
              + "; try `granary ls \(sample)/train`")
    }

    /// Mounts the cluster at `path` and shows the sample dataset through the mount with ordinary
    /// programs (`ls`, `head`, `sha256sum`). A mount that cannot be made is reported, not fatal.
    func mountAndShow(_ path: String, managerEndpoint: Endpoint, secret: ClusterSecret, logger: Logger) async -> (FUSEMount, TCPTransport)? {
        guard FUSELibrary.deviceUsable else {
            print("granary: not mounting at \(path): /dev/fuse cannot be opened here")
            return nil
        }
        try? FileIO.makeDirectories(path)
        let transport = TCPTransport(secret: secret, logger: logger)
        let client = FileClient(managers: [managerEndpoint], transport: transport, logger: logger)
        // The mount reads through the learned cache (memory only: `granary up` leaves no cache
        // directory behind).
        var cacheSettings = CacheSettings()
        cacheSettings.directory = nil
        cacheSettings.memoryBytes = 256 << 20
        if let cache = try? ReadCache(client: client, settings: cacheSettings, namespace: "up", logger: logger) { client.setCache(cache) }
        let m: FUSEMount
        do {
            m = try FUSEMount(mountpoint: path, fileSystem: GranaryFileSystem(client: client, options: MountOptions(), logger: logger), logger: logger)
        } catch {
            print("granary: not mounting at \(path): \(error)")
            transport.closeAll()
            return nil
        }
        m.start()
        print("granary: mounted at \(m.mountpoint) (FUSE); Ctrl-C unmounts it and stops the cluster")
        if !noSample {
            let root = m.mountpoint + sample
            // Ordinary programs, off the cooperative pool: the mount's replies need it.
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Thread {
                    for command in ["ls \(root)/train | head -5", "head -3 \(root)/labels.csv", "ls -l \(root)/shards",
                                    "sha256sum \(root)/shards/shard-0000.tar"] {
                        print("$ " + command.replacingOccurrences(of: m.mountpoint, with: path))
                        fflush(nil)
                        let p = Process()
                        p.executableURL = URL(fileURLWithPath: "/bin/sh")
                        p.arguments = ["-c", command]
                        try? p.run()
                        p.waitUntilExit()
                    }
                    c.resume()
                }.start()
            }
        }
        return (m, transport)
    }
}
