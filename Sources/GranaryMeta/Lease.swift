/// A named lease as a metadata store reports it: who leads some background work (repair, scrub,
/// garbage collection) among managers sharing one store, until when, and in which term.
///
/// Guarantees, for a lease `acquireLease` returns: at most one holder has `held == true` for a
/// name at any moment of the store's clock; `epoch` grows by at least one every time the lease
/// is taken while free or expired (so always when the holder changes) and stays the same on a
/// renewal, so work stamped with an older epoch can be refused (fencing a deposed leader).
/// `expiresAt` is on the store's clock (the database server's for PostgreSQL, the manager's own
/// for SQLite): a holder should renew well before `ttl` has passed by its own monotonic clock
/// rather than compare `expiresAt` with its wall clock.
public struct Lease: Sendable, Codable, Equatable {
    /// The lease's name (for example `repair`).
    public var name: String
    /// Who holds it now, or held it last when it has expired or was released.
    public var holder: String
    /// The term: increases whenever the lease is taken anew; 0 only for a lease never taken.
    public var epoch: UInt64
    /// When the lease ends unless renewed, in seconds since 1970 on the store's clock.
    public var expiresAt: Double
    /// Whether the caller that asked is the holder now (it took or renewed the lease).
    public var held: Bool

    public init(name: String, holder: String, epoch: UInt64, expiresAt: Double, held: Bool) {
        self.name = name
        self.holder = holder
        self.epoch = epoch
        self.expiresAt = expiresAt
        self.held = held
    }
}
