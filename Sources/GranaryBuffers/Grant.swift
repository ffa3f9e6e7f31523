/// What the pool gives a take: a slot now, or the right to map one more arena (already counted
/// against the limit) outside the lock, because mmap and mlock of a large arena take milliseconds
/// that every other take and release would otherwise wait through.
enum Grant: Sendable {
    case slot(Slot)
    case map(lock: Bool)
}
