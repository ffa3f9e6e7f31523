/// One access as a cache policy sees it: who (`job`), what (`item`, interned in a `KeyTable`),
/// how many bytes, when, and whether it read or wrote the item.
public struct Access: Sendable, Hashable {
    /// Seconds on the owner's clock (the trace's `t`); never decreases between calls.
    public var time: Double
    /// The job (process, loader, rank) that made the access, interned in the `KeyTable`.
    public var job: Int
    /// The item accessed, interned in the `KeyTable`.
    public var item: Int
    /// Bytes read or written.
    public var size: Int
    /// A write (a checkpoint being saved, a file being created) rather than a read.
    public var isWrite: Bool

    public init(time: Double, job: Int, item: Int, size: Int, isWrite: Bool = false) {
        self.time = time
        self.job = job
        self.item = item
        self.size = size
        self.isWrite = isWrite
    }
}
