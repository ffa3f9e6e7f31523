import GranaryCore
import GranaryWire

/// Frame-level reads and writes on a blocking stream (a socket, or TLS over one), shared by client and server.
enum FrameIO {
    /// Reads and validates one header. Errors carry a reason fit for the log.
    static func readHeader(_ s: any ByteStream, maxPayload: Int) -> Result<FrameHeader, ReadFailure> {
        var raw = [UInt8](repeating: 0, count: FrameHeader.size)
        let r = raw.withUnsafeMutableBytes { s.receive(into: $0) }
        switch r {
        case .ok: break
        case .eof(got: 0): return .failure(.closed("peer closed the connection"))
        case let .eof(got): return .failure(.wire(.truncated(expected: FrameHeader.size, got: got)))
        case let .failed(reason): return .failure(.closed(reason))
        }
        do throws(WireError) {
            return .success(try FrameHeader.decode(raw, maxPayload: maxPayload))
        } catch {
            return .failure(.wire(error))
        }
    }

    static func readPayload(_ s: any ByteStream, length: Int) -> Result<[UInt8], ReadFailure> {
        var payload = [UInt8](repeating: 0, count: length)
        if length > 0 {
            let r = payload.withUnsafeMutableBytes { s.receive(into: $0) }
            if let f = ReadFailure(r, expected: length) { return .failure(f) }
        }
        return .success(payload)
    }

    /// Reads one whole frame (used during the handshake).
    static func readFrame(_ s: any ByteStream, maxPayload: Int) -> Result<Frame, ReadFailure> {
        readHeader(s, maxPayload: maxPayload).flatMap { h in
            readPayload(s, length: h.payloadLength).map { Frame(header: h, payload: $0) }
        }
    }

    enum ReadFailure: Error {
        case closed(String)
        case wire(WireError)

        init?(_ r: Socket.IOResult, expected: Int) {
            switch r {
            case .ok: return nil
            case let .eof(got): self = .wire(.truncated(expected: FrameHeader.size + expected, got: FrameHeader.size + got))
            case let .failed(reason): self = .closed(reason)
            }
        }

        var reason: String {
            switch self {
            case let .closed(r): return r
            case let .wire(w): return w.description
            }
        }
    }

    static func send(_ s: any ByteStream, _ header: FrameHeader, _ parts: [UInt8]...) -> Socket.IOResult {
        send(s, header, parts: parts, data: nil)
    }

    /// Writes the header, the byte arrays and an optional raw tail with one sendmsg.
    static func send(_ s: any ByteStream, _ header: FrameHeader, parts: [[UInt8]], data: UnsafeRawBufferPointer?) -> Socket.IOResult {
        let h = header.encoded
        return h.withUnsafeBytes { hb in
            withBuffers(parts[...]) { bufs in
                var all = [hb]
                all.append(contentsOf: bufs)
                if let data { all.append(data) }
                return s.send(all)
            }
        }
    }

    private static func withBuffers<R>(_ parts: ArraySlice<[UInt8]>, _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        guard let first = parts.first else { return body([]) }
        return first.withUnsafeBytes { fb in
            withBuffers(parts.dropFirst()) { rest in body([fb] + rest) }
        }
    }
}
