import GranaryCore
import GranaryErasure
import GranaryMeta
import GranaryTransport
import GranaryWire

/// Why a client operation failed, with what it was working on.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The transport failed, or the node answered with an error (`TransportError.remote`).
    case transport(TransportError)
    /// Bytes of a chunk read did not match the checksum the node sent for them: corrupted on the
    /// drive, in the node's memory or on the way. Nothing of the read may be used.
    case corruptRead(node: Endpoint, drive: String, key: ChunkKey, offset: Int, length: Int, expected: UInt32, actual: UInt32)
    /// The node's read answer did not describe the bytes asked for.
    case badReadAnswer(node: Endpoint, drive: String, key: ChunkKey, reason: String)
    /// The manager's metadata store refused or failed the operation.
    case meta(MetaError)
    /// Fewer than k fragments of a stripe could be read: the file's bytes in it cannot be
    /// returned. `causes` says what happened to each fragment that could not be used.
    case stripeUnreadable(file: String, stripe: UInt64, readable: Int, needed: Int, causes: [String])
    /// A stripe could not be written to enough drives.
    case stripeWriteFailed(file: String, stripe: UInt64, reason: String)
    /// The erasure codec refused (an unavailable backend, a layout it cannot serve).
    case codec(ErasureError)
    /// A drive named by the metadata is not in the cluster map.
    case unknownDrive(DriveID)
    /// A local file could not be read or written.
    case localFile(path: String, reason: String)
    /// What the path names is not what the operation needs (a directory where a file is needed…).
    case wrongKind(path: String, expected: String)
    /// Read-back verification found different bytes than were written.
    case verifyFailed(path: String, reason: String)
    /// The cache directory cannot be used (unwritable, or owned by another process).
    case cacheUnavailable(directory: String, reason: String)
    /// The client's identity lacks a permission on `path` (the client API checks modes as the
    /// kernel does for the mount).
    case permissionDenied(path: String, need: String, identity: String)

    public var description: String {
        switch self {
        case let .transport(e): return e.description
        case let .corruptRead(node, drive, key, offset, length, expected, actual):
            return "chunk \(key) on \(node) drive \(drive): bytes \(offset)..<\(offset + length) arrived with CRC32C "
                + "\(hex(actual)) where the node sent \(hex(expected)) (corrupt on the drive or on the way)"
        case let .badReadAnswer(node, drive, key, reason):
            return "chunk \(key) on \(node) drive \(drive): malformed read answer: \(reason)"
        case let .meta(e): return e.description
        case let .stripeUnreadable(file, stripe, readable, needed, causes):
            return "\(file): stripe \(String(stripe, radix: 16)) is unreadable: only \(readable) of the \(needed) fragments needed could be read"
                + (causes.isEmpty ? "" : " (" + causes.joined(separator: "; ") + ")")
        case let .stripeWriteFailed(file, stripe, reason):
            return "\(file): writing stripe \(String(stripe, radix: 16)) failed: \(reason)"
        case let .codec(e): return "erasure codec: \(e)"
        case let .unknownDrive(d): return "drive \(d) is not in the cluster map"
        case let .localFile(path, reason): return "\(path): \(reason)"
        case let .wrongKind(path, expected): return "\(path): not \(expected)"
        case let .verifyFailed(path, reason): return "\(path): verification failed: \(reason)"
        case let .cacheUnavailable(directory, reason): return "cache directory \(directory): \(reason)"
        case let .permissionDenied(path, need, identity): return "\(path): permission denied (\(identity) needs \(need) permission)"
        }
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }

    /// The node's error, when it answered with one.
    public var remoteError: RemoteError? {
        if case let .transport(t) = self { return t.remoteError }
        return nil
    }
}
