import GranaryCore

/// The checks every metadata engine applies to what it is given, kept in one place so that
/// `SQLiteMetaStore` and `PostgresMetaStore` accept and refuse exactly the same inputs with the
/// same errors. Pure functions: the stored state they need comes in through closures.
enum MetaRules {
    /// The longest symbolic link target in bytes (PATH_MAX on Linux).
    static let maxSymlinkTarget = 4096

    /// The most stripe ids one call may reserve (a 1 TiB file of 4 MiB stripes needs 262 144).
    static let maxStripeAllocation = 1 << 22

    /// The longest lease name or holder in bytes.
    static let maxLeaseText = 255

    static func validateSymlinkTarget(_ target: String) throws(MetaError) {
        guard !target.isEmpty, target.utf8.count <= maxSymlinkTarget, !target.utf8.contains(0) else {
            throw .invalidSymlinkTarget(target)
        }
    }

    static func validateAllocation(count: Int) throws(MetaError) {
        guard count >= 1, count <= maxStripeAllocation else {
            throw .invalidStripe(id: 0, reason: "cannot allocate \(count) stripe ids at once (1 to \(maxStripeAllocation))")
        }
    }

    /// The names of an absolute path's components.
    static func pathComponents(_ path: String) throws(MetaError) -> [String] {
        guard path.hasPrefix("/") else { throw .invalidPath(path, reason: "it must start with '/'") }
        let parts = path.split(separator: "/").map(String.init)
        for p in parts where EntryName.problem(p) != nil {
            throw .invalidPath(path, reason: "component '\(p)': \(EntryName.problem(p) ?? "")")
        }
        return parts
    }

    /// Throws `.invalidClusterMap` for a map that contradicts itself.
    static func validate(_ map: ClusterMap) throws(MetaError) {
        var nodes: Set<NodeID> = []
        var drives: Set<DriveID> = []
        for node in map.nodes {
            guard nodes.insert(node.id).inserted else { throw .invalidClusterMap(reason: "node \(node.id) appears twice") }
            for drive in node.drives {
                guard drive.id.node == node.id else {
                    throw .invalidClusterMap(reason: "drive \(drive.id) is listed under node \(node.id)")
                }
                guard drives.insert(drive.id).inserted else {
                    throw .invalidClusterMap(reason: "drive \(drive.id) appears twice")
                }
            }
        }
    }

    static func validate(_ stripes: [Stripe]) throws(MetaError) {
        for s in stripes {
            if let problem = s.problem { throw .invalidStripe(id: s.id, reason: problem) }
        }
    }

    /// Throws `bad(reason)` unless `extents` are sorted, disjoint, inside `size` and inside their
    /// stripes (looked up in `known`, else through `lookup`, and remembered).
    static func checkExtents(_ extents: [Extent], size: Int64, known: inout [UInt64: Stripe],
                             lookup: (UInt64) throws -> Stripe?, bad: (String) -> MetaError) throws {
        guard size >= 0 else { throw bad("negative size \(size)") }
        var end: Int64 = 0
        for e in extents {
            guard e.length > 0, e.fileOffset >= end else { throw bad("extent at \(e.fileOffset) is empty or overlaps the one before") }
            guard e.fileEnd <= size else { throw bad("extent at \(e.fileOffset) ends at \(e.fileEnd), past the size \(size)") }
            if known[e.stripe] == nil {
                guard let s = try lookup(e.stripe) else {
                    throw bad("extent at \(e.fileOffset) names stripe \(String(e.stripe, radix: 16)), which does not exist")
                }
                known[e.stripe] = s
            }
            guard let s = known[e.stripe], e.stripeOffset >= 0, e.stripeOffset + e.length <= s.dataLength else {
                throw bad("extent at \(e.fileOffset) reaches past the data of stripe \(String(e.stripe, radix: 16))")
            }
            end = e.fileEnd
        }
    }

    /// Whether a rewriter that read `expected` saw every extent of `current` in the span it
    /// rewrites (`expected` and `extents` together), exactly as stored.
    static func rewriteSawCurrent(_ current: [Extent], expected: [Extent], extents: [Extent]) -> Bool {
        let touched = expected + extents
        guard let lo = touched.map(\.fileOffset).min(), let hi = touched.map(\.fileEnd).max() else { return true }
        let there = current.filter { $0.fileEnd > lo && $0.fileOffset < hi }
        return Set(there) == Set(expected) && expected.count == Set(expected).count
    }

    /// The checks `replaceStripe` makes before looking at the stored stripe.
    static func validateReplacement(_ s: Stripe, expectedVersion: UInt32) throws(MetaError) {
        if let problem = s.problem { throw .invalidStripe(id: s.id, reason: problem) }
        guard s.version > expectedVersion else {
            throw .invalidStripe(id: s.id, reason: "its version \(s.version) does not exceed the version it replaces (\(expectedVersion))")
        }
    }

    /// The checks `replaceStripe` makes against the stored stripe.
    static func validateReplacement(_ s: Stripe, expectedVersion: UInt32, stored: Stripe) throws(MetaError) {
        guard stored.version == expectedVersion else {
            throw .staleStripe(id: s.id, expected: expectedVersion, found: stored.version)
        }
        guard stored.dataLength == s.dataLength else {
            throw .invalidStripe(id: s.id, reason: "it holds \(s.dataLength) data bytes where the stored stripe holds \(stored.dataLength)")
        }
    }

    static func validateLease(_ name: String, holder: String, ttl: Double?) throws(MetaError) {
        for (what, text) in [("name", name), ("holder", holder)] {
            if text.isEmpty { throw .invalidLease(name: name, reason: "the \(what) is empty") }
            if text.utf8.count > maxLeaseText { throw .invalidLease(name: name, reason: "the \(what) is longer than \(maxLeaseText) bytes") }
            if text.utf8.contains(0) { throw .invalidLease(name: name, reason: "the \(what) contains a NUL byte") }
        }
        if let ttl, !(ttl > 0 && ttl <= 365 * 86400) {
            throw .invalidLease(name: name, reason: "time to live \(ttl) s is not between 0 and a year")
        }
    }
}

extension MetaRules {
    /// The lease after `holder` asks for it at `now` (seconds on the store's clock) for `ttl`
    /// seconds, given the stored one (`nil` when never taken). Another holder's unexpired lease is
    /// returned unchanged with `held == false`; the caller's own unexpired lease is renewed in its
    /// epoch; a free or expired lease starts a new epoch.
    static func acquire(_ stored: Lease?, name: String, holder: String, now: Double, ttl: Double) -> Lease {
        if let s = stored, s.expiresAt > now {
            if s.holder != holder { return Lease(name: name, holder: s.holder, epoch: s.epoch, expiresAt: s.expiresAt, held: false) }
            return Lease(name: name, holder: holder, epoch: s.epoch, expiresAt: now + ttl, held: true)
        }
        return Lease(name: name, holder: holder, epoch: (stored?.epoch ?? 0) &+ 1, expiresAt: now + ttl, held: true)
    }

    /// What a released lease stores: expired (0 is before any clock), last holder and epoch kept
    /// so the next taker's epoch is higher.
    static let releasedExpiry: Double = 0
}
