import GranaryCore

/// The one interface every metadata engine implements (`SQLiteMetaStore`, `PostgresMetaStore`;
/// `MetaStores.open` picks one from a location): the cluster map, the cluster's identity, the
/// namespace of inodes and directory entries, file data and the managers' leases.
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
    /// and returns its new attributes. Shrinking drops the data past the new size: growing the file
    /// again reads zeros there.
    @discardableResult
    func setSize(_ id: InodeID, size: Int64) throws(MetaError) -> Inode

    /// Changes the mode bits, owner, group and/or modification time of inode `id` (each `nil` stays)
    /// and returns its new attributes; ctime becomes now.
    @discardableResult
    func setAttributes(_ id: InodeID, mode: UInt32?, uid: UInt32?, gid: UInt32?, mtime: Double?) throws(MetaError) -> Inode

    /// The inode at absolute `path` (`/`, `/a/b`; repeated and trailing slashes are ignored).
    /// Symbolic links are not followed. `.noSuchPath` names the whole path when a component is missing.
    func resolve(path: String) throws(MetaError) -> Inode

    /// Creates the directory at `path` and any missing parents (like `mkdir -p`) and returns it;
    /// an existing directory is returned as it is, anything else in the way is `.notDirectory`.
    func mkdirAll(path: String, mode: UInt32, uid: UInt32, gid: UInt32) throws(MetaError) -> Inode

    // MARK: File data

    /// Reserves `count` new stripe ids (never handed out again) and returns the first. Fragments are
    /// written under these ids before `commitFiles` makes them part of the namespace; ids reserved
    /// but never committed are orphans that garbage collection may delete once they are older than
    /// its grace period (see `orphanWatermark`).
    func allocateStripes(count: Int) throws(MetaError) -> UInt64

    /// Records `stripes` and creates `files` pointing into them (or into stripes already stored),
    /// all in one transaction: every file becomes visible whole, or none does. Each stripe must
    /// have been allocated and be consistent (`Stripe.problem`); each file's extents must be sorted,
    /// not overlap, lie inside its size and inside their stripes' data.
    @discardableResult
    func commitFiles(stripes: [Stripe], files: [NewFile]) throws(MetaError) -> [Inode]

    /// Overwrites part of file `id` copy-on-write, in one transaction: its extents `expected` (all
    /// of those that overlap the bytes being rewritten, as the writer read them) are replaced by
    /// `extents`, which point into the new `stripes` (or stored ones); the size becomes `size` and
    /// mtime now. `.fileChanged` when the file's extents there are no longer `expected` (another
    /// writer came first: read again and retry); the same checks as `commitFiles` otherwise. The
    /// replaced stripes stay until collection finds them unreferenced, so readers holding the old
    /// map keep reading consistent old bytes meanwhile.
    @discardableResult
    func rewriteFile(_ id: InodeID, replacing expected: [Extent], with extents: [Extent], stripes: [Stripe], size: Int64) throws(MetaError) -> Inode

    /// The attributes, extents and stripes of file `id`, from one snapshot.
    func fileMap(_ id: InodeID) throws(MetaError) -> FileMap

    /// The file maps of `ids` from one snapshot (a missing inode answers `nil`; a directory is
    /// `.isDirectory`), each stripe once.
    func fileMaps(_ ids: [InodeID]) throws(MetaError) -> FileMapBatch

    /// The attributes of each of `ids` from one snapshot, `nil` for those that do not exist.
    func getattrs(_ ids: [InodeID]) throws(MetaError) -> [Inode?]

    /// The stripes with these ids that exist (missing ones are left out).
    func stripes(_ ids: [UInt64]) throws(MetaError) -> [Stripe]

    /// Stripes no file points into any more (deleted or replaced files), oldest first.
    func unreferencedStripes(limit: Int) throws(MetaError) -> [Stripe]

    /// Forgets the stripes with these ids, except any that a file points into again. Called once
    /// their fragments are deleted from the drives.
    func forgetStripes(_ ids: [UInt64]) throws(MetaError)

    /// The first stripe id not allocated before `time`: a fragment of a stripe below it that no
    /// stored stripe claims was reserved before `time` and never committed.
    func orphanWatermark(allocatedBefore time: Double) throws(MetaError) -> UInt64

    /// The layout set on directory `id` itself, `nil` when none is set there.
    func layout(of id: InodeID) throws(MetaError) -> StripeLayout?

    /// The layout new files in directory `id` get: the one set on the nearest directory from `id`
    /// up to the root, `nil` when none is set (the cluster default applies).
    func effectiveLayout(of id: InodeID) throws(MetaError) -> StripeLayout?

    /// Sets (or with `nil` clears) the layout of directory `id`. Existing files keep theirs.
    func setLayout(_ id: InodeID, _ layout: StripeLayout?) throws(MetaError)

    // MARK: Repair (rebuild, shrink, expand, scrub, garbage collection)

    /// Stripes with at least one fragment on one of `drives`, with ids above `after`, by id.
    func stripes(onDrives drives: Set<DriveID>, after: UInt64, limit: Int) throws(MetaError) -> [Stripe]

    /// How many stripes have at least one fragment on one of `drives`.
    func countStripes(onDrives drives: Set<DriveID>) throws(MetaError) -> Int

    /// How many stripes are stored narrower than they were written (cheap: a partial index).
    func countShrunkStripes() throws(MetaError) -> Int

    /// Stripes stored narrower than they were written (`wideLayout` set), ids above `after`, by id.
    func shrunkStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe]

    /// Every stored stripe with an id above `after`, by id (scrub walks them all).
    func allStripes(after: UInt64, limit: Int) throws(MetaError) -> [Stripe]

    /// Stripe counts and data bytes per layout (what the durability report models).
    func stripeCensus() throws(MetaError) -> [StripeCensus]

    /// Installs `stripe` in place of the stored stripe with its id, if that one is still at
    /// `expectedVersion` (else `.staleStripe`; `.noSuchStripe` when it was collected). The new
    /// record must hold the same data bytes (`dataLength`), a higher version and pass
    /// `Stripe.problem`. Extents keep pointing at the stripe: its data offsets do not change.
    func replaceStripe(_ stripe: Stripe, expectedVersion: UInt32) throws(MetaError)

    /// A service's saved state (JSON), `nil` when none was saved.
    func serviceState(_ name: String) throws(MetaError) -> String?

    /// Saves a service's state (JSON), replacing what was saved before.
    func saveServiceState(_ name: String, _ value: String) throws(MetaError)

    // MARK: Leases (several managers sharing one store)

    /// A named lease (leadership of background work among managers). Taken when free, expired, or
    /// already held by `holder`; renewed by calling again. The epoch increases whenever the holder
    /// changes, so a deposed leader can be fenced.
    ///
    /// Returns the lease as it stands after the call: `held` is true when `holder` has it now
    /// (taken or renewed for `ttl` seconds), false when another holder's unexpired lease was left
    /// alone (then `holder` and `expiresAt` are theirs). Two callers racing for a free lease: exactly
    /// one gets it. Expiry is judged on the store's clock (see `Lease`). `.invalidLease` for an
    /// empty name or holder, or a `ttl` that is not a positive number of seconds.
    func acquireLease(_ name: String, holder: String, ttl: Double) throws(MetaError) -> Lease

    /// Gives the lease up at once if `holder` holds it (the next `acquireLease` by anyone takes it,
    /// in a new epoch); does nothing when someone else holds it or it does not exist.
    func releaseLease(_ name: String, holder: String) throws(MetaError)
}
