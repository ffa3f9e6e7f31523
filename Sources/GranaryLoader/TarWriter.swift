/// Builds a tar shard in memory: for tests, the sample dataset, and users preparing data.
///
/// Writes POSIX ustar regular-file members (uid/gid 0, empty owner names). A name that does not fit
/// the 100-byte name field, nor split at a "/" into the 155-byte prefix and the name field, is
/// carried by a pax 'x' header's `path=` record; a size of 8 GiB or more (and an mtime outside the
/// 11-octal-digit range) by `size=` (`mtime=`) records. The output reads back with `TarScanner`,
/// GNU tar, bsdtar and Python's `tarfile`.
///
/// Guarantees: an `append` that throws leaves `bytes` unchanged; `finish()` writes the two zero
/// blocks once, however often it is called.
public struct TarWriter: Sendable {
    /// The longest member name accepted, in UTF-8 bytes, well within what `TarScanner` buffers for
    /// a pax header (`TarScanner.maxExtendedHeaderSize`).
    public static let maxNameLength = 65_536

    /// The largest value of a 12-byte numeric field written as 11 octal digits (8 GiB - 1).
    static let maxOctal11: Int64 = 0o77777777777
    /// What the 8-byte mode field can hold in 7 octal digits.
    static let maxMode: UInt32 = 0o7777777

    /// The archive so far; it is only complete after `finish()`.
    public private(set) var bytes: [UInt8] = []
    private var finished = false

    public init() {}

    /// Appends a regular file `name` holding `data`.
    public mutating func append(name: String, data: UnsafeRawBufferPointer, mode: UInt32 = 0o644, mtime: Int64 = 0) throws(TarError) {
        try appendHeader(name: name, size: Int64(data.count), mode: mode, mtime: mtime)
        bytes.append(contentsOf: data)
        padData(ofSize: Int64(data.count))
    }

    /// Appends a regular file `name` holding `bytes`.
    public mutating func append(name: String, bytes data: [UInt8], mode: UInt32 = 0o644, mtime: Int64 = 0) throws(TarError) {
        try appendHeader(name: name, size: Int64(data.count), mode: mode, mtime: mtime)
        bytes.append(contentsOf: data)
        padData(ofSize: Int64(data.count))
    }

    /// Appends the end-of-archive marker (two zero blocks) unless already there, and returns the archive.
    public mutating func finish() -> [UInt8] {
        if !finished {
            bytes.append(contentsOf: repeatElement(0, count: 2 * TarScanner.blockSize))
            finished = true
        }
        return bytes
    }

    /// Appends the header block(s) of a regular member of `size` bytes. The caller must append
    /// exactly `size` data bytes and then call `padData(ofSize:)`; split out so that tests can
    /// describe members far larger than memory.
    mutating func appendHeader(name: String, size: Int64, mode: UInt32, mtime: Int64) throws(TarError) {
        guard !finished else { throw .writerFinished(name: name) }
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty else { throw .invalidName(name: name, reason: "it is empty") }
        guard !nameBytes.contains(0) else { throw .invalidName(name: name, reason: "it contains a NUL byte") }
        guard nameBytes.count <= Self.maxNameLength else { throw .nameTooLong(name: name) }
        guard mode <= Self.maxMode else {
            throw .invalidField(name: name, field: "mode", reason: "0o\(String(mode, radix: 8)) does not fit 7 octal digits")
        }
        guard size >= 0 else { throw .invalidField(name: name, field: "size", reason: "\(size) is negative") }

        var records: [UInt8] = []
        let ustarName: [UInt8]
        var ustarPrefix: [UInt8] = []
        if nameBytes.count <= 100 {
            ustarName = nameBytes
        } else if let cut = Self.ustarSplit(nameBytes) {
            ustarPrefix = Array(nameBytes[..<cut])
            ustarName = Array(nameBytes[(cut + 1)...])
        } else {
            records += Self.paxRecord("path", name)
            ustarName = Self.truncatedUTF8(nameBytes, to: 100)
        }
        var headerSize = size
        if size > Self.maxOctal11 {
            records += Self.paxRecord("size", String(size))
            headerSize = 0
        }
        var headerMtime = mtime
        if mtime < 0 || mtime > Self.maxOctal11 {
            records += Self.paxRecord("mtime", String(mtime))
            headerMtime = 0
        }

        if !records.isEmpty {
            bytes += Self.header(name: Array("././@PaxHeader".utf8), prefix: [], mode: 0o644,
                                 size: Int64(records.count), mtime: 0, typeflag: UInt8(ascii: "x"))
            bytes += records
            padData(ofSize: Int64(records.count))
        }
        bytes += Self.header(name: ustarName, prefix: ustarPrefix, mode: mode,
                             size: headerSize, mtime: headerMtime, typeflag: UInt8(ascii: "0"))
    }

    /// Pads the data just appended to a whole number of blocks.
    mutating func padData(ofSize size: Int64) {
        let tail = Int(size % Int64(TarScanner.blockSize))
        if tail != 0 { bytes.append(contentsOf: repeatElement(0, count: TarScanner.blockSize - tail)) }
    }

    /// Where to cut a long name at a "/" so the prefix fits 155 bytes and the rest 100 (neither
    /// empty: an empty prefix would silently drop a leading "/").
    private static func ustarSplit(_ name: [UInt8]) -> Int? {
        let lowest = max(1, name.count - 101)
        let highest = min(155, name.count - 2)
        guard lowest <= highest else { return nil }
        return (lowest...highest).first { name[$0] == UInt8(ascii: "/") }
    }

    /// The ustar name field of a pax-named member is only a fallback for readers without pax, but
    /// it should still be valid UTF-8, so the cut backs off to a character boundary.
    private static func truncatedUTF8(_ bytes: [UInt8], to limit: Int) -> [UInt8] {
        guard bytes.count > limit else { return bytes }
        var end = limit
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(bytes[..<end])
    }

    /// "<length> <key>=<value>\n", where the length counts its own digits.
    private static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = key.utf8.count + value.utf8.count + 3  // space, "=", newline
        var length = body + String(body).utf8.count
        if String(length).utf8.count > String(body).utf8.count { length += 1 }
        return Array("\(length) \(key)=\(value)\n".utf8)
    }

    private static func header(name: [UInt8], prefix: [UInt8], mode: UInt32, size: Int64, mtime: Int64, typeflag: UInt8) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: TarScanner.blockSize)
        func put(_ field: [UInt8], at offset: Int) {
            for (i, b) in field.enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            // width - 1 zero-padded digits and a NUL, the form every reader accepts.
            let digits = Array(String(value, radix: 8).utf8)
            put([UInt8](repeating: UInt8(ascii: "0"), count: width - 1 - digits.count) + digits, at: offset)
        }
        put(name, at: 0)
        octal(Int64(mode), at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        h[156] = typeflag
        put(Array("ustar\0".utf8), at: 257)
        put(Array("00".utf8), at: 263)
        octal(0, at: 329, width: 8)
        octal(0, at: 337, width: 8)
        put(prefix, at: 345)
        put([UInt8](repeating: UInt8(ascii: " "), count: 8), at: 148)
        let sum = h.reduce(0) { $0 + Int64($1) }
        octal(sum, at: 148, width: 7)
        h[155] = UInt8(ascii: " ")
        return h
    }
}
