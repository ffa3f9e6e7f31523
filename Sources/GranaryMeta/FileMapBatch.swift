/// The file maps of many files from one snapshot of the store, each stripe sent once however many
/// of the files point into it — what a data loader asks for per batch of samples, where small
/// files packed into shared stripes would otherwise repeat the same stripe records many times.
///
/// Guarantees every stripe an entry's extents name is in `stripes`; `files[i]` answers the i-th id
/// asked for, `nil` when that inode does not exist (deleted since the caller listed it).
public struct FileMapBatch: Codable, Sendable, Equatable {
    /// One file's attributes and extents.
    public struct Entry: Codable, Sendable, Equatable {
        public var inode: Inode
        public var extents: [Extent]

        public init(inode: Inode, extents: [Extent]) {
            self.inode = inode
            self.extents = extents
        }
    }

    public var files: [Entry?]
    public var stripes: [UInt64: Stripe]

    public init(files: [Entry?], stripes: [UInt64: Stripe]) {
        self.files = files
        self.stripes = stripes
    }

    /// The i-th file's map, `nil` when it did not exist.
    public func map(_ i: Int) -> FileMap? {
        guard files.indices.contains(i), let e = files[i] else { return nil }
        var own: [UInt64: Stripe] = [:]
        for x in e.extents { own[x.stripe] = stripes[x.stripe] }
        return FileMap(inode: e.inode, extents: e.extents, stripes: own)
    }
}
