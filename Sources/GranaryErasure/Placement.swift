#if canImport(Glibc)
import Glibc
#endif
import GranaryCore

/// Chooses the drives that hold a stripe's fragments.
///
/// Guarantees, for a given cluster map and stripe id, one answer (no randomness, no process-seeded
/// hashing), so every client and the manager agree and tests can predict it:
/// - only drives that are `up` on nodes that are `up`, each used at most once;
/// - fragments on distinct nodes (failure domains) whenever enough nodes have usable drives, and
///   otherwise spread as evenly over the nodes as the drives allow;
/// - drives chosen with probability proportional to their free space (weighted rendezvous
///   hashing), so full drives fill last and one drive joining or leaving moves only the stripes
///   that pick or picked it.
public enum Placement {
    /// Why no placement exists.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case notEnoughDrives(needed: Int, usable: Int)

        public var description: String {
            switch self {
            case let .notEnoughDrives(needed, usable):
                return "stripe needs \(needed) drives but only \(usable) usable drives are up"
            }
        }
    }

    /// `width` distinct drives for `stripe`, in fragment order, never any of `excluding` (drives
    /// that already hold the stripe, when one fragment is being replaced) and preferring nodes not
    /// in `avoidingNodes` (nodes that hold the stripe's other fragments).
    public static func choose(stripe: UInt64, width: Int, in map: ClusterMap,
                              excluding: Set<DriveID> = [], avoidingNodes: Set<NodeID> = []) throws(Failure) -> [DriveID] {
        // Each usable drive with its rendezvous score for this stripe; best first per node.
        var perNode: [(node: NodeID, drives: [(id: DriveID, score: Double)])] = []
        for node in map.nodes where node.state == .up {
            let drives = node.drives
                .filter { $0.state == .up && !excluding.contains($0.id) }
                .map { (id: $0.id, score: score(stripe: stripe, drive: $0.id, weight: $0.freeBytes)) }
                .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id.description < $1.id.description }
            if !drives.isEmpty { perNode.append((node.id, drives)) }
        }
        let usable = perNode.reduce(0) { $0 + $1.drives.count }
        guard usable >= width else { throw .notEnoughDrives(needed: width, usable: usable) }
        // Rounds: each round takes at most one more drive from every node, nodes ranked by the
        // score of the drive they offer (nodes to avoid rank after all others). Round one alone
        // fills the stripe when there are enough nodes — one fragment per failure domain.
        var chosen: [DriveID] = []
        var round = 0
        while chosen.count < width {
            let offers = perNode.compactMap { entry -> (node: NodeID, id: DriveID, score: Double)? in
                round < entry.drives.count ? (entry.node, entry.drives[round].id, entry.drives[round].score) : nil
            }
            let ranked = offers.sorted { a, b in
                let aAvoid = avoidingNodes.contains(a.node), bAvoid = avoidingNodes.contains(b.node)
                if aAvoid != bAvoid { return !aAvoid }
                return a.score != b.score ? a.score > b.score : a.id.description < b.id.description
            }
            for offer in ranked where chosen.count < width { chosen.append(offer.id) }
            round += 1
        }
        return chosen
    }

    /// Weighted rendezvous score: `weight / -ln(u)` with `u` a stable hash of (stripe, drive) in
    /// (0, 1). The drive with the highest score wins; over many stripes each drive wins in
    /// proportion to its weight.
    static func score(stripe: UInt64, drive: DriveID, weight: Int64) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the drive id: stable across processes
        for b in drive.description.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let u = (Double(mix(h ^ mix(stripe &+ 0x9e37_79b9_7f4a_7c15)) >> 11) + 0.5) / Double(1 << 53)
        // A drive reporting no free space still gets a tiny weight, so placement stays defined.
        let w = Double(max(weight, 1))
        return w / -log(u)
    }

    /// splitmix64's finalizer: a strong, cheap 64-bit mix.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
