import HeapModule

/// A double-ended priority queue of item ids keyed by (`key`, `tie`), with O(log n) update and
/// removal by lazy deletion: each update pushes a new entry stamped with the item's new version,
/// and stale entries are discarded when they reach either end. Compacts itself when stale entries
/// outnumber live ones, so memory stays O(live items).
struct ItemHeap {
    struct Entry: Comparable {
        var key: Double
        var tie: Double
        var item: Int32
        var version: UInt32

        static func < (a: Entry, b: Entry) -> Bool {
            if a.key != b.key { return a.key < b.key }
            if a.tie != b.tie { return a.tie < b.tie }
            return a.item < b.item
        }
    }

    private var heap = Heap<Entry>()
    private var version: [UInt32] = []
    private var present: [Bool] = []
    private(set) var count = 0

    func contains(_ item: Int) -> Bool { item < present.count && present[item] }

    /// Inserts `item` or moves it to a new key.
    mutating func set(_ item: Int, key: Double, tie: Double = 0) {
        if item >= version.count {
            let n = Swift.max(item + 1, version.count * 2)
            version.append(contentsOf: repeatElement(0, count: n - version.count))
            present.append(contentsOf: repeatElement(false, count: n - present.count))
        }
        version[item] &+= 1
        if !present[item] { present[item] = true; count += 1 }
        heap.insert(Entry(key: key, tie: tie, item: Int32(truncatingIfNeeded: item), version: version[item]))
        if heap.count > 2 * count + 1024 { compact() }
    }

    mutating func remove(_ item: Int) {
        guard contains(item) else { return }
        version[item] &+= 1
        present[item] = false
        count -= 1
    }

    private func isLive(_ e: Entry) -> Bool {
        let i = Int(e.item)
        return present[i] && version[i] == e.version
    }

    /// The live entry with the smallest key.
    mutating func min() -> Entry? {
        while let e = heap.min {
            if isLive(e) { return e }
            _ = heap.popMin()
        }
        return nil
    }

    /// The live entry with the largest key.
    mutating func max() -> Entry? {
        while let e = heap.max {
            if isLive(e) { return e }
            _ = heap.popMax()
        }
        return nil
    }

    /// Takes out the smallest live entry without forgetting the item; `restore` puts it back.
    mutating func takeMin() -> Entry? {
        guard let e = min() else { return nil }
        _ = heap.popMin()
        return e
    }

    mutating func restore(_ e: Entry) { heap.insert(e) }

    private mutating func compact() {
        heap = Heap(heap.unordered.filter(isLive))
    }
}
