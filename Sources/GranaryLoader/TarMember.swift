/// One entry of a tar archive as `TarScanner` found it: its effective name and where its data sits.
///
/// Guarantees, for members produced by `TarScanner`: `name` already has GNU long-name and pax
/// `path=` overrides applied; `size` is the number of data bytes actually stored after the header
/// (0 for directories, links, devices and FIFOs, whose header size POSIX says to ignore); the data
/// occupies `dataOffset..<dataOffset + size` and does not run past `Int64.max`; and
/// `headerOffset == dataOffset - 512` except for GNU sparse members, whose sparse-map extension
/// blocks sit between the two.
public struct TarMember: Sendable, Equatable {
    /// What the entry is; only `.regular` members carry file contents a loader should read.
    public enum Kind: Sendable, Equatable {
        /// Typeflag '0', NUL or '7' (contiguous file).
        case regular
        /// Typeflag '5', or an old-style NUL typeflag whose name ends in "/".
        case directory
        /// Links, devices, FIFOs, GNU sparse files, unknown vendor types: reported so callers can
        /// count them, never to be read as file contents.
        case other
    }

    /// The member's path as stored (UTF-8; invalid sequences are replaced by U+FFFD).
    public var name: String
    public var kind: Kind
    /// Byte offset of the member's own ustar header block (after any long-name or pax headers).
    public var headerOffset: Int64
    /// Byte offset of the member's first data byte.
    public var dataOffset: Int64
    /// Number of data bytes stored in the archive.
    public var size: Int64

    public init(name: String, kind: Kind, headerOffset: Int64, dataOffset: Int64, size: Int64) {
        self.name = name
        self.kind = kind
        self.headerOffset = headerOffset
        self.dataOffset = dataOffset
        self.size = size
    }
}
