/// A take waiting for a slot of its class (pool-internal state).
struct Waiter: Sendable {
    /// Names the waiter to its cancellation handler, which learns it before the waiter is queued.
    let id: UInt64
    /// Its place in arrival order across all classes; the earliest waiter gets arenas first.
    let seq: UInt64
    let sizeClass: Int
    let continuation: CheckedContinuation<Result<Grant, BufferError>, Never>
}
