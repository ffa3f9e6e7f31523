/// What an inode is: a regular file, a directory or a symbolic link.
///
/// Guarantees stable raw values (`file`, `directory`, `symlink`): they are what the metadata store
/// writes to disk, so they never change.
public enum InodeKind: String, Codable, Sendable, CaseIterable {
    case file, directory, symlink
}
