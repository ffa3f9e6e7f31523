#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends `TraceRecord`s to a file as JSON lines (the format `TraceRecord` describes).
///
/// Guarantees: numbers are written in their shortest exact form (`t` round-trips bit for bit),
/// keys and job names are escaped per JSON (quotes, backslashes, control characters), `offset`
/// and `write` appear only when non-default, and a record that cannot be represented (non-finite
/// `t`, negative `size`) is refused with `TraceError.invalidRecord` before anything of its batch
/// is written. Output is buffered; `close()` (or `flush()`) makes it durable in the file.
///
/// Not thread-safe: one owner appends (a background task draining an `AccessRing`, say).
public final class TraceWriter {
    private var fd: Int32
    private let path: String
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private static let flushThreshold = 1 << 16

    /// Creates (or truncates, or with `append` extends) the file at `path`.
    public init(path: String, append: Bool = false) throws(TraceError) {
        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw .unwritable(path: path, errno: errno) }
        self.fd = fd
        self.path = path
        self.ownsDescriptor = true
        buffer.reserveCapacity(Self.flushThreshold + 512)
    }

    /// Writes to an already open descriptor (a pipe, stdout); `close()` closes it only if `takeOwnership`.
    public init(fileDescriptor: Int32, takeOwnership: Bool = false) {
        self.fd = fileDescriptor
        self.path = "<fd \(fileDescriptor)>"
        self.ownsDescriptor = takeOwnership
        buffer.reserveCapacity(Self.flushThreshold + 512)
    }

    deinit { try? close() }

    public func append(_ record: TraceRecord) throws(TraceError) {
        try append([record])
    }

    public func append(_ records: [TraceRecord]) throws(TraceError) {
        for (index, r) in records.enumerated() {
            if !r.t.isFinite { throw .invalidRecord(index: index, reason: .nonFiniteTime) }
            if r.size < 0 { throw .invalidRecord(index: index, reason: .negativeSize(r.size)) }
        }
        for r in records {
            Self.encode(r, into: &buffer)
            if buffer.count >= Self.flushThreshold { try flush() }
        }
    }

    /// Hands everything buffered to the file.
    public func flush() throws(TraceError) {
        guard fd >= 0 else {
            if buffer.isEmpty { return }
            throw .unwritable(path: path, errno: EBADF)
        }
        var failure: Int32 = 0
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count, let base = raw.baseAddress {
                let n = write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 { throw .unwritable(path: path, errno: failure) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and, if this writer owns the descriptor, closes it. Further appends fail.
    public func close() throws(TraceError) {
        guard fd >= 0 else { return }
        defer {
            if ownsDescriptor { closeDescriptor(fd) }
            fd = -1
        }
        try flush()
    }

    /// One record as a JSON line (with the newline) appended to `out`.
    static func encode(_ r: TraceRecord, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"t": "#.utf8)
        appendNumber(r.t, to: &out)
        out.append(contentsOf: #", "job": "#.utf8)
        appendString(r.job, to: &out)
        out.append(contentsOf: #", "key": "#.utf8)
        appendString(r.key, to: &out)
        out.append(contentsOf: #", "size": "#.utf8)
        out.append(contentsOf: String(r.size).utf8)
        if r.offset != 0 {
            out.append(contentsOf: #", "offset": "#.utf8)
            out.append(contentsOf: String(r.offset).utf8)
        }
        if r.isWrite { out.append(contentsOf: #", "write": true"#.utf8) }
        out.append(contentsOf: "}\n".utf8)
    }

    /// Integral values print without ".0"; others use Swift's shortest round-trip form, whose
    /// exponent syntax ("1e-05") is valid JSON.
    static func appendNumber(_ x: Double, to out: inout [UInt8]) {
        if x == x.rounded(), abs(x) < 1e15 {
            out.append(contentsOf: String(Int64(x)).utf8)
        } else {
            out.append(contentsOf: x.description.utf8)
        }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// `close(2)`, named apart from the writer's own `close()`.
func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #elseif canImport(Darwin)
    _ = Darwin.close(fd)
    #endif
}
