#if canImport(Glibc)
import Glibc
#endif
import GranaryMeta

/// A fresh directory under /tmp, removed with everything in it when the body returns or throws.
func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/granary-meta-test-XXXXXX".utf8CString)
    let dir: String = try template.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress, mkdtemp(base) != nil else { throw TestSetupError("mkdtemp failed") }
        return String(cString: base)
    }
    defer { removeTree(dir) }
    return try body(dir)
}

/// A store on a fresh file in a fresh temporary directory.
func withStore<T>(_ body: (SQLiteMetaStore, String) throws -> T) throws -> T {
    try withTempDir { dir throws in
        let path = dir + "/meta.db"
        let store = try SQLiteMetaStore(path: path)
        return try body(store, path)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Removes `path` and, for a directory, everything below it.
func removeTree(_ path: String) {
    if let d = opendir(path) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            removeTree(path + "/" + name)
        }
        closedir(d)
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Writes `text` to `path`, replacing it.
func writeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw TestSetupError("cannot create \(path)") }
    defer { fclose(f) }
    guard fputs(text, f) >= 0 else { throw TestSetupError("cannot write \(path)") }
}

/// `withTempDir` for async bodies.
func withTempDirAsync<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/granary-meta-test-XXXXXX".utf8CString)
    let dir: String = try template.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress, mkdtemp(base) != nil else { throw TestSetupError("mkdtemp failed") }
        return String(cString: base)
    }
    defer { removeTree(dir) }
    return try await body(dir)
}
