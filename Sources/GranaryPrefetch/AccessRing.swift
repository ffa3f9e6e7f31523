import Synchronization

/// A bounded in-memory record of the latest accesses, shared between the threads that serve
/// reads (`record`) and a background writer that periodically appends new records to a trace
/// file (`drain`).
///
/// Guarantees: at most `capacity` records are kept (the oldest are overwritten); every record gets
/// a sequence number (0, 1, 2, … in `record` order); `drain(after:)` returns exactly the records
/// with sequence ≥ the given one that are still held, oldest first, and says how many it could not
/// return because they were overwritten — so a writer knows precisely what its file is missing.
/// All members are safe to call from any thread; each takes one short lock.
public final class AccessRing: Sendable {
    public let capacity: Int

    private struct State {
        var slots: [TraceRecord] = []
        var total = 0
    }

    private let state = Mutex(State())

    /// `capacity` below 1 is raised to 1.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Appends `record`, overwriting the oldest when full.
    public func record(_ record: TraceRecord) {
        state.withLock { s in
            if s.slots.count < capacity {
                s.slots.append(record)
            } else {
                s.slots[s.total % capacity] = record
            }
            s.total += 1
        }
    }

    /// Records held now.
    public var count: Int { state.withLock { $0.slots.count } }

    /// Records ever recorded (the sequence number the next one will get).
    public var totalRecorded: Int { state.withLock { $0.total } }

    /// Every record held, oldest first.
    public func snapshot() -> [TraceRecord] {
        state.withLock { s in Self.records(in: s, from: s.total - s.slots.count, capacity: capacity) }
    }

    /// The records with sequence number ≥ `sequence` that are still held (oldest first), the
    /// sequence to pass next time, and how many records from `sequence` on were overwritten
    /// before this call could return them.
    public func drain(after sequence: Int) -> (records: [TraceRecord], nextSequence: Int, lost: Int) {
        state.withLock { s in
            let oldest = s.total - s.slots.count
            let from = min(max(sequence, oldest), s.total)
            let lost = max(0, oldest - max(sequence, 0))
            return (Self.records(in: s, from: from, capacity: capacity), s.total, lost)
        }
    }

    private static func records(in s: State, from first: Int, capacity: Int) -> [TraceRecord] {
        guard first < s.total else { return [] }
        var out: [TraceRecord] = []
        out.reserveCapacity(s.total - first)
        for seq in first..<s.total { out.append(s.slots[seq % capacity]) }
        return out
    }
}
