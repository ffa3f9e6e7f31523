#if canImport(Glibc)
import Glibc
#endif
import GranaryMeta

/// Who a client acts for, and the POSIX permission rule the client API applies for it — the
/// rule the kernel applies to a FUSE mount (`default_permissions`), so a path is open to a user
/// through the client API exactly when it is through the mount.
///
/// Guarantees: the owner's bits apply to the owner, else the group's to a member of the file's
/// group, else the others' (POSIX picks one class; it never falls through to a more generous
/// one); uid 0 may read and write anything and search any directory, and execute a file only if
/// some execute bit is set.
public struct AccessIdentity: Sendable, Equatable, CustomStringConvertible {
    public var uid: UInt32
    /// The primary group first, then the supplementary groups.
    public var gids: [UInt32]

    public init(uid: UInt32, gids: [UInt32]) {
        self.uid = uid
        self.gids = gids
    }

    /// This process's real user and groups.
    public static var process: AccessIdentity {
        var groups = [gid_t](repeating: 0, count: Int(max(getgroups(0, nil), 0)))
        let n = groups.isEmpty ? 0 : getgroups(Int32(groups.count), &groups)
        return AccessIdentity(uid: getuid(), gids: [getgid()] + groups.prefix(Int(max(n, 0))).filter { $0 != getgid() })
    }

    public var description: String { "uid \(uid), gid \(gids.first.map(String.init) ?? "none")" }

    /// What an operation needs of an inode.
    public struct Permission: OptionSet, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let read = Permission(rawValue: 4)
        public static let write = Permission(rawValue: 2)
        /// Execute a file; search (traverse) a directory.
        public static let execute = Permission(rawValue: 1)

        public var description: String {
            [(Permission.read, "read"), (.write, "write"), (.execute, "search")].filter { contains($0.0) }.map(\.1).joined(separator: "+")
        }
    }

    public func allows(_ inode: Inode, _ want: Permission) -> Bool {
        if uid == 0 {
            guard want.contains(.execute), inode.kind != .directory else { return true }
            return inode.mode & 0o111 != 0
        }
        let bits: UInt32
        if inode.uid == uid {
            bits = (inode.mode >> 6) & 7
        } else if gids.contains(inode.gid) {
            bits = (inode.mode >> 3) & 7
        } else {
            bits = inode.mode & 7
        }
        return bits & want.rawValue == want.rawValue
    }
}
