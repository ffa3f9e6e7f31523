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
/// snapshot, even if the file is replaced meanwhile); a file created or truncated through the mount
/// appears whole at close, never partly, and not at all when its writer was killed (`FileWriter`);
/// every failure is an errno from `MetaError.errno`, or EIO with the cause logged; a mount made
/// `readOnly` refuses changes with EROFS.
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
    private let writers = Mutex<[UInt64: (writer: FileWriter, replaces: (dir: InodeID, name: String)?)]>([:])
    /// The directory entry each inode was last seen under (lookups, creates, listings): open with
    /// O_TRUNC needs it to put the new content in place.
    private let names = Mutex<[InodeID: (dir: InodeID, name: String)]>([:])
    private let temporaryDir = Mutex<InodeID?>(nil)
    /// File maps fetched by recent opens: reused for `attrTimeout` seconds, the same staleness the
    /// kernel allows for attributes, so reopening a file of an unchanging dataset costs no round trip.
    private let maps = Mutex<[InodeID: (map: FileMap, at: Double)]>([:])
    /// The session, for telling the kernel a name now points elsewhere.
    let session = Mutex<SessionPointer?>(nil)
    static let temporaryPath = "/.granary-tmp"
    private let directories = Mutex<[UInt64: OpenDirectory]>([:])
    private let nextHandle = Atomic<UInt64>(1)
    /// The ctime each file had when last opened: unchanged, the kernel may keep its cached pages.
    private let openedCtime = Mutex<[InodeID: Double]>([:])
    /// Which job each reading process belongs to, for the cache's access trace.
    let jobs = JobNames()

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
        names.withLock { $0[inode.id] = (parent, name) }
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
        names.withLock { n in for (e, _) in listing { n[e.inode] = (id, e.name) } }
        if let cache = client.cache {
            // A listed directory's files are what a training job reads next: let the policy know
            // they exist (and their sizes) before the first one is read.
            let block = Int64(cache.settings.blockBytes)
            cache.register(listing.compactMap { e, inode in
                guard inode.kind == .file, inode.size > 0, inode.size <= block else { return nil }
                return (key: "\(id.rawValue)/\(e.name)", inode: inode.id, offset: 0, length: Int(inode.size), path: e.name)
            })
        }
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

    /// Opens file `id` and says whether the kernel may keep the pages it cached at an earlier open
    /// (the file's ctime has not changed since). Opened for writing with O_TRUNC, the new content
    /// goes to a temporary inode that replaces the file at close; without, writes change the file
    /// in place, copy-on-write.
    public func open(_ id: InodeID, flags: Int32) async throws -> (handle: UInt64, keepCache: Bool) {
        if (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0 {
            try writable()
            // The file map carries the attributes too (and refuses anything but a regular file).
            let map = try await client.meta.fileMap(id)
            let inode = map.inode
            let handle = nextHandle.add(1, ordering: .relaxed).oldValue
            let layout = map.stripes.values.first?.targetLayout ?? client.settings.defaultLayout
            if (flags & O_TRUNC) != 0 {
                guard let place = names.withLock({ $0[id] }) else { throw Refusal(errno: ESTALE) }
                let (tmp, name) = try await temporaryName(for: place.dir)
                let fresh = try await client.meta.createFile(tmp, name, mode: inode.mode, uid: inode.uid, gid: inode.gid)
                let writer = FileWriter(client: client, inode: fresh.id, layout: layout, temporary: (tmp, name), target: (place.dir, place.name))
                writers.withLock { $0[handle] = (writer, place) }
            } else {
                writers.withLock { $0[handle] = (FileWriter(client: client, inode: id, layout: layout, temporary: nil, target: nil), nil) }
            }
            openedCtime.withLock { _ = $0.removeValue(forKey: id) }
            maps.withLock { _ = $0.removeValue(forKey: id) }
            return (handle, false)
        }
        let map = try await fileMap(id)
        let handle = nextHandle.add(1, ordering: .relaxed).oldValue
        files.withLock { $0[handle] = OpenFile(map: map) }
        if let cache = client.cache { CachedReader.registerBlocks(cache: cache, map: map, base: cacheKey(id)) }
        let keep = openedCtime.withLock { seen in
            defer { seen[id] = map.inode.ctime }
            return seen[id] == map.inode.ctime
        }
        return (handle, keep)
    }

    /// Creates file `name` in `parent` for writing: it appears there, whole, when it is closed.
    public func create(parent: InodeID, name: String, mode: UInt32, caller: (uid: UInt32, gid: UInt32)) async throws -> (handle: UInt64, inode: Inode) {
        try writable()
        if try await client.meta.lookup(parent, name) != nil { throw Refusal(errno: EEXIST) }
        let layout = try await client.layoutForNewFiles(in: parent)
        let (tmp, tmpName) = try await temporaryName(for: parent)
        let inode = try await client.meta.createFile(tmp, tmpName, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid)
        let handle = nextHandle.add(1, ordering: .relaxed).oldValue
        let writer = FileWriter(client: client, inode: inode.id, layout: layout, temporary: (tmp, tmpName), target: (parent, name))
        writers.withLock { $0[handle] = (writer, nil) }
        names.withLock { $0[inode.id] = (parent, name) }
        return (handle, inode)
    }

    /// The file map of `id`, from the recent-open cache when young enough.
    func fileMap(_ id: InodeID) async throws -> FileMap {
        let now = FileClient.seconds()
        if let c = maps.withLock({ $0[id] }), now - c.at < options.attrTimeout { return c.map }
        let map = try await client.meta.fileMap(id)
        maps.withLock { m in
            if m.count > 100_000 { m.removeAll(keepingCapacity: true) }
            m[id] = (map, now)
        }
        return map
    }

    /// A fresh name in the hidden directory where files being written wait for their close.
    private func temporaryName(for parent: InodeID) async throws -> (InodeID, String) {
        var dir = temporaryDir.withLock { $0 }
        if dir == nil {
            let d = try await client.meta.mkdirAll(Self.temporaryPath, mode: 0o1777)
            temporaryDir.withLock { $0 = d.id }
            dir = d.id
        }
        guard let dir else { throw Refusal(errno: EIO) }
        return (dir, "\(parent.rawValue)-\(UInt64.random(in: 1...UInt64.max))")
    }

    func writer(_ handle: UInt64) -> FileWriter? { writers.withLock { $0[handle]?.writer } }

    /// Writes `bytes` at `offset` of open file `handle`.
    public func write(_ handle: UInt64, offset: Int64, bytes: OwnedBuffer) async throws -> Int {
        guard let w = writer(handle) else { throw Refusal(errno: EBADF) }
        return try await w.write(at: offset, bytes)
    }

    /// Close of a file descriptor: a file written by a process that was killed is dropped at its
    /// release; otherwise what was written is made visible (a new file) or put in place (O_TRUNC).
    public func flush(_ handle: UInt64, pid: Int32) async throws {
        guard let entry = writers.withLock({ $0[handle] }) else { return }
        if Self.killed(pid) {
            await entry.writer.markKilled()
            return
        }
        try await entry.writer.commit(force: false)
        if let place = entry.replaces { invalidate(place.dir, place.name) }
    }

    public func fsync(_ handle: UInt64) async throws {
        try await writer(handle)?.persist()
    }

    /// Attributes changed through `chmod`, `chown`, `truncate`, `touch`.
    public func setattr(_ id: InodeID, mode: UInt32?, uid: UInt32?, gid: UInt32?, size: Int64?, mtime: Double?) async throws -> Inode {
        try writable()
        var inode = try await client.meta.getattr(id)
        if let size { inode = try await client.meta.setSize(id, size) }
        if mode != nil || uid != nil || gid != nil || mtime != nil {
            inode = try await client.meta.setAttributes(id, mode: mode, uid: uid, gid: gid, mtime: mtime)
        }
        openedCtime.withLock { _ = $0.removeValue(forKey: id) }
        maps.withLock { _ = $0.removeValue(forKey: id) }
        return inode
    }

    /// Whether the process `pid` is being killed by a signal (its file descriptors are closed as it
    /// dies): `PF_SIGNALED` in the flags of /proc/PID/stat.
    static func killed(_ pid: Int32) -> Bool {
        // Fields after the name: state(3) ppid pgrp session tty_nr tpgid flags(9).
        guard let fields = ProcStat.fields(of: pid), fields.count > 6, let flags = UInt64(fields[6]) else { return false }
        return flags & 0x400 != 0
    }

    /// Tells the kernel that `name` in `dir` now names another inode.
    func invalidate(_ dir: InodeID, _ name: String) {
        guard let se = session.withLock({ $0 }) else { return }
        _ = name.withCString { fuse_lowlevel_notify_inval_entry(se.pointer, fuse_ino_t(dir.rawValue), $0, name.utf8.count) }
    }

    /// Reads up to `buffer.count` bytes at `offset` of open file `handle` into `buffer`, through the
    /// client's cache when it has one (process `pid` made the request).
    public func read(_ handle: UInt64, offset: Int64, into buffer: UnsafeMutableRawBufferPointer, pid: Int32 = 0) async throws -> Int {
        if let w = writer(handle) {
            // Reading a file open for writing: what is recorded on its inode so far.
            try await w.persist()
            let map = try await client.meta.fileMap(w.inode)
            return try await client.read(map, path: w.label, offset: offset, into: buffer)
        }
        guard let file = files.withLock({ $0[handle] }) else { throw Refusal(errno: EBADF) }
        let path = "inode \(file.map.inode.id.rawValue)"
        guard let cache = client.cache else { return try await client.read(file.map, path: path, offset: offset, into: buffer) }
        return try await CachedReader(cache: cache, map: file.map, path: path, base: cacheKey(file.map.inode.id),
                                      job: jobs.name(pid)).read(offset: offset, into: buffer)
    }

    /// The name an inode's data goes by in the cache: `parent inode/name` when the mount has seen
    /// its directory entry (so a directory's files form one group), else `inode N`.
    func cacheKey(_ id: InodeID) -> String {
        if let place = names.withLock({ $0[id] }) { return "\(place.dir.rawValue)/\(place.name)" }
        return "inode \(id.rawValue)"
    }

    public func release(_ handle: UInt64) async {
        _ = files.withLock { $0.removeValue(forKey: handle) }
        guard let entry = writers.withLock({ $0.removeValue(forKey: handle) }) else { return }
        // The last close: a file whose writer was not killed is published even if empty (touch).
        if await !entry.writer.killed {
            do {
                try await entry.writer.commit(force: true)
                if let place = entry.replaces { invalidate(place.dir, place.name) }
            } catch { logger.error("release of \(entry.writer.label): \(error)") }
        }
        await entry.writer.discard()
    }

    /// File system figures for `statfs`: the cluster's up drives.
    public func statfs() async throws -> (capacity: Int64, free: Int64, files: Int64) {
        let map = try await client.clusterMap()
        let drives = map.writableDrives
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

/// libfuse's session, shared with the tasks that answer requests.
///
/// `@unchecked Sendable` is safe: libfuse's notify functions may be called from any thread, and
/// `FUSEMount` clears this before it destroys the session.
struct SessionPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}
