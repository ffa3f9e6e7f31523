import Logging
import Synchronization

/// The client's pool of I/O buffers: page-aligned slices of a few large, pre-faulted (and, where
/// the system allows, mlocked) mappings, into which the data loader and the read path receive
/// sample bytes and hand them to the user without copying.
///
/// Why arenas: memory registration (RDMA, CUDA host registration) is costly per region, so the
/// pool maps large arenas once, keeps them for its whole life, and carves buffers out of them.
///
/// Guarantees:
/// - a buffer of `count` bytes is a slice of a single arena, of the size class `sizeClass(for:)`
///   gives, starting on a page boundary, and shared with no other live buffer;
/// - the pool never maps more than `limitBytes`: past it, `take` waits (back-pressure) until a
///   release frees a slot of its class or a whole arena, which is then re-carved for it; waiting
///   takes are served in arrival order, and while the earliest cannot be served one arena of
///   another class is left to drain for it, so no class can hold the arenas from another forever;
/// - a cancelled waiting take throws `.cancelled` and holds nothing;
/// - the slot returns when the last reference to its `IOBuffer` goes, from any thread; the arenas
///   are unmapped when the pool goes, which is after the last buffer (each holds the pool).
public final class IOBufferPool: Sendable {
    public let configuration: Configuration
    private let classes: SizeClasses
    private let state: Mutex<PoolState>
    private let waiterIDs = Atomic<UInt64>(0)
    private let logger: Logger
    /// mlock, replaceable so that tests can see the refused path on a machine where locking works.
    private let lockArena: @Sendable (ArenaMapping) -> Int32
    /// Run on every arena once, when it is mapped (RDMA memory regions, CUDA host registration).
    public let registrars: [any ArenaRegistrar]

    /// A pool whose arenas are registered with each of `registrars` as they are mapped.
    public convenience init(_ configuration: Configuration = .init(), registrars: [any ArenaRegistrar] = [],
                            logger: Logger) throws(BufferError) {
        try self.init(configuration, registrars: registrars, logger: logger, lockArena: { $0.lock() })
    }

    init(_ configuration: Configuration, registrars: [any ArenaRegistrar] = [], logger: Logger,
         lockArena: @escaping @Sendable (ArenaMapping) -> Int32) throws(BufferError)
    {
        self.registrars = registrars
        if let error = configuration.validate(pageSize: ArenaMapping.pageSize) { throw error }
        self.configuration = configuration
        classes = SizeClasses(
            smallest: configuration.smallestClass, largest: configuration.arenaBytes, pageSize: ArenaMapping.pageSize)
        state = Mutex(PoolState(
            arenaBytes: configuration.arenaBytes, limitBytes: configuration.limitBytes,
            lockMemory: configuration.lockMemory, classes: classes))
        self.logger = logger
        self.lockArena = lockArena
    }

    deinit {
        state.withLock { $0.unmapAll() }
    }

    /// A buffer of exactly `count` bytes, waiting for a release when the pool is at its limit.
    public func take(_ count: Int) async throws(BufferError) -> IOBuffer {
        let sizeClass = try checkedClass(for: count)
        while true {
            let grant: Grant
            if let now = state.withLock({ $0.takeNow(sizeClass) }) {
                grant = now
            } else {
                grant = try await waitForGrant(sizeClass).get()
            }
            // A nil buffer means a freshly mapped arena had no slot, which cannot happen; ask again.
            if let buffer = try buffer(from: grant, count: count, sizeClass: sizeClass) { return buffer }
        }
    }

    /// A buffer of exactly `count` bytes, or nil where `take` would wait.
    public func tryTake(_ count: Int) throws(BufferError) -> IOBuffer? {
        let sizeClass = try checkedClass(for: count)
        guard let grant = state.withLock({ $0.takeNow(sizeClass) }) else { return nil }
        return try buffer(from: grant, count: count, sizeClass: sizeClass)
    }

    public var stats: Stats {
        state.withLock { $0.stats }
    }

