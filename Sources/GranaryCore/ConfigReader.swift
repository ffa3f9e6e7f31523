import TOMLKit

/// Reads a TOML table strictly: every value is checked against the type asked for, and after
/// reading, `finish()` reports any key nobody asked for, so a misspelt key stops the program instead
/// of being silently ignored. Errors name the full dotted key (`storage.drives[1].path`).
public final class ConfigReader {
    public let file: String
    let table: TOMLTable
    let prefix: String
    private var consumed: Set<String> = []
    private var children: [ConfigReader] = []

    /// Parses `text` (the contents of `file`).
    public convenience init(text: String, file: String) throws(ConfigError) {
        try TOMLPrecheck.check(text, file: file)
        do {
            self.init(table: try TOMLTable(string: text), file: file, prefix: "")
        } catch let e as TOMLParseError {
            throw .syntax(file: file, line: Int(e.source.begin.line), column: Int(e.source.begin.column), reason: e.description)
        } catch {
            throw .syntax(file: file, line: 0, column: 0, reason: "\(error)")
        }
    }

    /// Reads the file at `path`, refusing one that group or others may write: whoever can change a
    /// config decides which managers, secret and certificates a process trusts.
    public convenience init(path: String) throws(ConfigError) {
        if let mode = try? FileIO.mode(path), mode & 0o022 != 0 {
            throw .unsafePermissions(file: path, mode: String(mode & 0o7777, radix: 8), problem: .writableByOthers)
        }
        let text: String
        do {
            text = try FileIO.readString(path)
        } catch {
            throw .unreadable(file: path, reason: "\(error)")
        }
        try self.init(text: text, file: path)
    }

    init(table: TOMLTable, file: String, prefix: String) {
        self.table = table
        self.file = file
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    public func has(_ key: String) -> Bool { table[key] != nil }

    private func value(_ key: String) -> (any TOMLValueConvertible)? {
        consumed.insert(key)
        return table[key]
    }

    private func bad(_ key: String, _ v: any TOMLValueConvertible, _ expected: String) -> ConfigError {
        .badValue(file: file, key: path(key), value: v.debugDescription, expected: expected)
    }

    public func string(_ key: String) throws(ConfigError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw bad(key, v, "a string") }
        return s
    }

    public func requiredString(_ key: String) throws(ConfigError) -> String {
        guard let s = try string(key) else { throw .missingKey(file: file, key: path(key)) }
        return s
    }

    public func int(_ key: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.int, range.contains(i) else { throw bad(key, v, "an integer in \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    /// A number (integer or float) within `range`.
    public func double(_ key: String, range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double? = v.double ?? v.int.map(Double.init)
        guard let d, range.contains(d) else { throw bad(key, v, "a number in \(range.lowerBound)...\(range.upperBound)") }
        return d
    }

    public func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw bad(key, v, "true or false") }
        return b
    }

    /// A size such as `64MiB` (a string) or a plain integer of bytes.
    public func byteSize(_ key: String, range: ClosedRange<Int64>) throws(ConfigError) -> ByteSize? {
        guard let v = value(key) else { return nil }
        let size: ByteSize?
        if let i = v.int { size = i >= 0 ? ByteSize(Int64(i)) : nil } else if let s = v.string { size = ByteSize(parsing: s) } else { size = nil }
        guard let size, range.contains(size.bytes) else {
            throw bad(key, v, "a size such as \"64MiB\" between \(ByteSize(range.lowerBound)) and \(ByteSize(range.upperBound))")
        }
        return size
    }

    public func endpoint(_ key: String, allowAnyPort: Bool = false) throws(ConfigError) -> Endpoint? {
        guard let v = value(key) else { return nil }
        guard let s = v.string, let e = Endpoint(parsing: s, allowAnyPort: allowAnyPort) else {
            throw bad(key, v, "\"host:port\"")
        }
        return e
    }

    public func endpoints(_ key: String) throws(ConfigError) -> [Endpoint]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, v, "an array of \"host:port\" strings") }
        var out: [Endpoint] = []
        for item in a {
            guard let s = item.string, let e = Endpoint(parsing: s) else { throw bad(key, v, "an array of \"host:port\" strings") }
            out.append(e)
        }
        return out
    }

    public func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, v, "an array of strings") }
        var out: [String] = []
        for item in a {
            guard let s = item.string else { throw bad(key, v, "an array of strings") }
            out.append(s)
        }
        return out
    }

    /// A sub-table `[key]`, read with the same strictness; `nil` when absent.
    public func table(_ key: String) throws(ConfigError) -> ConfigReader? {
        guard let v = value(key) else { return nil }
        guard let t = v.table else { throw bad(key, v, "a table [\(path(key))]") }
        let child = ConfigReader(table: t, file: file, prefix: path(key))
        children.append(child)
        return child
    }

    /// An array of tables `[[key]]`; empty when absent.
    public func tables(_ key: String) throws(ConfigError) -> [ConfigReader] {
        guard let v = value(key) else { return [] }
        guard let a = v.array else { throw bad(key, v, "an array of tables [[\(path(key))]]") }
        var out: [ConfigReader] = []
        for (i, item) in a.enumerated() {
            guard let t = item.table else { throw bad(key, v, "an array of tables [[\(path(key))]]") }
            let child = ConfigReader(table: t, file: file, prefix: "\(path(key))[\(i)]")
            children.append(child)
            out.append(child)
        }
        return out
    }

    /// Throws `unknownKey` for the first key (in this table or any sub-table read) nobody asked for.
    public func finish() throws(ConfigError) {
        for key in table.keys.sorted() where !consumed.contains(key) {
            throw .unknownKey(file: file, key: path(key))
        }
        for child in children { try child.finish() }
    }
}
