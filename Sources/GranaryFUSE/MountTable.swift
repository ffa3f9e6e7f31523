#if canImport(Glibc)
import Glibc
#endif
import GranaryCore

/// The kernel's mount table as this process sees it (`/proc/self/mountinfo`), and the checks a
/// mount point needs before and after a Granary mount.
public enum MountTable {
    /// One mounted file system.
    public struct Entry: Sendable, Equatable {
        public var mountpoint: String
        /// The file system type, e.g. `fuse.granary`.
        public var type: String
        public var source: String
    }

    /// Every mount, in the order the kernel lists them.
    public static func entries() -> [Entry] {
        guard let text = try? FileIO.readString("/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            // id parent major:minor root mountpoint options [optional...] - type source superoptions
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count > 6, let dash = parts.firstIndex(of: "-"), dash + 2 < parts.count else { return nil }
            return Entry(mountpoint: unescape(parts[4]), type: parts[dash + 1], source: parts[dash + 2])
        }
    }

    /// The mount at exactly `path` (the last one listed, which is the visible one).
    public static func entry(at path: String) -> Entry? { entries().last { $0.mountpoint == path } }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    static func unescape(_ s: String) -> String {
        var chars = Array(s.utf8)[...]
        var bytes: [UInt8] = []
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == UInt8(ascii: "\\"), chars.count >= 3, let v = UInt8(String(decoding: chars.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(v)
                chars = chars.dropFirst(3)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An absolute path without `.`/`..` components or trailing slash (symlinks resolved).
    public static func canonical(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// Throws unless `path` can take a new mount: an existing, empty directory that is not a mount
    /// point already (a dead Granary mount there is `.stale`).
    public static func checkMountpoint(_ path: String) throws(MountError) {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOTCONN { throw .stale(path) }
            throw .missingMountpoint(path)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .notDirectory(path) }
        if let e = entry(at: canonical(path)) {
            // The kernel may still answer stat from the dead mount's root; asking the file system
            // itself shows whether anyone serves it.
            var vfs = statvfs()
            if e.type.hasPrefix("fuse"), statvfs(path, &vfs) != 0, errno == ENOTCONN { throw .stale(path) }
            throw .alreadyMounted(path)
        }
        guard let entries = try? FileIO.entries(of: path) else { throw .missingMountpoint(path) }
        if !entries.isEmpty { throw .notEmpty(path) }
    }

    /// Unmounts the Granary mount at `path`, live or stale (lazily, so a busy mount goes once its
    /// last user leaves). Refuses anything that is not a Granary mount.
    public static func unmount(_ path: String) throws(MountError) {
        let target = canonical(path)
        guard let e = entry(at: target) ?? entry(at: path) else { throw .notMounted(path) }
        guard e.type == "fuse.granary" || e.source == "granary" else { throw .notGranary(path, type: e.type) }
        if umount2(e.mountpoint, Int32(MNT_DETACH)) != 0 {
            throw .fuse(path, reason: "umount: \(String(cString: strerror(errno)))")
        }
    }
}
