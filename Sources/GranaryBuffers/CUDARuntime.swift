#if canImport(Glibc)
import Glibc
#endif

/// The few CUDA runtime calls the pinned-buffer benchmark needs (device count, device memory,
/// synchronous copies), from libcudart opened with `dlopen`, as `CUDAHostRegistrar` opens it: the
/// build never needs CUDA, and a machine without it gets the reason from `load()`.
///
/// Guarantees: every call returns `.success` or a `.failure` naming the call and CUDA's error
/// (number and, where the library gives it, its name); nothing is called on a library that lacks
/// one of the functions.
public struct CUDARuntime: Sendable {
    typealias CountFn = @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    typealias MallocFn = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int) -> Int32
    typealias FreeFn = @convention(c) (UnsafeMutableRawPointer?) -> Int32
    typealias MemcpyFn = @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int, Int32) -> Int32
    typealias SyncFn = @convention(c) () -> Int32
    typealias ErrorNameFn = @convention(c) (Int32) -> UnsafePointer<CChar>?

    // Function addresses in a library that is never closed: valid for the process's life, and
    // immutable, so sharing them between threads shares no state.
    nonisolated(unsafe) let countFn: CountFn
    nonisolated(unsafe) let mallocFn: MallocFn
    nonisolated(unsafe) let freeFn: FreeFn
    nonisolated(unsafe) let memcpyFn: MemcpyFn
    nonisolated(unsafe) let syncFn: SyncFn
    let errorNameFn: ErrorNameFn?
    /// The library that was opened.
    public let library: String

    /// `cudaMemcpyKind` values.
    public enum CopyKind: Int32, Sendable {
        case hostToDevice = 1
        case deviceToHost = 2
    }

    /// The runtime over the first libcudart that opens and has every function, or why none did.
    public static func load() -> Result<CUDARuntime, BufferError> {
        switch CUDALibrary.open(needing: ["cudaGetDeviceCount", "cudaMalloc", "cudaFree", "cudaMemcpy", "cudaDeviceSynchronize"]) {
        case let .failure(e):
            return .failure(.cudaUnavailable(reason: e.reason))
        case let .success(lib):
            let f = lib.symbols
            return .success(CUDARuntime(
                countFn: unsafeBitCast(f[0], to: CountFn.self), mallocFn: unsafeBitCast(f[1], to: MallocFn.self),
                freeFn: unsafeBitCast(f[2], to: FreeFn.self), memcpyFn: unsafeBitCast(f[3], to: MemcpyFn.self),
                syncFn: unsafeBitCast(f[4], to: SyncFn.self),
                errorNameFn: dlsym(lib.handle, "cudaGetErrorName").map { unsafeBitCast($0, to: ErrorNameFn.self) }, library: lib.name))
        }
    }

    /// The number of CUDA devices (an error where there is no driver or no device).
    public func deviceCount() -> Result<Int, BufferError> {
        var n: Int32 = 0
        return check("cudaGetDeviceCount", countFn(&n)).map { Int(n) }
    }

    /// `bytes` of device memory.
    public func allocate(_ bytes: Int) -> Result<UnsafeMutableRawPointer, BufferError> {
        var p: UnsafeMutableRawPointer?
        switch check("cudaMalloc of \(bytes) bytes", mallocFn(&p, bytes)) {
        case .success:
            guard let p else { return .failure(.cudaCall(call: "cudaMalloc of \(bytes) bytes", code: 0, name: "no address")) }
            return .success(p)
        case let .failure(e): return .failure(e)
        }
    }

    public func free(_ device: UnsafeMutableRawPointer) { _ = freeFn(device) }

    /// A synchronous copy of `bytes` bytes (returns when the data has arrived).
    public func copy(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, bytes: Int, _ kind: CopyKind) -> Result<Void, BufferError> {
        check("cudaMemcpy of \(bytes) bytes", memcpyFn(destination, source, bytes, kind.rawValue)).flatMap {
            check("cudaDeviceSynchronize", syncFn())
        }
    }

    private func check(_ call: String, _ code: Int32) -> Result<Void, BufferError> {
        guard code != 0 else { return .success(()) }
        let name = errorNameFn.flatMap { $0(code) }.map { String(cString: $0) } ?? "error"
        return .failure(.cudaCall(call: call, code: code, name: name))
    }
}
