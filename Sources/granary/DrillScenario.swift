import ArgumentParser

/// The faults a drill can inject, in the order a full drill runs them.
enum DrillScenario: String, CaseIterable, ExpressibleByArgument {
    /// Flip bytes in chunk files on disk; reads decode around them, a scrub repairs them.
    case corruptFragments = "corrupt-fragments"
    /// SIGKILL a storage node while reads and writes are in flight; restart it after the hold.
    case killNode = "kill-node"
    /// SIGKILL the (leading) manager while a rebuild pass runs; start it again.
    case managerRestart = "manager-restart"
    /// Fill a drive (a small tmpfs) to ENOSPC; writes go elsewhere, the node serves its other drive.
    case fullDrive = "full-drive"
    /// Make a drive slow by fault injection; reads route around it.
    case slowDrive = "slow-drive"
    /// Take a host's link down (namespaced hosts only); bring it back after the hold.
    case cutNetwork = "cut-network"

    var what: String {
        switch self {
        case .corruptFragments: return "bytes flipped in chunk files of live stripes on disk, then a scrub"
        case .killNode: return "a storage node killed with SIGKILL mid-read and mid-write, restarted after the hold"
        case .managerRestart: return "the leading manager killed with SIGKILL mid-rebuild (a drive evicted), started again"
        case .fullDrive: return "a drive (a 64 MiB tmpfs) filled to ENOSPC, emptied after the hold"
        case .slowDrive: return "a drive slowed by fault injection, cleared after the hold"
        case .cutNetwork: return "a host's link taken down (ip link set … down), brought back after the hold"
        }
    }

    /// What a drill runs when no list is given: everything that applies to the variant (cutting a
    /// host's link needs hosts of their own). `--long` changes the holds, not the list.
    static func defaults(netns: Bool, long: Bool) -> [DrillScenario] {
        netns ? allCases : allCases.filter { $0 != .cutNetwork }
    }
}
