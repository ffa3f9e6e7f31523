/// What can go wrong reading or writing a trace, with enough context to find the problem: the
/// file, the 1-based line number, and what exactly is wrong with the line.
public enum TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read; `errno` is the system's error number.
    case unreadable(path: String, errno: Int32)
    /// The file could not be created or written.
    case unwritable(path: String, errno: Int32)
    /// Line `line` (1-based) of `file` is not a valid trace record.
    case malformedLine(file: String, line: Int, reason: Reason)
    /// A record given to `TraceWriter` cannot be represented (the `index`-th of the batch).
    case invalidRecord(index: Int, reason: Reason)

    /// Why a line or record is rejected.
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// Not JSON of the expected shape; `column` is 1-based, `expected` names what should be there.
        case syntax(column: Int, expected: String)
        case missingKey(String)
        case duplicateKey(String)
        case wrongType(key: String, expected: String)
        case negativeSize(Int)
        case nonFiniteTime
        case timeGoesBackwards(previous: Double, current: Double)
        case invalidUTF8

        public var description: String {
            switch self {
            case let .syntax(column, expected): return "bad JSON at column \(column): expected \(expected)"
            case let .missingKey(key): return "missing key \"\(key)\""
            case let .duplicateKey(key): return "duplicate key \"\(key)\""
            case let .wrongType(key, expected): return "\"\(key)\" must be \(expected)"
            case let .negativeSize(size): return "negative size \(size)"
            case .nonFiniteTime: return "t is not a finite number"
            case let .timeGoesBackwards(previous, current): return "t goes backwards (\(current) after \(previous))"
            case .invalidUTF8: return "string is not valid UTF-8"
            }
        }
    }

    public var description: String {
        switch self {
        case let .unreadable(path, errno): return "cannot read \(path) (errno \(errno))"
        case let .unwritable(path, errno): return "cannot write \(path) (errno \(errno))"
        case let .malformedLine(file, line, reason): return "\(file):\(line): \(reason)"
        case let .invalidRecord(index, reason): return "record \(index): \(reason)"
        }
    }
}
