import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Records the first SIGINT or SIGTERM a process receives, for daemons and foreground commands
/// that shut down cleanly. Creating it sets both signals to be ignored by default, so only this
/// watcher sees them.
public final class SignalWatch: Sendable {
    private let received = Mutex<String?>(nil)

    public init() {
        _ = Glibc.signal(SIGINT, SIG_IGN)
        _ = Glibc.signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "granary.signals")
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            // The handler holds its own source: a released source stops delivering, and these
            // must deliver for the life of the process.
            s.setEventHandler { [weak self, s] in
                _ = s
                self?.record(name)
            }
            s.resume()
        }
    }

    private func record(_ name: String) { received.withLock { if $0 == nil { $0 = name } } }

    /// The name of the first signal received, if any.
    public var signal: String? { received.withLock { $0 } }

    /// Waits until a signal arrives, or `stop` returns a reason (checked every 100 ms).
    public func wait(orUntil stop: () -> String? = { nil }) async -> String {
        while true {
            if let s = signal { return s }
            if let reason = stop() { return reason }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
