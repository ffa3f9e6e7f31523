import GranaryBuffers
import GranaryClient

/// Why the loader or a dataset failed, naming what it was working on (the sample, the shard and
/// offset, the index file, the configuration field).
public enum LoaderError: Error, Sendable, CustomStringConvertible {
    case invalidConfiguration(field: String, reason: String)
    /// A saved state does not fit this loader: `field` differs.
    case stateMismatch(field: String, saved: String, current: String)
    /// Sample `index` (`key`) could not be read.
    case sampleFailed(index: Int, key: String, cause: String)
    /// The dataset's root could not be listed or is not a directory.
    case dataset(root: String, cause: String)
    /// A tar shard could not be parsed.
    case shard(TarError)
    /// The stored index is unreadable (it is rebuilt; this is reported only when rebuilding is off).
    case badIndex(path: String, offset: Int, reason: String)
    /// The buffer pool cannot hold what the configuration reads ahead.
    case poolTooSmall(needed: Int, limit: Int, reason: String)
    case buffers(BufferError)
    case client(ClientError)

    public var description: String {
        switch self {
        case let .invalidConfiguration(field, reason): return "loader configuration: \(field) \(reason)"
        case let .stateMismatch(field, saved, current):
            return "saved loader state does not fit: \(field) was \(saved), the loader has \(current)"
        case let .sampleFailed(index, key, cause): return "sample \(index) (\(key)): \(cause)"
        case let .dataset(root, cause): return "dataset \(root): \(cause)"
        case let .shard(e): return e.description
        case let .badIndex(path, offset, reason): return "dataset index \(path): at byte \(offset): \(reason)"
        case let .poolTooSmall(needed, limit, reason):
            return "buffer pool too small: \(reason) needs about \(needed) bytes, the pool's limit is \(limit) (raise limitBytes or lower batchSize/prefetchBatches)"
        case let .buffers(e): return "buffer pool: \(e)"
        case let .client(e): return e.description
        }
    }
}
