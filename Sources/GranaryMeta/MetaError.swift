#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a metadata operation failed.
///
/// Guarantees every case carries what is needed to say what went wrong: the database file (or the
/// PostgreSQL URL, always with its password removed), the inode and entry name, or the cluster-map
/// versions involved, and `description` is a sentence that names them and never a secret. Namespace errors correspond to POSIX errno values (see `errno`), so a file system
/// front end can pass them on unchanged.
public enum MetaError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    // MARK: Storage
    /// The database could not be opened, read or written (missing directory, not an SQLite file,
    /// disk full, I/O error, a PostgreSQL server error…). `path` is the file, or the URL without
    /// its password.
    case database(path: String, reason: String)
    /// A metadata location that cannot be used: not a file path, `sqlite:` or PostgreSQL URL, or a
    /// malformed or unsupported URL. `location` has any password removed.
    case invalidLocation(String, reason: String)
    /// The PostgreSQL server at `location` (password removed) could not be reached within the
    /// connect timeout: nothing listening, no route, a name that does not resolve, no answer.
    case unreachable(location: String, reason: String)
    /// The PostgreSQL server at `location` (password removed) refused the user or password.
    case authenticationFailed(location: String, reason: String)
    /// The file was written by a newer Granary, with a schema this code does not know.
    case newerSchema(path: String, found: Int, supported: Int)
    /// A stored row cannot be read back (for example an invalid node id or an unknown state).
    case corrupt(path: String, table: String, key: String, reason: String)

    // MARK: Cluster
    /// `saveClusterMap` was offered a map older than the stored one.
    case staleClusterMap(stored: UInt64, offered: UInt64)
    /// `saveClusterMap` was offered a map that contradicts itself (duplicate ids, a drive listed
    /// under a node other than its own).
    case invalidClusterMap(reason: String)
    /// `initializeCluster` was called with a different id than the one already stored.
    case alreadyInitialized(existingID: String)

    // MARK: Namespace
    /// No inode has this id (never created, or deleted).
    case noSuchInode(InodeID)
    /// The directory `parent` has no entry `name`.
    case notFound(parent: InodeID, name: String)
    /// The directory `parent` already has an entry `name`.
    case exists(parent: InodeID, name: String)
    /// The inode is not a directory where one is needed; `name` is its entry name when known.
    case notDirectory(inode: InodeID, name: String?)
    /// The inode is a directory where one is not allowed; `name` is its entry name when known.
    case isDirectory(inode: InodeID, name: String?)
    /// The directory `name` (inode `inode`) still has entries.
    case notEmpty(inode: InodeID, name: String)
    /// The name cannot be a directory entry (see `EntryName.problem`).
    case invalidName(String)
    /// A symbolic link target that is empty, too long or contains NUL.
    case invalidSymlinkTarget(String)
    /// A negative size, or a size set on something other than a regular file.
    case invalidSize(inode: InodeID, size: Int64)
    /// A rename would move directory `name` (inode `inode`) into its own subtree, under `destination`.
    case invalidMove(inode: InodeID, name: String, destination: InodeID)
    /// A path with no entry at one of its components (`path` is the whole path asked for).
    case noSuchPath(String)
    /// A path that is not absolute or has an invalid component.
    case invalidPath(String, reason: String)

    // MARK: Data
    /// A stripe offered to `commitFiles` that contradicts itself or was never allocated.
    case invalidStripe(id: UInt64, reason: String)
    /// No stripe has this id (never committed, or collected).
    case noSuchStripe(UInt64)
    /// A file offered to `commitFiles` whose extents do not fit its size or its stripes.
    case invalidFile(parent: InodeID, name: String, reason: String)
    /// A stripe layout that cannot be stored on a directory.
    case invalidLayout(inode: InodeID, reason: String)
    /// `rewriteFile` found other extents than the writer read: someone else wrote the file meanwhile.
    case fileChanged(InodeID)
    /// `replaceStripe` expected the stripe at `expected`, but someone changed it since (`found`).
    case staleStripe(id: UInt64, expected: UInt32, found: UInt32)

    // MARK: Leases
    /// A lease asked for with an empty name or holder, or a time to live that is not a positive
    /// number of seconds.
    case invalidLease(name: String, reason: String)

    public var description: String {
        switch self {
        case let .database(path, reason):
            return "metadata database \(path): \(reason)"
        case let .invalidLocation(location, reason):
            return "metadata location '\(Self.printable(location))': \(reason)"
        case let .unreachable(location, reason):
            return "cannot reach the metadata database \(location): \(reason)"
        case let .authenticationFailed(location, reason):
            return "the metadata database \(location) refused the login: \(reason)"
        case let .newerSchema(path, found, supported):
            return "metadata database \(path) has schema version \(found), but this Granary supports only up to "
                + "\(supported): it was written by a newer Granary; upgrade Granary to open it (refusing to "
                + "open it rather than risk damaging it)"
        case let .corrupt(path, table, key, reason):
            return "metadata database \(path) is corrupt: row '\(key)' of table \(table): \(reason)"
        case let .staleClusterMap(stored, offered):
            return "refusing cluster map version \(offered): the stored map is newer (version \(stored))"
        case let .invalidClusterMap(reason):
            return "refusing an invalid cluster map: \(reason)"
        case let .alreadyInitialized(existingID):
            return "the metadata store already belongs to cluster '\(existingID)'"
        case let .noSuchInode(id):
            return "\(id) does not exist"
        case let .notFound(parent, name):
            return "no entry '\(name)' in directory \(parent)"
        case let .exists(parent, name):
            return "directory \(parent) already has an entry '\(name)'"
        case let .notDirectory(inode, name):
            return "\(Self.subject(inode, name)) is not a directory"
        case let .isDirectory(inode, name):
            return "\(Self.subject(inode, name)) is a directory"
        case let .notEmpty(inode, name):
            return "directory '\(name)' (\(inode)) is not empty"
        case let .invalidName(name):
            return "invalid name '\(Self.printable(name))': \(EntryName.problem(name) ?? "rejected")"
        case let .invalidSymlinkTarget(target):
            return "invalid symbolic link target '\(Self.printable(target))': it must be 1 to 4096 bytes without NUL"
        case let .invalidSize(inode, size):
            return "invalid size \(size) for \(inode): only a regular file has a settable size, and it cannot be negative"
        case let .invalidMove(inode, name, destination):
            return "cannot move directory '\(name)' (\(inode)) into \(destination), which is inside it"
        case let .noSuchPath(path):
            return "\(path): no such file or directory"
        case let .invalidPath(path, reason):
            return "invalid path '\(Self.printable(path))': \(reason)"
        case let .invalidStripe(id, reason):
            return "refusing stripe \(String(id, radix: 16)): \(reason)"
        case let .noSuchStripe(id):
            return "stripe \(String(id, radix: 16)) does not exist"
        case let .invalidFile(parent, name, reason):
            return "refusing file '\(Self.printable(name))' in \(parent): \(reason)"
        case let .invalidLayout(inode, reason):
            return "invalid layout for \(inode): \(reason)"
        case let .fileChanged(id):
            return "\(id) was changed by another writer while this write was prepared; read it again and retry"
        case let .staleStripe(id, expected, found):
            return "stripe \(String(id, radix: 16)) changed while it was being rewritten (version \(found), expected \(expected))"
        case let .invalidLease(name, reason):
            return "invalid lease '\(Self.printable(name))': \(reason)"
        }
    }

    /// The POSIX errno a file system front end should report for this error.
    public var errno: Int32 {
        switch self {
        case .database, .newerSchema, .corrupt, .staleClusterMap, .invalidClusterMap, .alreadyInitialized: return EIO
        case .unreachable, .authenticationFailed: return EIO
        case .invalidLocation, .invalidLease: return EINVAL
        case .noSuchInode, .notFound, .noSuchPath: return ENOENT
        case .noSuchStripe, .invalidStripe, .staleStripe: return EIO
        case .fileChanged: return EAGAIN
        case .invalidPath, .invalidFile, .invalidLayout: return EINVAL
        case .exists: return EEXIST
        case .notDirectory: return ENOTDIR
        case .isDirectory: return EISDIR
        case .notEmpty: return ENOTEMPTY
        case let .invalidName(name): return name.utf8.count > EntryName.maxBytes ? ENAMETOOLONG : EINVAL
        case .invalidSymlinkTarget, .invalidSize, .invalidMove: return EINVAL
        }
    }

    private static func subject(_ inode: InodeID, _ name: String?) -> String {
        name.map { "'\($0)' (\(inode))" } ?? "\(inode)"
    }

    /// The name with NUL shown as `\0` and cut to a readable length.
    private static func printable(_ s: String) -> String {
        let shown = s.replacingNUL()
        return shown.count > 80 ? String(shown.prefix(80)) + "…" : shown
    }
}

extension String {
    fileprivate func replacingNUL() -> String {
        var out = ""
        for c in unicodeScalars { if c == "\0" { out += "\\0" } else { out.unicodeScalars.append(c) } }
        return out
    }
}
