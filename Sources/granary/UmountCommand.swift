import ArgumentParser
import GranaryFUSE

/// `granary umount MOUNTPOINT`: unmounts a Granary mount, also one whose process died.
struct UmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "umount", abstract: "Unmount a Granary mount (live or stale).")
    @Argument(help: "The mount point.") var mountpoint: String

    func run() throws {
        do { try MountTable.unmount(mountpoint) } catch { throw CLIError("\(error)") }
        print("unmounted \(mountpoint)")
    }
}
