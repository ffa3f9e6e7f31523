import GranaryCore
import GranaryMeta

/// Why a manager operation was refused.
public enum ManagerError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownNode(NodeID)
    case meta(MetaError)

    public var description: String {
        switch self {
        case let .unknownNode(n): return "no node named '\(n)' in the cluster"
        case let .meta(e): return "metadata store: \(e)"
        }
    }
}
