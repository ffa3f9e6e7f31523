import GranaryCore
import GranaryWire
import Testing

@Suite struct FrameTests {
    @Test func headerRoundTrip() throws {
        let h = FrameHeader(type: .readChunk, flags: FrameHeader.responseFlag, requestID: 0xDEAD_BEEF_0102, payloadLength: 1234)
        #expect(h.encoded.count == FrameHeader.size)
        #expect(try FrameHeader.decode(h.encoded, maxPayload: 4096) == h)
    }

    @Test func decoderSplitsFramesFedBytewise() throws {
        let frames = (0..<5).map { Frame(type: .ping, requestID: UInt64($0), payload: Array(repeating: UInt8($0), count: $0 * 100)) }
        var d = FrameDecoder(maxPayload: 4096)
        var out: [Frame] = []
        for byte in frames.flatMap(\.encoded) {
            d.feed([byte])
            while let f = try d.next() { out.append(f) }
        }
        try d.finish()
        #expect(out == frames)
    }

    @Test func boundedDecodingRejectsBadHeadersBeforeBufferingPayload() throws {
        var d = FrameDecoder(maxPayload: 100)
        d.feed(FrameHeader(type: .ping, requestID: 1, payloadLength: 101).encoded)
        #expect(throws: WireError.frameTooLarge(length: 101, limit: 100)) { try d.next() }

        var bad = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded
        bad[0] = 0
        #expect(throws: WireError.badMagic(0x0052_4E59)) { try FrameHeader.decode(bad, maxPayload: 10) }
        var v = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded
        v[4] = 2
        #expect(throws: WireError.unsupportedVersion(2)) { try FrameHeader.decode(v, maxPayload: 10) }
        var t = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded
        t[6] = 0xFF
        #expect(throws: WireError.unknownMessageType(0xFF0A)) { try FrameHeader.decode(t, maxPayload: 10) }
        var f = FrameHeader(type: .ping, requestID: 1, payloadLength: 0).encoded
        f[5] = FrameHeader.errorFlag
        #expect(throws: WireError.badFlags(FrameHeader.errorFlag)) { try FrameHeader.decode(f, maxPayload: 10) }
        // Data is a kind of response, and not an error at the same time.
        for flags in [FrameHeader.dataFlag, FrameHeader.dataFlag | FrameHeader.errorFlag | FrameHeader.responseFlag, 0x08] {
            f[5] = flags
            #expect(throws: WireError.badFlags(flags)) { try FrameHeader.decode(f, maxPayload: 10) }
        }
        f[5] = FrameHeader.dataFlag | FrameHeader.responseFlag
        #expect(try FrameHeader.decode(f, maxPayload: 10).carriesData)
    }

    @Test func readReplyRoundTripsAndFindsTheBadSegment() throws {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let cuts = [0..<4_000, 4_000..<9_000, 9_000..<10_000]
        let reply = ReadChunkReply(segments: cuts.map { r in
            .init(length: UInt32(r.count), checksum: data[r].withUnsafeBytes { CRC32C.checksum($0) })
        })
        #expect(try ReadChunkReply.decode(reply.encoded) == reply)
        #expect(reply.dataLength == 10_000)
        #expect(data.withUnsafeBytes { reply.firstMismatch(in: $0) } == nil)
        var bad = data
        bad[5_000] ^= 1
        let m = try #require(bad.withUnsafeBytes { reply.firstMismatch(in: $0) })
        #expect(m.offset == 4_000 && m.length == 5_000 && m.expected == reply.segments[1].checksum && m.actual != m.expected)
        // Data shorter than the segments claim is a mismatch, never an over-read.
        #expect(Array(data[0..<5_000]).withUnsafeBytes { reply.firstMismatch(in: $0) }?.offset == 4_000)
    }

