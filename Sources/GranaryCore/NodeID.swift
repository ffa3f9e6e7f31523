/// The name of a storage node, unique in the cluster (`node-1`, `rack3-host7`).
///
/// Guarantees a non-empty name of at most 64 characters from `[A-Za-z0-9._-]`, so it is safe in
/// file names, logs and URLs.
public struct NodeID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is empty, too long or has other characters.
    public init?(_ rawValue: String) {
        guard NodeID.isValidName(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = NodeID(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid node id '\(s)'"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The rule shared by node and drive names.
    static func isValidName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 64 else { return false }
        return s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x2D
        } && s != "." && s != ".."
    }
}