    /// The size class a buffer of `count` bytes is carved from (see `SizeClasses`); counts up to
    /// the smallest class, zero included, get the smallest. A count above `arenaBytes` has no class
    /// and comes back unchanged.
    public func sizeClass(for count: Int) -> Int {
        classes.sizeClass(for: count)
    }

    // MARK: Internals

    private func checkedClass(for count: Int) throws(BufferError) -> Int {
        guard count >= 0 else {
            throw .invalidConfiguration(field: "count", reason: "a buffer of \(count) bytes was asked for")
        }
        guard count <= configuration.arenaBytes else {
            throw .tooLarge(requested: count, largest: configuration.arenaBytes)
        }
        return classes.sizeClass(for: count)
    }

    /// Queues the take until a release serves it. The waiter's id is known to the cancellation
    /// handler before the waiter is queued; both queue and cancel under the lock, and the queueing
    /// side reads `Task.isCancelled` under it too, so a cancellation is never missed: it is either
    /// seen there or finds the waiter in the queue.
    private func waitForGrant(_ sizeClass: Int) async -> Result<Grant, BufferError> {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Grant, BufferError>, Never>) in
                let wakeups = state.withLock { state in
                    state.enqueue(id: id, sizeClass: sizeClass, continuation: continuation, cancelled: Task.isCancelled)
                }
                wakeups.forEach { $0.resume() }
            }
        } onCancel: {
            let wakeups = state.withLock { $0.cancel(id: id) }
            wakeups.forEach { $0.resume() }
        }
    }

    /// Turns a grant into a buffer, mapping (and locking) a new arena first for a `.map` grant.
    private func buffer(from grant: Grant, count: Int, sizeClass: Int) throws(BufferError) -> IOBuffer? {
        switch grant {
        case .slot(let slot):
            return IOBuffer(pool: self, slot: slot, count: count)
        case .map(let lock):
            let mapping: ArenaMapping, huge: Bool
            do {
                (mapping, huge) = try ArenaMapping.map(bytes: configuration.arenaBytes, hugePages: configuration.hugePages)
            } catch {
                let wakeups = state.withLock { $0.abandonMap() }
                wakeups.forEach { $0.resume() }
                logger.error("I/O buffer arena could not be mapped", metadata: ["error": "\(error)"])
                throw error
            }
            let lockErrno = lock ? lockArena(mapping) : 0
            // Register the arena with every registrar, once; one refusal undoes the others and the
            // mapping, and fails this take (the room goes back to whoever waits).
            var registrations: [any ArenaRegistration] = []
            for registrar in registrars {
                do {
                    registrations.append(try registrar.register(mapping.base, bytes: mapping.bytes))
                } catch {
                    for r in registrations { r.deregister() }
                    mapping.unmap()
                    let wakeups = state.withLock { $0.abandonMap() }
                    wakeups.forEach { $0.resume() }
                    logger.error("I/O buffer arena could not be registered", metadata: ["registrar": "\(registrar.name)", "error": "\(error)"])
                    throw error
                }
            }
            let warning = lockErrno == 0
                ? nil : MemoryLockWarning.text(errno: lockErrno, arenaBytes: configuration.arenaBytes)
            let installed = state.withLock { state in
                state.install(mapping: mapping, locked: lock && lockErrno == 0, huge: huge, registrations: registrations,
                              lockWarning: warning, sizeClass: sizeClass)
            }
            installed.wakeups.forEach { $0.resume() }
            if installed.logIt, let warning { logger.warning("\(warning)") }
            logger.debug("mapped an I/O buffer arena", metadata: [
                "bytes": "\(configuration.arenaBytes)", "sizeClass": "\(sizeClass)", "locked": "\(lock && lockErrno == 0)",
            ])
            return installed.slot.map { IOBuffer(pool: self, slot: $0, count: count) }
        }
    }

    /// Takes a slot back; called from `IOBuffer.deinit`, on whatever thread dropped the last reference.
    func release(_ slot: Slot) {
        let wakeups = state.withLock { $0.release(slot) }
        wakeups.forEach { $0.resume() }
    }
}
