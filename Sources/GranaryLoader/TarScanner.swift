/// An incremental tar reader for shards that arrive as a stream of chunks and are never held whole.
///
/// Feed it consecutive chunks of any size; it returns each member as soon as its header has been
/// seen, buffering only header blocks (and long-name/pax extension data, bounded by
/// `maxExtendedHeaderSize`) and skipping member data without copying it. It reads POSIX ustar
/// (name + prefix), v7 and GNU headers, GNU long names ('L'; 'K' long link names are skipped), pax
/// extended headers ('x' `path=`/`size=` apply to the next member, 'g' is ignored), octal and GNU
/// base-256 numbers, and GNU old-style sparse maps. Checksums are verified, accepting the signed
/// sum as GNU tar does.
///
/// Guarantees: malformed or truncated input yields a `TarError` naming the offending header's
/// offset, never a crash, an over-read or unbounded memory; after an error the scanner keeps
/// throwing that error. The archive ends at the first zero block (GNU tar and Python's `tarfile`
/// both stop there too; a correct archive has two), and anything after it is ignored.
public struct TarScanner: Sendable {
    /// Tar's unit: headers are one block and member data is padded to a multiple of it.
    public static let blockSize = 512
    /// The most long-name or pax extension data one header may carry: far above PATH_MAX, and a
    /// bound on what a hostile shard can make the scanner buffer.
    public static let maxExtendedHeaderSize = 1 << 20

    public let shard: String

    /// True once the end-of-archive marker has been read: a streaming caller can stop fetching.
    public var reachedEndOfArchive: Bool {
        if case .ended = state { return true }
        return false
    }

    /// Bytes fed so far (the offset the next fed byte will have).
    public private(set) var bytesConsumed: Int64 = 0

    private enum State: Sendable {
        /// Expecting a header block; `block` holds what has arrived of it.
        case header
        /// Skipping member data and padding; `owner` is the header the data belongs to.
        case skipping(remaining: Int64, owner: Int64)
        /// Collecting a GNU long name or a pax header's records into `extensionBuffer`.
        case extensionData(ExtensionKind, owner: Int64, remaining: Int, padding: Int)
        /// Reading the extension blocks of a GNU old-style sparse member before its data.
        case sparseMap(TarMember)
        case ended
        case failed(TarError)
    }

    private enum ExtensionKind: Sendable {
        case longName
        case pax
    }

    /// What long-name and pax headers said about the member that follows them.
    private struct Pending: Sendable {
        var firstOffset: Int64
        var longName: String?
        var paxPath: String?
        var paxSize: Int64?
        var gnuSparse = false
        var gnuSparseName: String?
    }

    private enum NumberResult {
        case value(Int64)
        case invalid(String)
    }

    private var state: State = .header
    private var block: [UInt8] = []
    private var extensionBuffer: [UInt8] = []
    private var pending: Pending?

    public init(shard: String) {
        self.shard = shard
        block.reserveCapacity(Self.blockSize)
    }

