import GranaryCore

/// Names one chunk on one drive of the receiving node: the body of get-chunk and delete-chunk, and
/// the head of put-chunk, whose data follows to the end of the payload (so a sender can write the
/// data from its own buffer without building one array).
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

    static func read(from r: inout WireReader) throws(WireError) -> ChunkRequest {
        ChunkRequest(drive: try r.driveName(), key: try r.chunkKey())
    }

    public static func decode(_ bytes: [UInt8], type: MessageType) throws(WireError) -> ChunkRequest {
        let result: Result<ChunkRequest, WireError> = bytes.withUnsafeBytes { buf in
            var r = WireReader(buf, type: type)
            do throws(WireError) {
                let v = try read(from: &r)
                try r.finish()
                return .success(v)
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes the fields at the start of a put-chunk body and returns where its data starts.
    public static func decodeHead(_ bytes: UnsafeRawBufferPointer, type: MessageType) throws(WireError) -> (ChunkRequest, dataOffset: Int) {
        var r = WireReader(bytes, type: type)
        let v = try read(from: &r)
        return (v, r.offset)
    }

    public var encoded: [UInt8] {
        var w = WireWriter()
        encode(into: &w)
        return w.bytes
    }
}
