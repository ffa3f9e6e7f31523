import GranaryCore
import GranaryTransport
import GranaryWire
import Logging

/// Talks to the cluster's managers on behalf of the CLI and clients: the cluster map, drain and
/// undrain. Tries each manager in the configured order, so one that is down is skipped.
public struct ManagerClient: Sendable {
    public let managers: [Endpoint]
    let transport: any Transport

    public init(managers: [Endpoint], transport: any Transport) {
        self.managers = managers
        self.transport = transport
    }

    /// The managers and secret of a client config.
    public init(config: ClientConfig, logger: Logger) throws(ManagerClient.SetupError) {
        let keys: ClusterKeys
        do { keys = try ClusterKeys(path: config.secretFile) } catch { throw .secret(error) }
        do {
            self.init(managers: config.managers, transport: try Transports.client(keys: keys, settings: config.transport, logger: logger))
        } catch { throw .transport(error) }
    }

    /// Why a manager client could not be set up from a config.
    public enum SetupError: Error, CustomStringConvertible {
        case secret(ClusterSecret.Failure)
        case transport(TransportError)

        public var description: String {
            switch self {
            case let .secret(e): return "\(e)"
            case let .transport(e): return "\(e)"
            }
        }
    }

    func request(_ type: MessageType, _ body: [UInt8], idempotent: Bool) async throws(TransportError) -> [UInt8] {
        try await transport.callFirstAvailable(managers, type, body, idempotent: idempotent)
    }

    public func clusterMap() async throws(TransportError) -> ClusterMap {
        try decodeMap(try await request(.getClusterMap, [], idempotent: true), .getClusterMap)
    }

    public func drain(_ node: NodeID) async throws(TransportError) -> ClusterMap {
        try await nodeRequest(.drainNode, node)
    }

    public func undrain(_ node: NodeID) async throws(TransportError) -> ClusterMap {
        try await nodeRequest(.undrainNode, node)
    }

    /// Every configured manager's status, in order; one that does not answer is marked unreachable.
    public func managerStatuses() async -> [ManagerStatus] {
        var out: [ManagerStatus] = []
        for m in managers {
            do {
                let body = try await transport.call(m, .managerStatus, [], idempotent: true)
                out.append(try JSONMessage.decode(ManagerStatus.self, from: body, message: .managerStatus))
            } catch {
                out.append(ManagerStatus(name: "?", endpoint: m.description, leading: false, leader: nil, epoch: 0, mapVersion: 0,
                                         unreachable: "\(error)"))
            }
        }
        return out
    }

    /// What the repair service is doing: rebuild pass, scrub, collection.
    public func repairStatus() async throws(TransportError) -> RepairStatus {
        try decode(RepairStatus.self, try await request(.repairStatus, [], idempotent: true), .repairStatus)
    }

    /// Asks for a scrub pass now and returns the status as it was asked.
    public func startScrub() async throws(TransportError) -> RepairStatus {
        try decode(RepairStatus.self, try await request(.startScrub, [], idempotent: true), .startScrub)
    }

    /// Every drive's health, score, evidence, telemetry and SMART, and the recent health events.
    public func health() async throws(TransportError) -> HealthReport {
        try decode(HealthReport.self, try await request(.healthStatus, [], idempotent: true), .healthStatus)
    }

    /// Evicts a drive (refused, with the reason, when a stripe would drop below k readable fragments).
    public func evict(_ drive: DriveID, reason: String?) async throws(TransportError) -> HealthReport {
        let body = JSONMessage.encode(DriveHealthRequest(drive: drive, reason: reason))
        return try decode(HealthReport.self, try await request(.evictDrive, body, idempotent: true), .evictDrive)
    }

    /// Returns an evicted or suspect drive to service.
    public func rejoin(_ drive: DriveID, reason: String?) async throws(TransportError) -> HealthReport {
        let body = JSONMessage.encode(DriveHealthRequest(drive: drive, reason: reason))
        return try decode(HealthReport.self, try await request(.rejoinDrive, body, idempotent: true), .rejoinDrive)
    }

    /// Installs (or with a clear spec removes) a fault on a drive: tests and drills, where the cluster enables it.
    public func inject(_ drive: DriveID, _ fault: FaultSpec) async throws(TransportError) -> HealthReport {
        let body = JSONMessage.encode(DriveFaultRequest(drive: drive, fault: fault))
        return try decode(HealthReport.self, try await request(.injectDriveFault, body, idempotent: true), .injectDriveFault)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ message: MessageType) throws(TransportError) -> T {
        do { return try JSONMessage.decode(T.self, from: body, message: message) } catch {
            throw .protocolError(managers.first ?? Endpoint(host: "?", port: 1), error)
        }
    }

    private func nodeRequest(_ type: MessageType, _ node: NodeID) async throws(TransportError) -> ClusterMap {
        try decodeMap(try await request(type, JSONMessage.encode(NodeRequest(node: node)), idempotent: true), type)
    }

    /// Every manager answer that carries the map decodes it the same way.
    private func decodeMap(_ body: [UInt8], _ type: MessageType) throws(TransportError) -> ClusterMap {
        do { return try JSONMessage.decode(ClusterMap.self, from: body, message: type) } catch {
            throw .protocolError(managers.first ?? Endpoint(host: "?", port: 1), error)
        }
    }

    public func close() { transport.closeAll() }
}
