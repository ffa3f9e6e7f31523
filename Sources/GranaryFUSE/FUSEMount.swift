#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import Foundation
import Logging

/// A Granary file system mounted at a directory through libfuse's low-level API, served by a
/// multi-threaded session loop.
///
/// Guarantees: the mount point is checked first (exists, is an empty directory, is not mounted —
/// a dead Granary mount there is reported as stale); `run` serves until the mount is unmounted or
/// SIGINT/SIGTERM arrives and then unmounts; `start`/`stop` do the same on a thread of their own
/// (tests), `stop` unmounting lazily so a busy mount cannot hang it.
///
/// `@unchecked Sendable`: `session` is created in `init` and destroyed once, in `finish`, after the
/// loop has returned; `thread` is only touched by the owner calling `start` and `stop`.
public final class FUSEMount: @unchecked Sendable {
    public let mountpoint: String
    public let fileSystem: GranaryFileSystem
    let session: OpaquePointer
    let retained: Unmanaged<GranaryFileSystem>
    let logger: Logger
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private var finished = false

    public init(mountpoint: String, fileSystem: GranaryFileSystem, logger: Logger) throws(MountError) {
        try MountTable.checkMountpoint(mountpoint)
        self.mountpoint = MountTable.canonical(mountpoint)
        self.fileSystem = fileSystem
        self.logger = logger
        let o = fileSystem.options
        var options = ["fsname=granary", "subtype=granary", "default_permissions", "max_read=\(o.maxIO)"]
        if o.allowOther { options.append("allow_other") }
        if o.readOnly { options.append("ro") }
        var args = fuse_args(argc: 0, argv: nil, allocated: 0)
        for a in ["granary", "-o", options.joined(separator: ",")] { fuse_opt_add_arg(&args, a) }
        defer { fuse_opt_free_args(&args) }
        var ops = FUSEOperations.table()
        let retained = Unmanaged.passRetained(fileSystem)
        guard let se = granary_fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, retained.toOpaque()) else {
            retained.release()
            throw .fuse(mountpoint, reason: "libfuse refused the session options \(options.joined(separator: ","))")
        }
        guard fuse_session_mount(se, self.mountpoint) == 0 else {
            fuse_session_destroy(se)
            retained.release()
            throw .fuse(mountpoint, reason: "mount failed (is /dev/fuse usable, and are you root or is fusermount3 installed?)")
        }
        session = se
        self.retained = retained
        fileSystem.session.withLock { $0 = SessionPointer(pointer: se) }
    }

    /// Serves requests until the file system is unmounted or the process gets SIGINT or SIGTERM,
    /// then unmounts. Returns the signal that ended it, or 0.
    @discardableResult
    public func run(handleSignals: Bool = true) -> Int32 {
        if handleSignals { fuse_set_signal_handlers(session) }
        let config = fuse_loop_cfg_create()
        fuse_loop_cfg_set_clone_fd(config, 1)
        fuse_loop_cfg_set_max_threads(config, UInt32(max(fileSystem.options.threads, 1)))
        fuse_loop_cfg_set_idle_threads(config, UInt32(max(fileSystem.options.threads / 2, 1)))
        let result = fuse_session_loop_mt(session, config)
        fuse_loop_cfg_destroy(config)
        if handleSignals { fuse_remove_signal_handlers(session) }
        finish()
        return result
    }

    /// Serves on a thread of its own; `stop` ends it.
    public func start() {
        let t = Thread { [self] in
            run(handleSignals: false)
            done.signal()
        }
        t.name = "granary-fuse"
        thread = t
        t.start()
    }

    /// Ends a mount started with `start`: leaves the loop, detaches the mount and waits for the
    /// loop's thread.
    public func stop() {
        guard thread != nil else { return }
        fuse_session_exit(session)
        // Workers block reading /dev/fuse; detaching the mount wakes them with ENODEV.
        umount2(mountpoint, Int32(MNT_DETACH))
        done.wait()
        thread = nil
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        fileSystem.session.withLock { $0 = nil }
        fuse_session_unmount(session)
        fuse_session_destroy(session)
        retained.release()
        logger.info("unmounted \(mountpoint)")
    }
}
