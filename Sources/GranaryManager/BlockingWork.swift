import Dispatch

/// Runs blocking calls — metadata store operations, which wait on a disk or on a database server —
/// on Dispatch's threads instead of Swift's cooperative pool.
///
/// Why: the cooperative pool has one thread per core (two on a small manager). A metadata call
/// that waits on PostgreSQL (a slow query, a server that stopped answering until `query_timeout`)
/// would hold one of them, and two such calls would stall every task of the manager: heartbeats,
/// the leader lease's watchdog, the repair loops. Guarantees: `body` runs exactly once, on a thread
/// that is not a cooperative one, and its result or error is returned to the awaiting task.
enum BlockingWork {
    static let queue = DispatchQueue(label: "granary.manager.blocking", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(E) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }
}
