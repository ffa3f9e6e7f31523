import GranaryCore

/// Names one chunk on one drive of the receiving node: the body of get-chunk and delete-chunk.
public struct ChunkRequest: Equatable, Sendable {
    public var drive: String
    public var key: ChunkKey

    public init(drive: String, key: ChunkKey) {
        self.drive = drive
        self.key = key
    }

    public func encode(into w: inout WireWriter) {
        w.string(drive)
        w.chunkKey(key)
    }

    public static func decode(_ bytes: [UInt8], type: MessageType) throws(WireError) -> ChunkRequest {
        let result: Result<ChunkRequest, WireError> = bytes.withUnsafeBytes { buf in
            var r = WireReader(buf, type: type)
            do throws(WireError) {
                let v = ChunkRequest(drive: try r.driveName(), key: try r.chunkKey())
                try r.finish()
                return .success(v)
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    public var encoded: [UInt8] {
        var w = WireWriter()
        encode(into: &w)
        return w.bytes
    }
}
