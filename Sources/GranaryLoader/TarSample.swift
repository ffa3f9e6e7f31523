/// One WebDataset sample: the consecutive regular members of a shard that share a key.
///
/// Guarantees, for samples produced by `WebDatasetGrouper`: `members` is non-empty, in archive
/// order, with distinct extensions; and since tar stores members back to back, `span` is one
/// contiguous byte range of the shard that holds every part, so a single read fetches the sample.
public struct TarSample: Sendable, Equatable {
    /// One member of the sample, named by its extension.
    public struct Part: Sendable, Equatable {
        /// Everything after the first dot of the member's base name ("seg.png").
        public var ext: String
        public var dataOffset: Int64
        public var size: Int64

        public init(ext: String, dataOffset: Int64, size: Int64) {
            self.ext = ext
            self.dataOffset = dataOffset
            self.size = size
        }
    }

    /// The member path up to the first dot of its base name ("a/b/img001").
    public var key: String
    /// The sample's parts, in archive order.
    public var members: [Part]

    public init(key: String, members: [Part]) {
        self.key = key
        self.members = members
    }

    /// From the first part's data to the end of the last part's data (empty when there are no
    /// parts). Computed as the smallest range covering all parts, so a hand-built sample with
    /// parts out of order still yields a valid range instead of trapping.
    public var span: Range<Int64> {
        guard let first = members.first else { return 0..<0 }
        var lower = first.dataOffset
        var upper = first.dataOffset
        for part in members {
            lower = min(lower, part.dataOffset)
            let end = part.dataOffset.addingReportingOverflow(max(part.size, 0))
            upper = max(upper, end.overflow ? Int64.max : end.partialValue)
        }
        return lower..<upper
    }
}
