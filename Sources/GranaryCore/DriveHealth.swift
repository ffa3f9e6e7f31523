/// Where a drive stands with the health monitor, as the cluster map records it (beside its
/// `DriveState`, which says whether its node can reach it at all).
///
/// - `healthy`: placement and reads as usual.
/// - `suspect`: fail-slow or predicted to fail: reads go around it through parity while enough
///   other fragments answer, and no new fragment is written to it.
/// - `evicted`: out of the cluster's placement; the repair service rebuilds every fragment it held
///   elsewhere (narrower where failure domains are short). It stays evicted until rejoined.
public enum DriveHealth: String, Codable, Sendable, CaseIterable {
    case healthy, suspect, evicted
}
