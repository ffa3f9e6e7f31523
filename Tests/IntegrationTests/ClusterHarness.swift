import Foundation
import GranaryCore
import GranaryManager
import GranaryTestSupport
import GranaryTransport
import GranaryWire
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every suite that starts real processes, one after the other: on a 2-core CI machine several
/// clusters at once starve each other's heartbeats and tests fail for want of CPU, not for a bug.
@Suite(.serialized) enum IntegrationSuites {}

/// Starts real `granaryd` processes (one manager, N storage nodes) on loopback for a test, in a
/// fresh directory, and kills them all when the test ends.
final class ClusterHarness: @unchecked Sendable {
    // @unchecked: the harness is created, used and torn down by one test task; `processes` is
    // only touched from that task.
    let dir: String
    let secretFile: String
    let secret: ClusterSecret
    /// What clients of this cluster use: `[tls]` when the cluster has it.
    let clientSettings: TransportSettings
    let managerEndpoint: Endpoint
    /// Every manager, `manager` first then `manager-2`, `manager-3`… (several share `meta`).
    let managerEndpoints: [Endpoint]
    let heartbeatTimeoutMs: Int
    var nodeEndpoints: [String: Endpoint] = [:]
    var processes: [String: Process] = [:]
    /// The command prefix each process runs under (`ip netns exec HOST` on namespace hosts).
    var prefixes: [String: [String]] = [:]
    /// Manager `i` runs on host `i`, node `n` on host `n - 1` (modulo the hosts), when hosts are given.
    let hosts: NetnsHosts?
    /// Each process's metrics endpoint, when the harness was asked for metrics.
    var metricsEndpoints: [String: Endpoint] = [:]
    let logger: Logger

    static var binDir: String {
        if let d = ProcessInfo.processInfo.environment["GRANARY_BIN_DIR"] { return d }
        // The test bundle is built into the same directory as the executables.
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.path
    }

