/// The manager's view of a drive.
///
/// - `up`: its node is up and the node reports the drive usable.
/// - `readOnly`: the node reports it cannot write to it (read-only mount, ENOSPC stays `up` with 0 free).
/// - `failed`: the node reports it missing or failing I/O.
/// - `down`: its node is down.
/// - `drained`: taken out of placement by an operator (node drain).
public enum DriveState: String, Codable, Sendable, CaseIterable {
    case up, readOnly = "read-only", failed, down, drained
}
