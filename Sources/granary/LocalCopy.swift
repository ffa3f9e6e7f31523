#if canImport(Glibc)
import Glibc
#endif
import GranaryClient
import GranaryCore

/// The import bench's baseline: a plain copy of a local tree to another directory on the same
/// disk, each file made durable the way a storage node makes a chunk durable (`Drive.put`): written
/// to a temporary file beside its final name, fsynced, renamed over the final name, and the
/// directory fsynced. One file at a time, through one reused buffer, no erasure coding, no network.
/// `.once` is the fastest durable copy there is, for comparison: every file written straight to its
/// name, then one `sync()` at the end (`cp -r` and `sync`; it flushes every file system, so other
/// writers on the machine count against it).
///
/// Guarantees: when `copy` returns, every regular file of the tree is at the same relative path
/// under the destination with the same bytes, and would survive a crash.
enum LocalCopy {
    enum Durability {
        /// Each file fsynced through a temporary file and a rename, as a storage node stores a chunk.
        case eachFile
        /// Nothing fsynced; one `sync()` after the last file.
        case once
    }

    /// Copies `tree` (as `LocalTree.scan(source)` found it) under `dest`, which must not exist yet;
    /// `progress(filesDone, bytesDone)` after each file.
    static func copy(_ tree: LocalTree, from source: String, to dest: String, durability: Durability, piece: Int = 16 << 20,
                     progress: (Int, Int64) -> Void) throws {
        let buffer = OwnedBuffer(count: piece)
        for dir in [""] + tree.directories {
            let path = dir.isEmpty ? dest : dest + "/" + dir
            guard mkdir(path, 0o755) == 0 else { throw FileIO.Failure("mkdir", path) }
            if durability == .eachFile { try FileIO.syncDirectory(of: path) }
        }
        var bytes: Int64 = 0
        for (i, f) in tree.files.enumerated() {
            try copyFile(source + "/" + f.path, to: dest + "/" + f.path, durability: durability, buffer: buffer.raw)
            bytes += f.size
            progress(i + 1, bytes)
        }
        if durability == .once { sync() }
    }

    /// One file, in `buffer`-sized pieces; `.eachFile`: temporary file, fsync, rename, directory fsync.
    static func copyFile(_ from: String, to path: String, durability: Durability, buffer: UnsafeMutableRawBufferPointer) throws(FileIO.Failure) {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw FileIO.Failure("open", from) }
        defer { close(src) }
        let temporary = durability == .eachFile ? path + ".tmp" : path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.Failure("create", temporary) }
        var done = false
        defer { if !done { unlink(temporary) } }
        do {
            defer { close(fd) }
            while true {
                let n = read(src, buffer.baseAddress, buffer.count)
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else { throw FileIO.Failure("read", from) }
                if n == 0 { break }
                try FileIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: temporary)
            }
            if durability == .eachFile { guard fsync(fd) == 0 else { throw FileIO.Failure("fsync", temporary) } }
        }
        if durability == .eachFile {
            guard rename(temporary, path) == 0 else { throw FileIO.Failure("rename", path) }
            done = true
            try FileIO.syncDirectory(of: path)
        }
        done = true
    }
}
