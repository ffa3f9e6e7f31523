import ArgumentParser

/// `granary`: the admin CLI of a Granary cluster.
@main
struct Granary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "granary",
        abstract: "Granary: a parallel file system and cache for AI training data.",
        discussion: "Commands find the cluster through the client config that `granary up` writes (see --config).",
        subcommands: [Up.self, ClusterCommand.self, NodeCommand.self, DriveCommand.self, HealthCommand.self, ImportCommand.self, Ls.self, Stat.self,
                      Cat.self, Cp.self, Rm.self, Mkdir.self, LayoutCommand.self, MountCommand.self, UmountCommand.self, WarmupCommand.self, CacheCommand.self, RebuildCommand.self, ScrubCommand.self,
                      DurabilityCommand.self, TopCommand.self, DrillCommand.self, Bench.self, Doctor.self])
}
