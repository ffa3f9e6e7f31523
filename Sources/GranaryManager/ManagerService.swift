import GranaryCore
import GranaryMeta
import GranaryTransport
import GranaryWire
import Logging

/// Serves the manager's protocol (registration, heartbeats, the cluster map, drain, metadata,
/// repair status and scrub requests) over any transport.
///
/// Among several managers, every one serves metadata and the map; what only the leader knows or
/// decides (drain, repair, drive health) a follower answers with `notLeader`, which clients take
/// as "ask the next manager". Heartbeats are taken by all: the leader acts on them, followers
/// remember them for the day they lead.
public struct ManagerService: RequestHandler {
    let manager: ClusterManager
    let work: @Sendable () -> (repair: RepairService, health: HealthService)?
    let whoLeads: @Sendable () -> (me: String, leader: String?)
    let status: @Sendable () -> (name: String, endpoint: String, epoch: UInt64)

    /// A manager with fixed services (a single manager, tests).
    public init(manager: ClusterManager, repair: RepairService? = nil, health: HealthService? = nil) {
        self.manager = manager
        self.work = { nil }
        self.whoLeads = { ("this manager", nil) }
        self.status = { ("this manager", "", 0) }
        self.repairOnly = repair
        self.healthOnly = health
        self.dynamic = false
    }

    /// A manager whose background work comes and goes with its leadership.
    public init(manager: ClusterManager, work: @escaping @Sendable () -> (repair: RepairService, health: HealthService)?,
                whoLeads: @escaping @Sendable () -> (me: String, leader: String?),
                status: @escaping @Sendable () -> (name: String, endpoint: String, epoch: UInt64)) {
        self.manager = manager
        self.work = work
        self.whoLeads = whoLeads
        self.status = status
        self.repairOnly = nil
        self.healthOnly = nil
        self.dynamic = true
    }

    let repairOnly: RepairService?
    let healthOnly: HealthService?
    /// Whether the services come and go with leadership (a `ManagerServer`) or are fixed.
    let dynamic: Bool
    var repair: RepairService? { work()?.repair ?? repairOnly }
    var health: HealthService? { work()?.health ?? healthOnly }

    /// Whether this manager answers leader-only requests now: it leads and, where the services
    /// come with leadership, they are in place (between the two, it still says "not the leader").
    func leads() async -> Bool {
        guard await manager.leading else { return false }
        return !dynamic || work() != nil
    }

    func notLeader() -> Response {
        let w = whoLeads()
        return .error(RemoteError(.notLeader, ManagerError.notLeader(me: w.me, leader: w.leader).description))
    }

    public func handle(_ request: Request) async -> Response {
        do {
            switch request.type {
            case .ping:
                return .ok(request.body)
            case .registerNode, .heartbeat:
                let hb = try JSONMessage.decode(NodeHeartbeat.self, from: request.body, message: request.type)
                let version = try await manager.heartbeat(hb)
                if await leads() { await health?.ingest(hb) }
                return .ok(JSONMessage.encode(HeartbeatReply(mapVersion: version)))
            case .managerStatus:
                let me = status()
                let leading = await leads()
                let map = await manager.currentMap()
                return .ok(JSONMessage.encode(ManagerStatus(name: me.name, endpoint: me.endpoint, leading: leading,
                                                            leader: whoLeads().leader, epoch: me.epoch, mapVersion: map.version)))
            case .getClusterMap:
                return .ok(JSONMessage.encode(await manager.currentMap()))
            case .drainNode, .undrainNode:
                guard await leads() else { return notLeader() }
                let r = try JSONMessage.decode(NodeRequest.self, from: request.body, message: request.type)
                if request.type == .drainNode { try await manager.drain(r.node) } else { try await manager.undrain(r.node) }
                return .ok(JSONMessage.encode(await manager.clusterMap))
            case .meta:
                let r = try JSONMessage.decode(MetaRequest.self, from: request.body, message: request.type)
                return .ok(JSONMessage.encode(await manager.meta(r)))
            case .repairStatus, .startScrub:
                guard await leads() else { return notLeader() }
                guard let repair else { return .error(RemoteError(.unsupported, "this manager runs no repair service")) }
                let status = request.type == .startScrub ? await repair.requestScrub() : await repair.current
                return .ok(JSONMessage.encode(status))
            case .healthStatus, .evictDrive, .rejoinDrive, .injectDriveFault:
                guard await leads() else { return notLeader() }
                guard let health else { return .error(RemoteError(.unsupported, "this manager runs no health monitor")) }
                switch request.type {
                case .evictDrive, .rejoinDrive:
                    let r = try JSONMessage.decode(DriveHealthRequest.self, from: request.body, message: request.type)
                    if request.type == .evictDrive { try await health.evict(r.drive, reason: r.reason) } else { try await health.rejoin(r.drive, reason: r.reason) }
                case .injectDriveFault:
                    let r = try JSONMessage.decode(DriveFaultRequest.self, from: request.body, message: request.type)
                    _ = try await health.inject(r)
                default: break
                }
                return .ok(JSONMessage.encode(await health.report()))
            default:
                return .error(RemoteError(.unsupported, "a manager does not serve \(request.type)"))
            }
        } catch let e as WireError {
            return .badRequest(e)
        } catch let e as ManagerError {
            switch e {
            case .unknownNode, .unknownDrive: return .error(RemoteError(.unknownNode, e.description))
            case .refused, .faultInjectionOff: return .error(RemoteError(.unsupported, e.description))
            case .notLeader: return .error(RemoteError(.notLeader, e.description))
            case .meta: break
            }
            return .error(RemoteError(.internalError, e.description))
        } catch {
            return .error(RemoteError(.internalError, "\(error)"))
        }
    }
}
