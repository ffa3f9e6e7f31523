#if canImport(Glibc)
import Glibc
#endif
import GranaryCore

/// A local directory tree as an import sees it: its directories and regular files, relative to
/// the root, in a stable order (sorted by path). Other kinds (symlinks, devices) are listed in
/// `skipped`, not followed.
public struct LocalTree: Sendable {
    public struct File: Sendable {
        public var path: String
        public var size: Int64
        public var mtime: Double
        public var mode: UInt32
    }

    public var directories: [String] = []
    public var files: [File] = []
    public var skipped: [String] = []

    /// Walks `root`; `.localFile` names the first directory or entry that cannot be read.
    public static func scan(_ root: String) throws(ClientError) -> LocalTree {
        var tree = LocalTree()
        var st = stat()
        guard stat(root, &st) == 0 else { throw .localFile(path: root, reason: String(cString: strerror(errno))) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw .localFile(path: root, reason: "not a directory") }
        try walk(root, "", &tree)
        tree.directories.sort()
        tree.files.sort { $0.path < $1.path }
        return tree
    }

    private static func walk(_ root: String, _ rel: String, _ tree: inout LocalTree) throws(ClientError) {
        let dirPath = rel.isEmpty ? root : root + "/" + rel
        let names: [String]
        do { names = try FileIO.entries(of: dirPath) } catch { throw .localFile(path: dirPath, reason: String(cString: strerror(error.code))) }
        for name in names.sorted() {
            let r = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(root + "/" + r, &st) == 0 else { throw .localFile(path: root + "/" + r, reason: String(cString: strerror(errno))) }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                tree.directories.append(r)
                try walk(root, r, &tree)
            case S_IFREG:
                tree.files.append(File(path: r, size: Int64(st.st_size),
                                       mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9,
                                       mode: UInt32(st.st_mode & 0o7777)))
            default:
                tree.skipped.append(r)
            }
        }
    }
}
