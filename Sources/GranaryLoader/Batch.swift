/// One batch of an epoch, in delivery order: the samples (or the transform's results) and the
/// samples that were skipped under `SampleErrorPolicy.skip`.
///
/// Guarantees: batches of an epoch arrive in `index` order and hold their samples in the plan's
/// order, whatever order the reads finished in.
public struct Batch<Element: Sendable>: Sendable, RandomAccessCollection {
    public let epoch: Int
    /// The batch's number in the epoch (for this rank).
    public let index: Int
    public let elements: [Element]
    /// Samples left out of this batch because they could not be read (skip policy).
    public let skipped: [SkippedSample]

    public var startIndex: Int { elements.startIndex }
    public var endIndex: Int { elements.endIndex }
    public subscript(position: Int) -> Element { elements[position] }
}

/// A sample the loader could not read and left out, with why.
public struct SkippedSample: Sendable, Equatable {
    public let index: Int
    public let key: String
    public let cause: String
}
