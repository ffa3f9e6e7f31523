/// The attributes of one file, directory or symbolic link, as the metadata store holds them.
///
/// Guarantees, for inodes a store returns: `mode` holds permission bits only (`0o7777`; the type is
/// `kind`), `size` is not negative, `symlinkTarget` is set exactly when `kind` is `.symlink`, and
/// `nlink` counts the directory entries naming the inode (for a directory: 2 plus one per
/// subdirectory, as POSIX file systems report). Times are seconds since the Unix epoch.
public struct Inode: Sendable, Equatable, Codable {
    public var id: InodeID
    public var kind: InodeKind
    /// Permission bits (`0o7777`), without the file-type bits.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Length in bytes (a symlink's is the length of its target, a directory's is 0).
    public var size: Int64
    public var nlink: UInt32
    /// Last change of the contents (data for a file, entries for a directory).
    public var mtime: Double
    /// Last change of the contents or the attributes.
    public var ctime: Double
    /// Where a symbolic link points; `nil` for files and directories.
    public var symlinkTarget: String?

    public init(id: InodeID, kind: InodeKind, mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, nlink: UInt32,
                mtime: Double, ctime: Double, symlinkTarget: String? = nil) {
        self.id = id
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.nlink = nlink
        self.mtime = mtime
        self.ctime = ctime
        self.symlinkTarget = symlinkTarget
    }

    public var isDirectory: Bool { kind == .directory }
}
