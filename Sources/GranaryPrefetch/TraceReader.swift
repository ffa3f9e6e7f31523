#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams `TraceRecord`s out of a JSON-lines trace file (see `TraceRecord` for the format).
///
/// Guarantees: records come back in file order; blank lines are skipped; any other line that is
/// not a flat JSON object with `t` (finite number), `job` (string or integer), `key` (string) and
/// `size` (non-negative integer) — or whose `t` is below the previous record's — stops reading
/// with `TraceError.malformedLine` naming the file, the 1-based line and the reason. Unknown keys
/// are skipped, so traces may carry extra fields. The parser is hand-written for this flat shape
/// (no Foundation, no per-line allocation beyond the two strings) because traces run to millions
/// of lines.
///
/// Not thread-safe: one owner reads.
public final class TraceReader {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false
    private var lineNumber = 0
    private var previousT = -Double.infinity

    public init(path: String) throws(TraceError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        self.fd = fd
        self.path = path
        self.buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    deinit { if fd >= 0 { closeDescriptor(fd) } }

    /// Reads a whole file.
    public static func readAll(path: String) throws(TraceError) -> [TraceRecord] {
        let reader = try TraceReader(path: path)
        var out: [TraceRecord] = []
        while let r = try reader.next() { out.append(r) }
        return out
    }

    /// The next record, or nil at the end of the file.
    public func next() throws(TraceError) -> TraceRecord? {
        while true {
            guard let (lineStart, lineEnd) = try nextLine() else { return nil }
            lineNumber += 1
            let parsed: Result<TraceRecord?, LineParser.Failure> = buffer.withUnsafeBufferPointer { all in
                let line = UnsafeBufferPointer(rebasing: all[lineStart..<lineEnd])
                do throws(LineParser.Failure) {
                    return .success(try LineParser.parse(line))
                } catch {
                    return .failure(error)
                }
            }
            switch parsed {
            case .failure(let failure):
                throw .malformedLine(file: path, line: lineNumber, reason: failure.reason)
            case .success(nil):
                continue  // blank line
            case .success(let record?):
                if record.t < previousT {
                    throw .malformedLine(file: path, line: lineNumber,
                                         reason: .timeGoesBackwards(previous: previousT, current: record.t))
                }
                previousT = record.t
                return record
            }
        }
    }

    /// Bounds of the next line in `buffer` (without its newline), refilling from the file.
    private func nextLine() throws(TraceError) -> (Int, Int)? {
        var scanFrom = start
        while true {
            let from = scanFrom, upTo = end
            let found: Int? = buffer.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress, from < upTo,
                      let hit = memchr(base + from, Int32(UInt8(ascii: "\n")), upTo - from) else { return nil }
                return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            }
            if let nl = found {
                defer { start = nl + 1 }
                return (start, nl)
            }
            if atEOF {
                guard start < end else { return nil }
                // The final line has no newline; give it one so number scanning has a terminator.
                if end == buffer.count { buffer.append(0) }
                buffer[end] = UInt8(ascii: "\n")
                end += 1
                continue
            }
            // Keep the partial line, make room, and read more.
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    memmove(base, base + start, end - start)
                }
                end -= start
                start = 0
            }
            if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            scanFrom = end
            let fd = self.fd
            let capacity = buffer.count - end
            let filled = end
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                while true {
                    let n = read(fd, base + filled, capacity)
                    if n < 0 && errno == EINTR { continue }
                    return n
                }
            }
            if n < 0 { throw .unreadable(path: path, errno: errno) }
            if n == 0 { atEOF = true } else { end += n }
        }
    }
}

/// Parses one trace line; an internal detail of `TraceReader`, exposed to tests via `parse`.
struct LineParser {
    struct Failure: Error { var reason: TraceError.Reason }

    private let p: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

