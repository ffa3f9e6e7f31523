/// A waiting take to resume, collected under the pool's lock and resumed after it is released, so
/// that the resumed task never finds the lock still held by the thread that woke it.
struct Wakeup: Sendable {
    let continuation: CheckedContinuation<Result<Grant, BufferError>, Never>
    let result: Result<Grant, BufferError>

    func resume() {
        continuation.resume(returning: result)
    }
}