    /// Consumes the next chunk of the archive and returns the members whose header it completed,
    /// in archive order. Members completed earlier in a chunk that then throws are not returned:
    /// the shard is unusable past the error anyway.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(TarError) -> [TarMember] {
        var found: [TarMember] = []
        do {
            try consume(bytes, into: &found)
        } catch {
            state = .failed(error)
            throw error
        }
        return found
    }

    /// Declares the end of the stream. Throws `.truncated` if it ended inside a header, inside a
    /// member's data or padding, or after long-name/pax headers with no member; ending cleanly
    /// after a member's padded data without the zero blocks is accepted, as many writers do that.
    public mutating func finish() throws(TarError) {
        do {
            try checkComplete()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    // MARK: - Stream handling

    private mutating func consume(_ bytes: UnsafeRawBufferPointer, into found: inout [TarMember]) throws(TarError) {
        var cursor = 0
        let end = bytes.count
        while true {
            // Failures and the end marker must win even for an empty chunk.
            switch state {
            case let .failed(error):
                throw error
            case .ended:
                bytesConsumed += Int64(end - cursor)
                return
            default:
                break
            }
            if cursor == end { return }
            let available = end - cursor
            switch state {
            case .failed, .ended:
                return
            case let .skipping(remaining, owner):
                let n = Int(min(remaining, Int64(available)))
                cursor += n
                bytesConsumed += Int64(n)
                state = remaining == Int64(n) ? .header : .skipping(remaining: remaining - Int64(n), owner: owner)
            case let .extensionData(kind, owner, remaining, padding):
                let n = min(remaining, available)
                extensionBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + n)]))
                cursor += n
                bytesConsumed += Int64(n)
                if n == remaining {
                    try completeExtension(kind, owner: owner, padding: padding)
                } else {
                    state = .extensionData(kind, owner: owner, remaining: remaining - n, padding: padding)
                }
            case .header, .sparseMap:
                let n = min(Self.blockSize - block.count, available)
                block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + n)]))
                cursor += n
                bytesConsumed += Int64(n)
                if block.count == Self.blockSize {
                    let blockOffset = bytesConsumed - Int64(Self.blockSize)
                    let member = try processBlock(at: blockOffset)
                    block.removeAll(keepingCapacity: true)
                    if let member { found.append(member) }
                }
            }
        }
    }

    private func checkComplete() throws(TarError) {
        switch state {
        case let .failed(error):
            throw error
        case .ended:
            return
        case .header:
            if !block.isEmpty {
                throw .truncated(shard: shard, offset: bytesConsumed - Int64(block.count),
                                 reason: "the archive ends \(block.count) bytes into a 512-byte header")
            }
            if let pending {
                throw .truncated(shard: shard, offset: pending.firstOffset,
                                 reason: "the archive ends after a long-name or pax extended header, before the member it describes")
            }
        case let .skipping(remaining, owner):
            throw .truncated(shard: shard, offset: owner,
                             reason: "the archive ends \(remaining) bytes short of the end of this header's data and its padding to 512 bytes")
        case let .extensionData(_, owner, remaining, padding):
            throw .truncated(shard: shard, offset: owner,
                             reason: "the archive ends \(remaining + padding) bytes short of the end of this extended header's data")
        case let .sparseMap(member):
            throw .truncated(shard: shard, offset: member.headerOffset,
                             reason: "the archive ends inside the sparse map of '\(member.name)'")
        }
    }

    // MARK: - Headers

    private mutating func processBlock(at offset: Int64) throws(TarError) -> TarMember? {
        if case var .sparseMap(member) = state {
            // Byte 504 of each sparse extension block says whether another one follows.
            if block[504] != 0 { return nil }
            member.dataOffset = offset + Int64(Self.blockSize)
            try startData(size: member.size, owner: member.headerOffset, dataStart: member.dataOffset)
            return member
        }
        if block.allSatisfy({ $0 == 0 }) {
            if let pending {
                throw .malformed(shard: shard, offset: pending.firstOffset,
                                 reason: "a long-name or pax extended header is followed by the end-of-archive marker instead of a member")
            }
            state = .ended
            return nil
        }
        try verifyChecksum(at: offset)
        let typeflag = block[156]
        let headerSize: Int64
        switch number(at: 124, length: 12) {
        case let .value(v): headerSize = v
        case let .invalid(why): throw .malformed(shard: shard, offset: offset, reason: "size field \(why)")
        }
        guard headerSize >= 0 else {
            throw .malformed(shard: shard, offset: offset, reason: "negative size \(headerSize)")
        }

        switch typeflag {
        case UInt8(ascii: "L"), UInt8(ascii: "x"):
            guard headerSize <= Int64(Self.maxExtendedHeaderSize) else {
                let what = typeflag == UInt8(ascii: "L") ? "GNU long name" : "pax extended header"
                throw .malformed(shard: shard, offset: offset,
                                 reason: "\(what) of \(headerSize) bytes exceeds the \(Self.maxExtendedHeaderSize)-byte limit")
            }
            if pending == nil { pending = Pending(firstOffset: offset) }
            let count = Int(headerSize)
            let padding = (Self.blockSize - count % Self.blockSize) % Self.blockSize
            let kind: ExtensionKind = typeflag == UInt8(ascii: "L") ? .longName : .pax
            extensionBuffer.removeAll(keepingCapacity: true)
            if count == 0 {
                try completeExtension(kind, owner: offset, padding: padding)
            } else {
                state = .extensionData(kind, owner: offset, remaining: count, padding: padding)
            }
            return nil
        case UInt8(ascii: "K"):
            // The long link target only matters for extracting links; a loader never needs it.
            if pending == nil { pending = Pending(firstOffset: offset) }
            try startData(size: headerSize, owner: offset, dataStart: offset + Int64(Self.blockSize))
            return nil
        case UInt8(ascii: "g"):
            // Global pax headers carry defaults (charset, comments) that do not change names or sizes.
            try startData(size: headerSize, owner: offset, dataStart: offset + Int64(Self.blockSize))
            return nil
        default:
            return try memberHeader(typeflag: typeflag, headerSize: headerSize, at: offset)
        }
    }

    private mutating func memberHeader(typeflag: UInt8, headerSize: Int64, at offset: Int64) throws(TarError) -> TarMember? {
        var nameBytes = cString(at: 0, length: 100)
        // Only POSIX ustar has a prefix field; GNU headers keep access times at the same place.
        if block[257..<263].elementsEqual([0x75, 0x73, 0x74, 0x61, 0x72, 0x00]) {
            let prefix = cString(at: 345, length: 155)
            if !prefix.isEmpty { nameBytes = prefix + [UInt8(ascii: "/")] + nameBytes }
        }
        var name = String(decoding: nameBytes, as: UTF8.self)
        let extra = pending
        pending = nil
        if let longName = extra?.longName { name = longName }
        if let paxPath = extra?.paxPath { name = paxPath }

        var kind: TarMember.Kind
        switch typeflag {
        case UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .regular
        case 0: kind = name.hasSuffix("/") ? .directory : .regular  // pre-POSIX directories
        case UInt8(ascii: "5"): kind = .directory
        default: kind = .other
        }
        var size = extra?.paxSize ?? headerSize
        switch typeflag {
        case UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"),
             UInt8(ascii: "5"), UInt8(ascii: "6"):
            // POSIX: no data follows these, whatever the size field says.
            size = 0
        default:
            if kind == .directory { size = 0 }
        }
        if extra?.gnuSparse == true {
            // The data holds a sparse map and the file's non-hole fragments, not its contents.
            kind = .other
            if let sparseName = extra?.gnuSparseName { name = sparseName }
        }

        let member = TarMember(name: name, kind: kind, headerOffset: offset,
                               dataOffset: offset + Int64(Self.blockSize), size: size)
        if typeflag == UInt8(ascii: "S") && block[482] != 0 {
            state = .sparseMap(member)
            return nil
        }
        try startData(size: size, owner: offset, dataStart: member.dataOffset)
        return member
    }

    private mutating func startData(size: Int64, owner: Int64, dataStart: Int64) throws(TarError) {
        let (rounded, overflow) = size.addingReportingOverflow(Int64(Self.blockSize - 1))
        let padded = rounded & ~Int64(Self.blockSize - 1)
        guard !overflow, !dataStart.addingReportingOverflow(padded).overflow else {
            throw .malformed(shard: shard, offset: owner,
                             reason: "size \(size) runs past the largest representable archive offset")
        }
        state = padded == 0 ? .header : .skipping(remaining: padded, owner: owner)
    }

    private func verifyChecksum(at offset: Int64) throws(TarError) {
        let recorded: Int64
        switch number(at: 148, length: 8) {
        case let .value(v): recorded = v
        case let .invalid(why): throw .malformed(shard: shard, offset: offset, reason: "checksum field \(why)")
        }
        var unsignedSum: Int64 = 0
        var signedSum: Int64 = 0
        for (i, byte) in block.enumerated() {
            // The checksum is computed with its own field read as eight spaces.
            let b = (148..<156).contains(i) ? UInt8(ascii: " ") : byte
            unsignedSum += Int64(b)
            signedSum += Int64(Int8(bitPattern: b))
        }
        // Some historic writers summed signed chars; GNU tar accepts either sum.
        guard recorded == unsignedSum || recorded == signedSum else {
            throw .malformed(shard: shard, offset: offset,
                             reason: "checksum \(recorded) where the header sums to \(unsignedSum)")
        }
    }

    // MARK: - Extension data

    private mutating func completeExtension(_ kind: ExtensionKind, owner: Int64, padding: Int) throws(TarError) {
        switch kind {
        case .longName:
            // GNU writes the name NUL-terminated; readers (GNU tar, Python) also accept it without.
            let bytes = extensionBuffer.prefix { $0 != 0 }
            pending?.longName = String(decoding: bytes, as: UTF8.self)
        case .pax:
            try parsePaxRecords(owner: owner)
        }
        extensionBuffer.removeAll()
        state = padding > 0 ? .skipping(remaining: Int64(padding), owner: owner) : .header
    }

    /// Records are "<length> <keyword>=<value>\n", the length counting the whole record.
    private mutating func parsePaxRecords(owner: Int64) throws(TarError) {
        let buffer = extensionBuffer
        let n = buffer.count
        var i = 0
        // Python's tarfile stops at a NUL too: some writers pad the record area with zeros.
        while i < n && buffer[i] != 0 {
            var length = 0
            var j = i
            while j < n, buffer[j] >= UInt8(ascii: "0"), buffer[j] <= UInt8(ascii: "9") {
                length = length * 10 + Int(buffer[j] - UInt8(ascii: "0"))
                j += 1
                guard length <= n else { throw paxError(owner, "record at byte \(i) has a length larger than the header's \(n) bytes") }
            }
            guard j > i, j < n, buffer[j] == UInt8(ascii: " ") else {
                throw paxError(owner, "record at byte \(i) does not start with a decimal length and a space")
            }
            let recordEnd = i + length
            guard recordEnd > j + 1, recordEnd <= n else {
                throw paxError(owner, "record at byte \(i) has length \(length), which does not fit the header's \(n) bytes")
            }
            guard buffer[recordEnd - 1] == UInt8(ascii: "\n") else {
                throw paxError(owner, "record at byte \(i) does not end with a newline")
            }
            let body = buffer[(j + 1)..<(recordEnd - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")) else {
                throw paxError(owner, "record at byte \(i) has no '='")
            }
            let keyword = String(decoding: body[body.startIndex..<equals], as: UTF8.self)
            let valueBytes = body[(equals + 1)...]
            // POSIX: an empty value removes the keyword's earlier setting.
            let value: String? = valueBytes.isEmpty ? nil : String(decoding: valueBytes, as: UTF8.self)
            switch keyword {
            case "path":
                pending?.paxPath = value
            case "size":
                if valueBytes.isEmpty {
                    pending?.paxSize = nil
                } else if let size = Self.decimal(valueBytes) {
                    pending?.paxSize = size
                } else {
                    throw paxError(owner, "size record '\(value ?? "")' is not a non-negative decimal number")
                }
            case "GNU.sparse.name":
                pending?.gnuSparse = true
                pending?.gnuSparseName = value
            default:
                if keyword.hasPrefix("GNU.sparse.") { pending?.gnuSparse = true }
            }
            i = recordEnd
        }
    }

    private func paxError(_ owner: Int64, _ reason: String) -> TarError {
        .malformed(shard: shard, offset: owner, reason: "bad pax extended header: \(reason)")
    }

    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    // MARK: - Fields

    /// The bytes of a NUL-terminated field (all of it when it fills the field, as ustar allows).
    private func cString(at start: Int, length: Int) -> [UInt8] {
        Array(block[start..<(start + length)].prefix { $0 != 0 })
    }

    /// A numeric field: octal digits after optional spaces, ended by a space or NUL (or by the field's
    /// end), or GNU base-256 when the first byte has its high bit set.
    private func number(at start: Int, length: Int) -> NumberResult {
        let field = block[start..<(start + length)]
        if let first = field.first, first & 0x80 != 0 {
            // Bit 6 is the sign of the two's-complement number in the remaining bits.
            if first & 0x40 != 0 { return .invalid("holds a negative base-256 number") }
            var value = Int64(first & 0x3F)
            for byte in field.dropFirst() {
                guard value <= Int64.max >> 8 else { return .invalid("holds a base-256 number too large for 64 bits") }
                value = value << 8 | Int64(byte)
            }
            return .value(value)
        }
        var i = field.startIndex
        while i < field.endIndex && field[i] == UInt8(ascii: " ") { i += 1 }
        var value: Int64 = 0
        while i < field.endIndex, field[i] >= UInt8(ascii: "0"), field[i] <= UInt8(ascii: "7") {
            value = value << 3 | Int64(field[i] - UInt8(ascii: "0"))
            i += 1
        }
        // A NUL ends the field (GNU tar and Python ignore what follows it); spaces may run up to it.
        while i < field.endIndex && field[i] == UInt8(ascii: " ") { i += 1 }
        guard i == field.endIndex || field[i] == 0 else {
            return .invalid("'\(Self.printable(field))' is not an octal number")
        }
        return .value(value)
    }

    private static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        String(bytes.map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : "." })
    }
}
