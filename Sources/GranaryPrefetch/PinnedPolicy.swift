/// A static pinned subset: keeps the first items that fit and never evicts (`victim()` is always
/// nil), the way a dataset is sometimes "pinned" to local disk up to a quota. With `allowed`, only
/// those items are ever admitted. Never prefetches. O(1) per call.
public final class PinnedPolicy: CachePolicy {
    public let name = "pinned"
    private let allowed: Set<Int>?

    public init(allowed: Set<Int>? = nil) { self.allowed = allowed }

    public func accessed(_ access: Access, cached: Bool) {}

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        !full && (allowed?.contains(item) ?? true)
    }

    public func victim() -> Int? { nil }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {}

    public func removed(_ item: Int) {}
}
