import GranaryCore
import GranaryMeta

/// Why a manager operation was refused.
public enum ManagerError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownNode(NodeID)
    case unknownDrive(DriveID)
    /// An eviction or rejoin the safety rules, the rate limit or the drive's state forbid; says why.
    case refused(DriveID, String)
    /// Fault injection asked of a cluster that has not enabled it.
    case faultInjectionOff
    /// Asked of a manager that does not lead the cluster's background work; names the one that does.
    case notLeader(me: String, leader: String?)
    case meta(MetaError)

    public var description: String {
        switch self {
        case let .unknownNode(n): return "no node named '\(n)' in the cluster"
        case let .unknownDrive(d): return "no drive named '\(d)' in the cluster"
        case let .refused(d, why): return "drive \(d): \(why)"
        case .faultInjectionOff: return "fault injection is off: set fault_injection = true in [cluster] of the manager's and the nodes' configs (tests and drills only)"
        case let .notLeader(me, leader):
            return "manager \(me) does not lead the cluster; " + (leader.map { "\($0) does" } ?? "no manager holds the leader lease right now")
        case let .meta(e): return "metadata store: \(e)"
        }
    }
}
