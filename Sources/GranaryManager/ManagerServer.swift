import GranaryClient
import GranaryCore
import GranaryMeta
import GranaryTransport
import Logging

/// A running manager: the metadata store, the cluster manager, its TCP listener, the liveness
/// check that marks silent nodes down, and the repair service (rebuild, scrub, collection).
public final class ManagerServer: Sendable {
    public let manager: ClusterManager
    public let repair: RepairService
    public let health: HealthService
    let server: any TransportServer
    let livenessTask: Task<Void, Never>
    let repairTasks: [Task<Void, Never>]

    public var endpoint: Endpoint { server.endpoint }

    /// Opens (or creates) the SQLite metadata in `dataDir` and starts listening. `faultInjection`
    /// lets `granary drive inject` through to the nodes (the config's `fault_injection`).
    public init(config: DaemonConfig.Manager, secret: ClusterSecret, settings: TransportSettings, faultInjection: Bool = false,
                logger: Logger) throws(ManagerStartError) {
        do { try FileIO.makeDirectories(config.dataDir) } catch { throw .dataDir(error) }
        let store: SQLiteMetaStore
        do { store = try SQLiteMetaStore(path: config.dataDir + "/meta.db") } catch { throw .meta(error) }
        let manager: ClusterManager
        do { manager = try ClusterManager(store: store, heartbeatTimeoutMs: config.heartbeatTimeoutMs, logger: logger) } catch { throw .meta(error) }
        self.manager = manager
        // The repair service reads and writes fragments like any client; its metadata calls go to
        // this manager's own listener (only the cluster map: repairs commit to the store directly).
        var fileSettings = FileClientSettings()
        fileSettings.mapMaxAgeMs = 500
        let transport: any Transport
        do { transport = try Transports.client(secret: secret, settings: settings, logger: logger) } catch { throw .listen(error) }
        let files = FileClient(managers: [config.listen], transport: transport, settings: fileSettings, logger: logger)
        let repair = RepairService(store: store, manager: manager, files: files, settings: config.repair, logger: logger)
        self.repair = repair
        let health = HealthService(store: store, manager: manager, transport: transport, policy: config.health,
                                   faultInjection: faultInjection, logger: logger)
        self.health = health
        do {
            server = try Transports.server(listen: config.listen, secret: secret, settings: settings,
                                           handler: ManagerService(manager: manager, repair: repair, health: health), logger: logger)
        } catch { throw .listen(error) }
        // Check several times per timeout so a dead node is reported within about 1.25 timeouts.
        let period = max(config.heartbeatTimeoutMs / 4, 20)
        livenessTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(period))
                do { try await manager.checkLiveness() } catch { logger.error("liveness check could not save the cluster map: \(error)") }
            }
        }
        server.start()
        repairTasks = repair.start() + [health.start()]
        logger.info("manager listening on \(server.endpoint), metadata in \(config.dataDir)/meta.db")
    }

    public func stop() {
        livenessTask.cancel()
        for t in repairTasks { t.cancel() }
        server.stop()
    }
}

/// Why a manager could not start.
public enum ManagerStartError: Error, CustomStringConvertible {
    case dataDir(FileIO.Failure)
    case meta(MetaError)
    case listen(TransportError)

    public var description: String {
        switch self {
        case let .dataDir(f): return "manager data directory: \(f)"
        case let .meta(e): return "manager metadata: \(e)"
        case let .listen(e): return "manager: \(e)"
        }
    }
}
