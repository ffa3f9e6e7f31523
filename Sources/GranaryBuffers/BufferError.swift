#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the I/O buffer pool refused a configuration or could not hand out a buffer.
///
/// Every failure of `IOBufferPool` is one of these, and none leaves the pool inconsistent: a take
/// that fails or is cancelled holds no slot and no reservation afterwards.
public enum BufferError: Error, Equatable, Sendable, CustomStringConvertible {
    /// More bytes than one arena holds: a buffer is one slice of one mapping, never two, so that
    /// a later RDMA or CUDA registration per arena covers every buffer whole.
    case tooLarge(requested: Int, largest: Int)
    /// A configuration field is out of range (or, with `field` "count", a negative buffer size
    /// was asked for); `field` is the property's name as spelled in code and configuration files.
    case invalidConfiguration(field: String, reason: String)
    /// mmap refused to map a new arena of `bytes`; `errno` is what it set.
    case mapFailed(bytes: Int, errno: Int32)
    /// The task waiting for a buffer was cancelled before one became free.
    case cancelled
    /// A registrar (RDMA, CUDA) refused an arena, or is not available; the arena was unmapped.
    case registrationFailed(registrar: String, reason: String)
    /// No libcudart could be opened with the functions `CUDARuntime` needs; `reason` says what was tried.
    case cudaUnavailable(reason: String)
    /// A CUDA runtime call (`CUDARuntime`) failed: which call, CUDA's error number and its name.
    case cudaCall(call: String, code: Int32, name: String)

    public var description: String {
        switch self {
        case .tooLarge(let requested, let largest):
            return "a buffer of \(requested) bytes is larger than one arena (\(largest) bytes)"
        case .invalidConfiguration(let field, let reason):
            return "invalid buffer pool configuration: \(field): \(reason)"
        case .mapFailed(let bytes, let code):
            return "mmap of a \(bytes)-byte buffer arena failed: \(String(cString: strerror(code))) (errno \(code))"
        case .cancelled:
            return "cancelled while waiting for an I/O buffer"
        case .registrationFailed(let registrar, let reason):
            return "\(registrar) registration of an I/O buffer arena failed: \(reason)"
        case .cudaUnavailable(let reason):
            return "no CUDA runtime: \(reason)"
        case .cudaCall(let call, let code, let name):
            return "CUDA: \(call) returned \(name) (\(code))"
        }
    }
}
