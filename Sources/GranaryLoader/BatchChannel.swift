import Synchronization

/// A one-slot hand-off between the loader's producer task and the consumer's iterator, with
/// back-pressure both ways: `send` waits while the slot is full, `receive` while it is empty.
///
/// Guarantees: values arrive in the order sent; after `close` (normal end or an error) `receive`
/// drains what is left, then returns the error once and the end after it; `cancel` (the consumer
/// went away) makes a waiting and every later `send` return `false` so the producer stops.
final class BatchChannel<Value: Sendable>: Sendable {
    private struct State {
        var slot: Value?
        /// A sender that found the slot full: its value goes in when the slot empties.
        var parked: (value: Value, sender: CheckedContinuation<Bool, Never>)?
        var end: Result<Void, LoaderError>?
        var cancelled = false
        var receiver: CheckedContinuation<Result<Value, LoaderError>?, Never>?
    }
    private let state = Mutex(State())

    /// Hands `value` over, waiting while the slot is full; `false` when the consumer has gone.
    func send(_ value: Value) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let action: () -> Void = state.withLock { s in
                if s.cancelled { return { c.resume(returning: false) } }
                if let r = s.receiver {
                    s.receiver = nil
                    return { r.resume(returning: .success(value)); c.resume(returning: true) }
                }
                if s.slot == nil {
                    s.slot = value
                    return { c.resume(returning: true) }
                }
                s.parked = (value, c)
                return {}
            }
            action()
        }
    }

    /// The next value, the producer's error (once), or `nil` at the end.
    func receive() async -> Result<Value, LoaderError>? {
        await withCheckedContinuation { (c: CheckedContinuation<Result<Value, LoaderError>?, Never>) in
            let action: () -> Void = state.withLock { s in
                if let v = s.slot {
                    s.slot = nil
                    if let p = s.parked {
                        s.parked = nil
                        s.slot = p.value
                        return { c.resume(returning: .success(v)); p.sender.resume(returning: true) }
                    }
                    return { c.resume(returning: .success(v)) }
                }
                switch s.end {
                case .success: return { c.resume(returning: nil) }
                case let .failure(e):
                    s.end = .success(())
                    return { c.resume(returning: .failure(e)) }
                case nil:
                    s.receiver = c
                    return {}
                }
            }
            action()
        }
    }

    /// The producer is done: normally, or with an error the consumer will see after what is left.
    func close(_ end: Result<Void, LoaderError>) {
        let action: () -> Void = state.withLock { s in
            s.end = end
            guard s.slot == nil, let r = s.receiver else { return {} }
            s.receiver = nil
            switch end {
            case .success: return { r.resume(returning: nil) }
            case let .failure(e):
                s.end = .success(())
                return { r.resume(returning: .failure(e)) }
            }
        }
        action()
    }

    /// The consumer has gone: drop what is held and stop the producer.
    func cancel() {
        let sender = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.cancelled = true
            s.slot = nil
            defer { s.parked = nil }
            return s.parked?.sender
        }
        sender?.resume(returning: false)
    }
}
