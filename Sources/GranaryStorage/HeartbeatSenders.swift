import GranaryCore
import GranaryTransport
import GranaryWire
import Logging
import Synchronization

/// Sends a storage node's heartbeats to every manager, each on its own: a manager still busy with
/// the previous heartbeat (dead, cut off, slow) is skipped this round instead of holding up the
/// others, so the leader keeps hearing the node on time whatever the other managers do.
///
/// Guarantees: at most one heartbeat in flight per manager; a manager's first failure in a run is
/// logged and then every 30th, so a long outage does not flood the log.
final class HeartbeatSenders: Sendable {
    let node: NodeID
    let transport: any Transport
    let logger: Logger
    private let state = Mutex<State>(State())

    private struct State {
        var busy: Set<Endpoint> = []
        var failures: [Endpoint: Int] = [:]
        var registered: Set<Endpoint> = []
    }

    init(node: NodeID, transport: any Transport, logger: Logger) {
        self.node = node
        self.transport = transport
        self.logger = logger
    }

    func send(_ hb: NodeHeartbeat, to managers: [Endpoint], timeoutMs: Int) {
        let body = JSONMessage.encode(hb)
        for manager in managers {
            let registered: Bool? = state.withLock { s in
                guard s.busy.insert(manager).inserted else { return nil }
                return s.registered.contains(manager)
            }
            guard let registered else { continue }
            Task { [self] in
                do {
                    _ = try await transport.call(manager, registered ? .heartbeat : .registerNode, body, timeoutMs: timeoutMs)
                    let first = state.withLock { s in
                        s.busy.remove(manager)
                        s.failures[manager] = 0
                        return s.registered.insert(manager).inserted
                    }
                    if first { logger.info("node \(node) registered with manager \(manager)") }
                } catch {
                    let n = state.withLock { s in
                        s.busy.remove(manager)
                        s.failures[manager, default: 0] += 1
                        return s.failures[manager, default: 1]
                    }
                    if n % 30 == 1 { logger.warning("heartbeat to manager \(manager) failed (\(n) in a row): \(error)") }
                }
            }
        }
    }
}
