/// Every message the Granary protocol knows. A response carries its request's type with the
/// response flag set; an unknown value is a protocol error.
public enum MessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    // Authentication (must come first on every connection).
    case authChallenge = 1
    case authResponse = 2
    case authResult = 3

    case ping = 10

    // Storage node: chunk operations.
    case putChunk = 100
    case getChunk = 101
    case readChunk = 102
    case deleteChunk = 103
    case listChunks = 104
    case driveStatus = 105
    /// Tests and drills: install or clear a fault on one drive (JSON `DriveFaultRequest`).
    case injectFault = 106

    // Manager: membership and the cluster map.
    case registerNode = 200
    case heartbeat = 201
    case getClusterMap = 202
    case drainNode = 203
    case undrainNode = 204
    /// Which manager this is, whether it leads, and who does (answered by every manager).
    case managerStatus = 205

    // Manager: the namespace and file data (a JSON `MetaRequest`, answered by a `MetaReply`).
    case meta = 210

    // Manager: repair (rebuild, shrink, expand, scrub, garbage collection), JSON `RepairStatus` answers.
    case repairStatus = 220
    case startScrub = 221

    // Manager: drive health (JSON requests; `HealthReport` answers).
    case healthStatus = 230
    case evictDrive = 231
    case rejoinDrive = 232
    case injectDriveFault = 233

    public var description: String {
        switch self {
        case .authChallenge: return "auth-challenge"
        case .authResponse: return "auth-response"
        case .authResult: return "auth-result"
        case .ping: return "ping"
        case .putChunk: return "put-chunk"
        case .getChunk: return "get-chunk"
        case .readChunk: return "read-chunk"
        case .deleteChunk: return "delete-chunk"
        case .listChunks: return "list-chunks"
        case .driveStatus: return "drive-status"
        case .registerNode: return "register-node"
        case .heartbeat: return "heartbeat"
        case .getClusterMap: return "get-cluster-map"
        case .drainNode: return "drain-node"
        case .undrainNode: return "undrain-node"
        case .managerStatus: return "manager-status"
        case .meta: return "meta"
        case .repairStatus: return "repair-status"
        case .startScrub: return "start-scrub"
        case .injectFault: return "inject-fault"
        case .healthStatus: return "health-status"
        case .evictDrive: return "evict-drive"
        case .rejoinDrive: return "rejoin-drive"
        case .injectDriveFault: return "inject-drive-fault"
        }
    }
}
