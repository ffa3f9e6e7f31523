/// Registers whole arenas with a device once, when the pool maps them — an RDMA memory region, a
/// CUDA host registration — so that no I/O ever pays for registration.
///
/// Guarantees asked of an implementation: `register` either returns a registration covering all
/// `bytes` from `base`, or throws and holds nothing; the registration's `deregister` is called
/// exactly once, when the pool unmaps the arena (its deinit), after every buffer of it is gone.
public protocol ArenaRegistrar: Sendable {
    /// Short name for stats and errors: "rdma", "cuda".
    var name: String { get }
    func register(_ base: UnsafeMutableRawPointer, bytes: Int) throws(BufferError) -> any ArenaRegistration
}

/// One arena's registration with one registrar. Implementations are immutable after `register`
/// returns (the keys a transport needs — an RDMA lkey and rkey — are read from any thread).
public protocol ArenaRegistration: Sendable {
    /// The registrar's `name`.
    var registrar: String { get }
    /// Undoes the registration; called once, by the pool, when the arena is unmapped.
    func deregister()
}
