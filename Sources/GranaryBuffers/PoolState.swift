/// Everything an `IOBufferPool` shares between tasks, kept behind its `Mutex`: the arenas, the
/// arenas of each class with a slot to hand out, the waiting takes, and the counters of `Stats`.
///
/// Between any two lock holders these hold:
/// - no waiter of a class waits while an arena of that class, other than the draining one, has a
///   free slot (a freed slot goes straight to the first waiter of its class);
/// - no take waits while an arena is idle or there is room under the limit to map one (those go
///   to the waiters in arrival order);
/// - while the earliest waiter cannot be served, one arena of another class (the one with fewest
///   slots in use) is draining for it: its freed slots are held back, so it empties even while its
///   own class keeps taking, and it is reassigned to the waiter the moment it is idle. Without
///   that, a class that always has one buffer out could keep the arena from every other class.
struct PoolState {
    let arenaBytes: Int
    let limitBytes: Int
    let lockMemory: Bool
    let classes: SizeClasses

    private var arenas: [Arena] = []
    /// Arenas granted to takes that are mapping them outside the lock; they count against the limit.
    private var pendingMaps = 0
    /// By class, the arenas (not draining) that have a free slot.
    private var available: [Int: [Int]] = [:]
    private var idleArenas = 0
    /// By class, the waiting takes in arrival order.
    private var queues: [Int: [Waiter]] = [:]
    private var waiting = 0
    private var nextSeq: UInt64 = 0
    private var drain: (arena: Int, waiter: UInt64)?

    private var inUseBuffers = 0
    private var inUseBytes = 0
    private var totalSlots = 0
    private var lockedArenas = 0
    private var hugeArenas = 0
    private var waits = 0
    private var lockWarning: String?

    init(arenaBytes: Int, limitBytes: Int, lockMemory: Bool, classes: SizeClasses) {
        self.arenaBytes = arenaBytes
        self.limitBytes = limitBytes
        self.lockMemory = lockMemory
        self.classes = classes
    }

    var stats: IOBufferPool.Stats {
        IOBufferPool.Stats(
            arenas: arenas.count, mappedBytes: arenas.count * arenaBytes, lockedBytes: lockedArenas * arenaBytes,
            inUseBuffers: inUseBuffers, inUseBytes: inUseBytes, freeBuffers: totalSlots - inUseBuffers,
            waits: waits, lockWarning: lockWarning,
            hugePageArenas: hugeArenas,
            registeredBytes: arenas.reduce(into: [:]) { out, a in for r in a.registrations { out[r.registrar, default: 0] += arenaBytes } })
    }

    // MARK: Taking

    /// A grant for a take that has not waited, or nil where it must wait.
    mutating func takeNow(_ sizeClass: Int) -> Grant? {
        if let slot = takeAvailable(sizeClass) { return .slot(slot) }
        // Idle arenas and room to map belong to the waiters first; by the invariants there are none
        // while anyone waits, but a newcomer must not jump the queue if that ever changes.
        guard waiting == 0 else { return nil }
        return claimArena(for: sizeClass)
    }

    /// Serves the take at once if it can, answers `.cancelled` if its task already is, or queues it.
    mutating func enqueue(
        id: UInt64, sizeClass: Int, continuation: CheckedContinuation<Result<Grant, BufferError>, Never>,
        cancelled: Bool
    ) -> [Wakeup] {
        if let grant = takeNow(sizeClass) { return [Wakeup(continuation: continuation, result: .success(grant))] }
        if cancelled { return [Wakeup(continuation: continuation, result: .failure(.cancelled))] }
        queues[sizeClass, default: []].append(Waiter(id: id, seq: nextSeq, sizeClass: sizeClass, continuation: continuation))
        nextSeq += 1
        waiting += 1
        waits += 1
        var wakeups: [Wakeup] = []
        maintainDrain(&wakeups)
        return wakeups
    }

