import GranaryCore

/// The leading fields of a put-chunk body; the chunk's bytes follow to the end of the payload, so
/// the sender can write them from its own buffer without building one array.
public struct PutChunkHeader: Equatable, Sendable {
    public var drive: String
    public var key: ChunkKey

    public init(drive: String, key: ChunkKey) {
        self.drive = drive
        self.key = key
    }

    public var encoded: [UInt8] {
        var w = WireWriter()
        w.string(drive)
        w.chunkKey(key)
        return w.bytes
    }

    /// Decodes the fields and returns where the data starts in `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (PutChunkHeader, dataOffset: Int) {
        var r = WireReader(bytes, type: .putChunk)
        let h = PutChunkHeader(drive: try r.driveName(), key: try r.chunkKey())
        return (h, r.offset)
    }
}
