/// The rule every directory entry name must follow, shared by all metadata stores.
///
/// Guarantees a name accepted here is a single POSIX path component: non-empty, at most
/// `maxBytes` bytes of UTF-8, without `/` or NUL, and neither `.` nor `..`.
public enum EntryName {
    /// The longest name in bytes (NAME_MAX on Linux).
    public static let maxBytes = 255

    /// Why `name` is not a valid entry name, or `nil` when it is.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name == "." || name == ".." { return "'.' and '..' are reserved" }
        if name.utf8.contains(0x2F) { return "a name cannot contain '/'" }
        if name.utf8.contains(0) { return "a name cannot contain a NUL byte" }
        let n = name.utf8.count
        if n > maxBytes { return "the name is \(n) bytes long, more than the limit of \(maxBytes)" }
        return nil
    }

    /// Throws `MetaError.invalidName` unless `name` is valid.
    static func validate(_ name: String) throws(MetaError) {
        if problem(name) != nil { throw .invalidName(name) }
    }
}
