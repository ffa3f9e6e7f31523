import ArgumentParser
import GranaryCore

struct DriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drive", abstract: "Drives of the cluster.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every drive, its state and space.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            let map: ClusterMap
            do { map = try await client.clusterMap() } catch { throw CLIError("\(error)") }
            if options.json {
                print(Output.json(map.drives))
                return
            }
            print(Output.table(["DRIVE", "STATE", "USED", "FREE", "CAPACITY", "CHUNKS", "PROBLEM"], map.drives.map { d in
                [d.id.description, d.state.rawValue, ByteSize(d.usedBytes).description, ByteSize(d.freeBytes).description,
                 ByteSize(d.capacityBytes).description, String(d.chunkCount), d.problem ?? "-"]
            }))
        }
    }
}
