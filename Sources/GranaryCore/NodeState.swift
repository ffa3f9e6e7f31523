/// The manager's view of a storage node.
///
/// - `up`: heartbeats arrive within the timeout.
/// - `down`: no heartbeat within the timeout (or never seen since the manager started).
/// - `drained`: an operator took it out of placement; it may still be alive and serve reads.
public enum NodeState: String, Codable, Sendable, CaseIterable {
    case up, down, drained
}
