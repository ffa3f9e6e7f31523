import Foundation
import GranaryClient
import GranaryCore
import GranaryManager
import GranaryTransport
import Logging

/// An embedded cluster on this machine, as `granary up` runs it and `granary bench ec` imports
/// into: one manager and `nodes` storage nodes, each a separate `granaryd` process on loopback with
/// `drives` directory drives under `dir` (secret, configs, drives, metadata and logs all there).
///
/// Guarantees: `start` either returns with every process started or stops the ones it had started
/// and throws; `stop` terminates every process it started and waits for each to exit (calling it
/// again does nothing more).
final class LocalCluster {
    let dir: String
    let nodes: Int
    let drives: Int
    let managerEndpoint: Endpoint
    let secretFile: String
    private(set) var processes: [(name: String, process: Process)] = []

    /// Creates `dir` (absolute, or relative to the working directory) with a secret unless it has
    /// one, writes the manager's and the nodes' configs and starts every process. `port` 0 picks
    /// free ports; otherwise the manager gets `port` and the nodes the ones after it.
    init(dir: String, nodes: Int, drives: Int, port: UInt16, heartbeatTimeoutMs: Int, repair: DaemonConfig.Repair = DaemonConfig.Repair(),
         injectReadLatencyMs: Int = 0, health: HealthPolicy = HealthPolicy(), faultInjection: Bool = false) throws {
        let dir = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        self.dir = dir
        self.nodes = nodes
        self.drives = drives
        self.secretFile = dir + "/cluster.secret"
        try FileIO.makeDirectories(dir + "/logs")
        if !FileIO.exists(secretFile) { try ClusterSecret.generate().save(path: secretFile) }
        var ports: [UInt16] = []
        for i in 0...nodes { ports.append(port == 0 ? try LoopbackStream.freePort() : port + UInt16(i)) }
        managerEndpoint = Endpoint(host: "127.0.0.1", port: ports[0])

        do {
            let managerConfig = dir + "/manager.toml"
            try FileIO.writeAtomically(managerConfig, DaemonConfig.managerTOML(
                secretFile: secretFile, listen: managerEndpoint, dataDir: dir + "/manager", heartbeatTimeoutMs: heartbeatTimeoutMs, repair: repair,
                health: health, faultInjection: faultInjection))
            try start("manager", managerConfig)
            for n in 1...nodes {
                let name = "node-\(n)"
                guard let id = NodeID(name) else { throw CLIError("internal: bad node id \(name)") }
                let driveList = (0..<drives).map { DaemonConfig.Drive(name: "d\($0)", path: "\(dir)/\(name)/d\($0)") }
                for d in driveList { try FileIO.makeDirectories(d.path) }
                let config = "\(dir)/\(name).toml"
                try FileIO.writeAtomically(config, DaemonConfig.storageTOML(
                    secretFile: secretFile, managers: [managerEndpoint], node: id, listen: Endpoint(host: "127.0.0.1", port: ports[n]),
                    heartbeatIntervalMs: max(heartbeatTimeoutMs / 5, 50), drives: driveList, injectReadLatencyMs: injectReadLatencyMs,
                    faultInjection: faultInjection))
                try start(name, config)
            }
        } catch {
            stop()
            throw error
        }
    }

    private func start(_ name: String, _ config: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.siblingExecutable("granaryd"))
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

    /// Terminates every process still running and waits for all of them.
    func stop() {
        for (_, p) in processes where p.isRunning { p.terminate() }
        for (_, p) in processes { p.waitUntilExit() }
    }

    /// The first process that has exited, with its status, if any has.
    func exited() -> (name: String, status: Int32)? {
        processes.first { !$0.process.isRunning }.map { ($0.name, $0.process.terminationStatus) }
    }

    /// Each process's state and the last `lines` lines of its log, for an error report.
    func diagnosis(lines: Int = 15) -> String {
        processes.map { name, p in
            let state = p.isRunning ? "running" : "exited with status \(p.terminationStatus)"
            let log = (try? FileIO.readString(dir + "/logs/\(name).log")) ?? ""
            let tail = log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
            return "== \(name) (\(state)), last lines of \(dir)/logs/\(name).log:\n\(tail)"
        }.joined(separator: "\n")
    }

    /// Waits until every node and drive reports up, printing each change of the count on stderr,
    /// and returns the cluster map then. Throws (leaving the processes running: the caller stops
    /// them) when a process exits or `timeoutSeconds` pass first.
    func waitUntilReady(timeoutSeconds: Int, logger: Logger) async throws -> ClusterMap {
        let manager = ManagerClient(managers: [managerEndpoint], transport: TCPTransport(secret: try secret(), logger: logger))
        defer { manager.close() }
        let deadline = Date().addingTimeInterval(Double(timeoutSeconds))
        var lastLine = ""
        while Date() < deadline {
            if let dead = exited() {
                throw CLIError("\(dead.name) exited with status \(dead.status); see \(dir)/logs/\(dead.name).log")
            }
            if let map = try? await manager.clusterMap() {
                let s = ClusterCommand.Status.summary(map)
                let line = "granary: waiting for nodes: \(s.nodesUp)/\(nodes) up, \(s.drivesUp)/\(nodes * drives) drives up"
                if line != lastLine { FileHandle.standardError.write(Data((line + "\n").utf8)); lastLine = line }
                if s.nodesUp == nodes, s.drivesUp == nodes * drives { return map }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("the cluster did not come up within \(timeoutSeconds)s; see \(dir)/logs")
    }

    /// A file client of this cluster over a transport of its own; close the transport when done.
    func fileClient(settings: FileClientSettings = .init(), logger: Logger) throws -> (FileClient, TCPTransport) {
        let transport = TCPTransport(secret: try secret(), logger: logger)
        return (FileClient(managers: [managerEndpoint], transport: transport, settings: settings, logger: logger), transport)
    }

    /// The cluster's secret, read back from `secretFile`.
    func secret() throws -> ClusterSecret {
        do { return try ClusterSecret.load(path: secretFile) } catch { throw CLIError("\(error)") }
    }

    /// The executable named `name` beside this one (both are built into the same directory).
    static func siblingExecutable(_ name: String) -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
    }
}
