import Foundation
import GranaryCore
import GranaryManager
import GranaryTestSupport
import GranaryTransport
import Logging

/// The cluster a fault drill runs on: managers and storage nodes as separate `granaryd` processes,
/// either on loopback (the embedded variant) or one host each in network namespaces (`hosts`),
/// with fault injection on. Unlike `LocalCluster` it can kill one process with SIGKILL and start it
/// again from the same config, and it can put one drive on a small tmpfs (for the full-drive fault).
///
/// Guarantees: `init` either returns with every process started or stops those it started,
/// unmounts what it mounted and throws; `stop` terminates every process still running, waits for
/// each and unmounts the tmpfs (calling it again does nothing more). Used from one task only.
final class DrillCluster {
    let dir: String
    let secretFile: String
    let managerEndpoints: [Endpoint]
    let nodeNames: [String]
    let drivesPerNode: Int
    let hosts: NetnsHosts?
    /// The drive on a tmpfs, when it could be mounted; `tmpfsNote` says why not otherwise.
    private(set) var tmpfsDrive: DriveID?
    private(set) var tmpfsNote: String?
    private var mounted: [String] = []
    private var processes: [String: Process] = [:]
    private var commands: [String: [String]] = [:]
    let logger: Logger

    /// Writes the configs and starts every process. `meta`: a shared PostgreSQL URL (several
    /// managers) or nil (one manager, SQLite). `tmpfs`: the drive to mount a tmpfs of
    /// `tmpfsBytes` on before its node starts.
    init(dir: String, nodes: Int, drives: Int, managers: Int, meta: String?, leaseMs: Int, hosts: NetnsHosts?,
         heartbeatTimeoutMs: Int, repair: DaemonConfig.Repair, health: HealthPolicy, tmpfs: DriveID?, tmpfsBytes: Int) throws(DrillError) {
        self.dir = dir
        self.drivesPerNode = drives
        self.hosts = hosts
        secretFile = dir + "/cluster.secret"
        nodeNames = (1...max(nodes, 1)).map { "node-\($0)" }
        var l = Logger(label: "drill")
        l.logLevel = .critical
        logger = l
        do {
            try FileIO.makeDirectories(dir + "/logs")
            try ClusterSecret.generate().save(path: secretFile)
            managerEndpoints = try (0..<max(managers, 1)).map { i throws(TransportError) in try ClusterEndpoints.manager(i, on: hosts) }
        } catch {
            throw .setup("cannot prepare \(dir): \(error)")
        }
        do throws(DrillError) {
            for (i, ep) in managerEndpoints.enumerated() {
                let name = ClusterEndpoints.managerName(i)
                let shared = meta.map { DaemonConfig.SharedMeta(meta: $0, id: name, managers: managerEndpoints, leaseMs: leaseMs) }
                let config = "\(dir)/\(name).toml"
                try write(config, DaemonConfig.managerTOML(
                    secretFile: secretFile, listen: ep, dataDir: "\(dir)/\(name)", heartbeatTimeoutMs: heartbeatTimeoutMs,
                    repair: repair, health: health, faultInjection: true, shared: shared))
                try start(name, prefix: hosts.map { $0.exec(i % $0.count) } ?? [], config: config)
            }
            for (n, name) in nodeNames.enumerated() {
                guard let id = NodeID(name) else { throw DrillError.setup("internal: bad node id \(name)") }
                let listen: Endpoint
                do { listen = try ClusterEndpoints.storage(n, on: hosts) } catch { throw DrillError.setup("no free port: \(error)") }
                let driveList = (0..<drives).map { DaemonConfig.Drive(name: "d\($0)", path: "\(dir)/\(name)/d\($0)") }
                for d in driveList {
                    do { try FileIO.makeDirectories(d.path) } catch { throw DrillError.setup("cannot create \(d.path): \(error)") }
                    if let tmpfs, tmpfs.node.rawValue == name, tmpfs.name == d.name { mountTmpfs(tmpfs, d.path, bytes: tmpfsBytes) }
                }
                let config = "\(dir)/\(name).toml"
                try write(config, DaemonConfig.storageTOML(
                    secretFile: secretFile, managers: managerEndpoints, node: id, listen: listen,
                    heartbeatIntervalMs: max(heartbeatTimeoutMs / 5, 50), drives: driveList, faultInjection: true))
                try start(name, prefix: hosts.map { $0.exec(n % $0.count) } ?? [], config: config)
            }
        } catch {
            stop()
            throw error
        }
    }

    var managerNames: [String] { managerEndpoints.indices.map(ClusterEndpoints.managerName) }

    /// The directory of drive `drive` of node `node`.
    func drivePath(_ drive: DriveID) -> String { "\(dir)/\(drive.node.rawValue)/\(drive.name)" }

    private func write(_ path: String, _ text: String) throws(DrillError) {
        do { try FileIO.writeAtomically(path, text) } catch { throw .setup("cannot write \(path): \(error)") }
    }

    private func mountTmpfs(_ drive: DriveID, _ path: String, bytes: Int) {
        do {
            try DrillShell.run(["/usr/bin/mount", "-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path])
            mounted.append(path)
            tmpfsDrive = drive
        } catch {
            tmpfsNote = "no tmpfs could be mounted on \(path) (\(error)); the full-drive scenario is skipped"
        }
    }

    private func start(_ name: String, prefix: [String], config: String) throws(DrillError) {
        let command = prefix + [LocalCluster.siblingExecutable("granaryd"), "--config", config]
        commands[name] = command
        try launch(name)
    }

    private func launch(_ name: String) throws(DrillError) {
        guard let command = commands[name], let program = command.first else { throw .setup("internal: no command for \(name)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = Array(command.dropFirst())
        let log = "\(dir)/logs/\(name).log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
        } catch {
            throw .setup("cannot start \(name): \(error)")
        }
        processes[name] = p
    }

    /// Kills `name` with SIGKILL (no chance to flush or say goodbye) and waits for it.
    func kill9(_ name: String) {
        guard let p = processes[name], p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Starts `name` again from its config (its log goes on in the same file).
    func restart(_ name: String) throws(DrillError) { try launch(name) }

    /// The first process that exited without the drill killing it, with its status.
    func unexpectedExit(except killed: Set<String>) -> (name: String, status: Int32)? {
        processes.first { !killed.contains($0.key) && !$0.value.isRunning }.map { ($0.key, $0.value.terminationStatus) }
    }

    func stop() {
        for p in processes.values where p.isRunning { p.terminate() }
        for p in processes.values { p.waitUntilExit() }
        for path in mounted { _ = try? DrillShell.run(["/usr/bin/umount", "-l", path]) }
        mounted = []
    }

    /// A manager client over a transport of its own; close it when done.
    func managerClient() throws(DrillError) -> ManagerClient {
        ManagerClient(managers: managerEndpoints, transport: TCPTransport(secret: try secret(), logger: logger))
    }

    func secret() throws(DrillError) -> ClusterSecret {
        do { return try ClusterSecret.load(path: secretFile) } catch { throw .setup("cannot read \(secretFile): \(error)") }
    }

    /// The last `lines` lines of `name`'s log, for an error report.
    func logTail(_ name: String, lines: Int = 20) -> String {
        let log = (try? FileIO.readString("\(dir)/logs/\(name).log")) ?? ""
        return log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
    }
}
