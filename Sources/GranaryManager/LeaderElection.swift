#if canImport(Glibc)
import Glibc
#endif
import GranaryMeta
import Logging
import Synchronization

/// Decides which of the managers sharing one metadata database leads the cluster's background work
/// (liveness, the repair scheduler, drive-health decisions), through a lease row in that database.
///
/// Every manager renews or tries to take the lease `leader` every `ttl / 5`. The database's clock
/// says when a lease has expired, so managers on hosts whose clocks disagree still agree on it.
/// Guarantees:
/// - at most one manager believes it leads at any moment, as long as the managers' clocks run at
///   the same rate: a leader stops believing so `0.8 × ttl` after the start of its last
///   successful renewal (counted on its own monotonic clock), before the database lets another
///   take the lease at `ttl`;
/// - a leader that dies, or is cut off from the database, is replaced within about `1.2 × ttl`;
/// - `onChange(true)` and `onChange(false)` alternate, starting with `true`, and never overlap;
///   after the task is cancelled the last call is `onChange(false)` (if there was a `true`).
public final class LeaderElection: Sendable {
    /// The lease's name in the database.
    public static let leaseName = "leader"

    let store: any MetaStore
    public let holder: String
    let ttl: Double
    let logger: Logger
    private let switcher: Switch
    private let state = Mutex<State>(State())

    struct State {
        var leading = false
        /// Monotonic time until which this manager may act as leader.
        var validUntil = 0.0
        var leader: String?
        var epoch: UInt64 = 0
    }

    /// `onChange(true)` runs when this manager starts leading, `onChange(false)` when it stops.
    public init(store: any MetaStore, holder: String, ttlMs: Int, logger: Logger, onChange: @escaping @Sendable (Bool) async -> Void) {
        self.store = store
        self.holder = holder
        self.ttl = Double(ttlMs) / 1000
        self.logger = logger
        self.switcher = Switch(onChange)
    }

    /// Whether this manager leads now (its lease is still valid by its own clock).
    public var isLeader: Bool {
        state.withLock { $0.leading && Self.monotonic() < $0.validUntil }
    }

    /// The manager that held the lease at the last look, and its epoch (grows with every change of holder).
    public var leader: (name: String?, epoch: UInt64) {
        state.withLock { ($0.leader, $0.epoch) }
    }

    /// Runs the election until the task is cancelled; a leader releases the lease on the way out so
    /// another takes over at once rather than after the lease runs out.
    public func start() -> Task<Void, Never> {
        // The watchdog steps down when the lease runs out by this manager's clock even while a
        // renewal is stuck (a database that stopped answering holds the call until it times out).
        let watchdog = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(max(Int(ttl * 100), 20)))
                let expired = state.withLock { s -> Bool in
                    guard s.leading, Self.monotonic() >= s.validUntil else { return false }
                    s.leading = false
                    return true
                }
                if expired {
                    logger.error("manager \(holder) stops leading: the leader lease was not renewed within \(Int(ttl * 800)) ms")
                    await switcher.set(false)
                }
            }
        }
        return Task { [self] in
            while !Task.isCancelled {
                await round()
                try? await Task.sleep(for: .milliseconds(max(Int(ttl * 1000 / 5), 20)))
            }
            watchdog.cancel()
            let leading = state.withLock { s in
                defer { s.leading = false }
                return s.leading
            }
            await switcher.set(false)
            if leading {
                do { try store.releaseLease(Self.leaseName, holder: holder) } catch {
                    logger.warning("manager \(holder) could not release the leader lease: \(error)")
                }
            }
        }
    }

    /// One renewal or attempt.
    func round() async {
        let started = Self.monotonic()
        let lease: Lease
        do {
            let (store, holder, ttl) = (self.store, self.holder, self.ttl)
            lease = try await BlockingWork.run { () throws(MetaError) -> Lease in try store.acquireLease(Self.leaseName, holder: holder, ttl: ttl) }
        } catch {
            // The watchdog ends the leadership when the last renewal runs out.
            if state.withLock({ $0.leading }) { logger.warning("manager \(holder): leader lease renewal failed, retrying: \(error)") }
            return
        }
        let (was, now) = state.withLock { s in
            let was = s.leading
            s.leader = lease.holder
            s.epoch = lease.epoch
            if lease.held {
                s.validUntil = started + 0.8 * ttl
                // A renewal that took longer than the margin proves nothing about now.
                s.leading = Self.monotonic() < s.validUntil
            } else {
                s.leading = false
            }
            return (was, s.leading)
        }
        if now, !was {
            logger.notice("manager \(holder) leads the cluster's background work (lease epoch \(lease.epoch))")
        } else if !now, was, !lease.held {
            logger.notice("manager \(holder) no longer leads: \(lease.holder) holds the lease (epoch \(lease.epoch))")
        }
        await switcher.set(now)
    }

    /// Runs `onChange` for each change of the wanted state, one at a time and in order, ending at the
    /// last state asked for.
    actor Switch {
        let onChange: @Sendable (Bool) async -> Void
        var wanted = false
        var actual = false
        var running = false

        init(_ onChange: @escaping @Sendable (Bool) async -> Void) { self.onChange = onChange }

        func set(_ leading: Bool) async {
            wanted = leading
            guard !running else { return }
            running = true
            while actual != wanted {
                let target = wanted
                await onChange(target)
                actual = target
            }
            running = false
        }
    }

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
