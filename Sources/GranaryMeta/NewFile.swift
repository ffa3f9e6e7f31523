/// A file to create, with its data already on the storage nodes: what `commitFiles` makes visible.
///
/// `replace` lets the commit take the place of an existing file of the same name (copy-on-write
/// overwrite: the old inode and its extents go in the same transaction); without it an existing
/// name is `.exists`.
public struct NewFile: Codable, Sendable, Equatable {
    public var parent: InodeID
    public var name: String
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var mtime: Double?
    public var extents: [Extent]
    public var replace: Bool

    public init(parent: InodeID, name: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, size: Int64,
                mtime: Double? = nil, extents: [Extent], replace: Bool = false) {
        self.parent = parent
        self.name = name
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.extents = extents
        self.replace = replace
    }
}
