/// Everything a reader needs to read a file: its attributes, its extents and the stripes they
/// point into, all from one consistent snapshot of the store.
///
/// Guarantees every stripe an extent names is in `stripes`.
public struct FileMap: Codable, Sendable, Equatable {
    public var inode: Inode
    public var extents: [Extent]
    public var stripes: [UInt64: Stripe]

    public init(inode: Inode, extents: [Extent], stripes: [UInt64: Stripe]) {
        self.inode = inode
        self.extents = extents
        self.stripes = stripes
    }
}
