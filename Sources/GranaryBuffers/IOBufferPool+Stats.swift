extension IOBufferPool {
    /// A consistent snapshot of the pool (all fields read under one lock), for tests, metrics and
    /// `granary doctor`-style reports.
    public struct Stats: Sendable, Equatable, Codable {
        /// Arenas mapped, and their bytes; never more than `limitBytes`.
        public var arenas: Int
        public var mappedBytes: Int
        /// Bytes of arenas that mlock pinned; equal to `mappedBytes` unless locking was refused or off.
        public var lockedBytes: Int
        /// Buffers handed out and not yet released, and their bytes counted by size class.
        public var inUseBuffers: Int
        public var inUseBytes: Int
        /// Slots carved out of the arenas for their current classes and idle now.
        public var freeBuffers: Int
        /// Takes that had to wait for a release (cancelled ones included).
        public var waits: Int
        /// The one-time warning logged when mlock was refused, or nil.
        public var lockWarning: String?
        /// Arenas mapped with huge pages (asked for with `Configuration.hugePages`).
        public var hugePageArenas: Int
        /// Bytes of arenas registered, per registrar ("rdma", "cuda").
        public var registeredBytes: [String: Int]

        public init(
            arenas: Int = 0, mappedBytes: Int = 0, lockedBytes: Int = 0, inUseBuffers: Int = 0, inUseBytes: Int = 0,
            freeBuffers: Int = 0, waits: Int = 0, lockWarning: String? = nil, hugePageArenas: Int = 0,
            registeredBytes: [String: Int] = [:]
        ) {
            self.arenas = arenas
            self.mappedBytes = mappedBytes
            self.lockedBytes = lockedBytes
            self.inUseBuffers = inUseBuffers
            self.inUseBytes = inUseBytes
            self.freeBuffers = freeBuffers
            self.waits = waits
            self.lockWarning = lockWarning
            self.hugePageArenas = hugePageArenas
            self.registeredBytes = registeredBytes
        }
    }
}
