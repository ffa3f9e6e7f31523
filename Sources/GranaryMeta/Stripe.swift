import GranaryCore

/// One erasure-coded stripe as the metadata store records it: its layout, where each fragment
/// lives, and the sizes a reader needs to find data bytes without decoding.
///
/// Guarantees, for stripes a store returns: `fragments` holds exactly `layout.width` placements,
/// indexed `0 ..< width` in order, on distinct drives; `dataLength ≤ blockSize × k`, and data byte
/// `o` of the stripe lives in data fragment `o / blockSize` at payload offset `o % blockSize`
/// (liberasurecode's data fragments are systematic). `version` grows whenever a fragment moves or
/// the stripe is re-encoded (rebuild, shrink, expand, scrub repair), so a reader holding an older
/// copy knows to fetch the stripe again; the data bytes a stripe holds never change.
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
    /// The layout the stripe was written with, while it is stored narrower than that (shrunk
    /// because the cluster lacked failure domains); `nil` when it is at its written width.
    public var wideLayout: StripeLayout?

    public init(id: UInt64, layout: StripeLayout, version: UInt32 = 1, dataLength: Int, fragmentLength: Int,
                headerLength: Int, fragments: [FragmentPlacement], wideLayout: StripeLayout? = nil) {
        self.id = id
        self.layout = layout
        self.version = version
        self.dataLength = dataLength
        self.fragmentLength = fragmentLength
        self.headerLength = headerLength
        self.fragments = fragments
        self.wideLayout = wideLayout
    }

    /// Payload bytes per fragment.
    public var blockSize: Int { fragmentLength - headerLength }

    /// The chunk that holds fragment `index` now.
    public func key(_ index: Int) -> ChunkKey { fragments[index].key(stripe: id) }

    /// The layout the stripe should have: its written one, wider than `layout` while shrunk.
    public var targetLayout: StripeLayout { wideLayout ?? layout }

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
        for f in fragments where f.generation < 1 || f.generation > FragmentPlacement.maxGeneration {
            return "fragment \(f.index) has generation \(f.generation), outside 1...\(FragmentPlacement.maxGeneration)"
        }
        if let w = wideLayout {
            do throws(StripeLayout.Invalid) { try w.validate() } catch { return "invalid wide layout: \(error)" }
            if w.k <= layout.k || w.m != layout.m { return "wide layout \(w.k)+\(w.m) is not a wider \(layout.k)+\(layout.m)" }
        }
        return nil
    }
}

/// Where one fragment of a stripe is stored, and which write of it.
///
/// Every rewrite of a fragment (rebuilt elsewhere, re-encoded, repaired in place) gets a new
/// `generation` and so a new chunk key: the new chunk is written beside the old one and the old one
/// is deleted only after the metadata names the new one, so a crash at any point leaves the stripe
/// readable from the chunks the metadata names.
public struct FragmentPlacement: Codable, Sendable, Equatable, Hashable {
    /// Generations fit in the chunk key's fragment field above the 8 bits of the index.
    public static let maxGeneration: UInt32 = 1 << 23

    public var index: Int
    public var drive: DriveID
    /// The stripe version at which this fragment was written (1 for the first write).
    public var generation: UInt32

    public init(index: Int, drive: DriveID, generation: UInt32 = 1) {
        self.index = index
        self.drive = drive
        self.generation = generation
    }

    /// The chunk holding this fragment: the index in the low 8 bits, the generation above them
    /// (generation 1 is the bare index, the key a first write uses).
    public func key(stripe: UInt64) -> ChunkKey {
        ChunkKey(stripe: stripe, fragment: UInt32(index) | (generation - 1) << 8)
    }

    /// The (index, generation) a chunk key names.
    public static func parse(_ key: ChunkKey) -> (index: Int, generation: UInt32) {
        (Int(key.fragment & 0xff), (key.fragment >> 8) + 1)
    }
}
