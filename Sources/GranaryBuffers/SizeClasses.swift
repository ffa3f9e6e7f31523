/// The pool's buffer sizes: the powers of two from the smallest class up and the midpoints
/// between them (4K, 6K, 8K, 12K, 16K, 24K, ...), capped at one arena.
///
/// With a midpoint between every two powers of two, a buffer never wastes more than a third of its
/// class once the count is above the smallest class. A class that is not a whole number of pages
/// (6K on 4K pages) still takes whole pages of its arena (its stride is page-rounded), because
/// every buffer must start on a page boundary for direct I/O and memory registration.
struct SizeClasses: Sendable, Equatable {
    let smallest: Int
    let largest: Int
    let pageSize: Int

    /// The class that serves `count` bytes. Counts above `largest` have no class: `count` itself
    /// comes back, and the pool refuses them as `.tooLarge`.
    func sizeClass(for count: Int) -> Int {
        if count <= smallest { return smallest }
        if count > largest { return count }
        // Computing the next power of two would overflow near Int.max; only the cap can serve there.
        guard (count - 1).leadingZeroBitCount > 1 else { return largest }
        let power = 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
        let midpoint = power - power / 4
        return min(count <= midpoint ? midpoint : power, largest)
    }

    /// The bytes of arena one slot of `sizeClass` takes: whole pages, so the next slot starts on one.
    func stride(of sizeClass: Int) -> Int {
        (sizeClass + pageSize - 1) / pageSize * pageSize
    }
}
