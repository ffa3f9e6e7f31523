import GranaryCore

/// A byte range of one chunk's data: the body of read-chunk. The response body is exactly the
/// bytes asked for, which the transport reads straight into the caller's buffer.
public struct ReadChunkRequest: WirePayload, Equatable {
    public static let messageType = MessageType.readChunk
    /// The most one read may ask for.
    public static let maxLength = 64 << 20

    public var drive: String
    public var key: ChunkKey
    public var offset: UInt64
    public var length: UInt32

    public init(drive: String, key: ChunkKey, offset: UInt64, length: UInt32) {
        self.drive = drive
        self.key = key
        self.offset = offset
        self.length = length
    }

    public func encode(into w: inout WireWriter) {
        w.string(drive)
        w.chunkKey(key)
        w.u64(offset)
        w.u32(length)
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> ReadChunkRequest {
        let v = ReadChunkRequest(drive: try r.driveName(), key: try r.chunkKey(), offset: try r.u64("offset"), length: try r.u32("length"))
        guard v.length <= maxLength else { throw .malformed(type: messageType, field: "length", reason: "\(v.length) exceeds \(maxLength)") }
        guard v.offset <= UInt64(Int64.max) else { throw .malformed(type: messageType, field: "offset", reason: "out of range") }
        return v
    }
}
