/// A drive in the cluster: the node that holds it and the drive's name on that node (`node-1/d0`).
///
/// Guarantees both parts are valid names (see `NodeID`); `description` and `init?(parsing:)`
/// round-trip.
public struct DriveID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let node: NodeID
    public let name: String

    /// `nil` when `name` is not a valid drive name.
    public init?(node: NodeID, name: String) {
        guard NodeID.isValidName(name) else { return nil }
        self.node = node
        self.name = name
    }

    /// Parses `node/name`.
    public init?(parsing s: String) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let node = NodeID(String(parts[0])) else { return nil }
        self.init(node: node, name: String(parts[1]))
    }

    public var description: String { "\(node)/\(name)" }

    public static func < (lhs: DriveID, rhs: DriveID) -> Bool {
        (lhs.node, lhs.name) < (rhs.node, rhs.name)
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = DriveID(parsing: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid drive id '\(s)'"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
