@testable import GranaryTransport
import GranaryWire
import Testing

/// The RDMA transport's control messages and connect hello: what goes out decodes to the same
/// thing, and every malformed input is refused naming what is wrong (these run without a device).
@Suite struct RDMAMessageTests {
    func decode(_ bytes: [UInt8], max: Int = 1 << 20) throws -> RDMAMessage {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        defer { copy.deallocate() }
        copy.copyBytes(from: bytes)
        return try RDMAMessage.decode(UnsafeRawBufferPointer(copy), maxPayload: max)
    }

    @Test func messagesRoundTrip() throws {
        var frame = RDMAMessage(kind: .frame, credits: 7, written: 4096)
        frame.header = FrameHeader(type: .readChunk, flags: FrameHeader.responseFlag | FrameHeader.dataFlag, requestID: 42, payloadLength: 3)
        frame.payload = [1, 2, 3]
        frame.target = .init(address: 0x7f00_0000_1000, rkey: 0xabcd, length: 1 << 20)
        #expect(try decode(frame.encoded()) == frame)

        var staged = RDMAMessage(kind: .frame, token: 9)
        staged.header = FrameHeader(type: .putChunk, requestID: 1, payloadLength: 5 << 20)
        staged.rendezvous = .init(address: 0x1000, rkey: 3, length: 5 << 20)
        #expect(try decode(staged.encoded(), max: 64 << 20) == staged)

        #expect(try decode(RDMAMessage(kind: .credits, credits: 16).encoded()) == RDMAMessage(kind: .credits, credits: 16))
        #expect(try decode(RDMAMessage(kind: .release, token: 77).encoded()) == RDMAMessage(kind: .release, token: 77))
    }

    @Test func malformedMessagesAreRefusedByField() {
        #expect { try decode([9, 0, 0, 0, 0, 0, 0, 0]) } throws: { "\($0)".contains("unknown control message kind 9") }
        #expect(throws: WireError.badFlags(0x80)) { try decode([1, 0x80, 0, 0, 0, 0, 0, 0]) }
        #expect { try decode([2, 1, 0, 0, 0, 0, 0, 0]) } throws: { "\($0)".contains("a credit message carries no memory") }
        // A frame whose inline payload is shorter or longer than its header says.
        var m = RDMAMessage(kind: .frame)
        m.header = FrameHeader(type: .ping, requestID: 1, payloadLength: 4)
        m.payload = [1, 2]
        #expect(throws: WireError.self) { try decode(m.encoded()) }
        // A rendezvous that announces another length than the frame's.
        var r = RDMAMessage(kind: .frame)
        r.header = FrameHeader(type: .ping, requestID: 1, payloadLength: 100)
        r.rendezvous = .init(address: 1, rkey: 1, length: 99)
        #expect { try decode(r.encoded()) } throws: { "\($0)".contains("rendezvous length") }
        // A frame above the limit, even if fetched.
        r.rendezvous = .init(address: 1, rkey: 1, length: 100)
        #expect(throws: WireError.frameTooLarge(length: 100, limit: 50)) { try decode(r.encoded(), max: 50) }
        #expect(throws: WireError.self) { try decode([1, 0, 0]) }
    }

    @Test func helloIsCheckedBeforeAnythingIsAllocated() {
        typealias Hello = RDMAConnectionManager.Hello
        let h = Hello(depth: 32, slotBytes: 32 << 10)
        #expect((try? Hello.decode(h.encoded).get()) == h)
        func reason(_ b: [UInt8]) -> String {
            if case let .failure(f) = Hello.decode(b) { return f.reason }
            return "accepted"
        }
        #expect(reason([]).contains("not a Granary peer"))
        #expect(reason(Array("HTTP/1.1 200".utf8)).contains("not a Granary peer"))
        var v = h.encoded
        v[4] = 9
        #expect(reason(v).contains("version 9"))
        #expect(reason(Hello(depth: 4, slotBytes: 32 << 10).encoded).contains("4 slots"))
        #expect(reason(Hello(depth: 32, slotBytes: 100).encoded).contains("100-byte slots"))
    }
}
