/// The byte-level engine behind `BackblazeCSV.parse`. It scans UTF-8 bytes once, records field
/// boundaries, and only materialises Strings for the few text columns, which keeps large files
/// fast. Errors are returned as values because the closures it runs inside are `rethrows`, which
/// would erase the typed error.
struct CSVReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let file: String
    private var pos = 0
    private var line = 1
    private var spans: [Span] = []
    private var names: [String] = []

    private struct Span {
        var start: Int
        var end: Int
        var quoted: Bool
        var escaped: Bool
    }

    private enum Role {
        case date, serial, model, capacity, failure, latency, ioErrors, ignored
        case raw(Int)
        case normalized(Int)
    }

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let lf: UInt8 = 10
    private static let cr: UInt8 = 13
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
    }

    mutating func readAll() -> Result<[SmartRecord], HealthError> {
        // Header: the first non-blank row.
        repeat {
            switch nextRow() {
            case .failure(let error): return .failure(error)
            case .success(nil):
                return .failure(.csv(file: file, line: line, column: nil, reason: "the file is empty; a header row is required"))
            case .success: break
            }
        } while isBlankRow
        names = spans.map { span in
            let text = self.text(span)
            return text.trimmingSpaces().lowercased()
        }
        let roles = names.map(Self.role(of:))
        for required in ["date", "serial_number", "model", "failure"] where !names.contains(required) {
            return .failure(.missingColumn(file: file, column: required))
        }

        var records: [SmartRecord] = []
        records.reserveCapacity(bytes.count / max(64, 4 * names.count))
        var cachedDateBytes: [UInt8] = []
        var cachedDay = 0
        // Consecutive rows usually carry the same attributes, so sizing each row's dictionaries
        // like the previous row's avoids repeated rehashing as they fill.
        var rawCapacity = 0
        var normalizedCapacity = 0

        while true {
            let rowLine: Int
            switch nextRow() {
            case .failure(let error): return .failure(error)
            case .success(nil): return .success(records)
            case .success(let start?): rowLine = start
            }
            if isBlankRow { continue }
            guard spans.count == names.count else {
                let reason = "the row has \(spans.count) fields but the header has \(names.count)"
                let column = spans.count < names.count ? names[spans.count] : nil
                return .failure(.csv(file: file, line: rowLine, column: column, reason: reason))
            }

            var day: Int?
            var serial = ""
            var model = ""
            var capacity: Int64?
            var failure: Bool?
            var raw = [Int: Double](minimumCapacity: rawCapacity)
            var normalized = [Int: Double](minimumCapacity: normalizedCapacity)
            var latency: Double?
            var ioErrors: Double?

            for (index, span) in spans.enumerated() {
                let role = roles[index]
                func fail(_ reason: String) -> Result<[SmartRecord], HealthError> {
                    .failure(.csv(file: file, line: rowLine, column: names[index], reason: reason))
                }
                switch role {
                case .ignored:
                    continue
                case .date:
                    let (start, end) = trimmed(span)
                    let cell = UnsafeBufferPointer(rebasing: bytes[start..<end])
                    if cell.elementsEqual(cachedDateBytes) {
                        day = cachedDay
                    } else if let parsed = Self.parseDate(cell) {
                        cachedDateBytes = Array(cell)
                        cachedDay = parsed
                        day = parsed
                    } else {
                        return fail("'\(text(span))' is not a valid YYYY-MM-DD date")
                    }
                case .serial:
                    serial = text(span)
                    if serial.isEmpty { return fail("the serial number is empty") }
                case .model:
                    model = text(span)
                case .failure:
                    let (start, end) = trimmed(span)
                    if end - start == 1, bytes[start] == UInt8(ascii: "0") || bytes[start] == UInt8(ascii: "1") {
                        failure = bytes[start] == UInt8(ascii: "1")
                    } else {
                        return fail("failure must be 0 or 1, found '\(text(span))'")
                    }
                case .capacity, .raw, .normalized, .latency, .ioErrors:
                    let (start, end) = trimmed(span)
                    if start == end { continue }
                    guard let value = number(start, end) else {
                        return fail("'\(text(span))' is not a number")
                    }
                    switch role {
                    case .raw(let id): raw[id] = value
                    case .normalized(let id): normalized[id] = value
                    case .latency: latency = value
                    case .ioErrors: ioErrors = value
                    default:
                        guard value == value.rounded(), abs(value) < 9.2e18 else {
                            return fail("'\(text(span))' is not a whole number of bytes")
                        }
                        capacity = Int64(value)
                    }
                }
            }
            // Both are required columns, so they were visited and either set or reported above.
            guard let day, let failure else {
                return .failure(.csv(file: file, line: rowLine, column: nil, reason: "the row has no date or failure value"))
            }
            rawCapacity = raw.count
            normalizedCapacity = normalized.count
            records.append(SmartRecord(
                day: day, serial: serial, model: model, capacityBytes: capacity, failure: failure,
                attributes: raw, normalized: normalized, latencyRatio: latency, ioErrors: ioErrors
            ))
        }
    }

    private var isBlankRow: Bool {
        spans.count == 1 && !spans[0].quoted && spans[0].start == spans[0].end
    }

    /// Reads one row into `spans`. Returns the line the row starts on, or nil at end of input.
    /// Quoted fields may span lines; `line` keeps counting physical lines so errors point at the
    /// file as an editor shows it.
    private mutating func nextRow() -> Result<Int?, HealthError> {
        spans.removeAll(keepingCapacity: true)
        let count = bytes.count
        guard pos < count else { return .success(nil) }
        let startLine = line
        while true {
            if pos < count, bytes[pos] == Self.quote {
                pos += 1
                let start = pos
                var escaped = false
                while true {
                    guard pos < count else {
                        return .failure(.csv(file: file, line: startLine, column: columnName(spans.count),
                                             reason: "a quoted field is never closed"))
                    }
                    let byte = bytes[pos]
                    if byte == Self.quote {
                        if pos + 1 < count, bytes[pos + 1] == Self.quote {
                            escaped = true
                            pos += 2
                            continue
                        }
                        break
                    }
                    if byte == Self.lf { line += 1 }
                    pos += 1
                }
                spans.append(Span(start: start, end: pos, quoted: true, escaped: escaped))
                pos += 1
                if pos < count {
                    let byte = bytes[pos]
                    if byte == Self.comma {
                        pos += 1
                        continue
                    }
                    if byte != Self.lf, byte != Self.cr {
                        return .failure(.csv(file: file, line: line, column: columnName(spans.count - 1),
                                             reason: "unexpected text after a closing quote"))
                    }
                }
            } else {
                let start = pos
                while pos < count {
                    let byte = bytes[pos]
                    if byte == Self.comma || byte == Self.lf || byte == Self.cr { break }
                    pos += 1
                }
                spans.append(Span(start: start, end: pos, quoted: false, escaped: false))
                if pos < count, bytes[pos] == Self.comma {
                    pos += 1
                    continue
                }
            }
            // End of row: consume LF, CRLF or a lone CR.
            if pos < count {
                if bytes[pos] == Self.cr { pos += 1 }
                if pos < count, bytes[pos] == Self.lf { pos += 1 }
                line += 1
            }
            return .success(startLine)
        }
    }

    private func columnName(_ index: Int) -> String? {
        index < names.count ? names[index] : nil
    }

    private func trimmed(_ span: Span) -> (Int, Int) {
        var start = span.start
        var end = span.end
        while start < end, bytes[start] == 32 || bytes[start] == 9 { start += 1 }
        while end > start, bytes[end - 1] == 32 || bytes[end - 1] == 9 { end -= 1 }
        return (start, end)
    }

    private func text(_ span: Span) -> String {
        let cell = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.escaped else { return String(decoding: cell, as: UTF8.self) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(cell.count)
        var previousWasQuote = false
        for byte in cell {
            // Inside a quoted field every quote is doubled; keep one of each pair.
            if byte == Self.quote, previousWasQuote {
                previousWasQuote = false
                continue
            }
            previousWasQuote = byte == Self.quote
            unescaped.append(byte)
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    /// Decimal numbers without an exponent and with at most 15 significant digits are converted
    /// exactly (integer mantissa divided by an exact power of ten is correctly rounded); anything
    /// else falls back to the standard library parser.
    private func number(_ start: Int, _ end: Int) -> Double? {
        var index = start
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var sawDot = false
        var simple = index < end
        while index < end {
            let byte = bytes[index]
            if byte >= 48, byte <= 57 {
                digits += 1
                if digits > 15 {
                    simple = false
                    break
                }
                mantissa = mantissa * 10 + UInt64(byte - 48)
                if sawDot { fractionDigits += 1 }
            } else if byte == UInt8(ascii: "."), !sawDot {
                sawDot = true
            } else {
                simple = false
                break
            }
            index += 1
        }
        if simple, digits > 0 {
            let magnitude = Double(mantissa) / Self.powersOfTen[fractionDigits]
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    static func parseDate(_ cell: UnsafeBufferPointer<UInt8>) -> Int? {
        guard cell.count == 10, cell[4] == UInt8(ascii: "-"), cell[7] == UInt8(ascii: "-") else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                let byte = cell[i]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10) else { return nil }
        return SmartCalendar.day(year: year, month: month, day: day)
    }

    private static func role(of name: String) -> Role {
        switch name {
        case "date": return .date
        case "serial_number": return .serial
        case "model": return .model
        case "capacity_bytes": return .capacity
        case "failure": return .failure
        case "granary_latency_ratio": return .latency
        case "granary_io_errors": return .ioErrors
        default:
            guard name.hasPrefix("smart_") else { return .ignored }
            let parts = name.split(separator: "_")
            guard parts.count == 3, let id = Int(parts[1]) else { return .ignored }
            switch parts[2] {
            case "raw": return .raw(id)
            case "normalized": return .normalized(id)
            default: return .ignored
            }
        }
    }
}

private extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