    /// Takes a cancelled waiter out of the queue, if a grant has not already reached it.
    mutating func cancel(id: UInt64) -> [Wakeup] {
        guard let (sizeClass, position) = queues.lazy.compactMap({ entry in
            entry.value.firstIndex(where: { $0.id == id }).map { (entry.key, $0) }
        }).first, let waiter = queues[sizeClass]?.remove(at: position) else { return [] }
        if queues[sizeClass]?.isEmpty == true { queues[sizeClass] = nil }
        waiting -= 1
        var wakeups = [Wakeup(continuation: waiter.continuation, result: .failure(.cancelled))]
        maintainDrain(&wakeups)
        return wakeups
    }

    /// Adds an arena a take mapped under a `.map` grant, and takes its first slot for that take.
    /// `lockWarning` is the warning text when mlock refused it; it is kept (and `logIt` is true)
    /// only the first time.
    mutating func install(mapping: ArenaMapping, locked: Bool, huge: Bool, registrations: [any ArenaRegistration],
                          lockWarning warning: String?, sizeClass: Int) -> (slot: Slot?, wakeups: [Wakeup], logIt: Bool)
    {
        pendingMaps -= 1
        if huge { hugeArenas += 1 }
        let arena = Arena(mapping: mapping, locked: locked, registrations: registrations, sizeClass: sizeClass,
                          stride: classes.stride(of: sizeClass))
        arenas.append(arena)
        idleArenas += 1
        totalSlots += arena.slotCount
        if locked { lockedArenas += 1 }
        var logIt = false
        if let warning, lockWarning == nil {
            lockWarning = warning
            logIt = true
        }
        let index = arenas.count - 1
        relist(index)
        let slot = takeFrom(index)
        var wakeups: [Wakeup] = []
        serveClass(sizeClass, &wakeups)
        maintainDrain(&wakeups)
        return (slot, wakeups, logIt)
    }

    /// Gives back a `.map` grant whose mmap failed: the room it held may serve a waiter.
    mutating func abandonMap() -> [Wakeup] {
        pendingMaps -= 1
        var wakeups: [Wakeup] = []
        serveHeads(&wakeups)
        maintainDrain(&wakeups)
        return wakeups
    }

    // MARK: Releasing

    mutating func release(_ slot: Slot) -> [Wakeup] {
        let index = slot.arena
        arenas[index].returnSlot(slot.index)
        inUseBuffers -= 1
        inUseBytes -= slot.sizeClass
        if arenas[index].inUse == 0 { idleArenas += 1 }
        relist(index)
        var wakeups: [Wakeup] = []
        serveClass(arenas[index].sizeClass, &wakeups)
        if arenas[index].inUse == 0 { serveHeads(&wakeups) }
        maintainDrain(&wakeups)
        return wakeups
    }

    /// Unmaps every arena; only the pool's deinit calls this, when no buffer can be out.
    func unmapAll() {
        for arena in arenas {
            for r in arena.registrations { r.deregister() }
            arena.mapping.unmap()
        }
    }

    // MARK: Internals

    /// A slot of the class from the fullest arena that has one, so that lightly used arenas empty
    /// and can go to other classes.
    private mutating func takeAvailable(_ sizeClass: Int) -> Slot? {
        guard let candidates = available[sizeClass], var best = candidates.first else { return nil }
        for candidate in candidates.dropFirst() where arenas[candidate].freeSlots < arenas[best].freeSlots {
            best = candidate
        }
        return takeFrom(best)
    }

    /// Room under the limit for one more arena (granted as `.map`), else an idle arena re-carved for
    /// the class, else nil.
    private mutating func claimArena(for sizeClass: Int) -> Grant? {
        if limitBytes - arenas.count * arenaBytes - pendingMaps * arenaBytes >= arenaBytes {
            pendingMaps += 1
            return .map(lock: lockMemory && lockWarning == nil)
        }
        guard idleArenas > 0, let index = arenas.firstIndex(where: { $0.inUse == 0 }) else { return nil }
        delist(index)
        if drain?.arena == index { drain = nil }
        totalSlots -= arenas[index].slotCount
        arenas[index].assign(sizeClass: sizeClass, stride: classes.stride(of: sizeClass))
        totalSlots += arenas[index].slotCount
        relist(index)
        return takeFrom(index).map { .slot($0) }
    }

