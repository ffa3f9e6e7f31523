#if canImport(Glibc)
import Glibc
#endif
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

    /// Field 6 of /proc/PID/stat (after the parenthesised command name, which may hold spaces).
    static func session(of pid: Int32) -> Int? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": state, ppid, pgrp, session.
        guard fields.count > 3 else { return nil }
        return Int(fields[3])
    }
}
