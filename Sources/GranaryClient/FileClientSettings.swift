import GranaryCore

/// How a `FileClient` writes and reads: the layout new files get when no directory sets one, the
/// small-file packing threshold, and the read path's patience.
public struct FileClientSettings: Sendable, Equatable {
    /// The layout of new files where no directory sets one (its backend is replaced by the best
    /// one this host has, see `ErasureCodec.preferred`).
    public var defaultLayout: StripeLayout
    /// Files smaller than this are packed into shared stripes.
    public var smallFileThreshold: Int
    /// A data-fragment read that has not answered after this long is given up and the stripe's
    /// bytes are decoded from its other fragments instead (the hedge against a slow drive).
    public var hedgeAfterMs: Int
    /// Timeout of every fragment write and of the whole-fragment reads of a degraded read.
    public var fragmentTimeoutMs: Int
    /// Stripes written or read at once by one file operation.
    public var stripesInFlight: Int
    /// How old a cached cluster map may be before it is fetched again.
    public var mapMaxAgeMs: Int
    /// The user the path-based calls (`readFile`, `writeFile`, `authorize`) check permissions for,
    /// as the kernel does for a mount; nil: a trusted client, no checks (the mount itself, whose
    /// kernel checks, and the cluster's own services). The CLI sets the calling user.
    public var identity: AccessIdentity? = nil

    public init(defaultLayout: StripeLayout = .default, smallFileThreshold: Int = 1 << 20, hedgeAfterMs: Int = 2000,
                fragmentTimeoutMs: Int = 30_000, stripesInFlight: Int = 4, mapMaxAgeMs: Int = 2000) {
        self.defaultLayout = defaultLayout
        self.smallFileThreshold = smallFileThreshold
        self.hedgeAfterMs = hedgeAfterMs
        self.fragmentTimeoutMs = fragmentTimeoutMs
        self.stripesInFlight = stripesInFlight
        self.mapMaxAgeMs = mapMaxAgeMs
    }
}
