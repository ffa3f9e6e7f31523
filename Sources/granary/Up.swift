import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
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
    }

    func run() async throws {
        let signals = SignalWatch()
        signal(SIGPIPE, SIG_IGN)
        let dir = data.hasPrefix("/") ? data : FileManager.default.currentDirectoryPath + "/" + data
        let secretFile = dir + "/cluster.secret"
        do {
            try FileIO.makeDirectories(dir + "/logs")
            if !FileIO.exists(secretFile) { try ClusterSecret.generate().save(path: secretFile) }
        } catch { throw CLIError("\(error)") }

        var ports: [UInt16] = []
        do {
            for i in 0...nodes { ports.append(port == 0 ? try LoopbackStream.freePort() : port + UInt16(i)) }
        } catch { throw CLIError("\(error)") }
        let managerEndpoint = Endpoint(host: "127.0.0.1", port: ports[0])

        var processes: [(name: String, process: Process)] = []
        let daemon = Self.siblingExecutable("granaryd")
        func start(_ name: String, _ config: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: daemon)
            p.arguments = ["--config", config]
            let log = dir + "/logs/\(name).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            processes.append((name, p))
        }
        func stopAll() {
            for (_, p) in processes where p.isRunning { p.terminate() }
            for (_, p) in processes { p.waitUntilExit() }
        }

        do {
            let managerConfig = dir + "/manager.toml"
            try FileIO.writeAtomically(managerConfig, DaemonConfig.managerTOML(
                secretFile: secretFile, listen: managerEndpoint, dataDir: dir + "/manager", heartbeatTimeoutMs: heartbeatTimeoutMs))
            try start("manager", managerConfig)
            for n in 1...nodes {
                let name = "node-\(n)"
                guard let id = NodeID(name) else { throw CLIError("internal: bad node id \(name)") }
                let drives = (0..<drives).map { DaemonConfig.Drive(name: "d\($0)", path: "\(dir)/\(name)/d\($0)") }
                for d in drives { try FileIO.makeDirectories(d.path) }
                let config = "\(dir)/\(name).toml"
                try FileIO.writeAtomically(config, DaemonConfig.storageTOML(
                    secretFile: secretFile, managers: [managerEndpoint], node: id, listen: Endpoint(host: "127.0.0.1", port: ports[n]),
                    heartbeatIntervalMs: max(heartbeatTimeoutMs / 5, 50), drives: drives))
                try start(name, config)
            }
            let client = ClientConfig(file: clientConfig ?? ClientConfig.defaultPath, managers: [managerEndpoint], secretFile: secretFile)
            try FileIO.makeDirectories(FileIO.parent(of: client.file))
            try FileIO.writeAtomically(client.file, client.toml)
            try FileIO.writeAtomically(dir + "/client.toml", client.toml)
            print("granary: started manager on \(managerEndpoint) and \(nodes) storage nodes (logs in \(dir)/logs)")
            print("granary: client config written to \(client.file)")
        } catch {
            stopAll()
            throw CLIError("cannot start the cluster: \(error)")
        }

        // Wait until every node and drive reports up, showing progress.
        var logger = Logger(label: "granary")
        logger.logLevel = .critical
        let secret: ClusterSecret
        do { secret = try ClusterSecret.load(path: secretFile) } catch { stopAll(); throw CLIError("\(error)") }
        let manager = ManagerClient(managers: [managerEndpoint], transport: TCPTransport(secret: secret, logger: logger))
        defer { manager.close() }
        let deadline = Date().addingTimeInterval(Double(readyTimeout))
        var lastLine = ""
        var ready = false
        while Date() < deadline {
            if let dead = processes.first(where: { !$0.process.isRunning }) {
                stopAll()
                throw CLIError("\(dead.name) exited with status \(dead.process.terminationStatus); see \(dir)/logs/\(dead.name).log")
            }
            if let map = try? await manager.clusterMap() {
                let s = ClusterCommand.Status.summary(map)
                let line = "granary: waiting for nodes: \(s.nodesUp)/\(nodes) up, \(s.drivesUp)/\(nodes * drives) drives up"
                if line != lastLine { FileHandle.standardError.write(Data((line + "\n").utf8)); lastLine = line }
                if s.nodesUp == nodes, s.drivesUp == nodes * drives { ready = true; break }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard ready else {
            stopAll()
            throw CLIError("the cluster did not come up within \(readyTimeout)s; see \(dir)/logs")
        }
        if let map = try? await manager.clusterMap() {
            let s = ClusterCommand.Status.summary(map)
            print("granary: cluster is up: \(s.nodesUp) nodes, \(s.drivesUp) drives, \(ByteSize(s.freeBytes)) free (map version \(s.mapVersion))")
            NodeCommand.printNodes(map, json: false)
        }
        if !noSample {
            do { try await importSample(dir: dir, managerEndpoint: managerEndpoint, secret: secret, logger: logger) } catch {
                stopAll()
                throw CLIError("importing the sample dataset: \(error)")
            }
        }
        print("granary: running in the foreground; press Ctrl-C to stop")
        fflush(nil)

        let running = processes
        let signalName = await signals.wait {
            running.first { !$0.process.isRunning }.map { "\($0.name) exited with status \($0.process.terminationStatus)" }
        }
        print("granary: \(signalName); stopping the cluster")
        stopAll()
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

    /// The executable named `name` beside this one (both are built into the same directory).
    static func siblingExecutable(_ name: String) -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
    }
}
