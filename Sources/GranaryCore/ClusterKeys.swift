#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The cluster secrets a long-running process authenticates with, re-read from their file when it
/// changes, so that a rotated secret reaches a running daemon or mount without a restart.
///
/// Guarantees: readers always see one whole keyring (the old or the new, never a mix); a file that
/// has become unreadable, malformed or unsafe is refused and the keys in use stay as they were (a
/// half-copied file never locks the process out); connections already authenticated are never
/// touched, since the secret is only used in handshakes.
public final class ClusterKeys: Sendable {
    /// The file the keys come from; nil for keys fixed in memory (tests, benchmarks).
    public let path: String?
    private let state: Mutex<(keyring: ClusterKeyring, stamp: Stamp?)>

    /// What identifies one version of the file: a rewrite by rename changes the inode, an edit in
    /// place changes the modification time or size.
    struct Stamp: Equatable, Sendable { var inode: UInt64; var mtimeNs: Int64; var size: Int64 }

    public init(fixed keyring: ClusterKeyring) {
        path = nil
        state = Mutex((keyring, nil))
    }

    /// One secret, fixed in memory.
    public convenience init(secret: ClusterSecret) { self.init(fixed: ClusterKeyring(current: secret)) }

    /// Loads the keys from a secret file (see `ClusterKeyring` for its format).
    public init(path: String) throws(ClusterSecret.Failure) {
        self.path = path
        let stamp = Self.stamp(path)
        state = Mutex((try ClusterSecret.loadKeyring(path: path), stamp))
    }

    public var keyring: ClusterKeyring { state.withLock { $0.keyring } }

    /// What a reload found.
    public enum Reload: Sendable, Equatable {
        case unchanged
        case reloaded(ClusterKeyring)
        case refused(ClusterSecret.Failure)
    }

    /// Re-reads the file if it changed since the last read.
    public func reloadIfChanged() -> Reload {
        guard let path else { return .unchanged }
        let now = Self.stamp(path)
        if now != nil, now == state.withLock({ $0.stamp }) { return .unchanged }
        do {
            let k = try ClusterSecret.loadKeyring(path: path)
            let changed = state.withLock { s -> Bool in
                s.stamp = now
                guard s.keyring != k else { return false }
                s.keyring = k
                return true
            }
            return changed ? .reloaded(k) : .unchanged
        } catch {
            // Remember the stamp: the same bad file is reported once, not every poll.
            state.withLock { $0.stamp = now }
            return .refused(error)
        }
    }

    /// Checks the file every `seconds` until the task is cancelled, telling `report` about every
    /// reload and refusal (a daemon logs them).
    public func watch(every seconds: Double = 2, report: @escaping @Sendable (Reload) -> Void) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                let r = reloadIfChanged()
                if r != .unchanged { report(r) }
            }
        }
    }

    static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Stamp(inode: UInt64(st.st_ino), mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec), size: Int64(st.st_size))
    }
}
