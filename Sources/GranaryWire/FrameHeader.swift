/// The fixed 20-byte header in front of every frame, big-endian:
///
/// ```
/// magic u32 "GRNY" | version u8 | flags u8 | type u16 | request id u64 | payload length u32
/// ```
///
/// Guarantees that `decode` accepts only headers this build can serve: right magic and version,
/// known type, valid flags, and a payload no longer than the limit the caller passes — so a reader
/// never allocates more than it agreed to because a peer said so.
public struct FrameHeader: Equatable, Sendable {
    public static let size = 20
    public static let magic: UInt32 = 0x4752_4E59  // "GRNY"
    public static let protocolVersion: UInt8 = 1

    /// Flag bits.
    public static let responseFlag: UInt8 = 0x01
    public static let errorFlag: UInt8 = 0x02
    /// A response whose payload is a head and bulk data: `head length u32 | head | data`. The
    /// receiver puts the head in memory and the data straight into the caller's buffer.
    public static let dataFlag: UInt8 = 0x04

    public var type: MessageType
    public var flags: UInt8
    public var requestID: UInt64
    public var payloadLength: Int

    public init(type: MessageType, flags: UInt8 = 0, requestID: UInt64, payloadLength: Int) {
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.payloadLength = payloadLength
    }

    public var isResponse: Bool { flags & Self.responseFlag != 0 }
    public var isError: Bool { flags & Self.errorFlag != 0 }
    public var carriesData: Bool { flags & Self.dataFlag != 0 }

    public func encode(into out: inout [UInt8]) {
        var w = WireWriter()
        w.u32(Self.magic)
        w.u8(Self.protocolVersion)
        w.u8(flags)
        w.u16(type.rawValue)
        w.u64(requestID)
        w.u32(UInt32(payloadLength))
        out.append(contentsOf: w.bytes)
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.size)
        encode(into: &out)
        return out
    }

    /// Decodes and validates a header from the first `size` bytes of `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxPayload: Int) throws(WireError) -> FrameHeader {
        guard bytes.count >= size else { throw .truncated(expected: size, got: bytes.count) }
        var r = WireReader(bytes, type: .ping)
        // The reader cannot run short here: the length was checked above.
        let magic = (try? r.u32()) ?? 0
        guard magic == Self.magic else { throw .badMagic(magic) }
        let version = (try? r.u8()) ?? 0
        guard version == protocolVersion else { throw .unsupportedVersion(version) }
        let flags = (try? r.u8()) ?? 0
        // Error and data are kinds of response, and exclusive.
        guard flags & ~(responseFlag | errorFlag | dataFlag) == 0,
              flags & (errorFlag | dataFlag) == 0 || flags & responseFlag != 0,
              flags & errorFlag == 0 || flags & dataFlag == 0 else {
            throw .badFlags(flags)
        }
        let rawType = (try? r.u16()) ?? 0
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        let id = (try? r.u64()) ?? 0
        let length = Int((try? r.u32()) ?? 0)
        guard length <= maxPayload else { throw .frameTooLarge(length: length, limit: maxPayload) }
        return FrameHeader(type: type, flags: flags, requestID: id, payloadLength: length)
    }

    public static func decode(_ bytes: [UInt8], maxPayload: Int) throws(WireError) -> FrameHeader {
        let result: Result<FrameHeader, WireError> = bytes.withUnsafeBytes { buf in
            do throws(WireError) { return .success(try decode(buf, maxPayload: maxPayload)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