    private mutating func takeFrom(_ index: Int) -> Slot? {
        guard let slotIndex = arenas[index].takeSlot() else { return nil }
        if arenas[index].inUse == 1 { idleArenas -= 1 }
        let arena = arenas[index]
        inUseBuffers += 1
        inUseBytes += arena.sizeClass
        relist(index)
        return Slot(arena: index, index: slotIndex, mapping: arena.mapping, offset: arena.offset(of: slotIndex),
                    sizeClass: arena.sizeClass, registrations: arena.registrations)
    }

    /// Puts the arena in, or takes it out of, its class's list to match whether it can hand out a slot.
    private mutating func relist(_ index: Int) {
        let wanted = !arenas[index].draining && arenas[index].freeSlots > 0
        guard wanted != arenas[index].listed else { return }
        if wanted {
            available[arenas[index].sizeClass, default: []].append(index)
            arenas[index].listed = true
        } else {
            delist(index)
        }
    }

    private mutating func delist(_ index: Int) {
        guard arenas[index].listed else { return }
        let sizeClass = arenas[index].sizeClass
        available[sizeClass]?.removeAll { $0 == index }
        if available[sizeClass]?.isEmpty == true { available[sizeClass] = nil }
        arenas[index].listed = false
    }

    /// Hands free slots of the class to its waiters, first come first served.
    private mutating func serveClass(_ sizeClass: Int, _ wakeups: inout [Wakeup]) {
        while queues[sizeClass]?.isEmpty == false {
            guard let slot = takeAvailable(sizeClass) else { return }
            guard let waiter = popWaiter(sizeClass) else {
                // Unreachable (the queue was just seen non-empty); keep the slot rather than lose it.
                wakeups.append(contentsOf: release(slot))
                return
            }
            wakeups.append(Wakeup(continuation: waiter.continuation, result: .success(.slot(slot))))
        }
    }

    /// Hands idle arenas and room to map to the waiters in arrival order, while there are any.
    private mutating func serveHeads(_ wakeups: inout [Wakeup]) {
        while let head = earliestWaiter(), let grant = claimArena(for: head.sizeClass) {
            _ = popWaiter(head.sizeClass)
            wakeups.append(Wakeup(continuation: head.continuation, result: .success(grant)))
            if case .slot = grant { serveClass(head.sizeClass, &wakeups) }
        }
    }

    /// Keeps exactly one arena draining for the earliest waiter while there is one (see the type's
    /// comment), and releases the draining arena to its own class once that waiter has gone.
    private mutating func maintainDrain(_ wakeups: inout [Wakeup]) {
        if let current = drain, earliestWaiter()?.id != current.waiter {
            drain = nil
            arenas[current.arena].draining = false
            relist(current.arena)
            serveClass(arenas[current.arena].sizeClass, &wakeups)
        }
        guard drain == nil, let head = earliestWaiter() else { return }
        var victim: Int?
        for index in arenas.indices where arenas[index].sizeClass != head.sizeClass && arenas[index].inUse > 0 {
            if let chosen = victim, arenas[chosen].inUse <= arenas[index].inUse { continue }
            victim = index
        }
        guard let victim else { return }
        drain = (victim, head.id)
        arenas[victim].draining = true
        relist(victim)
    }

    private func earliestWaiter() -> Waiter? {
        guard waiting > 0 else { return nil }
        return queues.values.compactMap(\.first).min { $0.seq < $1.seq }
    }

    private mutating func popWaiter(_ sizeClass: Int) -> Waiter? {
        guard let waiter = queues[sizeClass]?.first else { return nil }
        queues[sizeClass]?.removeFirst()
        if queues[sizeClass]?.isEmpty == true { queues[sizeClass] = nil }
        waiting -= 1
        return waiter
    }
}
