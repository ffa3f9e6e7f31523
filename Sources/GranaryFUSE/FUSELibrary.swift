#if canImport(Glibc)
import Glibc
#endif
import CFuse3

/// What this host offers for FUSE mounts: the libfuse3 version linked and whether the kernel
/// device `/dev/fuse` can be opened. The mount itself arrives with the FUSE issue.
public enum FUSELibrary {
    /// libfuse's package version, for example "3.14.0".
    public static var version: String {
        guard let p = fuse_pkgversion() else { return "unknown" }
        return String(cString: p)
    }

    /// libfuse's API version number (`FUSE_VERSION`, 312 for 3.12 and later API levels).
    public static var apiVersion: Int { Int(fuse_version()) }

    /// Whether `/dev/fuse` exists and opens for reading and writing (what a mount needs).
    public static var deviceUsable: Bool {
        let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }
}
