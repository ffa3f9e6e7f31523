import GranaryMeta

/// Where a cached item's bytes live in the namespace: a byte range of one file. The cache keeps one
/// per item it knows, so it can fetch an item the policy asks for before anyone reads it.
struct CacheLocator: Sendable, Hashable {
    var inode: InodeID
    var offset: Int64
    var length: Int
    /// For error messages.
    var path: String
}
