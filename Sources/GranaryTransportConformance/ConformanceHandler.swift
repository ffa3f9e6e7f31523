import GranaryCore
import GranaryTransport
import GranaryWire

/// The handler every transport is checked against: ping echoes its body; read-chunk answers with
/// `length` bytes of a known pattern (head: the offset in decimal), from a server answer buffer
/// (`BufferPool`, registered where the transport registers memory); get-chunk sleeps the number of
/// milliseconds in the drive name's digits, then answers with the name; put-chunk answers with the
/// CRC32C and length of what it received; delete-chunk fails with not-found.
public struct ConformanceHandler: RequestHandler {
    let buffers: BufferPool

    public init(buffers: BufferPool = BufferPool()) { self.buffers = buffers }

    public func handle(_ request: Request) async -> Response {
        switch request.type {
        case .ping:
            return .ok(request.body)
        case .readChunk:
            guard let r = try? ReadChunkRequest.decode(request.body) else { return .error(RemoteError(.badRequest, "bad read")) }
            let b = buffers.take(Int(r.length))
            Self.fill(b.bytes, offset: Int(r.offset))
            // The head is the request's offset, so checks can see it come back beside the data.
            return .data(head: Array(String(r.offset).utf8), .buffer(b))
        case .getChunk:
            guard let r = try? ChunkRequest.decode(request.body, type: .getChunk) else { return .error(RemoteError(.badRequest, "bad get")) }
            let ms = Int(r.drive.filter(\.isNumber)) ?? 0
            try? await Task.sleep(for: .milliseconds(ms))
            return .ok(Array(r.drive.utf8))
        case .putChunk:
            var w = WireWriter()
            w.u32(CRC32C.checksum(request.body))
            w.u64(UInt64(request.body.count))
            return .ok(w.bytes)
        default:
            return .error(RemoteError(.notFound, "no such thing as \(request.type)"))
        }
    }

    /// The byte at `offset + i` of the pattern.
    public static func byte(_ at: Int) -> UInt8 { UInt8(truncatingIfNeeded: at &* 31 &+ 7) }

    public static func pattern(offset: Int, count: Int) -> [UInt8] { (0..<count).map { byte(offset + $0) } }

    static func fill(_ bytes: UnsafeMutableRawBufferPointer, offset: Int) {
        for i in 0..<bytes.count { bytes[i] = byte(offset + i) }
    }
}
