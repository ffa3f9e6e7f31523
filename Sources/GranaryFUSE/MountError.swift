/// Why a mount or unmount could not be done, naming the mount point.
public enum MountError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingMountpoint(String)
    case notDirectory(String)
    case notEmpty(String)
    case alreadyMounted(String)
    /// The mount point is a FUSE mount whose process died ("Transport endpoint is not connected").
    case stale(String)
    case notMounted(String)
    case notGranary(String, type: String)
    case fuse(String, reason: String)

    public var description: String {
        switch self {
        case let .missingMountpoint(p): return "mount point \(p) does not exist"
        case let .notDirectory(p): return "mount point \(p) is not a directory"
        case let .notEmpty(p): return "mount point \(p) is not empty (mounting would hide its files)"
        case let .alreadyMounted(p): return "\(p) is already a mount point"
        case let .stale(p): return "\(p) is a Granary mount whose process died; run `granary umount \(p)` to clean it up"
        case let .notMounted(p): return "\(p) is not a mount point"
        case let .notGranary(p, type): return "\(p) is a \(type) mount, not a Granary one; refusing to unmount it"
        case let .fuse(p, reason): return "FUSE mount at \(p): \(reason)"
        }
    }
}
