#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import GranaryClient
import GranaryCore
import GranaryMeta
import Logging
import Synchronization

/// The file system a Granary mount serves, in Swift terms: each FUSE operation as an async method
/// over the `FileClient`, answering with attributes, bytes or an errno. `FUSEOperations` turns
/// kernel requests into calls of these and their results into replies.
///
/// Guarantees: inode numbers are Granary's own (stable across mounts, never reused), so `forget`
/// needs no bookkeeping; an open file reads from the file map it was opened with (a consistent
/// snapshot, even if the file is replaced meanwhile); every failure is an errno from
/// `MetaError.errno`, or EIO with the cause logged; a mount made `readOnly` refuses changes with EROFS.
public final class GranaryFileSystem: Sendable {
    public let client: FileClient
    public let options: MountOptions
    let logger: Logger

    /// An open regular file: its map as of `open`.
    struct OpenFile: Sendable {
        var map: FileMap
    }

    /// An open directory: its listing as of `opendir` (readdir pages through it by offset).
    struct OpenDirectory: Sendable {
        var entries: [(name: String, inode: Inode?)]
    }

    private let files = Mutex<[UInt64: OpenFile]>([:])
    private let directories = Mutex<[UInt64: OpenDirectory]>([:])
    private let nextHandle = Atomic<UInt64>(1)
    /// The ctime each file had when last opened: unchanged, the kernel may keep its cached pages.
    private let openedCtime = Mutex<[InodeID: Double]>([:])

    public init(client: FileClient, options: MountOptions, logger: Logger) {
        self.client = client
        self.options = options
        self.logger = logger
    }

    /// A failure as the errno the kernel gets; unexpected ones are logged with their cause.
    func errno(_ error: any Error, _ what: String) -> Int32 {
        if let r = error as? Refusal { return r.errno }
        guard let error = error as? ClientError else {
            logger.error("\(what): \(error)")
            return EIO
        }
        if case let .meta(e) = error {
            switch e {
            case .noSuchInode, .notFound, .noSuchPath, .exists, .notDirectory, .isDirectory, .notEmpty, .invalidName, .invalidMove:
                return e.errno
            default: break
            }
            logger.warning("\(what): \(e)")
            return e.errno
        }
        logger.error("\(what): \(error)")
        return EIO
    }

    // MARK: Attributes and names

    /// The kernel's view of an inode.
    func attributes(_ i: Inode) -> stat {
        var st = stat()
        st.st_ino = ino_t(i.id.rawValue)
        let type: UInt32
        switch i.kind {
        case .file: type = UInt32(Glibc.S_IFREG)
        case .directory: type = UInt32(Glibc.S_IFDIR)
        case .symlink: type = UInt32(Glibc.S_IFLNK)
        }
        st.st_mode = mode_t(type | (i.mode & 0o7777))
        st.st_nlink = nlink_t(i.nlink)
        st.st_uid = uid_t(i.uid)
        st.st_gid = gid_t(i.gid)
        let size = i.kind == .symlink ? Int64(i.symlinkTarget?.utf8.count ?? 0) : i.size
        st.st_size = off_t(size)
        st.st_blksize = blksize_t(options.maxIO)
        st.st_blocks = blkcnt_t((size + 511) / 512)
        st.st_mtim = Self.timespec(i.mtime)
        st.st_ctim = Self.timespec(i.ctime)
        st.st_atim = st.st_mtim
        return st
    }

    static func timespec(_ t: Double) -> Glibc.timespec {
        let s = t.rounded(.down)
        return Glibc.timespec(tv_sec: Int(s), tv_nsec: Int((t - s) * 1e9))
    }

    /// A directory entry reply for `i`, cached by the kernel for the configured timeouts.
    func entry(_ i: Inode) -> fuse_entry_param {
        var e = fuse_entry_param()
        e.ino = fuse_ino_t(i.id.rawValue)
        e.generation = 1
        e.attr = attributes(i)
        e.attr_timeout = options.attrTimeout
        e.entry_timeout = options.entryTimeout
        return e
    }

    public func lookup(parent: InodeID, name: String) async throws -> Inode {
        guard let inode = try await client.meta.lookup(parent, name) else { throw Refusal(errno: ENOENT) }
        return inode
    }

