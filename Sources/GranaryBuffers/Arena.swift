/// One mapped arena and how it is carved for the size class it serves now (pool-internal state,
/// only touched under the pool's lock).
///
/// Slots are handed out by a bump index first and then from a stack of returned slots, so that
/// reassigning an idle arena to another class costs nothing and a freed slot, still warm in cache,
/// is the next one reused.
struct Arena {
    let mapping: ArenaMapping
    let locked: Bool
    let registrations: [any ArenaRegistration]
    private(set) var sizeClass: Int
    private(set) var stride: Int
    private(set) var slotCount: Int
    private(set) var inUse = 0
    /// Set while the pool empties this arena for a waiter of another class: its freed slots are
    /// not handed out again, so that it drains even while its class keeps taking.
    var draining = false
    /// Whether the arena is in its class's list of arenas with a slot to hand out.
    var listed = false
    private var carved = 0
    private var returned: [Int] = []

    init(mapping: ArenaMapping, locked: Bool, registrations: [any ArenaRegistration], sizeClass: Int, stride: Int) {
        self.mapping = mapping
        self.locked = locked
        self.registrations = registrations
        self.sizeClass = sizeClass
        self.stride = stride
        self.slotCount = mapping.bytes / stride
    }

    var freeSlots: Int { slotCount - inUse }

    /// Re-carves the arena for another class; only called while no slot is in use.
    mutating func assign(sizeClass: Int, stride: Int) {
        self.sizeClass = sizeClass
        self.stride = stride
        slotCount = mapping.bytes / stride
        carved = 0
        returned.removeAll(keepingCapacity: true)
        draining = false
    }

    mutating func takeSlot() -> Int? {
        if let index = returned.popLast() {
            inUse += 1
            return index
        }
        guard carved < slotCount else { return nil }
        carved += 1
        inUse += 1
        return carved - 1
    }

    mutating func returnSlot(_ index: Int) {
        returned.append(index)
        inUse -= 1
    }

    func offset(of index: Int) -> Int { index * stride }
}
