#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GranaryFUSE

/// The soak test's mount: a child `granary mount --foreground` process, exactly as an operator
/// runs it, so its memory and descriptors are measured apart from the bench's own and from the
/// cluster's. Its cache is pointed into the bench's directory with small tiers, so the cache is
/// full, evicting and re-fetching for most of the run instead of growing into a budget.
///
/// Guarantees: `start` returns only once the kernel lists the mount as `fuse.granary`, or throws
/// with the mount's log (the process stopped); `stop` ends the process with SIGTERM (the mount
/// unmounts itself), falls back to a lazy unmount and SIGKILL after 10 s, and waits for it.
final class SoakMountProcess {
    let mountpoint: String
    let log: String
    private let process = Process()

    init(mountpoint: String, config: String, cacheDir: String, cacheMemory: String, cacheDisk: String, log: String) throws {
        self.mountpoint = MountTable.canonical(mountpoint)
        self.log = log
        process.executableURL = URL(fileURLWithPath: LocalCluster.siblingExecutable("granary"))
        process.arguments = ["mount", "--foreground", mountpoint, "--config", config, "--cache-dir", cacheDir,
                             "--cache-memory", cacheMemory, "--cache-disk", cacheDisk]
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var terminationStatus: Int32 { process.terminationStatus }

    func start() throws {
        try process.run()
        for _ in 0..<400 {
            if MountTable.entry(at: mountpoint)?.type == "fuse.granary" { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        stop()
        throw CLIError("bench soak: mounting \(mountpoint) failed; \(log):\n\(logTail())")
    }

    func stop() {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning {
            try? MountTable.unmount(mountpoint)
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        // A mount whose process died leaves "Transport endpoint is not connected" behind.
        if MountTable.entry(at: mountpoint) != nil { try? MountTable.unmount(mountpoint) }
    }

    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
