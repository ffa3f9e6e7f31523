/// The number of an inode in the namespace, as the metadata store assigns it.
///
/// Guarantees a stable identity: a store never reuses the number of a deleted inode, so a client
/// that cached an id sees `MetaError.noSuchInode` rather than some other file. `root` (1) is the
/// root directory, which exists in every migrated store and cannot be removed.
public struct InodeID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The root directory of the namespace.
    public static let root = InodeID(1)

    public var description: String { "inode \(rawValue)" }

    public static func < (lhs: InodeID, rhs: InodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(UInt64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
