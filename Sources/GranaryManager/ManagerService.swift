import GranaryCore
import GranaryMeta
import GranaryTransport
import GranaryWire
import Logging

/// Serves the manager's protocol (registration, heartbeats, the cluster map, drain, metadata,
/// repair status and scrub requests) over any transport.
public struct ManagerService: RequestHandler {
    let manager: ClusterManager
    let repair: RepairService?
    let health: HealthService?

    public init(manager: ClusterManager, repair: RepairService? = nil, health: HealthService? = nil) {
        self.manager = manager
        self.repair = repair
        self.health = health
    }

    public func handle(_ request: Request) async -> Response {
        do {
            switch request.type {
            case .ping:
                return .ok(request.body)
            case .registerNode, .heartbeat:
                let hb = try JSONMessage.decode(NodeHeartbeat.self, from: request.body, message: request.type)
                let version = try await manager.heartbeat(hb)
                await health?.ingest(hb)
                return .ok(JSONMessage.encode(HeartbeatReply(mapVersion: version)))
            case .getClusterMap:
                return .ok(JSONMessage.encode(await manager.clusterMap))
            case .drainNode, .undrainNode:
                let r = try JSONMessage.decode(NodeRequest.self, from: request.body, message: request.type)
                if request.type == .drainNode { try await manager.drain(r.node) } else { try await manager.undrain(r.node) }
                return .ok(JSONMessage.encode(await manager.clusterMap))
            case .meta:
                let r = try JSONMessage.decode(MetaRequest.self, from: request.body, message: request.type)
                return .ok(JSONMessage.encode(await manager.meta(r)))
            case .repairStatus, .startScrub:
                guard let repair else { return .error(RemoteError(.unsupported, "this manager runs no repair service")) }
                let status = request.type == .startScrub ? await repair.requestScrub() : await repair.current
                return .ok(JSONMessage.encode(status))
            case .healthStatus, .evictDrive, .rejoinDrive, .injectDriveFault:
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
            case .meta: break
            }
            return .error(RemoteError(.internalError, e.description))
        } catch {
            return .error(RemoteError(.internalError, "\(error)"))
        }
    }
}
