#if canImport(Glibc)
import Glibc
#endif
import GranaryCore

/// Why a chunk store operation failed, in terms a storage node can act on and report.
///
/// Guarantees every case names the drive it happened on, and the chunk where there is one, so a log
/// line or a reply to a client is enough to find the file. The cases separate what the node treats
/// differently: a missing chunk (the client tries another fragment), a corrupt one (repair it), a
/// full or read-only drive (place elsewhere), and a failing one (`io`, counted towards drive health).
public indirect enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No chunk with this key on the drive.
    case chunkNotFound(drive: DriveID, key: ChunkKey)
    /// The chunk file exists but fails validation; its content must not be served.
    case corruptChunk(drive: DriveID, key: ChunkKey, reason: ChunkFormatError)
    /// A range read asked for bytes past the end of the chunk's data (or a negative offset).
    case rangeOutOfBounds(drive: DriveID, key: ChunkKey, offset: Int, count: Int, length: Int)
    /// The drive has no space (ENOSPC) or quota (EDQUOT) left for this chunk; nothing was stored.
    case driveFull(drive: DriveID, key: ChunkKey)
    /// The drive's file system is read-only (EROFS, or not writable at open); reads still work.
    case driveReadOnly(drive: DriveID)
    /// The drive's directory does not exist (unmounted, removed, wrong path in the config).
    case driveMissing(drive: DriveID, path: String)
    /// The drive's path exists but is not a directory.
    case notADirectory(drive: DriveID, path: String)
    /// A system call failed in a way that is not one of the cases above (EIO among them).
    /// `code` is the `errno` value; `description` renders its text.
    case io(drive: DriveID, key: ChunkKey?, operation: String, code: Int32)
    /// The drive could not be opened when the store started; `reason` is why.
    case driveUnavailable(drive: DriveID, reason: StorageError)
    /// A fault installed for a test or drill (`granary drive inject`) failed the operation.
    case injectedFault(drive: DriveID, fault: String)
    /// The node has no drive with this name.
    case unknownDrive(node: NodeID, name: String)
    /// A drive name in the store's configuration is not a valid name, or is used twice.
    case invalidDriveName(node: NodeID, name: String)

    /// The drive the error happened on, where there is one.
    public var drive: DriveID? {
        switch self {
        case .chunkNotFound(let d, _), .corruptChunk(let d, _, _), .rangeOutOfBounds(let d, _, _, _, _),
             .driveFull(let d, _), .driveReadOnly(let d), .driveMissing(let d, _), .notADirectory(let d, _),
             .io(let d, _, _, _), .driveUnavailable(let d, _), .injectedFault(let d, _):
            return d
        case .unknownDrive, .invalidDriveName:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .chunkNotFound(let drive, let key):
            return "Chunk \(key) is not on drive \(drive)."
        case .corruptChunk(let drive, let key, let reason):
            return "Chunk \(key) on drive \(drive) is corrupt: \(reason)."
        case .rangeOutOfBounds(let drive, let key, let offset, let count, let length):
            return "Read of \(count) bytes at offset \(offset) of chunk \(key) on drive \(drive) is out of bounds: "
                + "the chunk holds \(length) bytes."
        case .driveFull(let drive, let key):
            return "Drive \(drive) is full: no space left to store chunk \(key)."
        case .driveReadOnly(let drive):
            return "Drive \(drive) is read-only: it serves reads but accepts no writes."
        case .driveMissing(let drive, let path):
            return "Drive \(drive) is missing: its directory \(path) does not exist."
        case .notADirectory(let drive, let path):
            return "Drive \(drive) is unusable: its path \(path) is not a directory."
        case .io(let drive, let key, let operation, let code):
            let chunk = key.map { ", chunk \($0)" } ?? ""
            return "I/O error on drive \(drive)\(chunk): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))."
        case .driveUnavailable(let drive, let reason):
            return "Drive \(drive) is unavailable since it failed to open: \(reason)"
        case .injectedFault(let drive, let fault):
            return "Drive \(drive): \(fault) (a fault injected for testing; `granary drive inject \(drive) --clear` removes it)."
        case .unknownDrive(let node, let name):
            return "Node \(node) has no drive named '\(name)'."
        case .invalidDriveName(let node, let name):
            return "Drive name '\(name)' on node \(node) is invalid or used twice "
                + "(names are 1-64 characters of A-Z a-z 0-9 . _ -)."
        }
    }
}
