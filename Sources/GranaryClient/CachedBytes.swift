import GranaryBuffers

/// Bytes a cache fetch produced: in a pooled buffer the memory tier now holds, or in a buffer of
/// their own when the policy did not admit them. Readers waiting on the same fetch copy from it.
enum CachedBytes: Sendable {
    case pooled(IOBuffer)
    case owned(OwnedBuffer)

    var raw: UnsafeRawBufferPointer {
        switch self {
        case let .pooled(b): return UnsafeRawBufferPointer(b.bytes)
        case let .owned(b): return UnsafeRawBufferPointer(b.raw)
        }
    }
}
