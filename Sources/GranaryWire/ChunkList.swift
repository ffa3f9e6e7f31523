import GranaryCore

/// The chunks on one drive: the response body of list-chunks (the request body is a drive name).
public struct ChunkList: WirePayload, Equatable {
    public static let messageType = MessageType.listChunks
    public static let maxCount = 16_000_000

    public var keys: [ChunkKey]

    public init(keys: [ChunkKey]) { self.keys = keys }

    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(keys.count))
        for k in keys { w.chunkKey(k) }
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> ChunkList {
        let n = Int(try r.u32("count"))
        // 12 bytes a key: refuse a count the payload cannot hold before reserving memory for it.
        guard n <= maxCount, n * 12 <= r.remaining else {
            throw .malformed(type: messageType, field: "count", reason: "\(n) keys do not fit in \(r.remaining) bytes")
        }
        var keys: [ChunkKey] = []
        keys.reserveCapacity(n)
        for _ in 0..<n { keys.append(try r.chunkKey()) }
        return ChunkList(keys: keys)
    }
}
