#if canImport(Glibc)
import Glibc
#endif

/// What a soak worker's operation can fail with; each is counted as an error of the run.
enum SoakError: Error, CustomStringConvertible {
    /// A system call on a path failed.
    case io(call: String, path: String, errno: Int32)
    /// A file's bytes did not match what was written (length or CRC32C).
    case mismatch(path: String, detail: String)

    var description: String {
        switch self {
        case let .io(call, path, code): "\(call) \(path): \(String(cString: strerror(code)))"
        case let .mismatch(path, detail): "\(path): wrong bytes (\(detail))"
        }
    }

    var isWrongBytes: Bool {
        if case .mismatch = self { return true }
        return false
    }
}
