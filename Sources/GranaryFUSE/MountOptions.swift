/// How a Granary mount behaves: what the kernel may cache and for how long, who may use it, how
/// large its requests are.
///
/// The defaults suit training data: datasets do not change under a reader, so attributes and
/// entries are cached for a second and file contents stay in the kernel's page cache across opens
/// while the file is unchanged (its ctime is compared at each open).
public struct MountOptions: Sendable, Equatable {
    /// Refuse every change (EROFS) and mount read-only.
    public var readOnly = false
    /// Let users other than the mounting one use the mount (`allow_other`; the kernel then enforces
    /// mode bits, uid and gid with `default_permissions`).
    public var allowOther = false
    /// Seconds the kernel may cache attributes and directory entries.
    public var attrTimeout = 1.0
    public var entryTimeout = 1.0
    /// Largest read and write request, bytes (the kernel's limit is 1 MiB).
    public var maxIO = 1 << 20
    /// Kernel readahead, bytes.
    public var readahead = 1 << 20
    /// Worker threads the session loop keeps.
    public var threads = 8

    public init() {}
}
