/// Reads big-endian fields from a payload, bounded by the payload: a field that would run past the
/// end, or a string that is not UTF-8 or longer than its limit, is a `malformed` error naming the
/// message type and field — never a crash or an over-read.
public struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0
    public let type: MessageType

    public init(_ bytes: UnsafeRawBufferPointer, type: MessageType) {
        self.bytes = bytes
        self.type = type
    }

    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws(WireError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw .malformed(type: type, field: field, reason: "needs \(n) bytes, \(remaining) left")
        }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(WireError) -> T {
        let raw = try take(MemoryLayout<T>.size, field)
        var v: T = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: raw) }
        return T(bigEndian: v)
    }

    public mutating func u8(_ field: String = "u8") throws(WireError) -> UInt8 { try integer(UInt8.self, field) }
    public mutating func u16(_ field: String = "u16") throws(WireError) -> UInt16 { try integer(UInt16.self, field) }
    public mutating func u32(_ field: String = "u32") throws(WireError) -> UInt32 { try integer(UInt32.self, field) }
    public mutating func u64(_ field: String = "u64") throws(WireError) -> UInt64 { try integer(UInt64.self, field) }

    public mutating func blob(_ field: String, limit: Int) throws(WireError) -> [UInt8] {
        let n = Int(try u32(field))
        guard n <= limit else { throw .malformed(type: type, field: field, reason: "length \(n) exceeds limit \(limit)") }
        return Array(try take(n, field))
    }

    public mutating func string(_ field: String, limit: Int = 4096) throws(WireError) -> String {
        let b = try blob(field, limit: limit)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw .malformed(type: type, field: field, reason: "not valid UTF-8")
        }
        return s
    }

    /// Everything left, without a length prefix.
    public mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }

    /// Throws if bytes are left over: a well-formed payload is consumed exactly.
    public func finish() throws(WireError) {
        guard remaining == 0 else { throw .malformed(type: type, field: "end", reason: "\(remaining) unexpected trailing bytes") }
    }
}
