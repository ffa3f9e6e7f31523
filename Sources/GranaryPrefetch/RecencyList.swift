/// A doubly linked recency list of item ids stored in arrays (no per-node allocation): O(1)
/// insert at the front, unlink, and access to the least recently used end.
struct RecencyList {
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var member: [Bool] = []
    private(set) var head: Int32 = -1
    private(set) var tail: Int32 = -1
    private(set) var count = 0

    func contains(_ item: Int) -> Bool { item < member.count && member[item] }

    /// Makes `item` the most recent, inserting it if absent.
    mutating func touch(_ item: Int) {
        if item >= member.count {
            let n = max(item + 1, member.count * 2)
            prev.append(contentsOf: repeatElement(-1, count: n - prev.count))
            next.append(contentsOf: repeatElement(-1, count: n - next.count))
            member.append(contentsOf: repeatElement(false, count: n - member.count))
        }
        if member[item] { unlink(item) }
        let i = Int32(item)
        prev[item] = -1
        next[item] = head
        if head >= 0 { prev[Int(head)] = i } else { tail = i }
        head = i
        member[item] = true
        count += 1
    }

    mutating func remove(_ item: Int) {
        guard contains(item) else { return }
        unlink(item)
    }

    /// The next more recent item than `item`, or nil at the front (walks from `leastRecent`).
    func newer(than item: Int) -> Int? {
        let p = prev[item]
        return p >= 0 ? Int(p) : nil
    }

    var leastRecent: Int? { tail >= 0 ? Int(tail) : nil }

    private mutating func unlink(_ item: Int) {
        let p = prev[item], n = next[item]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { prev[Int(n)] = p } else { tail = p }
        member[item] = false
        count -= 1
    }
}
