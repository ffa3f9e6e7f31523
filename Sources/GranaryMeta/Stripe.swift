import GranaryCore

/// One erasure-coded stripe as the metadata store records it: its layout, where each fragment
/// lives, and the sizes a reader needs to find data bytes without decoding.
///
/// Guarantees, for stripes a store returns: `fragments` holds exactly `layout.width` placements,
/// indexed `0 ..< width` in order, on distinct drives; `dataLength ≤ blockSize × k`, and data byte
/// `o` of the stripe lives in data fragment `o / blockSize` at payload offset `o % blockSize`
/// (liberasurecode's data fragments are systematic). `version` grows whenever a fragment moves
/// (rebuild), so a reader holding an older copy knows to fetch the stripe again.
public struct Stripe: Codable, Sendable, Equatable {
    public var id: UInt64
    public var layout: StripeLayout
    public var version: UInt32
    /// Data bytes the stripe encodes (before padding).
    public var dataLength: Int
    /// Bytes of each fragment as stored (codec header included).
    public var fragmentLength: Int
    /// Bytes of the codec's header in front of each fragment's payload.
    public var headerLength: Int
    public var fragments: [FragmentPlacement]

    public init(id: UInt64, layout: StripeLayout, version: UInt32 = 1, dataLength: Int, fragmentLength: Int,
                headerLength: Int, fragments: [FragmentPlacement]) {
        self.id = id
        self.layout = layout
        self.version = version
        self.dataLength = dataLength
        self.fragmentLength = fragmentLength
        self.headerLength = headerLength
        self.fragments = fragments
    }

    /// Payload bytes per fragment.
    public var blockSize: Int { fragmentLength - headerLength }

    /// The chunk that holds fragment `index`.
    public func key(_ index: Int) -> ChunkKey { ChunkKey(stripe: id, fragment: UInt32(index)) }

    /// Why this stripe cannot be stored, or `nil` when it is consistent.
    public var problem: String? {
        do throws(StripeLayout.Invalid) { try layout.validate() } catch { return "invalid layout: \(error)" }
        if headerLength < 0 || fragmentLength <= headerLength { return "fragment length \(fragmentLength) does not exceed its header (\(headerLength) bytes)" }
        if dataLength < 0 || dataLength > blockSize * layout.k {
            return "data length \(dataLength) does not fit \(layout.k) fragments of \(blockSize) bytes"
        }
        if fragments.count != layout.width { return "\(fragments.count) fragment placements for a \(layout.k)+\(layout.m) layout" }
        for (i, f) in fragments.enumerated() where f.index != i { return "placement \(i) is for fragment \(f.index)" }
        if Set(fragments.map(\.drive)).count != fragments.count { return "two fragments on one drive" }
        return nil
    }
}

/// Where one fragment of a stripe is stored.
public struct FragmentPlacement: Codable, Sendable, Equatable, Hashable {
    public var index: Int
    public var drive: DriveID

    public init(index: Int, drive: DriveID) {
        self.index = index
        self.drive = drive
    }
}