    init(nodes: Int, drives: Int = 2, heartbeatTimeoutMs: Int = 1500, repair: DaemonConfig.Repair = DaemonConfig.Repair(),
         health: HealthPolicy = HealthPolicy(), faultInjection: Bool = false, managers: Int = 1, meta: String? = nil, leaseMs: Int = 2_000,
         hosts: NetnsHosts? = nil, metrics: Bool = false, tls: TLSSettings? = nil, clientTLS: TLSSettings? = nil) throws {
        self.hosts = hosts
        var clientSide = TransportSettings()
        clientSide.tls = clientTLS
        clientSettings = clientSide
        let tlsSection = tls.map(DaemonConfig.tlsTOML) ?? ""
        var template = Array("/tmp/granary-it-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        secretFile = dir + "/cluster.secret"
        secret = ClusterSecret.generate()
        try secret.save(path: secretFile)
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
        let endpoints = try (0..<max(managers, 1)).map { i throws(TransportError) in try ClusterEndpoints.manager(i, on: hosts) }
        managerEndpoints = endpoints
        managerEndpoint = endpoints[0]
        var l = Logger(label: "it")
        l.logLevel = .critical
        logger = l
        for (i, ep) in endpoints.enumerated() {
            let name = ClusterEndpoints.managerName(i)
            let shared = meta.map { DaemonConfig.SharedMeta(meta: $0, id: name, managers: endpoints, leaseMs: leaseMs) }
            try FileIO.writeAtomically("\(dir)/\(name).toml", DaemonConfig.managerTOML(
                secretFile: secretFile, listen: ep, dataDir: "\(dir)/\(name)", heartbeatTimeoutMs: heartbeatTimeoutMs, repair: repair,
                health: health, faultInjection: faultInjection, shared: shared) + (try metricsSection(name, metrics)) + tlsSection)
            try start(name, config: "\(dir)/\(name).toml", prefix: hosts?.exec(i % (hosts?.count ?? 1)) ?? [])
        }
        for n in 1...nodes {
            let name = "node-\(n)"
            let ep = try ClusterEndpoints.storage(n - 1, on: hosts)
            nodeEndpoints[name] = ep
            let driveList = (0..<drives).map { DaemonConfig.Drive(name: "d\($0)", path: "\(dir)/\(name)/d\($0)") }
            for d in driveList { try FileIO.makeDirectories(d.path) }
            try FileIO.writeAtomically("\(dir)/\(name).toml", DaemonConfig.storageTOML(
                secretFile: secretFile, managers: endpoints, node: NodeID(name)!, listen: ep,
                heartbeatIntervalMs: heartbeatTimeoutMs / 5, drives: driveList, faultInjection: faultInjection) + (try metricsSection(name, metrics)) + tlsSection)
            try start(name, config: "\(dir)/\(name).toml", prefix: hosts?.exec((n - 1) % (hosts?.count ?? 1)) ?? [])
        }
    }

    /// A `[metrics]` section on a free loopback port for process `name` (none when `on` is false).
    func metricsSection(_ name: String, _ on: Bool) throws -> String {
        guard on else { return "" }
        let ep = Endpoint(host: "127.0.0.1", port: try LoopbackStream.freePort())
        metricsEndpoints[name] = ep
        return "\n[metrics]\nlisten = \"\(ep)\"\n"
    }



    func start(_ name: String, config: String, prefix: [String] = []) throws {
        let p = Process()
        let command = prefix + [Self.binDir + "/granaryd", "--config", config, "--log-level", "info"]
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        prefixes[name] = prefix
        let log = "\(dir)/\(name).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        h.seekToEndOfFile()
        p.standardOutput = h
        p.standardError = h
        try p.run()
        processes[name] = p
    }

    func restart(_ name: String) throws { try start(name, config: "\(dir)/\(name).toml", prefix: prefixes[name] ?? []) }

    func kill9(_ name: String) {
        guard let p = processes[name] else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func manager() -> ManagerClient {
        ManagerClient(managers: managerEndpoints, transport: TCPTransport(secret: secret, settings: clientSettings, logger: logger))
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "" }

    /// Polls the cluster map until `condition` holds; returns the seconds it took, or nil at the deadline.
    func waitFor(seconds: Double, _ condition: (ClusterMap) -> Bool) async -> Double? {
        let client = manager()
        defer { client.close() }
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if let map = try? await client.clusterMap(), condition(map) { return Date().timeIntervalSince(start) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        print(await diagnosis(client))
        return nil
    }

    /// What a failed wait saw, printed so a CI log says why: each node's and drive's state, and for
    /// every process that has exited, its status and the end of its log (the directory is removed
    /// at shutdown).
    func diagnosis(_ client: ManagerClient) async -> String {
        var lines = ["cluster \(dir): the wait timed out"]
        do {
            let map = try await client.clusterMap()
            lines.append("map v\(map.version): " + map.nodes.map { "\($0.id.rawValue) \($0.state)" }.joined(separator: ", "))
            let notUp = map.drives.filter { $0.state != .up }
            if !notUp.isEmpty { lines.append("drives not up: " + notUp.map { "\($0.id) \($0.state)" }.joined(separator: ", ")) }
        } catch {
            lines.append("no cluster map: \(error)")
        }
        for (name, p) in processes.sorted(by: { $0.key < $1.key }) where !p.isRunning {
            let tail = log(name).split(separator: "\n").suffix(8).joined(separator: "\n  ")
            lines.append("\(name) exited with status \(p.terminationStatus):\n  \(tail)")
        }
        return lines.joined(separator: "\n")
    }

    func shutdown() {
        for p in processes.values where p.isRunning { p.terminate() }
        for p in processes.values { p.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension ClusterMap {
    func state(of node: String) -> NodeState? { nodes.first { $0.id.rawValue == node }?.state }
    var allUp: Bool { !nodes.isEmpty && nodes.allSatisfy { $0.state == .up } && drives.allSatisfy { $0.state == .up } }
}
