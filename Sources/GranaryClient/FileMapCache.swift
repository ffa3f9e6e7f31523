import GranaryMeta
import Synchronization

/// The file maps a loader (and the read cache prefetching for it) has fetched, kept for `ttl` seconds so later epochs read samples without
/// asking the managers again — measured, the per-batch `fileMaps` request was a third of the
/// cluster's CPU in a warm epoch of 100 KiB samples. Stripe records are kept once, shared by the
/// many samples packed into one stripe.
///
/// Guarantees: an entry is never used after `ttl`; at most `capacity` files are kept (beyond it,
/// maps are fetched each time); `invalidate` drops a file so its next read asks again — the
/// loader does that when a read through a cached map fails, so a file rewritten or a stripe moved
/// since costs one retry, not an error. Within `ttl` a file rewritten in place may be read at its
/// previous content (a consistent old version, never a mix): datasets are read-mostly, and this is
/// the trade JuiceFS and 3FS make with their client metadata caches.
public final class FileMapCache: Sendable {
    private struct Entry {
        var inode: Inode
        var extents: [Extent]
        var at: Double
    }
    private struct State {
        var files: [InodeID: Entry] = [:]
        var stripes: [UInt64: Stripe] = [:]
    }
    private let state = Mutex(State())
    public let ttl: Double
    public let capacity: Int

    public init(ttl: Double, capacity: Int) {
        self.ttl = ttl
        self.capacity = capacity
    }

    /// The maps of `ids` (in order), from the cache where fresh and from one `fileMaps` request
    /// for the rest.
    public func maps(_ ids: [InodeID], client: FileClient) async throws(ClientError) -> FileMapBatch {
        let now = FileClient.seconds()
        var files = [FileMapBatch.Entry?](repeating: nil, count: ids.count)
        var stripes: [UInt64: Stripe] = [:]
        var missing: [Int] = []
        if ttl > 0 {
            state.withLock { s in
                for (i, id) in ids.enumerated() {
                    guard let e = s.files[id], now - e.at < ttl, e.extents.allSatisfy({ s.stripes[$0.stripe] != nil }) else {
                        missing.append(i)
                        continue
                    }
                    files[i] = FileMapBatch.Entry(inode: e.inode, extents: e.extents)
                    for x in e.extents { stripes[x.stripe] = s.stripes[x.stripe] }
                }
            }
        } else {
            missing = Array(ids.indices)
        }
        if missing.isEmpty { return FileMapBatch(files: files, stripes: stripes) }
        let fetched = try await client.meta.fileMaps(missing.map { ids[$0] })
        for (j, i) in missing.enumerated() { files[i] = fetched.files[j] }
        stripes.merge(fetched.stripes) { _, new in new }
        if ttl > 0 {
            state.withLock { s in
                for e in fetched.files.compactMap({ $0 }) where s.files.count < capacity || s.files[e.inode.id] != nil {
                    s.files[e.inode.id] = Entry(inode: e.inode, extents: e.extents, at: now)
                }
                s.stripes.merge(fetched.stripes) { _, new in new }
            }
        }
        return FileMapBatch(files: files, stripes: stripes)
    }

    /// Forgets `id`'s map and the stripes it named, so they are fetched again.
    public func invalidate(_ id: InodeID) {
        state.withLock { s in
            if let e = s.files.removeValue(forKey: id) { for x in e.extents { s.stripes[x.stripe] = nil } }
        }
    }

    public var count: Int { state.withLock { $0.files.count } }
}
