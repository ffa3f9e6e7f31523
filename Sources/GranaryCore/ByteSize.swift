/// A size in bytes, parsed from and printed as `512`, `64KiB`, `1MiB`, `2GiB`, `1.5TiB`
/// (binary units; `K`, `KB`, `M`, `MB`… are read as binary too, as storage operators expect).
///
/// Guarantees a non-negative byte count that fits in `Int64`.
public struct ByteSize: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let bytes: Int64

    public init(_ bytes: Int64) { self.bytes = max(0, bytes) }

    public static func kib(_ n: Int64) -> ByteSize { ByteSize(n << 10) }
    public static func mib(_ n: Int64) -> ByteSize { ByteSize(n << 20) }
    public static func gib(_ n: Int64) -> ByteSize { ByteSize(n << 30) }

    /// Parses a size; `nil` for anything malformed or negative.
    public init?(parsing text: String) {
        let s = text.trimmingCharacters(in: [" "])
        let split = s.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? s.endIndex
        guard let value = Double(s[..<split]), value >= 0 else { return nil }
        let unit = s[split...].trimmingCharacters(in: [" "]).lowercased()
        let shifts: [String: Int] = [
            "": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
            "g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40,
        ]
        guard let shift = shifts[unit] else { return nil }
        let bytes = value * Double(Int64(1) << shift)
        guard bytes < Double(Int64.max) else { return nil }
        self.bytes = Int64(bytes)
    }

    public var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(bytes)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(bytes) B" }
        let rounded = (v * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[i])" : "\(rounded) \(units[i])"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(self.drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String { String(self).trimmingCharacters(in: set) }
}
