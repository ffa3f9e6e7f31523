/// Why a tar shard could not be read, grouped into WebDataset samples, or written.
///
/// Every reading error names the shard and the byte offset of the header it concerns, so a
/// message alone is enough to find the damage with `dd`/`xxd`; the cases are `Equatable` so tests
/// and callers can match on the exact failure.
public enum TarError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A header that is not valid: bad checksum, a numeric field that is neither octal nor
    /// base-256, a negative or unrepresentable size, a bad pax record, a long-name or pax header
    /// that no member follows. `offset` is where the offending header block starts.
    case malformed(shard: String, offset: Int64, reason: String)
    /// The archive ends inside a header, or inside a member's data or its padding to 512 bytes.
    /// `offset` is where the incomplete header, or the header of the incomplete member, starts.
    case truncated(shard: String, offset: Int64, reason: String)
    /// One WebDataset sample holds the same extension twice; `offset` is the second member's header.
    case duplicateMember(shard: String, offset: Int64, key: String, ext: String)
    /// The writer refuses a member name longer than `TarWriter.maxNameLength` UTF-8 bytes (the
    /// scanner bounds the extended headers it buffers, so a longer name could not be read back).
    case nameTooLong(name: String)
    /// The writer refuses a member name that no reader could restore (empty, or containing NUL).
    case invalidName(name: String, reason: String)
    /// The writer refuses a header field value (for example a mode wider than its 7 octal digits).
    case invalidField(name: String, field: String, reason: String)
    /// `TarWriter.append` was called after `finish()` wrote the end-of-archive marker.
    case writerFinished(name: String)

    public var description: String {
        switch self {
        case let .malformed(shard, offset, reason):
            return "shard \(shard): malformed tar header at offset \(offset): \(reason)"
        case let .truncated(shard, offset, reason):
            return "shard \(shard): truncated tar archive at offset \(offset): \(reason)"
        case let .duplicateMember(shard, offset, key, ext):
            return "shard \(shard): sample '\(key)' holds extension '\(ext)' twice (the second member's header is at offset \(offset))"
        case let .nameTooLong(name):
            return "tar member name of \(name.utf8.count) bytes exceeds the \(TarWriter.maxNameLength)-byte limit: \(Self.abbreviated(name))"
        case let .invalidName(name, reason):
            return "tar member name '\(Self.abbreviated(name))' is invalid: \(reason)"
        case let .invalidField(name, field, reason):
            return "tar member '\(Self.abbreviated(name))': \(field) \(reason)"
        case let .writerFinished(name):
            return "cannot append '\(Self.abbreviated(name))': the tar writer has already written its end-of-archive marker"
        }
    }

    /// Names can be up to 64 KiB; a log line only needs enough to recognise one.
    private static func abbreviated(_ name: String) -> String {
        name.count <= 200 ? name : String(name.prefix(200)) + "…"
    }
}
