import GranaryWire

/// One control message of the RDMA transport, as it travels in a send/receive slot.
///
/// Layout (big-endian, like the frames it carries):
///
///     u8 kind  u8 flags  u16 credits  u32 written
///     [kind .release: u64 token]
///     [kind .frame:   target?      (u64 address, u32 rkey, u32 length)   — where to write a read's data
///                     rendezvous?  (u64 address, u32 rkey, u32 length, u64 token) — payload to fetch
///                     frame header, then the payload inline unless it is fetched]
///
/// `credits` returns receive slots to the peer (credit-based flow control); `written` is how many
/// bytes a data response wrote into the request's target before this message was sent.
struct RDMAMessage: Equatable {
    enum Kind: UInt8 { case frame = 1, credits = 2, release = 3 }

    /// Remote memory: where the peer may read or write with one-sided operations.
    struct Remote: Equatable {
        var address: UInt64
        var rkey: UInt32
        var length: UInt32
    }

    var kind: Kind
    var credits: UInt16 = 0
    var written: UInt32 = 0
    var token: UInt64 = 0
    var target: Remote?
    var rendezvous: Remote?
    var header: FrameHeader?
    /// The inline payload (empty when it is fetched by rendezvous).
    var payload: [UInt8] = []
    /// Bytes sent as they are instead of an encoding (tests of bad peers only).
    var raw: [UInt8]?

    static let fixedBytes = 8
    static let remoteBytes = 16
    /// The most any envelope adds before the inline payload.
    static let overheadBytes = fixedBytes + 2 * remoteBytes + 8 + FrameHeader.size

    static let targetFlag: UInt8 = 1
    static let rendezvousFlag: UInt8 = 2

    func encoded() -> [UInt8] {
        if let raw { return raw }
        var w = WireWriter(capacity: Self.overheadBytes + payload.count)
        w.u8(kind.rawValue)
        w.u8((target == nil ? 0 : Self.targetFlag) | (rendezvous == nil ? 0 : Self.rendezvousFlag))
        w.u16(credits)
        w.u32(written)
        switch kind {
        case .credits: break
        case .release: w.u64(token)
        case .frame:
            if let t = target { w.u64(t.address); w.u32(t.rkey); w.u32(t.length) }
            if let r = rendezvous { w.u64(r.address); w.u32(r.rkey); w.u32(r.length); w.u64(token) }
            var h: [UInt8] = []
            header?.encode(into: &h)
            w.raw(h)
            w.raw(payload)
        }
        return w.bytes
    }

    /// Decodes one received message, refusing anything malformed with the field that is wrong.
    static func decode(_ bytes: UnsafeRawBufferPointer, maxPayload: Int) throws(WireError) -> RDMAMessage {
        var r = WireReader(bytes, type: .ping)
        func bad(_ field: String, _ reason: String) -> WireError { .malformed(type: .ping, field: "rdma \(field)", reason: reason) }
        let rawKind = try r.u8("rdma kind")
        guard let kind = Kind(rawValue: rawKind) else { throw bad("kind", "unknown control message kind \(rawKind)") }
        let flags = try r.u8("rdma flags")
        guard flags & ~(targetFlag | rendezvousFlag) == 0 else { throw .badFlags(flags) }
        var m = RDMAMessage(kind: kind)
        m.credits = try r.u16("rdma credits")
        m.written = try r.u32("rdma written")
        switch kind {
        case .credits:
            guard flags == 0 else { throw bad("flags", "a credit message carries no memory") }
        case .release:
            guard flags == 0 else { throw bad("flags", "a release carries no memory") }
            m.token = try r.u64("rdma token")
        case .frame:
            if flags & targetFlag != 0 {
                m.target = Remote(address: try r.u64("target address"), rkey: try r.u32("target rkey"), length: try r.u32("target length"))
            }
            if flags & rendezvousFlag != 0 {
                m.rendezvous = Remote(address: try r.u64("rendezvous address"), rkey: try r.u32("rendezvous rkey"), length: try r.u32("rendezvous length"))
                m.token = try r.u64("rendezvous token")
            }
            let rest = r.rest()
            guard rest.count >= FrameHeader.size else { throw .truncated(expected: FrameHeader.size, got: rest.count) }
            let header = try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: rest[0..<FrameHeader.size]), maxPayload: maxPayload)
            let inline = rest.count - FrameHeader.size
            if let rv = m.rendezvous {
                guard inline == 0, Int(rv.length) == header.payloadLength else {
                    throw bad("rendezvous length", "\(rv.length) bytes announced for a payload of \(header.payloadLength) (\(inline) inline)")
                }
            } else if inline != header.payloadLength {
                throw .truncated(expected: FrameHeader.size + header.payloadLength, got: rest.count)
            }
            m.header = header
            m.payload = Array(UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size...]))
            return m
        }
        try r.finish()
        return m
    }
}
