import GranaryMeta

/// One read a reader knows it will make: which file, which bytes, under which sample key —
/// what the data loader tells the client ahead of time so its cache can fetch just in time.
public struct UpcomingRead: Sendable, Hashable, Codable {
    public var inode: InodeID
    public var offset: Int64
    public var length: Int64
    /// The sample's key (a path below the dataset, or a shard member key): what traces record.
    public var key: String

    public init(inode: InodeID, offset: Int64, length: Int64, key: String) {
        self.inode = inode
        self.offset = offset
        self.length = length
        self.key = key
    }
}
