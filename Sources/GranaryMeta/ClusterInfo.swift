/// The identity of a cluster, written once when the cluster is created.
///
/// Guarantees, for the value a store returns, that it is the first one `initializeCluster` stored:
/// the id never changes afterwards, so a node or client can tell two clusters apart.
public struct ClusterInfo: Sendable, Equatable, Codable {
    public var id: String
    /// Seconds since the Unix epoch when the cluster was initialized.
    public var createdAt: Double

    public init(id: String, createdAt: Double) {
        self.id = id
        self.createdAt = createdAt
    }
}
