import Foundation
import GranaryCore
import Synchronization

/// The latest SMART outcome of each drive of a node, refreshed in the background every
/// `refreshSeconds` (SMART counters move over hours and days; smartctl can take seconds), so a
/// heartbeat only ever reads what is already there.
final class SmartCache: Sendable {
    /// Shared with the refresh task, which must not keep the cache itself alive.
    private final class Outcomes: Sendable {
        let value = Mutex<[String: SmartProbe.Outcome]>([:])
    }

    private let outcomes = Outcomes()
    private let task: Task<Void, Never>

    init(drives: [DaemonConfig.Drive], refreshSeconds: Double = 600) {
        let outcomes = self.outcomes
        task = Task.detached(priority: .background) {
            while !Task.isCancelled {
                for d in drives {
                    let o = SmartProbe.probe(path: d.path)
                    outcomes.value.withLock { $0[d.name] = o }
                }
                try? await Task.sleep(for: .seconds(refreshSeconds))
            }
        }
    }

    deinit { task.cancel() }

    func current() -> [String: SmartProbe.Outcome] { outcomes.value.withLock { $0 } }
}
