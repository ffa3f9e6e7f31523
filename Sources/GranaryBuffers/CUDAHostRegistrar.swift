#if canImport(Glibc)
import Glibc
#endif

/// Pins arenas for CUDA (`cudaHostRegister`), so that host-to-device copies from pool buffers run
/// at pinned-memory speed without staging. libcudart is opened with `dlopen` at run time: the build
/// never needs CUDA, and a machine without it gets `nil` from `load()` with the reason.
///
/// Guarantees: a registration covers the whole arena with `cudaHostRegisterDefault` and is undone
/// with `cudaHostUnregister`; a CUDA error fails the arena's mapping with
/// `BufferError.registrationFailed` naming "cuda" and the error code.
public struct CUDAHostRegistrar: ArenaRegistrar {
    public let name = "cuda"
    typealias RegisterFn = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int32
    typealias UnregisterFn = @convention(c) (UnsafeMutableRawPointer?) -> Int32
    // The library handle and function pointers are immutable addresses valid for the process's
    // life (the library is never closed), so sharing them between threads shares no state.
    nonisolated(unsafe) let registerFn: RegisterFn
    nonisolated(unsafe) let unregisterFn: UnregisterFn
    /// The library that was opened.
    public let library: String

    /// The names tried, newest CUDA first.
    public static var libraryNames: [String] { CUDALibrary.names }

    /// The registrar over the first libcudart that opens and has both functions, or why none did.
    public static func load() -> Result<CUDAHostRegistrar, BufferError> {
        switch CUDALibrary.open(needing: ["cudaHostRegister", "cudaHostUnregister"]) {
        case let .failure(e):
            return .failure(.registrationFailed(registrar: "cuda", reason: e.reason))
        case let .success(lib):
            return .success(CUDAHostRegistrar(registerFn: unsafeBitCast(lib.symbols[0], to: RegisterFn.self),
                                              unregisterFn: unsafeBitCast(lib.symbols[1], to: UnregisterFn.self), library: lib.name))
        }
    }

    public func register(_ base: UnsafeMutableRawPointer, bytes: Int) throws(BufferError) -> any ArenaRegistration {
        let code = registerFn(base, bytes, 0)
        guard code == 0 else {
            throw .registrationFailed(registrar: name, reason: "cudaHostRegister of \(bytes) bytes returned error \(code)")
        }
        return Registration(base: base, unregisterFn: unregisterFn)
    }

    /// One arena pinned for CUDA.
    struct Registration: ArenaRegistration {
        let registrar = "cuda"
        // An address, and a function pointer valid for the process's life (see above).
        nonisolated(unsafe) let base: UnsafeMutableRawPointer
        nonisolated(unsafe) let unregisterFn: UnregisterFn

        func deregister() { _ = unregisterFn(base) }
    }
}
