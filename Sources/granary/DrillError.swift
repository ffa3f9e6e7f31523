/// Why a fault drill stopped or failed. Client errors during a fault are not drill errors: they
/// are counted in the report.
enum DrillError: Error, CustomStringConvertible {
    /// Something the drill needs could not be set up (a process, a namespace, a database).
    case setup(String)
    /// A command the drill runs (`ip`, `mount`) failed; its output is kept.
    case command(String, status: Int32, output: String)
    /// The cluster did not reach a state the drill waits for in time.
    case timedOut(String)
    /// SIGINT or SIGTERM arrived; the drill stops and cleans up.
    case interrupted(String)

    var description: String {
        switch self {
        case .setup(let m): return m
        case .command(let c, let status, let output): return "\(c) failed (status \(status)): \(output)"
        case .timedOut(let m): return "timed out: \(m)"
        case .interrupted(let s): return "interrupted by \(s)"
        }
    }
}
