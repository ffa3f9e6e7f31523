import GranaryCore
import GranaryTransport
import GranaryWire
import Logging

/// A running storage node: its drives, its listener (TCP or RDMA), and the heartbeat that registers it with
/// the managers and reports its drives' state and capacity.
///
/// Guarantees the node serves even while no manager is reachable (heartbeats retry every interval,
/// trying each manager in turn), and that a drive which failed to open is reported as failed in
/// every heartbeat rather than stopping the node.
public final class StorageNode: Sendable {
    public let id: NodeID
    public let store: ChunkStore
    let server: any TransportServer
    let service: StorageService
    let heartbeatTask: Task<Void, Never>
    let transport: any Transport

    public var endpoint: Endpoint { server.endpoint }

    /// `faultInjection`: `granary drive inject` may install faults on this node's drives (the
    /// config's `fault_injection`; tests and drills only).
    public init(config: DaemonConfig.Storage, managers: [Endpoint], keys: ClusterKeys,
                settings: TransportSettings, faultInjection: Bool = false, logger: Logger) throws(StorageStartError) {
        id = config.nodeID
        do {
            store = try ChunkStore(node: config.nodeID, drives: config.drives.map { ($0.name, $0.path) }, logger: logger)
        } catch { throw .drives(error) }
        // Temporary files left by a put that a crash interrupted were never visible; remove them
        // now, before serving, since no put of this node can be in flight yet.
        for drive in store.openDrives() {
            do {
                let removed = try drive.collectTemporaryFiles(olderThan: 0)
                if removed > 0 { logger.info("drive \(drive.id): removed \(removed) temporary files left by an interrupted write") }
            } catch {
                // The drive's own requests will report the same error; the node still starts.
                logger.error("drive \(drive.id): cannot clean temporary files: \(error)")
            }
        }
        do {
            // Over RDMA, answers are written from registered buffers straight into the reader's.
            let buffers = BufferPool(registrars: try Transports.answerRegistrars(settings))
            let service = StorageService(store: store, logger: logger, injectReadLatencyMs: config.injectReadLatencyMs, buffers: buffers,
                                         faults: FaultInjector(enabled: faultInjection),
                                         cache: config.chunkCacheBytes > 0 ? ChunkCache(capacityBytes: config.chunkCacheBytes) : nil)
            self.service = service
            server = try Transports.server(listen: config.listen, keys: keys, settings: settings, handler: service, logger: logger)
        } catch { throw .listen(error) }
        // With port 0 in `listen`, advertise the port actually bound.
        let advertise = config.advertise.port == 0 ? Endpoint(host: config.advertise.host, port: server.endpoint.port) : config.advertise
        let transport: any Transport
        do { transport = try Transports.client(keys: keys, settings: settings, logger: logger) } catch { throw .listen(error) }
        self.transport = transport
        let (node, store, interval, service) = (config.nodeID, store, config.heartbeatIntervalMs, self.service)
        let smart = SmartCache(drives: config.drives)
        heartbeatTask = Task {
            let senders = HeartbeatSenders(node: node, transport: transport, logger: logger)
            while !Task.isCancelled {
                let telemetry = service.takeTelemetry()
                let faults = service.faults.installed
                let readings = smart.current()
                let hb = NodeHeartbeat(node: node, address: advertise, drives: store.drives().map { status in
                    var r = Self.report(status)
                    var t = telemetry[status.id.name]
                    switch readings[status.id.name] {
                    case let .reading(s)?: t?.smart = s
                    case let .none(note)?: t?.smartNote = note
                    case nil: t?.smartNote = "SMART not read yet"
                    }
                    r.telemetry = t
                    if faults[status.id.name]?.fail == true {
                        r.condition = .failed
                        r.problem = "injected drive failure (granary drive inject --fail)"
                    }
                    return r
                })
                // Every manager hears every heartbeat: the leader acts on it, the others keep it so
                // that one of them knows which nodes are alive the moment it takes over. Each send
                // runs on its own, so a manager that is dead or cut off delays nobody else's.
                senders.send(hb, to: managers, timeoutMs: max(interval * 5, 1000))
                try? await Task.sleep(for: .milliseconds(interval))
            }
        }
        server.start()
        logger.info("storage node \(node) serving \(config.drives.count) drives on \(server.endpoint)")
    }

    static func report(_ s: DriveStatus) -> DriveReport {
        let condition: DriveReport.Condition
        let problem: String?
        switch s.state {
        case .ok: (condition, problem) = (.ok, nil)
        case .readOnly: (condition, problem) = (.readOnly, "read-only file system")
        case let .failed(reason): (condition, problem) = (.failed, reason.description)
        }
        return DriveReport(name: s.id.name, condition: condition, problem: problem, capacityBytes: s.usage?.capacityBytes ?? 0,
                           usedBytes: s.usage?.usedBytes ?? 0, freeBytes: s.usage?.freeBytes ?? 0, chunkCount: s.usage?.chunkCount ?? 0)
    }

    public func stop() {
        heartbeatTask.cancel()
        server.stop()
        transport.closeAll()
    }
}

/// Why a storage node could not start.
public enum StorageStartError: Error, CustomStringConvertible {
    case drives(StorageError)
    case listen(TransportError)

    public var description: String {
        switch self {
        case let .drives(e): return "storage drives: \(e)"
        case let .listen(e): return "storage: \(e)"
        }
    }
}
