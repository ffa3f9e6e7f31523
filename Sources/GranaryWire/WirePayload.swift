import GranaryCore

/// A message body with a binary encoding. `decode` must consume the payload exactly and throw
/// `WireError.malformed` (naming the field) for anything else.
public protocol WirePayload: Sendable {
    static var messageType: MessageType { get }
    func encode(into w: inout WireWriter)
    static func decode(from r: inout WireReader) throws(WireError) -> Self
}

extension WirePayload {
    public var encoded: [UInt8] {
        var w = WireWriter()
        encode(into: &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Self {
        let result: Result<Self, WireError> = bytes.withUnsafeBytes { buf in
            var r = WireReader(buf, type: messageType)
            do throws(WireError) {
                let v = try decode(from: &r)
                try r.finish()
                return .success(v)
            } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension WireWriter {
    public mutating func chunkKey(_ k: ChunkKey) {
        u64(k.stripe)
        u32(k.fragment)
    }
}

extension WireReader {
    public mutating func chunkKey() throws(WireError) -> ChunkKey {
        ChunkKey(stripe: try u64("stripe"), fragment: try u32("fragment"))
    }

    /// A drive name: valid per `DriveID`'s rules, so it can never escape the node's drive directories.
    public mutating func driveName() throws(WireError) -> String {
        let s = try string("drive", limit: 64)
        guard let n = NodeID("n"), DriveID(node: n, name: s) != nil else {
            throw .malformed(type: type, field: "drive", reason: "invalid drive name '\(s)'")
        }
        return s
    }
}
