import GranaryCore

/// The one interface every metadata engine implements (SQLite today, PostgreSQL later): the cluster
/// map, the cluster's identity and the namespace of inodes and directory entries.
///
/// Guarantees, for every implementation:
/// - each method is atomic: it applies completely or not at all (one transaction), and a failed
///   call leaves the store unchanged;
/// - methods may be called from any thread; concurrent calls behave as if run one after the other;
/// - failures are `MetaError`s that name the file, inode or entry involved.
///
/// Names given to namespace methods must pass `EntryName.problem` (else `.invalidName`); a parent
/// that does not exist gives `.noSuchInode`, one that is not a directory `.notDirectory`.
public protocol MetaStore: Sendable {
    /// The schema version of the underlying database (the number of migrations applied).
    func schemaVersion() throws(MetaError) -> Int

    // MARK: Cluster map

    /// The stored cluster map; an empty map with version 0 on a fresh store. Nodes and their drives
    /// come back in the order they were saved.
    func clusterMap() throws(MetaError) -> ClusterMap

    /// Replaces the stored nodes, drives and version with `map`, in one transaction. Refuses with
    /// `.staleClusterMap` a map whose version is lower than the stored one (an equal version is
    /// accepted, so saving the same map twice is harmless).
    func saveClusterMap(_ map: ClusterMap) throws(MetaError)

    // MARK: Cluster identity

    /// The cluster's identity, `nil` until `initializeCluster` has run.
    func clusterInfo() throws(MetaError) -> ClusterInfo?

    /// Records the cluster id once. Calling it again with the same id does nothing (the first
    /// `createdAt` is kept); with a different id it throws `.alreadyInitialized`.
    func initializeCluster(id: String, createdAt: Double) throws(MetaError)

    // MARK: Namespace

    /// The inode named `name` in directory `parent`, `nil` when there is no such entry.
    func lookup(parent: InodeID, name: String) throws(MetaError) -> Inode?

    /// The attributes of inode `id`; `.noSuchInode` when it does not exist.
    func getattr(_ id: InodeID) throws(MetaError) -> Inode

    /// Creates an empty directory `name` in `parent` (`.exists` when the name is taken).
    func mkdir(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode

    /// Creates an empty regular file `name` in `parent` (`.exists` when the name is taken).
    func createFile(parent: InodeID, name: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode

    /// Creates a symbolic link `name` in `parent` pointing at `target` (1 to 4096 bytes, no NUL).
    func symlink(parent: InodeID, name: String, target: String, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode

    /// The entries of directory `id`, sorted by name (byte order of the UTF-8), without `.` and `..`.
    func readdir(_ id: InodeID) throws(MetaError) -> [DirEntry]

    /// Removes the file or symlink `name` from `parent`; `.isDirectory` for a directory.
    func unlink(parent: InodeID, name: String) throws(MetaError)

    /// Removes the empty directory `name` from `parent`; `.notDirectory` for anything else,
    /// `.notEmpty` when it has entries.
    func rmdir(parent: InodeID, name: String) throws(MetaError)

    /// Moves entry `fromName` of `fromParent` to `toName` in `toParent`, atomically, with POSIX
    /// `rename(2)` semantics: an existing target is replaced when it is a file or symlink (and the
    /// source is not a directory) or an empty directory (and the source is a directory); a
    /// non-empty target directory gives `.notEmpty`; a file onto a directory `.isDirectory`; a
    /// directory onto a file `.notDirectory`; a directory into its own subtree `.invalidMove`.
    /// Renaming an entry onto itself does nothing.
    func rename(fromParent: InodeID, fromName: String, toParent: InodeID, toName: String) throws(MetaError)

    /// Sets the length of file `id` (`.isDirectory` for a directory, `.invalidSize` when negative)
    /// and returns its new attributes.
    @discardableResult
    func setSize(_ id: InodeID, size: Int64) throws(MetaError) -> Inode
}
