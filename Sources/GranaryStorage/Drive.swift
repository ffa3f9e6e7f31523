#if canImport(Glibc)
import Glibc
#endif
import GranaryCore
import GranaryTransport
import GranaryWire
import Logging
import Synchronization

/// Space on a drive's file system and what chunks take of it.
///
/// Guarantees the byte figures come from one `statvfs` call (so capacity = used + free + what the
/// file system reserves for root), and the chunk figures from one scan of the chunk directories.
public struct DriveUsage: Sendable, Equatable {
    public var capacityBytes: Int64
    public var usedBytes: Int64
    /// Bytes an unprivileged writer can still use (`f_bavail`).
    public var freeBytes: Int64
    public var chunkCount: Int64
    /// Sum of the chunk files' sizes (headers included).
    public var chunkBytes: Int64

    public init(capacityBytes: Int64, usedBytes: Int64, freeBytes: Int64, chunkCount: Int64, chunkBytes: Int64) {
        self.capacityBytes = capacityBytes
        self.usedBytes = usedBytes
        self.freeBytes = freeBytes
        self.chunkCount = chunkCount
        self.chunkBytes = chunkBytes
    }
}

/// Counts of what a drive has done since it was opened, for health checks and metrics.
///
/// Guarantees each operation is counted once, when it finishes: successes by kind, failures by the
/// kind of error (a corrupt chunk is a checksum failure, not an I/O error; not-found and out-of-range
/// requests are the caller's problem and counted nowhere).
public struct DriveCounters: Sendable, Equatable {
    /// Successful `get`, `read` calls.
    public var reads: Int = 0
    /// Successful `put` calls.
    public var writes: Int = 0
    /// Successful `delete` calls.
    public var deletes: Int = 0
    /// Chunk data bytes returned by reads.
    public var bytesRead: Int64 = 0
    /// Chunk data bytes stored by writes (headers not included).
    public var bytesWritten: Int64 = 0
    /// Operations that found a chunk corrupt (bad header, size, key or CRC).
    public var checksumFailures: Int = 0
    /// Operations that failed with an I/O error (`StorageError.io`).
    public var ioErrors: Int = 0
    /// Puts refused because the drive was full.
    public var fullErrors: Int = 0

    public init() {}
}

/// One drive of a storage node: a directory (the mount point of one physical drive in production)
/// holding chunk files.
///
/// Layout: `path/chunks/XX/<ChunkKey.fileName>`, where `XX` is the low byte of the stripe id in two
/// lowercase hex digits. Fanning out over 256 directories keeps each one small enough for fast
/// lookups and listings with tens of millions of chunks per drive; the low bits are used because
/// they spread evenly whether stripe ids are sequential or hashed. Fan-out directories are created on
/// first use. Temporary files (`.tmp.*`) live next to the chunk they will become, so the final
/// rename never crosses a directory.
///
/// Guarantees:
/// - `put` is atomic and durable: once it returns, the chunk survives a crash; a reader sees either
///   the old chunk or the whole new one, never a partial file, even when the put fails midway.
/// - `get` and `read` never return data that fails its CRCs: corruption is `.corruptChunk`, distinct
///   from `.chunkNotFound`. `read` verifies only the 64 KiB blocks the range touches.
/// - Any number of threads may call one `Drive` at once. Operations on different chunks share no
///   lock; concurrent puts of the same chunk each write their own temporary file and the last rename
///   wins.
/// - A drive that is read-only at open, or whose file system turns read-only later (EROFS, as ext4
///   does after errors), keeps serving reads and refuses writes with `.driveReadOnly`.
public final class Drive: Sendable {
    public let id: DriveID
    public let path: String
    let chunksPath: String
    let logger: Logger
    // Mutable state is in Synchronization types, so the class is Sendable as checked by the compiler.
    private let readOnlyFlag: Atomic<Bool>
    private let stats: Mutex<DriveCounters>
    private let temporarySequence = Atomic<UInt64>(0)
    /// Whether `chunks/` existed at open. Only a read-only drive that never held chunks lacks it; on
    /// any other drive its disappearance means the drive itself is gone (for example unmounted,
    /// leaving the empty mount point), which is worth telling apart from one missing chunk.
    private let hasChunksDirectory: Bool

    static let temporaryPrefix = ".tmp."
    static let probePrefix = ".probe."

