/// Page-aligned memory owned by one object, for data that async code reads or fills across
/// suspension points (a stripe being written, a file being read), where an array's
/// `withUnsafeBytes` cannot reach.
///
/// `@unchecked Sendable` is safe by use: a buffer is filled by one task before it is shared, or
/// filled in disjoint slices by tasks the owner awaits before reading it; the memory is freed only
/// in `deinit`, when no task holds a reference.
public final class OwnedBuffer: @unchecked Sendable {
    public let raw: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 0), alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { raw.deallocate() }

    public var count: Int { raw.count }
    public var bytes: [UInt8] { Array(raw) }
}
