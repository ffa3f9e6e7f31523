/// A slot handed out by the pool: where its bytes are, and what the pool needs to take it back.
struct Slot: Sendable {
    let arena: Int
    let index: Int
    let mapping: ArenaMapping
    let offset: Int
    let sizeClass: Int
    /// The arena's registrations (RDMA, CUDA), made once when it was mapped.
    let registrations: [any ArenaRegistration]

    var start: UnsafeMutableRawPointer { mapping.base + offset }
}
