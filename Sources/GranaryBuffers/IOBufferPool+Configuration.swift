extension IOBufferPool {
    /// How big the pool's mappings are, how much it may map in all, and whether it pins them.
    ///
    /// Decoding accepts any subset of the fields (the rest keep their defaults), so a configuration
    /// file names only what it changes; `IOBufferPool.init` checks the values, not decoding.
    public struct Configuration: Sendable, Equatable, Codable {
        /// Bytes of one arena, one mmap; a positive multiple of the page size. The largest buffer.
        public var arenaBytes: Int = 64 << 20
        /// The most bytes the pool maps in all; beyond it, `take` waits for a release.
        public var limitBytes: Int = 1 << 30
        /// mlock each arena; when the system refuses, the pool warns once and carries on unlocked.
        public var lockMemory: Bool = true
        /// The smallest size class: a power of two, at least 4096, at most `arenaBytes`.
        public var smallestClass: Int = 4096
        /// Ask for huge pages (MAP_HUGETLB) for each arena, falling back to ordinary pages where
        /// none are reserved; `Stats.hugePageArenas` says which it got.
        public var hugePages: Bool = false

        public init(arenaBytes: Int = 64 << 20, limitBytes: Int = 1 << 30, lockMemory: Bool = true, smallestClass: Int = 4096,
                    hugePages: Bool = false) {
            self.arenaBytes = arenaBytes
            self.limitBytes = limitBytes
            self.lockMemory = lockMemory
            self.smallestClass = smallestClass
            self.hugePages = hugePages
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Configuration()
            arenaBytes = try container.decodeIfPresent(Int.self, forKey: .arenaBytes) ?? defaults.arenaBytes
            limitBytes = try container.decodeIfPresent(Int.self, forKey: .limitBytes) ?? defaults.limitBytes
            lockMemory = try container.decodeIfPresent(Bool.self, forKey: .lockMemory) ?? defaults.lockMemory
            smallestClass = try container.decodeIfPresent(Int.self, forKey: .smallestClass) ?? defaults.smallestClass
            hugePages = try container.decodeIfPresent(Bool.self, forKey: .hugePages) ?? defaults.hugePages
        }

        /// The first field out of range, as the error `IOBufferPool.init` throws, or nil.
        func validate(pageSize: Int) -> BufferError? {
            if arenaBytes <= 0 || arenaBytes % pageSize != 0 {
                return .invalidConfiguration(
                    field: "arenaBytes", reason: "\(arenaBytes) is not a positive multiple of the page size (\(pageSize))")
            }
            if smallestClass < 4096 || smallestClass & (smallestClass - 1) != 0 {
                return .invalidConfiguration(
                    field: "smallestClass", reason: "\(smallestClass) is not a power of two of at least 4096")
            }
            if smallestClass > arenaBytes {
                return .invalidConfiguration(
                    field: "smallestClass", reason: "\(smallestClass) is larger than arenaBytes (\(arenaBytes))")
            }
            if limitBytes < arenaBytes {
                return .invalidConfiguration(
                    field: "limitBytes", reason: "\(limitBytes) is less than one arena (arenaBytes \(arenaBytes))")
            }
            return nil
        }
    }
}
