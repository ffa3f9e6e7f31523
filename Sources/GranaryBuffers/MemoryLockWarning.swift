#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of the one warning a pool logs when mlock refuses an arena.
///
/// It names RLIMIT_MEMLOCK with the limit in force (read now with getrlimit), because that limit is
/// nearly always the cause, and tells how to raise it, so an operator can act on the log line alone.
enum MemoryLockWarning {
    static func text(errno code: Int32, arenaBytes: Int) -> String {
        let reason = String(cString: strerror(code))
        var limits = rlimit()
        #if canImport(Glibc)
        let status = getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limits)
        #else
        let status = getrlimit(RLIMIT_MEMLOCK, &limits)
        #endif
        let limit: String
        if status != 0 {
            limit = "unknown (getrlimit failed: \(String(cString: strerror(errno))))"
        } else {
            limit = "\(describe(limits.rlim_cur)) (hard limit \(describe(limits.rlim_max)))"
        }
        return "mlock of a \(arenaBytes)-byte I/O buffer arena failed: \(reason) (errno \(code)); "
            + "RLIMIT_MEMLOCK soft limit is \(limit). The I/O buffer pool carries on unlocked, so its "
            + "buffers may be paged out under memory pressure. Raise the limit with `ulimit -l unlimited` "
            + "in the shell that starts the client, or LimitMEMLOCK=infinity in its systemd unit."
    }

    private static func describe(_ value: rlim_t) -> String {
        value == rlim_t.max ? "unlimited" : "\(value) bytes"
    }
}