    @Test func readReplyRefusesMalformedSegmentLists() {
        var zero = WireWriter()
        zero.u32(1); zero.u32(0); zero.u32(0)
        #expect(throws: WireError.malformed(type: .readChunk, field: "segment length", reason: "zero")) { try ReadChunkReply.decode(zero.bytes) }
        var many = WireWriter()
        many.u32(UInt32(ReadChunkReply.maxSegments + 1))
        #expect(throws: WireError.malformed(type: .readChunk, field: "segments", reason: "\(ReadChunkReply.maxSegments + 1) exceeds \(ReadChunkReply.maxSegments)")) {
            try ReadChunkReply.decode(many.bytes)
        }
        var huge = WireWriter()
        huge.u32(2); huge.u32(UInt32(ReadChunkRequest.maxLength)); huge.u32(0); huge.u32(1); huge.u32(0)
        #expect(throws: WireError.malformed(type: .readChunk, field: "segment length", reason: "segments exceed \(ReadChunkRequest.maxLength) bytes")) {
            try ReadChunkReply.decode(huge.bytes)
        }
        var short = WireWriter()
        short.u32(2); short.u32(5); short.u32(0)
        #expect(throws: WireError.malformed(type: .readChunk, field: "segment length", reason: "needs 4 bytes, 0 left")) { try ReadChunkReply.decode(short.bytes) }
    }

    @Test func truncatedStreamIsReported() throws {
        var d = FrameDecoder(maxPayload: 100)
        d.feed(Array(Frame(type: .ping, requestID: 1, payload: [1, 2, 3]).encoded.dropLast()))
        #expect(try d.next() == nil)
        #expect(throws: WireError.truncated(expected: 23, got: 22)) { try d.finish() }
    }
}

@Suite struct PayloadTests {
    @Test func roundTrips() throws {
        let r = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 9, fragment: 2), offset: 77, length: 4096)
        #expect(try ReadChunkRequest.decode(r.encoded) == r)
        let l = ChunkList(keys: [ChunkKey(stripe: 1, fragment: 0), ChunkKey(stripe: 2, fragment: 5)])
        #expect(try ChunkList.decode(l.encoded) == l)
        let c = ChunkRequest(drive: "ssd-3", key: ChunkKey(stripe: 4, fragment: 1))
        #expect(try ChunkRequest.decode(c.encoded, type: .getChunk) == c)
        let put = c.encoded + [9, 8, 7]
        let (head, dataOffset) = try put.withUnsafeBytes { try ChunkRequest.decodeHead($0, type: .putChunk) }
        #expect(head == c)
        #expect(Array(put[dataOffset...]) == [9, 8, 7])
        let e = RemoteError(.corrupt, "chunk 1 on node-1/d0 is corrupt")
        #expect(try RemoteError.decode(e.encoded) == e)
    }

    @Test func malformedFieldsAreNamed() {
        var short = ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 9, fragment: 2), offset: 77, length: 4096).encoded
        short.removeLast()
        #expect(throws: WireError.malformed(type: .readChunk, field: "length", reason: "needs 4 bytes, 3 left")) { try ReadChunkRequest.decode(short) }
        #expect(throws: WireError.malformed(type: .readChunk, field: "end", reason: "1 unexpected trailing bytes")) {
            try ReadChunkRequest.decode(ReadChunkRequest(drive: "d0", key: ChunkKey(stripe: 9, fragment: 2), offset: 0, length: 1).encoded + [0])
        }
        // A drive name that tries to leave the drive directory.
        #expect {
            try ChunkRequest.decode(ChunkRequest(drive: "../etc", key: ChunkKey(stripe: 1, fragment: 0)).encoded, type: .getChunk)
        } throws: { e in
            guard case let .malformed(_, field, _) = e as? WireError else { return false }
            return field == "drive"
        }
        // A count larger than the payload can hold is refused before allocating.
        var w = WireWriter()
        w.u32(1_000_000)
        #expect { try ChunkList.decode(w.bytes) } throws: { e in
            guard case let .malformed(_, field, _) = e as? WireError else { return false }
            return field == "count"
        }
        var bad = WireWriter()
        bad.blob([0xFF, 0xFE])
        #expect {
            try DriveName.decode(bad.bytes)
        } throws: { e in
            guard case let .malformed(_, _, reason) = e as? WireError else { return false }
            return reason.contains("UTF-8")
        }
    }

    @Test func jsonMessagesNameMissingFields() throws {
        let hb = NodeHeartbeat(node: try #require(NodeID("n1")), address: Endpoint(host: "127.0.0.1", port: 1), drives: [DriveReport(name: "d0", condition: .ok)])
        #expect(try JSONMessage.decode(NodeHeartbeat.self, from: JSONMessage.encode(hb), message: .heartbeat) == hb)
        #expect(throws: WireError.malformed(type: .heartbeat, field: "address", reason: "missing")) {
            try JSONMessage.decode(NodeHeartbeat.self, from: Array(#"{"node":"n1","drives":[]}"#.utf8), message: .heartbeat)
        }
        #expect { try JSONMessage.decode(NodeHeartbeat.self, from: Array(#"{"node":"../x","address":"h:1","drives":[]}"#.utf8), message: .heartbeat) } throws: { e in
            guard case let .malformed(_, field, _) = e as? WireError else { return false }
            return field == "node"
        }
    }
}