    public func getattr(_ id: InodeID) async throws -> Inode {
        try await client.meta.getattr(id)
    }

    public func readlink(_ id: InodeID) async throws -> String {
        let inode = try await client.meta.getattr(id)
        guard inode.kind == .symlink, let target = inode.symlinkTarget else { throw Refusal(errno: EINVAL) }
        return target
    }

    // MARK: Directories

    public func opendir(_ id: InodeID) async throws -> UInt64 {
        let listing = try await client.meta.readdirPlus(id)
        let handle = nextHandle.add(1, ordering: .relaxed).oldValue
        directories.withLock { $0[handle] = OpenDirectory(entries: listing.map { ($0.0.name, $0.1) }) }
        return handle
    }

    /// Entries of an open directory from index `offset` on.
    func directoryEntries(_ handle: UInt64, from offset: Int) -> ArraySlice<(name: String, inode: Inode?)> {
        directories.withLock { d in
            guard let e = d[handle]?.entries, offset < e.count else { return [] }
            return e[max(offset, 0)...]
        }
    }

    public func releasedir(_ handle: UInt64) { _ = directories.withLock { $0.removeValue(forKey: handle) } }

    public func mkdir(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32) async throws -> Inode {
        try writable()
        return try await client.meta.mkdir(parent, name, mode: mode & 0o7777, uid: uid, gid: gid)
    }

    public func unlink(parent: InodeID, name: String) async throws {
        try writable()
        try await client.meta.unlink(parent, name)
    }

    public func rmdir(parent: InodeID, name: String) async throws {
        try writable()
        try await client.meta.rmdir(parent, name)
    }

    public func rename(parent: InodeID, name: String, to newParent: InodeID, _ newName: String) async throws {
        try writable()
        try await client.meta.rename(parent, name, to: newParent, newName)
    }

    public func symlink(parent: InodeID, name: String, target: String, uid: UInt32, gid: UInt32) async throws -> Inode {
        try writable()
        return try await client.meta.symlink(parent, name, target: target, uid: uid, gid: gid)
    }

    // MARK: Files

    /// Opens file `id` for reading and says whether the kernel may keep the pages it cached at an
    /// earlier open (the file's ctime has not changed since).
    public func open(_ id: InodeID, flags: Int32) async throws -> (handle: UInt64, keepCache: Bool) {
        if (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0 {
            // Writing file data through the mount arrives with its write path; until then, refuse
            // plainly rather than accept bytes that would not be kept.
            throw Refusal(errno: options.readOnly ? EROFS : ENOTSUP)
        }
        let inode = try await client.meta.getattr(id)
        guard inode.kind == .file else { throw Refusal(errno: inode.kind == .directory ? EISDIR : EINVAL) }
        let map = try await client.meta.fileMap(id)
        let handle = nextHandle.add(1, ordering: .relaxed).oldValue
        files.withLock { $0[handle] = OpenFile(map: map) }
        let keep = openedCtime.withLock { seen in
            defer { seen[id] = map.inode.ctime }
            return seen[id] == map.inode.ctime
        }
        return (handle, keep)
    }

    /// Reads up to `buffer.count` bytes at `offset` of open file `handle` into `buffer`.
    public func read(_ handle: UInt64, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        guard let file = files.withLock({ $0[handle] }) else { throw Refusal(errno: EBADF) }
        return try await client.read(file.map, path: "inode \(file.map.inode.id.rawValue)", offset: offset, into: buffer)
    }

    public func release(_ handle: UInt64) { _ = files.withLock { $0.removeValue(forKey: handle) } }

    /// File system figures for `statfs`: the cluster's up drives.
    public func statfs() async throws -> (capacity: Int64, free: Int64, files: Int64) {
        let map = try await client.clusterMap()
        let drives = map.nodes.filter { $0.state == .up }.flatMap(\.drives).filter { $0.state == .up }
        return (drives.reduce(0) { $0 + $1.capacityBytes }, drives.reduce(0) { $0 + $1.freeBytes }, 0)
    }

    func writable() throws {
        if options.readOnly { throw Refusal(errno: EROFS) }
    }
}

/// An operation refused for a reason the kernel knows by its errno (read-only mount, not a
/// symlink, a stale handle): expected, so not logged.
struct Refusal: Error, Equatable {
    let errno: Int32
}
