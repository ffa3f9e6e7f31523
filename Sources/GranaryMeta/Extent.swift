/// A run of a file's bytes stored in one stripe: file bytes `fileOffset ..< fileOffset + length`
/// are stripe data bytes `stripeOffset ..< stripeOffset + length`.
///
/// Guarantees, for extents a store returns for a file: sorted by `fileOffset`, not overlapping,
/// each inside its stripe's data and inside the file's size. Bytes of the file that no extent
/// covers (holes) read as zeros.
public struct Extent: Codable, Sendable, Equatable, Hashable {
    public var fileOffset: Int64
    public var stripe: UInt64
    public var stripeOffset: Int
    public var length: Int

    public init(fileOffset: Int64, stripe: UInt64, stripeOffset: Int, length: Int) {
        self.fileOffset = fileOffset
        self.stripe = stripe
        self.stripeOffset = stripeOffset
        self.length = length
    }

    public var fileEnd: Int64 { fileOffset + Int64(length) }
}
