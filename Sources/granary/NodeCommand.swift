import ArgumentParser
import GranaryCore

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "List, drain and undrain storage nodes.",
                                                    subcommands: [List.self, Drain.self, Undrain.self])

    static func printNodes(_ map: ClusterMap, json: Bool) {
        if json {
            print(Output.json(map.nodes))
            return
        }
        print(Output.table(["NODE", "STATE", "ADDRESS", "DRIVES UP", "LAST HEARTBEAT"], map.nodes.map { n in
            [n.id.rawValue, n.state.rawValue, n.address.description,
             "\(n.drives.filter { $0.state == .up }.count)/\(n.drives.count)", Output.age(n.lastHeartbeat)]
        }))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every storage node and its state.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = try options.managerClient()
            defer { client.close() }
            do { NodeCommand.printNodes(try await client.clusterMap(), json: options.json) } catch { throw CLIError("\(error)") }
        }
    }

    /// Drains or undrains `node` and prints the resulting node list.
    static func change(_ node: String, drain: Bool, options: ClientOptions) async throws {
        guard let id = NodeID(node) else { throw CLIError("'\(node)' is not a valid node id") }
        let client = try options.managerClient()
        defer { client.close() }
        do {
            printNodes(drain ? try await client.drain(id) : try await client.undrain(id), json: options.json)
        } catch { throw CLIError("\(error)") }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a node out of placement (its drives become drained).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The node's id.") var node: String

        func run() async throws { try await NodeCommand.change(node, drain: true, options: options) }
    }

    struct Undrain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Return a drained node to service (up again at its next heartbeat).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The node's id.") var node: String

        func run() async throws { try await NodeCommand.change(node, drain: false, options: options) }
    }
}
