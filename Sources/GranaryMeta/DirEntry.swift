/// One entry of a directory: a name and the inode it names.
///
/// Guarantees `name` is a valid entry name (see `MetaError.invalidName`) and `kind` is the kind of
/// the inode `inode` at the time the directory was read, so a listing needs no `getattr` per entry.
/// `readdir` never returns `.` or `..`.
public struct DirEntry: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var inode: InodeID
    public var kind: InodeKind

    public init(name: String, inode: InodeID, kind: InodeKind) {
        self.name = name
        self.inode = inode
        self.kind = kind
    }
}
