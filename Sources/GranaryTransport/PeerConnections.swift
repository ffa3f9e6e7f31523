import Foundation
import GranaryCore
import Synchronization

/// The one open connection a transport keeps per peer, shared by TCP and RDMA: reuse while it is
/// open, dial a new one when it has closed.
///
/// Dialing blocks (connect, handshake), so it runs on a thread of its own, never on the
/// cooperative pool. Two tasks may dial the same peer at once; one live connection is kept and the
/// other closed.
final class PeerConnections<C: Connection>: Sendable {
    private let connections = Mutex<[Endpoint: C]>([:])

    func connection(to peer: Endpoint, threadName: String,
                    dial: @escaping @Sendable () throws(TransportError) -> C) async throws(TransportError) -> C {
        if let c = connections.withLock({ $0[peer] }), c.isOpen { return c }
        let result: Result<C, TransportError> = await withCheckedContinuation { cont in
            let t = Thread {
                do throws(TransportError) {
                    cont.resume(returning: .success(try dial()))
                } catch {
                    cont.resume(returning: .failure(error))
                }
            }
            t.name = threadName
            t.start()
        }
        let fresh = try result.get()
        let kept: C = connections.withLock { map in
            if let existing = map[peer], existing.isOpen { return existing }
            map[peer] = fresh
            return fresh
        }
        if kept !== fresh { fresh.close() }
        return kept
    }

    func closeAll() {
        let all = connections.withLock { map -> [C] in
            defer { map.removeAll() }
            return Array(map.values)
        }
        for c in all { c.close() }
    }
}
