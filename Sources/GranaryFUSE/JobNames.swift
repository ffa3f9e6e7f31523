import Synchronization

/// Names the job a reading process belongs to: its session (`sid N` from /proc/PID/stat), so a
/// training run's worker processes, which share their launcher's session, count as one job in the
/// cache's access trace while two runs started from different shells count as two.
final class JobNames: Sendable {
    private let known = Mutex<[Int32: String]>([:])

    func name(_ pid: Int32) -> String {
        guard pid > 0 else { return "kernel" }
        if let n = known.withLock({ $0[pid] }) { return n }
        let n = Self.session(of: pid).map { "sid \($0)" } ?? "pid \(pid)"
        known.withLock { k in
            if k.count > 4096 { k.removeAll(keepingCapacity: true) }
            k[pid] = n
        }
        return n
    }

    /// Field 6 of /proc/PID/stat: state, ppid, pgrp, session after the command name.
    static func session(of pid: Int32) -> Int? {
        guard let fields = ProcStat.fields(of: pid), fields.count > 3 else { return nil }
        return Int(fields[3])
    }
}
