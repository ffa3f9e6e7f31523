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

    public init(manager: ClusterManager, repair: RepairService? = nil) {
        self.manager = manager
        self.repair = repair
    }

    public func handle(_ request: Request) async -> Response {
        do {
            switch request.type {
            case .ping:
                return .ok(request.body)
            case .registerNode, .heartbeat:
                let hb = try JSONMessage.decode(NodeHeartbeat.self, from: request.body, message: request.type)
                let version = try await manager.heartbeat(hb)
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
            default:
                return .error(RemoteError(.unsupported, "a manager does not serve \(request.type)"))
            }
        } catch let e as WireError {
            return .badRequest(e)
        } catch let e as ManagerError {
            if case .unknownNode = e { return .error(RemoteError(.unknownNode, e.description)) }
            return .error(RemoteError(.internalError, e.description))
        } catch {
            return .error(RemoteError(.internalError, "\(error)"))
        }
    }
}
