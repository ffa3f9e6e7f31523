/// Where a loader stands, to save with a training checkpoint and resume from.
///
/// Guarantees: a loader made from a saved state (same dataset, seed, world size, rank and batch
/// size) delivers exactly the batches of the saved epoch that had not been delivered, then the
/// following epochs as an uninterrupted run would — whatever its `concurrentReads` or prefetch
/// depth. A state that does not fit the loader is refused (`LoaderError.stateMismatch`).
public struct LoaderState: Sendable, Equatable, Codable {
    public var epoch: Int
    /// Batches of `epoch` already delivered to the caller.
    public var position: Int
    public var seed: UInt64
    public var worldSize: Int
    public var rank: Int
    public var batchSize: Int
    /// Samples in the dataset when the state was saved: a dataset that changed since cannot be
    /// resumed into the same order.
    public var sampleCount: Int

    public init(epoch: Int, position: Int, seed: UInt64, worldSize: Int, rank: Int, batchSize: Int, sampleCount: Int) {
        self.epoch = epoch
        self.position = position
        self.seed = seed
        self.worldSize = worldSize
        self.rank = rank
        self.batchSize = batchSize
        self.sampleCount = sampleCount
    }
}
