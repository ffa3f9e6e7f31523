/// Names one fragment of one stripe: the unit a storage node stores as a chunk file.
///
/// Guarantees a stable file name (`<stripe hex>.<fragment>`) that `init?(fileName:)` parses back.
public struct ChunkKey: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let stripe: UInt64
    public let fragment: UInt32

    public init(stripe: UInt64, fragment: UInt32) {
        self.stripe = stripe
        self.fragment = fragment
    }

    /// The chunk's file name on a drive.
    public var fileName: String {
        let hex = String(stripe, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + "." + String(fragment)
    }

    /// Parses a name produced by `fileName`; `nil` for anything else (temporary files included).
    public init?(fileName: String) {
        let parts = fileName.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16,
              let stripe = UInt64(parts[0], radix: 16),
              let fragment = UInt32(parts[1]), String(fragment) == parts[1] else { return nil }
        self.init(stripe: stripe, fragment: fragment)
    }

    public var description: String { "stripe \(String(stripe, radix: 16)) fragment \(fragment)" }

    public static func < (lhs: ChunkKey, rhs: ChunkKey) -> Bool {
        (lhs.stripe, lhs.fragment) < (rhs.stripe, rhs.fragment)
    }
}
