import GranaryCore

/// The head of a read-chunk response: the CRC32C of each consecutive segment of the data that
/// follows it, so the reader checks the bytes where they land — in its own buffer.
///
/// Why the client checks and not only the node (HDFS does the same with its checksum chunks):
/// a check in the reader's buffer covers the drive, the node's memory, the network and the
/// transport at once, and it lets the node send whole blocks from the page cache with `sendfile`
/// without reading them into its own memory. Segments that are whole stored blocks carry the CRC
/// written at put time (end to end from the writer); a partly covered block at either end of the
/// range is read and verified on the node, which then sends the CRC of just the covered part.
///
/// Guarantees: `decode` accepts only segment lists whose lengths are positive and sum to at most
/// `ReadChunkRequest.maxLength`; `firstMismatch` finds any segment whose bytes do not match.
public struct ReadChunkReply: WirePayload, Equatable {
    public static let messageType = MessageType.readChunk
    /// More segments than a 64 MiB read of 4 KiB blocks (plus two edges) is malformed.
    public static let maxSegments = ReadChunkRequest.maxLength / 4096 + 2

    /// `length` bytes of data with this CRC32C.
    public struct Segment: Equatable, Sendable {
        public var length: UInt32
        public var checksum: UInt32

        public init(length: UInt32, checksum: UInt32) {
            self.length = length
            self.checksum = checksum
        }
    }

    /// A segment whose bytes did not match its checksum.
    public struct Mismatch: Equatable, Sendable {
        /// Where the segment starts, relative to the start of the data.
        public var offset: Int
        public var length: Int
        public var expected: UInt32
        public var actual: UInt32
    }

    public var segments: [Segment]

    public init(segments: [Segment]) { self.segments = segments }

    /// The number of data bytes the segments cover.
    public var dataLength: Int { segments.reduce(0) { $0 + Int($1.length) } }

    /// The first segment of `data` whose CRC32C differs from the one sent, or nil when all match.
    /// `data` must be `dataLength` bytes (the caller checks that first).
    public func firstMismatch(in data: UnsafeRawBufferPointer) -> Mismatch? {
        var offset = 0
        for s in segments {
            let n = Int(s.length)
            guard offset + n <= data.count else {
                return Mismatch(offset: offset, length: n, expected: s.checksum, actual: 0)
            }
            let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: data[offset..<offset + n]))
            if actual != s.checksum { return Mismatch(offset: offset, length: n, expected: s.checksum, actual: actual) }
            offset += n
        }
        return nil
    }

    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(segments.count))
        for s in segments {
            w.u32(s.length)
            w.u32(s.checksum)
        }
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> ReadChunkReply {
        let count = Int(try r.u32("segments"))
        guard count <= maxSegments else {
            throw .malformed(type: messageType, field: "segments", reason: "\(count) exceeds \(maxSegments)")
        }
        var segments: [Segment] = []
        segments.reserveCapacity(count)
        var total = 0
        for _ in 0..<count {
            let s = Segment(length: try r.u32("segment length"), checksum: try r.u32("segment checksum"))
            guard s.length > 0 else { throw .malformed(type: messageType, field: "segment length", reason: "zero") }
            total += Int(s.length)
            guard total <= ReadChunkRequest.maxLength else {
                throw .malformed(type: messageType, field: "segment length", reason: "segments exceed \(ReadChunkRequest.maxLength) bytes")
            }
            segments.append(s)
        }
        return ReadChunkReply(segments: segments)
    }
}
