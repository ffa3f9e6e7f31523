import ArgumentParser
import GranaryClient
import GranaryCore
import GranaryTransport
import GranaryManager
import Logging

/// Options shared by every command that talks to a running cluster.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Client config (default: $GRANARY_CONFIG or ~/.config/granary/client.toml, written by `granary up`).")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    var configPath: String { config ?? ClientConfig.defaultPath }

    /// A file client over the config's managers; close its transport when done.
    func fileClient(settings: FileClientSettings = .init()) throws -> (FileClient, any Transport) {
        let cfg: ClientConfig
        do { cfg = try ClientConfig.load(path: configPath) } catch {
            throw CLIError("\(error)\n(start a cluster with `granary up`, or pass --config)")
        }
        var logger = Logger(label: "granary")
        logger.logLevel = .error
        let keys: ClusterKeys
        do { keys = try ClusterKeys(path: cfg.secretFile) } catch { throw CLIError("\(error)") }
        // A long-running client (a mount) follows a rotated secret file without a remount.
        _ = keys.watch { [logger, file = cfg.secretFile] r in
            if case let .refused(e) = r { logger.error("cluster secret file \(file) changed but cannot be used, keeping the secrets in use: \(e)") }
        }
        let transport: any Transport
        do { transport = try Transports.client(keys: keys, settings: cfg.transport, logger: logger) } catch { throw CLIError("\(error)") }
        return (FileClient(managers: cfg.managers, transport: transport, settings: settings, logger: logger), transport)
    }

    /// The client config and the cluster secret it names.
    func configAndSecret() throws -> (ClientConfig, ClusterSecret) {
        let cfg: ClientConfig
        do { cfg = try ClientConfig.load(path: configPath) } catch {
            throw CLIError("\(error)\n(start a cluster with `granary up`, or pass --config)")
        }
        do { return (cfg, try ClusterSecret.load(path: cfg.secretFile)) } catch { throw CLIError("\(error)") }
    }

    func managerClient() throws -> ManagerClient {
        let cfg: ClientConfig
        do { cfg = try ClientConfig.load(path: configPath) } catch {
            throw CLIError("\(error)\n(start a cluster with `granary up`, or pass --config)")
        }
        var logger = Logger(label: "granary")
        logger.logLevel = .error
        do { return try ManagerClient(config: cfg, logger: logger) } catch { throw CLIError("\(error)") }
    }
}

/// An error for the user: printed as `granary: <message>`, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
