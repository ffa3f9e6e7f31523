/// How a `Loader` batches, shuffles, shards and reads — the knobs of PyTorch's `DataLoader` and
/// `DistributedSampler`, in one value that `validate()` checks before anything is read.
public struct LoaderConfiguration: Sendable, Equatable, Codable {
    /// Samples per batch (the last batch of an epoch may be shorter unless `dropLast`).
    public var batchSize: Int
    /// Leave out the remainder that does not fill a batch on every rank (see `EpochPlan`).
    public var dropLast: Bool
    /// Shuffle each epoch; the order depends only on `seed` and the epoch.
    public var shuffle: Bool
    public var seed: UInt64
    /// This process's rank in `0..<worldSize`.
    public var rank: Int
    public var worldSize: Int
    /// Sample reads in flight at once (across batches).
    public var concurrentReads: Int
    /// Batches read ahead of the one the caller is working on.
    public var prefetchBatches: Int
    /// Batches of upcoming sample order published to the client's prefetcher beyond the ones the
    /// loader is reading itself (`prefetchBatches` + 1).
    public var hintBatches: Int
    /// What an unreadable sample does: fail its batch, or be skipped and counted.
    public var onError: SampleErrorPolicy
    /// How long a sample file's map (its extents and stripes) is reused before it is asked of
    /// the managers again; 0 asks every time. Within it a file rewritten in place may be read at
    /// its previous content (see `FileMapCache`).
    public var metadataCacheSeconds: Double
    /// The most sample files whose maps are kept (about 200 bytes each).
    public var metadataCacheEntries: Int
    /// Memory for hinted prefetch: a loader whose client has no cache (and no other hint sink)
    /// installs a read cache of this size with the hinted policy, which fetches the announced
    /// samples just in time. 0 turns it off.
    public var prefetchMemoryBytes: Int

    public init(batchSize: Int = 32, dropLast: Bool = false, shuffle: Bool = true, seed: UInt64 = 0, rank: Int = 0,
                worldSize: Int = 1, concurrentReads: Int = 32, prefetchBatches: Int = 2, hintBatches: Int = 4,
                onError: SampleErrorPolicy = .fail, metadataCacheSeconds: Double = 600, metadataCacheEntries: Int = 2_000_000,
                prefetchMemoryBytes: Int = 256 << 20) {
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.worldSize = worldSize
        self.concurrentReads = concurrentReads
        self.prefetchBatches = prefetchBatches
        self.hintBatches = hintBatches
        self.onError = onError
        self.metadataCacheSeconds = metadataCacheSeconds
        self.metadataCacheEntries = metadataCacheEntries
        self.prefetchMemoryBytes = prefetchMemoryBytes
    }

    /// Throws `.invalidConfiguration` naming the first field out of range.
    public func validate() throws(LoaderError) {
        func bad(_ field: String, _ reason: String) -> LoaderError { .invalidConfiguration(field: field, reason: reason) }
        guard batchSize >= 1 else { throw bad("batchSize", "must be at least 1, got \(batchSize)") }
        guard worldSize >= 1 else { throw bad("worldSize", "must be at least 1, got \(worldSize)") }
        guard (0..<worldSize).contains(rank) else { throw bad("rank", "must be in 0..<\(worldSize) (worldSize), got \(rank)") }
        guard concurrentReads >= 1 else { throw bad("concurrentReads", "must be at least 1, got \(concurrentReads)") }
        guard prefetchBatches >= 0 else { throw bad("prefetchBatches", "must not be negative, got \(prefetchBatches)") }
        guard hintBatches >= 0 else { throw bad("hintBatches", "must not be negative, got \(hintBatches)") }
        guard metadataCacheSeconds >= 0, metadataCacheSeconds.isFinite else {
            throw bad("metadataCacheSeconds", "must be a finite number of seconds ≥ 0, got \(metadataCacheSeconds)")
        }
        guard prefetchMemoryBytes >= 0 else { throw bad("prefetchMemoryBytes", "must not be negative, got \(prefetchMemoryBytes)") }
        guard metadataCacheEntries >= 0 else { throw bad("metadataCacheEntries", "must not be negative, got \(metadataCacheEntries)") }
    }
}

/// What the loader does with a sample it cannot read.
public enum SampleErrorPolicy: String, Sendable, Equatable, Codable {
    /// The batch fails with an error naming the sample (the default: silent gaps in training data
    /// are worse than a stop).
    case fail
    /// The sample is left out of its batch and counted in `Loader.skippedSamples`.
    case skip
}
