#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX file helpers with `errno`-carrying errors, for configs, secrets and state files.
///
/// `writeAtomically` guarantees a reader sees either the old file or the whole new one, and that the
/// new one survives a crash once the call returns (temporary file, fsync, rename, directory fsync).
public enum FileIO {
    /// A failed system call: what was done, to which path, and the `errno` text.
    public struct Failure: Error, CustomStringConvertible, Sendable, Equatable {
        public let operation: String
        public let path: String
        public let code: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
        public init(_ operation: String, _ path: String, _ code: Int32 = errno) {
            self.operation = operation
            self.path = path
            self.code = code
        }
    }

    public static func readBytes(_ path: String, limit: Int = 64 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open", path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure("read", path)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw Failure("read", path, EFBIG) }
        }
        return out
    }

    public static func readString(_ path: String) throws(Failure) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Writes `bytes` to `path` atomically with permission bits `mode`.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(Failure) {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure("create", tmp) }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            defer { close(fd) }
            // open() applies the umask; set the exact mode asked for.
            guard fchmod(fd, mode) == 0 else { throw Failure("chmod", tmp) }
            try writeAll(fd, bytes, path: tmp)
            guard fsync(fd) == 0 else { throw Failure("fsync", tmp) }
        }
        guard rename(tmp, path) == 0 else { throw Failure("rename", path) }
        ok = true
        try syncDirectory(of: path)
    }

    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws(Failure) {
        try writeAtomically(path, Array(text.utf8), mode: mode)
    }

    /// Writes all of `bytes` to `fd` (retrying short writes and EINTR); `path` names it in errors.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(Failure) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure("write", path) }
            done += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        var failure: Failure?
        bytes.withUnsafeBytes { b in
            do throws(Failure) { try writeAll(fd, b, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads into `buffer` from file offset `offset` until it is full or the file ends (retrying
    /// short reads and EINTR); returns the bytes read.
    public static func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int,
                                  path: String) throws(Failure) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure("pread", path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// `$variable` (an XDG base directory such as XDG_CACHE_HOME) when set and not empty, else
    /// `$HOME/homeRelative` (`/root` when HOME is unset).
    public static func userDirectory(xdg variable: String, homeRelative: String) -> String {
        if let x = getenv(variable), x.pointee != 0 { return String(cString: x) }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
        return home + "/" + homeRelative
    }

    /// fsyncs the directory holding `path`, so a rename or create in it is durable.
    public static func syncDirectory(of path: String) throws(Failure) {
        let dir = parent(of: path)
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open directory", dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure("fsync directory", dir) }
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and its parents (mode 0755 unless given).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(Failure) {
        if isDirectory(path) { return }
        let p = parent(of: path)
        if p != path, p != ".", p != "/" { try makeDirectories(p, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST { throw Failure("mkdir", path) }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// The permission bits of `path`.
    public static func mode(_ path: String) throws(Failure) -> mode_t {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Failure("stat", path) }
        return st.st_mode & 0o7777
    }

    /// The names in directory `path`, without "." and "..", in the order the file system returns
    /// them. A failure carries the `errno` of `opendir` or `readdir` (`ENOENT`, `ENOTDIR`…).
    public static func entries(of path: String) throws(Failure) -> [String] {
        guard let dir = opendir(path) else { throw Failure("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw Failure("readdir", path) }
                return names
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}
