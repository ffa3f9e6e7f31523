import GranaryClient
import GranaryCore
import GranaryMeta
import GranaryTransport
import Logging
import Synchronization

/// A running manager: the metadata store, the cluster manager, its listener, and — while it leads
/// (`LeaderElection`; a lone manager leads at once) — the liveness check that marks silent nodes
/// down, the repair service (rebuild, scrub, collection) and the drive-health monitor.
///
/// Several managers may share one PostgreSQL database: all serve metadata and the map, one leads.
/// When the leader stops leading its background work is cancelled; the next leader builds its
/// own from what the database holds (repair passes resume, health events and drive states carry over).
public final class ManagerServer: Sendable {
    public let manager: ClusterManager
    public let election: LeaderElection
    let work: LeaderWork
    let server: any TransportServer
    let electionTask: Task<Void, Never>
    let metricsTask: Task<Void, Never>

    public var endpoint: Endpoint { server.endpoint }

    /// Opens (or creates) the metadata (`meta` in the config, else SQLite in `dataDir`) and starts
    /// listening. `faultInjection` lets `granary drive inject` through to the nodes.
    public init(config: DaemonConfig.Manager, keys: ClusterKeys, settings: TransportSettings, faultInjection: Bool = false,
                logger: Logger) throws(ManagerStartError) {
        do { try FileIO.makeDirectories(config.dataDir) } catch { throw .dataDir(error) }
        let store: any MetaStore
        do { store = try MetaStores.open(config.meta ?? config.dataDir + "/meta.db") } catch { throw .meta(error) }
        let manager: ClusterManager
        do { manager = try ClusterManager(store: store, heartbeatTimeoutMs: config.heartbeatTimeoutMs, leading: false, logger: logger) } catch { throw .meta(error) }
        self.manager = manager
        // The repair service reads and writes fragments like any client; its metadata calls go to
        // this manager's own listener (only the cluster map: repairs commit to the store directly).
        var fileSettings = FileClientSettings()
        fileSettings.mapMaxAgeMs = 500
        let transport: any Transport
        do { transport = try Transports.client(keys: keys, settings: settings, logger: logger) } catch { throw .listen(error) }
        let files = FileClient(managers: [config.listen], transport: transport, settings: fileSettings, logger: logger)
        let work = LeaderWork()
        self.work = work
        let name = config.name
        election = LeaderElection(store: store, holder: name, ttlMs: config.leaseMs, logger: logger) { leading in
            guard leading else {
                work.stop()
                await manager.follow()
                return
            }
            // Reading the map may fail while the database is unreachable; the lease is held, so
            // keep trying (the watchdog ends the leadership if the lease runs out meanwhile).
            while !Task.isCancelled {
                do {
                    try await manager.lead()
                    break
                } catch {
                    logger.error("manager \(name) leads but cannot read the cluster map yet: \(error)")
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            let repair = RepairService(store: store, manager: manager, files: files, settings: config.repair, logger: logger)
            let health = HealthService(store: store, manager: manager, transport: transport, policy: config.health,
                                       faultInjection: faultInjection, logger: logger)
            // Check several times per timeout so a dead node is reported within about 1.25 timeouts.
            let period = max(config.heartbeatTimeoutMs / 4, 20)
            let liveness = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(period))
                    do { try await manager.checkLiveness() } catch { logger.error("liveness check could not save the cluster map: \(error)") }
                }
            }
            // Before the repair service scans: an eviction must survive a restart or a failover.
            await health.restoreMarks()
            work.install(repair: repair, health: health, tasks: repair.start() + [health.start(), liveness])
        }
        let election = self.election
        let advertised = Mutex<String>(config.listen.description)
        do {
            server = try Transports.server(listen: config.listen, keys: keys, settings: settings,
                                           handler: ManagerService(manager: manager, work: { work.current },
                                                                   whoLeads: { (name, election.leader.name) },
                                                                   status: { (name, advertised.withLock { $0 }, election.leader.epoch) }),
                                           logger: logger)
        } catch { throw .listen(error) }
        let bound = server.endpoint.description
        advertised.withLock { $0 = bound }
        server.start()
        electionTask = election.start()
        metricsTask = Task {
            while !Task.isCancelled {
                let leading = await manager.leading
                ManagerMetrics.refresh(leading: leading, map: await manager.currentMap(), repair: await work.current?.repair.current)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        logger.info("manager \(name) listening on \(server.endpoint), metadata in \(config.meta.map { MetaStores.redacted($0) } ?? config.dataDir + "/meta.db")")
    }

    /// Stops leading (releasing the lease, so another manager takes over at once), then listening.
    public func shutdown() async {
        electionTask.cancel()
        await electionTask.value
        stop()
    }

    /// Stops at once, without releasing the lease (another manager takes over when it runs out).
    public func stop() {
        metricsTask.cancel()
        electionTask.cancel()
        work.stop()
        server.stop()
    }
}

/// The background work of a leading manager, installed when it starts leading and cancelled when it stops.
final class LeaderWork: Sendable {
    private struct Active {
        var repair: RepairService
        var health: HealthService
        var tasks: [Task<Void, Never>]
    }

    private let active = Mutex<Active?>(nil)

    var current: (repair: RepairService, health: HealthService)? {
        active.withLock { a in a.map { ($0.repair, $0.health) } }
    }

    func install(repair: RepairService, health: HealthService, tasks: [Task<Void, Never>]) {
        let old = active.withLock { a in
            defer { a = Active(repair: repair, health: health, tasks: tasks) }
            return a
        }
        for t in old?.tasks ?? [] { t.cancel() }
    }

    func stop() {
        let old = active.withLock { a in
            defer { a = nil }
            return a
        }
        for t in old?.tasks ?? [] { t.cancel() }
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