    /// The record on `line`, nil for a blank line.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(Failure) -> TraceRecord? {
        var parser = LineParser(line)
        return try parser.record()
    }

    /// Convenience for tests and callers holding a `String`.
    static func parse(_ line: String) throws(Failure) -> TraceRecord? {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))  // the terminator `TraceReader` guarantees
        let result: Result<TraceRecord?, Failure> = bytes.withUnsafeBufferPointer { all in
            do throws(Failure) {
                return .success(try parse(UnsafeBufferPointer(rebasing: all[0..<(all.count - 1)])))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    private var peek: UInt8? { i < p.count ? p[i] : nil }

    private mutating func skipSpace() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0D { i += 1 }
    }

    private func fail(_ expected: String) -> Failure { Failure(reason: .syntax(column: i + 1, expected: expected)) }

    private mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
        skipSpace()
        guard peek == c else { throw fail(what) }
        i += 1
    }

    private mutating func record() throws(Failure) -> TraceRecord? {
        skipSpace()
        if i == p.count { return nil }
        try expect(UInt8(ascii: "{"), "'{'")
        var t: Double?, job: String?, key: String?, size: Int?, offset: Int64?, write: Bool?
        skipSpace()
        if peek == UInt8(ascii: "}") { i += 1 } else {
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw fail("a quoted key") }
                let name = try string()
                try expect(UInt8(ascii: ":"), "':'")
                skipSpace()
                switch name {
                case "t":
                    if t != nil { throw Failure(reason: .duplicateKey(name)) }
                    guard let v = try number() else { throw Failure(reason: .wrongType(key: name, expected: "a number")) }
                    guard v.value.isFinite else { throw Failure(reason: .nonFiniteTime) }
                    t = v.value
                case "job":
                    if job != nil { throw Failure(reason: .duplicateKey(name)) }
                    if peek == UInt8(ascii: "\"") { job = try string() }
                    else if let v = try number(), let n = v.integer { job = String(n) }
                    else { throw Failure(reason: .wrongType(key: name, expected: "a string or an integer")) }
                case "key":
                    if key != nil { throw Failure(reason: .duplicateKey(name)) }
                    guard peek == UInt8(ascii: "\"") else { throw Failure(reason: .wrongType(key: name, expected: "a string")) }
                    key = try string()
                case "size":
                    if size != nil { throw Failure(reason: .duplicateKey(name)) }
                    guard let v = try number(), let n = v.integer else {
                        throw Failure(reason: .wrongType(key: name, expected: "an integer"))
                    }
                    guard n >= 0 else { throw Failure(reason: .negativeSize(Int(n))) }
                    size = Int(n)
                case "offset":
                    if offset != nil { throw Failure(reason: .duplicateKey(name)) }
                    guard let v = try number(), let n = v.integer else {
                        throw Failure(reason: .wrongType(key: name, expected: "an integer"))
                    }
                    offset = n
                case "write":
                    if write != nil { throw Failure(reason: .duplicateKey(name)) }
                    guard let b = literal() else { throw Failure(reason: .wrongType(key: name, expected: "true or false")) }
                    write = b
                default:
                    try skipValue(depth: 0)
                }
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == UInt8(ascii: "}") { i += 1; break }
                throw fail("',' or '}'")
            }
        }
        skipSpace()
        guard i == p.count else { throw fail("end of line") }
        guard let t else { throw Failure(reason: .missingKey("t")) }
        guard let job else { throw Failure(reason: .missingKey("job")) }
        guard let key else { throw Failure(reason: .missingKey("key")) }
        guard let size else { throw Failure(reason: .missingKey("size")) }
        return TraceRecord(t: t, job: job, key: key, size: size, offset: offset ?? 0, isWrite: write ?? false)
    }

    /// `true`/`false` at the cursor (consumed), nil if neither.
    private mutating func literal() -> Bool? {
        if matches("true") { i += 4; return true }
        if matches("false") { i += 5; return false }
        return nil
    }

    private func matches(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { return false }
        let w = word.utf8Start
        for k in 0..<n where p[i + k] != w[k] { return false }
        return true
    }

    /// A JSON string at the cursor (which is on the opening quote).
    private mutating func string() throws(Failure) -> String {
        i += 1
        let begin = i
        // Fast path: no escapes, so the bytes are the string.
        while i < p.count, p[i] != UInt8(ascii: "\""), p[i] != UInt8(ascii: "\\"), p[i] >= 0x20 { i += 1 }
        guard i < p.count else { throw fail("closing '\"'") }
        if p[i] == UInt8(ascii: "\"") {
            let s = try Self.text(UnsafeBufferPointer(rebasing: p[begin..<i]))
            i += 1
            return s
        }
        var bytes = Array(p[begin..<i])
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return try bytes.withUnsafeBufferPointer { b throws(Failure) in try Self.text(b) }
            }
            if c < 0x20 { throw fail("an escaped control character") }
            if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
            i += 1
            guard let e = peek else { break }
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(e)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard matches("\\u") else { throw fail("a low surrogate") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("a low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw Failure(reason: .invalidUTF8) }
                bytes.append(contentsOf: String(Character(u)).utf8)
            default: i -= 1; throw fail("a valid escape")
            }
        }
        throw fail("closing '\"'")
    }

    /// The UTF-8 `bytes` as a String, or `.invalidUTF8`. (Decoding and comparing back is much
    /// cheaper than the generic `String(validating:)`, and ASCII skips the comparison.)
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
        let s = String(decoding: bytes, as: UTF8.self)
        if bytes.allSatisfy({ $0 < 0x80 }) { return s }
        guard s.utf8.elementsEqual(bytes) else { throw Failure(reason: .invalidUTF8) }
        return s
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= p.count else { throw fail("four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("a hex digit")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// A JSON number at the cursor, or nil (cursor unmoved) if there is none. `integer` is set
    /// when the text has no fraction or exponent and fits in 64 bits.
    private mutating func number() throws(Failure) -> (value: Double, integer: Int64?)? {
        let begin = i
        var negative = false
        if peek == UInt8(ascii: "-") { negative = true; i += 1 }
        guard let first = peek, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else {
            i = begin
            return nil
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var overflow = false
        if first == UInt8(ascii: "0") { i += 1 } else {
            while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                mantissa = m2
                digits += 1
                i += 1
            }
        }
        var fractionDigits = 0
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { throw fail("a digit after '.'") }
            while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                mantissa = m2
                digits += 1
                fractionDigits += 1
                i += 1
            }
        }
        if let c = peek, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if let s = peek, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { i += 1 }
            guard let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { throw fail("an exponent digit") }
            while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { i += 1 }
        }
        if isInteger, !overflow {
            let limit = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
            if mantissa <= limit {
                let n = negative ? (mantissa == limit ? Int64.min : -Int64(mantissa)) : Int64(mantissa)
                return (Double(n), n)
            }
        }
        // Exact fast path (Clinger): both operands are exactly representable, so one correctly
        // rounded division gives the correctly rounded result.
        if !overflow, digits <= 15, fractionDigits <= 22, isInteger || !containsExponent(begin) {
            let v = Double(mantissa) / pow10[fractionDigits]
            return (negative ? -v : v, nil)
        }
        return (try slowDouble(begin), nil)
    }

    private func containsExponent(_ begin: Int) -> Bool {
        p[begin..<i].contains { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// strtod on a NUL-terminated copy (the grammar was already checked, so strtod sees only JSON).
    private func slowDouble(_ begin: Int) throws(Failure) -> Double {
        let count = i - begin
        guard count < 400 else { throw fail("a shorter number") }
        var text = [CChar](repeating: 0, count: count + 1)
        for k in 0..<count { text[k] = CChar(bitPattern: p[begin + k]) }
        return strtod(text, nil)
    }

    private mutating func skipValue(depth: Int) throws(Failure) {
        guard depth < 64 else { throw fail("less nesting") }
        skipSpace()
        guard let c = peek else { throw fail("a value") }
        switch c {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            skipSpace()
            if peek == close { i += 1; return }
            while true {
                if c == UInt8(ascii: "{") {
                    skipSpace()
                    guard peek == UInt8(ascii: "\"") else { throw fail("a quoted key") }
                    _ = try string()
                    try expect(UInt8(ascii: ":"), "':'")
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == close { i += 1; return }
                throw fail("',' or a closing bracket")
            }
        default:
            if literal() != nil { return }
            if matches("null") { i += 4; return }
            guard try number() != nil else { throw fail("a value") }
        }
    }
}

private let pow10: [Double] = (0...22).map { k in
    var v = 1.0
    for _ in 0..<k { v *= 10 }
    return v
}
