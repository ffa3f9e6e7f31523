import GranaryBuffers

/// One sample as the loader delivers it: which it is, its label, and its bytes — views into a
/// buffer of the client's pool that the transport read into (no copy in between).
///
/// Guarantees: the bytes stay valid and unchanged while the sample (or anything holding its
/// `buffer`) is alive; when the last holder goes, the buffer returns to the pool. The views
/// (`bytes`, `part(_:)`) must not be kept beyond that; copy what must outlive the sample.
public struct Sample: Sendable {
    /// The sample's index in the dataset (stable for a given dataset index).
    public let index: Int
    /// The path below the dataset root (one file per sample) or the WebDataset key (tar shards).
    public let key: String
    /// The Granary path the bytes came from: the sample's file, or its shard.
    public let path: String
    public internal(set) var label: Label?
    /// A repeat that pads the last batch of a rank (see `EpochPlan`): mask it out of the loss.
    public let isPadding: Bool
    /// The pooled buffer holding the bytes.
    public let buffer: IOBuffer
    /// The members of a tar sample (extension and range in `bytes`); one file's sample has one
    /// part named by its file extension.
    public let parts: [Part]

    /// One member of a sample.
    public struct Part: Sendable, Equatable {
        public var ext: String
        public var range: Range<Int>
    }

    /// The sample's bytes: the whole file, or for a tar sample its members' span (the members are
    /// contiguous in the shard; tar headers lie between them — use `part(_:)` for one member).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer.bytes) }

    /// The bytes of the member with extension `ext` (`"jpg"`, `"cls"`), if the sample has one.
    public func part(_ ext: String) -> UnsafeRawBufferPointer? {
        guard let p = parts.first(where: { $0.ext == ext }) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[p.range])
    }

    public var count: Int { buffer.count }
}
