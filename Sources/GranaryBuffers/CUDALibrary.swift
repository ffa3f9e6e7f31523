#if canImport(Glibc)
import Glibc
#endif

/// Opens libcudart with `dlopen` for `CUDAHostRegistrar` and `CUDARuntime`: the first of
/// `names` that opens and has every symbol asked for. The library is never closed, so the
/// addresses stay valid for the process's life.
enum CUDALibrary {
    /// The names tried, newest CUDA first.
    static let names = ["libcudart.so", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so.11"]

    /// The library's name, its handle and the address of each of `symbols` (in that order), or
    /// the reason none would do: every library tried and what was wrong with it.
    static func open(needing symbols: [String]) -> Result<(name: String, handle: UnsafeMutableRawPointer, symbols: [UnsafeMutableRawPointer]), Unavailable> {
        var tried: [String] = []
        for name in names {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
                tried.append(dlerror().map { String(cString: $0) } ?? "\(name): not found")
                continue
            }
            let found = symbols.compactMap { dlsym(handle, $0) }
            guard found.count == symbols.count else {
                tried.append("\(name): lacks one of " + symbols.joined(separator: ", "))
                continue
            }
            return .success((name, handle, found))
        }
        return .failure(Unavailable(reason: "libcudart is not available (" + tried.joined(separator: "; ") + ")"))
    }

    struct Unavailable: Error {
        let reason: String
    }
}