    private init(id: DriveID, path: String, readOnly: Bool, logger: Logger) {
        self.id = id
        self.path = path
        self.chunksPath = path + "/chunks"
        self.hasChunksDirectory = FileIO.isDirectory(chunksPath)
        self.logger = logger
        self.readOnlyFlag = Atomic(readOnly)
        self.stats = Mutex(DriveCounters())
    }

    /// Whether the drive refuses writes (read-only at open, or a write met EROFS since).
    public var isReadOnly: Bool { readOnlyFlag.load(ordering: .relaxed) }

    /// The counters since the drive was opened.
    public func counters() -> DriveCounters { stats.withLock { $0 } }

    /// Opens the drive at `path`: checks it is an existing directory, creates `chunks/` if needed,
    /// and probes whether it is writable by creating and removing a file.
    ///
    /// A directory that cannot be written (EROFS, EACCES, EPERM) opens read-only rather than failing,
    /// so the node keeps serving the chunks on it. A full drive opens read-write.
    public static func open(id: DriveID, path: String,
                            logger: Logger = Logger(label: "granary.storage.drive")) throws(StorageError) -> Drive {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .driveMissing(drive: id, path: path) }
            throw .io(drive: id, key: nil, operation: "stat \(path)", code: code)
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(drive: id, path: path) }

        var readOnly = false
        let chunks = path + "/chunks"
        if !FileIO.isDirectory(chunks) {
            if mkdir(chunks, 0o755) == 0 {
                // The chunks directory must survive a crash, or chunks written into it would vanish.
                do throws(FileIO.Failure) { try FileIO.syncDirectory(of: chunks) } catch {
                    throw .io(drive: id, key: nil, operation: "\(error.operation) \(error.path)", code: error.code)
                }
            } else {
                let code = errno
                switch code {
                case EROFS, EACCES, EPERM: readOnly = true
                case EEXIST: guard FileIO.isDirectory(chunks) else { throw .notADirectory(drive: id, path: chunks) }
                default: throw .io(drive: id, key: nil, operation: "mkdir \(chunks)", code: code)
                }
            }
        }
        if !readOnly {
            // mode bits and mount flags do not tell the whole story (root ignores modes, a file system
            // can be remounted read-only after errors), so try what a put does: create a file.
            let probe = chunks + "/" + probePrefix + String(getpid())
            let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 {
                close(fd)
                unlink(probe)
            } else {
                let code = errno
                switch code {
                case EROFS, EACCES, EPERM: readOnly = true
                case ENOSPC, EDQUOT: break  // full, but writable once chunks are deleted
                default: throw .io(drive: id, key: nil, operation: "create \(probe)", code: code)
                }
            }
        }
        if readOnly { logger.warning("drive \(id) at \(path) is read-only; serving reads only") }
        return Drive(id: id, path: path, readOnly: readOnly, logger: logger)
    }

    // MARK: Writing

    /// Stores `data` as chunk `key`, replacing any chunk with that key.
    public func put(_ key: ChunkKey, data: [UInt8]) throws(StorageError) {
        try data.withBytes { (bytes) throws(StorageError) in try put(key, data: bytes) }
    }

    /// Stores `data` as chunk `key`, replacing any chunk with that key: writes a temporary file next
    /// to the final name, fsyncs it, renames it over the final name and fsyncs the directory.
    ///
    /// On failure the temporary file is removed and any previous chunk is left as it was. If only the
    /// final directory fsync fails, the new chunk is visible but may not survive a crash; the error
    /// says so by being `.io` with operation "fsync directory".
    public func put(_ key: ChunkKey, data: UnsafeRawBufferPointer) throws(StorageError) {
        try recording { () throws(StorageError) in
            guard !isReadOnly else { throw .driveReadOnly(drive: id) }
            let header = ChunkHeader(key: key, data: data)
            let directory = directory(for: key)
            let sequence = temporarySequence.add(1, ordering: .relaxed).newValue
            let temporary = "\(directory)/\(Self.temporaryPrefix)\(key.fileName).\(getpid()).\(sequence)"
            do throws(FileIO.Failure) {
                var fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                if fd < 0, errno == ENOENT {
                    try makeFanOutDirectory(directory)
                    fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                }
                guard fd >= 0 else { throw FileIO.Failure("create", temporary) }
                var renamed = false
                defer { if !renamed { unlink(temporary) } }
                do {
                    defer { close(fd) }
                    // Reserve the space up front: a full drive then fails before any data is
                    // written, and the file gets contiguous extents. Not every file system has it.
                    let reserved = posix_fallocate(fd, 0, off_t(header.fileSize))
                    if reserved != 0, reserved != EOPNOTSUPP, reserved != EINVAL {
                        throw FileIO.Failure("fallocate", temporary, reserved)
                    }
                    try header.encode().withBytes { (bytes) throws(FileIO.Failure) in
                        try FileIO.writeAll(fd, bytes, path: temporary)
                    }
                    try FileIO.writeAll(fd, data, path: temporary)
                    guard fsync(fd) == 0 else { throw FileIO.Failure("fsync", temporary) }
                }
                let final = "\(directory)/\(key.fileName)"
                guard rename(temporary, final) == 0 else { throw FileIO.Failure("rename", final) }
                renamed = true
                try FileIO.syncDirectory(of: final)
            } catch {
                throw storageError(error, key: key)
            }
            stats.withLock {
                $0.writes += 1
                $0.bytesWritten += Int64(data.count)
            }
        }
    }

    /// Removes chunk `key`.
    public func delete(_ key: ChunkKey) throws(StorageError) {
        try recording { () throws(StorageError) in
            guard !isReadOnly else { throw .driveReadOnly(drive: id) }
            let file = filePath(for: key)
            guard unlink(file) == 0 else {
                let code = errno
                if code == ENOENT { throw notFound(key) }
                throw storageError(FileIO.Failure("unlink", file, code), key: key)
            }
            do throws(FileIO.Failure) { try FileIO.syncDirectory(of: file) } catch {
                throw storageError(error, key: key)
            }
            stats.withLock { $0.deletes += 1 }
        }
    }

    // MARK: Reading

    /// The whole data of chunk `key`, after checking every block CRC and the whole-data CRC.
    public func get(_ key: ChunkKey) throws(StorageError) -> [UInt8] {
        try recording { () throws(StorageError) -> [UInt8] in
            let data = try withChunk(key) { (fd, header) throws(StorageError) -> [UInt8] in
                var failure: StorageError?
                // Uninitialized: the array is filled by pread, so zeroing it first would be wasted work.
                let data = [UInt8](unsafeUninitializedCapacity: header.dataLength) { buffer, count in
                    do throws(StorageError) {
                        let bytes = UnsafeMutableRawBufferPointer(buffer)
                        try readBlocks(fd, header, 0..<header.dataLength, into: bytes)
                        do throws(ChunkFormatError) { try header.verifyData(UnsafeRawBufferPointer(bytes)) } catch {
                            throw .corruptChunk(drive: id, key: key, reason: error)
                        }
                        count = header.dataLength
                    } catch {
                        failure = error
                        count = 0
                    }
                }
                if let failure { throw failure }
                return data
            }
            stats.withLock {
                $0.reads += 1
                $0.bytesRead += Int64(data.count)
            }
            return data
        }
    }

    /// Reads `buffer.count` bytes of chunk `key`'s data starting at `offset` into `buffer`, checking
    /// the CRCs of only the blocks the range touches. Returns the number of bytes read, which is
    /// always `buffer.count`: a range past the end is `.rangeOutOfBounds`, not a short read.
    @discardableResult
    public func read(_ key: ChunkKey, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        try readRange(key, offset: offset, into: buffer)
        return buffer.count
    }

    /// What `readForTransfer` read: the range asked for, or the whole chunk for a `ChunkCache`.
    public enum TransferRead: Sendable {
        /// The range, in a buffer of the pool, with the checksum of each of its segments.
        case range(PooledBuffer, [ReadChunkReply.Segment])
        /// The whole chunk, every block checked.
        case whole(ChunkCache.Chunk)
    }

    /// Reads `count` bytes of chunk `key`'s data from `offset` into a buffer of `buffers` for a
    /// reader that checks the bytes where they land (see `ReadChunkReply`), with the checksum of
    /// each segment. Whole blocks are not checked here — their segments carry the checksums stored
    /// at put time, so the check is end to end, from the writer to the reader. A partly covered
    /// block at either end is read whole and checked here (a corrupt one is `corruptChunk`, as in
    /// `read`), and its segment carries the checksum of the covered part.
    ///
    /// With `wholeUpTo` above 0, a read worth caching — the chunk's data is at most `wholeUpTo`
    /// bytes and the range covers at least half of it (a client reading a fragment's data skips
    /// only its small header; a sample out of a packed chunk reads only itself) — reads the chunk
    /// whole instead, checking every block, for the caller to keep. Either way the chunk is opened
    /// and its header read once.
    public func readForTransfer(_ key: ChunkKey, offset: Int, count: Int, buffers: BufferPool,
                                wholeUpTo: Int = 0) throws(StorageError) -> TransferRead {
        try recording { () throws(StorageError) -> TransferRead in
            let (read, bytes) = try withChunk(key) { (fd, header) throws(StorageError) -> (TransferRead, Int) in
                let length = header.dataLength
                guard offset >= 0, offset <= length, count >= 0, count <= length - offset else {
                    throw .rangeOutOfBounds(drive: id, key: key, offset: offset, count: count, length: length)
                }
                if length > 0, length <= wholeUpTo, count * 2 >= length {
                    var st = stat()
                    guard fstat(fd, &st) == 0 else { throw storageError(FileIO.Failure("fstat", filePath(for: key)), key: key) }
                    // A chunk under half a pooled buffer gets memory of its own size, so the cache's
                    // bound is not spent on the unused rest of pooled buffers.
                    let buffer = length * 2 < buffers.bufferBytes ? buffers.takeUnpooled(length) : buffers.take(length)
                    try readBlocks(fd, header, 0..<length, into: buffer.bytes, verifyWholeBlocks: true)
                    return (.whole(ChunkCache.Chunk(header: header, data: buffer, identity: ChunkCache.FileIdentity(st))), length)
                }
                let buffer = buffers.take(count)
                let segments = try readBlocks(fd, header, offset..<(offset + count), into: buffer.bytes, verifyWholeBlocks: false)
                return (.range(buffer, segments), count)
            }
            stats.withLock {
                $0.reads += 1
                $0.bytesRead += Int64(bytes)
            }
            return read
        }
    }

    /// `read`: bounds, blocks, counters.
    private func readRange(_ key: ChunkKey, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) {
        try recording { () throws(StorageError) in
            try withChunk(key) { (fd, header) throws(StorageError) in
                guard offset >= 0, offset <= header.dataLength, buffer.count <= header.dataLength - offset else {
                    throw .rangeOutOfBounds(drive: id, key: key, offset: offset, count: buffer.count, length: header.dataLength)
                }
                try readBlocks(fd, header, offset..<(offset + buffer.count), into: buffer)
            }
            stats.withLock {
                $0.reads += 1
                $0.bytesRead += Int64(buffer.count)
            }
        }
    }

    /// The data length of chunk `key`, from its validated header (the data is not read).
    public func length(of key: ChunkKey) throws(StorageError) -> Int {
        try recording { () throws(StorageError) -> Int in
            try withChunk(key) { (_, header) throws(StorageError) in header.dataLength }
        }
    }

    // MARK: Listing and space

    /// The keys of all chunks on the drive, sorted. Temporary files, and files whose name does not
    /// belong in the directory they are in, are not chunks and are not listed. Contents are not read.
    public func list() throws(StorageError) -> [ChunkKey] {
        var keys: [ChunkKey] = []
        try forEachChunkFile { key, _ in keys.append(key) }
        return keys.sorted()
    }

    /// Space on the drive's file system and what chunks take of it. Scans every chunk file (a stat
    /// each), so call it from a periodic task, not per request.
    public func usage() throws(StorageError) -> DriveUsage {
        var vfs = statvfs()
        guard statvfs(path, &vfs) == 0 else { throw noteAndMap(FileIO.Failure("statvfs", path), key: nil) }
        let unit = Int64(vfs.f_frsize)
        var count: Int64 = 0
        var bytes: Int64 = 0
        try forEachChunkFile { _, file in
            var st = stat()
            // A chunk deleted between readdir and stat is simply no longer there.
            if stat(file, &st) == 0 {
                count += 1
                bytes += Int64(st.st_size)
            }
        }
        return DriveUsage(capacityBytes: Int64(vfs.f_blocks) * unit,
                          usedBytes: (Int64(vfs.f_blocks) - Int64(vfs.f_bfree)) * unit,
                          freeBytes: Int64(vfs.f_bavail) * unit,
                          chunkCount: count, chunkBytes: bytes)
    }

    /// Removes temporary files (from puts interrupted by a crash) older than `olderThan` seconds and
    /// returns how many it removed. The age limit protects puts in progress; at node start, when no
    /// put can be in progress, pass 0. Does nothing on a read-only drive.
    @discardableResult
    public func collectTemporaryFiles(olderThan seconds: Int = 300) throws(StorageError) -> Int {
        guard !isReadOnly else { return 0 }
        let now = Int(time(nil))
        var removed = 0
        func collect(in directory: String, names: [String]) {
            for name in names where name.hasPrefix(Self.temporaryPrefix) || name.hasPrefix(Self.probePrefix) {
                let file = directory + "/" + name
                var st = stat()
                guard lstat(file, &st) == 0, now - Int(st.st_mtim.tv_sec) >= seconds else { continue }
                if unlink(file) == 0 { removed += 1 }
            }
        }
        guard let top = try entries(of: chunksPath) else { return 0 }
        collect(in: chunksPath, names: top)
        for name in top where Self.isFanOutName(name) {
            let directory = chunksPath + "/" + name
            guard let names = try entries(of: directory) else { continue }
            collect(in: directory, names: names)
        }
        if removed > 0 { logger.info("removed \(removed) stale temporary files from drive \(id)") }
        return removed
    }

    // MARK: Paths

    static func fanOutName(_ key: ChunkKey) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        let low = Int(key.stripe & 0xFF)
        return String([digits[low >> 4], digits[low & 0xF]])
    }

    static func isFanOutName(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    func directory(for key: ChunkKey) -> String { chunksPath + "/" + Self.fanOutName(key) }

    /// The path of chunk `key`'s file (whether or not it exists).
    public func filePath(for key: ChunkKey) -> String { directory(for: key) + "/" + key.fileName }

    // MARK: Internals

    /// Runs one operation, counting its failure by kind.
    private func recording<R>(_ body: () throws(StorageError) -> R) throws(StorageError) -> R {
        do throws(StorageError) {
            return try body()
        } catch {
            note(error)
            throw error
        }
    }

    private func note(_ error: StorageError) {
        switch error {
        case .corruptChunk:
            stats.withLock { $0.checksumFailures += 1 }
            logger.error("\(error)")
        case .io:
            stats.withLock { $0.ioErrors += 1 }
            logger.error("\(error)")
        case .driveFull:
            stats.withLock { $0.fullErrors += 1 }
        default:
            break
        }
    }

    /// For failures outside `recording`: maps and counts.
    private func noteAndMap(_ failure: FileIO.Failure, key: ChunkKey?) -> StorageError {
        let error = storageError(failure, key: key)
        note(error)
        return error
    }

    /// Maps a failed system call to the error a caller can act on.
    private func storageError(_ failure: FileIO.Failure, key: ChunkKey?) -> StorageError {
        switch failure.code {
        case ENOSPC, EDQUOT:
            if let key { return .driveFull(drive: id, key: key) }
        case EROFS:
            if !readOnlyFlag.exchange(true, ordering: .relaxed) {
                logger.warning("drive \(id) turned read-only (\(failure)); serving reads only")
            }
            return .driveReadOnly(drive: id)
        case ENOENT where driveIsGone():
            // The whole drive went away (unmounted, pulled), not just one file.
            return .driveMissing(drive: id, path: path)
        default:
            break
        }
        return .io(drive: id, key: key, operation: "\(failure.operation) \(failure.path)", code: failure.code)
    }

    private func driveIsGone() -> Bool {
        !FileIO.isDirectory(hasChunksDirectory ? chunksPath : path)
    }

    private func notFound(_ key: ChunkKey) -> StorageError {
        driveIsGone() ? .driveMissing(drive: id, path: path) : .chunkNotFound(drive: id, key: key)
    }

    private func makeFanOutDirectory(_ directory: String) throws(FileIO.Failure) {
        if mkdir(directory, 0o755) != 0 {
            guard errno == EEXIST else { throw FileIO.Failure("mkdir", directory) }
            return
        }
        // The new directory's entry in chunks/ must be durable before chunks are renamed into it.
        try FileIO.syncDirectory(of: directory)
    }

    /// Opens chunk `key`, validates its header, and runs `body` with the descriptor and header.
    private func withChunk<R>(_ key: ChunkKey,
                              _ body: (Int32, ChunkHeader) throws(StorageError) -> R) throws(StorageError) -> R {
        let file = filePath(for: key)
        let fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw notFound(key) }
            throw storageError(FileIO.Failure("open", file, code), key: key)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw storageError(FileIO.Failure("fstat", file), key: key) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw .corruptChunk(drive: id, key: key, reason: .invalidHeader("\(file) is not a regular file"))
        }
        let header: ChunkHeader
        do throws(ReadFailure) {
            header = try Self.readHeader(fd, fileSize: Int(st.st_size), key: key, path: file)
        } catch {
            switch error {
            case .corrupt(let reason): throw .corruptChunk(drive: id, key: key, reason: reason)
            case .system(let failure): throw storageError(failure, key: key)
            }
        }
        return try body(fd, header)
    }

    private static func readHeader(_ fd: Int32, fileSize: Int, key: ChunkKey, path: String) throws(ReadFailure) -> ChunkHeader {
        func pread(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(ReadFailure) -> Int {
            do throws(FileIO.Failure) { return try FileIO.preadFully(fd, buffer, at: offset, path: path) } catch {
                throw .system(error)
            }
        }
        // One read gets the header of any chunk up to 64 MiB (1024 blocks); bigger ones need a second.
        var bytes = [UInt8](repeating: 0, count: min(fileSize, ChunkHeader.encodedSize(blockCount: 1024)))
        var got = try bytes.withMutableBytes { (b) throws(ReadFailure) in try pread(b, at: 0) }
        let size: Int
        do throws(ChunkFormatError) {
            size = try bytes.withBytes { (b) throws(ChunkFormatError) in
                try ChunkHeader.encodedSize(prefix: UnsafeRawBufferPointer(rebasing: b[0..<got]), fileSize: fileSize)
            }
        } catch {
            throw .corrupt(error)
        }
        if size > got {
            bytes.append(contentsOf: repeatElement(0, count: size - got))
            got += try bytes.withMutableBytes { (b) throws(ReadFailure) in
                try pread(UnsafeMutableRawBufferPointer(rebasing: b[got..<size]), at: got)
            }
        }
        do throws(ChunkFormatError) {
            return try bytes.withBytes { (b) throws(ChunkFormatError) in
                try ChunkHeader.decode(UnsafeRawBufferPointer(rebasing: b[0..<got]), fileSize: fileSize, expectedKey: key)
            }
        } catch {
            throw .corrupt(error)
        }
    }

    /// Reads data `range` of the chunk into `destination` (exactly `range.count` bytes), verifying
    /// each block it touches. Runs of whole blocks are read straight into `destination` with one
    /// pread; a partly covered block at either end goes through a scratch buffer so that all of it
    /// can be checked, which is the price of verifying at block granularity.
    ///
    /// With `verifyWholeBlocks` false, whole blocks are left for the reader to check. Returns the
    /// checksum of each segment of `range`: a whole block's stored one, or a partial block's part.
    @discardableResult
    private func readBlocks(_ fd: Int32, _ header: ChunkHeader, _ range: Range<Int>,
                            into destination: UnsafeMutableRawBufferPointer,
                            verifyWholeBlocks: Bool = true) throws(StorageError) -> [ReadChunkReply.Segment] {
        var segments: [ReadChunkReply.Segment] = []
        guard !range.isEmpty else { return segments }
        let key = header.key
        let file = filePath(for: key)
        var scratch: [UInt8] = []
        let last = (range.upperBound - 1) / header.blockSize
        var block = range.lowerBound / header.blockSize
        do throws(ReadFailure) {
            while block <= last {
                let blockRange = header.blockRange(block)
                if range.lowerBound <= blockRange.lowerBound && blockRange.upperBound <= range.upperBound {
                    var end = block
                    while end < last && header.blockRange(end + 1).upperBound <= range.upperBound { end += 1 }
                    let span = blockRange.lowerBound..<header.blockRange(end).upperBound
                    let target = UnsafeMutableRawBufferPointer(
                        rebasing: destination[(span.lowerBound - range.lowerBound)..<(span.upperBound - range.lowerBound)])
                    try Self.readData(fd, header, span.lowerBound, into: target, path: file)
                    for b in block...end {
                        let r = header.blockRange(b)
                        if verifyWholeBlocks {
                            try Self.verify(header, b, UnsafeRawBufferPointer(
                                rebasing: target[(r.lowerBound - span.lowerBound)..<(r.upperBound - span.lowerBound)]))
                        }
                        segments.append(.init(length: UInt32(r.count), checksum: header.blockChecksums[b]))
                    }
                    block = end + 1
                } else {
                    if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: header.blockSize) }
                    let wanted = blockRange.clamped(to: range)
                    let part = try scratch.withMutableBytes { (s) throws(ReadFailure) -> UInt32 in
                        let whole = UnsafeMutableRawBufferPointer(rebasing: s[0..<blockRange.count])
                        try Self.readData(fd, header, blockRange.lowerBound, into: whole, path: file)
                        try Self.verify(header, block, UnsafeRawBufferPointer(whole))
                        let wantedBytes = UnsafeRawBufferPointer(
                            rebasing: whole[(wanted.lowerBound - blockRange.lowerBound)..<(wanted.upperBound - blockRange.lowerBound)])
                        UnsafeMutableRawBufferPointer(
                            rebasing: destination[(wanted.lowerBound - range.lowerBound)..<(wanted.upperBound - range.lowerBound)]
                        ).copyMemory(from: wantedBytes)
                        return CRC32C.checksum(wantedBytes)
                    }
                    segments.append(.init(length: UInt32(wanted.count), checksum: part))
                    block += 1
                }
            }
        } catch {
            switch error {
            case .corrupt(let reason): throw .corruptChunk(drive: id, key: key, reason: reason)
            case .system(let failure): throw storageError(failure, key: key)
            }
        }
        return segments
    }

    /// Why reading a range of data failed: the system call, or what was read.
    private enum ReadFailure: Error {
        case system(FileIO.Failure)
        case corrupt(ChunkFormatError)
    }

    /// Reads `target.count` bytes of data starting at data offset `offset`. A short read means the
    /// file shrank after its header was checked against its size: report it as truncated.
    private static func readData(_ fd: Int32, _ header: ChunkHeader, _ offset: Int,
                                 into target: UnsafeMutableRawBufferPointer, path: String) throws(ReadFailure) {
        let got: Int
        do throws(FileIO.Failure) {
            got = try FileIO.preadFully(fd, target, at: header.encodedSize + offset, path: path)
        } catch {
            throw .system(error)
        }
        guard got == target.count else {
            throw .corrupt(.sizeMismatch(fileSize: header.encodedSize + offset + got, expected: header.fileSize))
        }
    }

    private static func verify(_ header: ChunkHeader, _ block: Int, _ bytes: UnsafeRawBufferPointer) throws(ReadFailure) {
        do throws(ChunkFormatError) { try header.verifyBlock(block, bytes) } catch { throw .corrupt(error) }
    }

    /// The names in `directory` (without "." and ".."), or nil if it does not exist.
    private func entries(of directory: String) throws(StorageError) -> [String]? {
        do {
            return try FileIO.entries(of: directory)
        } catch where error.operation == "opendir" && (error.code == ENOENT || error.code == ENOTDIR) {
            if driveIsGone() { throw .driveMissing(drive: id, path: path) }
            return nil
        } catch {
            throw noteAndMap(error, key: nil)
        }
    }

    /// Calls `body` with the key and path of every chunk file, fan-out directory by fan-out directory.
    private func forEachChunkFile(_ body: (ChunkKey, String) -> Void) throws(StorageError) {
        guard let top = try entries(of: chunksPath) else { return }
        for name in top.sorted() where Self.isFanOutName(name) {
            let directory = chunksPath + "/" + name
            guard let names = try entries(of: directory) else { continue }
            for file in names {
                guard let key = ChunkKey(fileName: file), Self.fanOutName(key) == name else { continue }
                body(key, directory + "/" + file)
            }
        }
    }
}

extension Array where Element == UInt8 {
    // The standard library's withUnsafeBytes rethrows untyped errors; these keep the closure's type.
    fileprivate func withBytes<R, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> R
    ) throws(Failure) -> R {
        let result: Result<R, Failure> = withUnsafeBytes { bytes in Result { () throws(Failure) -> R in try body(bytes) } }
        return try result.get()
    }

    fileprivate mutating func withMutableBytes<R, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> R
    ) throws(Failure) -> R {
        let result: Result<R, Failure> = withUnsafeMutableBytes { bytes in
            Result { () throws(Failure) -> R in try body(bytes) }
        }
        return try result.get()
    }
}
