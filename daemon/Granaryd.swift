import ArgumentParser
import Dispatch
import Foundation
import GranaryCore
import GranaryManager
import GranaryMetrics
import GranaryStorage
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `granaryd --config FILE`: runs the roles the config names (manager, storage or both) until
/// SIGTERM or SIGINT, then stops them cleanly. A bad config stops it at once with a message naming
/// the file and key; it exits 2 for configuration errors and 1 for start-up failures.
@main
struct Granaryd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "granaryd",
        abstract: "Run a Granary manager and/or storage node.")

    @Option(name: .shortAndLong, help: "The daemon's TOML config (see conf/granaryd.toml).")
    var config: String

    @Option(help: "Override the config's log level (\(LogLevelName.names)).")
    var logLevel: String?

    @Flag(help: "Validate the config and exit.")
    var check = false

    func run() async throws {
        let cfg: DaemonConfig
        do {
            cfg = try DaemonConfig.load(path: config)
        } catch {
            Self.fail("granaryd: \(error)\n")
            throw ExitCode(2)
        }
        guard let level = LogLevelName.parse(logLevel ?? cfg.logLevel) else {
            Self.fail("granaryd: --log-level: expected one of \(LogLevelName.names)\n")
            throw ExitCode(2)
        }
        let keys: ClusterKeys
        do { keys = try ClusterKeys(path: cfg.secretFile) } catch {
            Self.fail("granaryd: \(cfg.file): cluster.secret_file: \(error)\n")
            throw ExitCode(2)
        }
        if check {
            print("granaryd: \(config) is valid (roles: \(cfg.roles.map(\.rawValue).joined(separator: ", ")))")
            return
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "granaryd")

        // Watch the signals before any thread starts, so none of them can kill us mid-write.
        let signals = SignalWatch()
        signal(SIGPIPE, SIG_IGN)

        // A rotated secret file is picked up within seconds, without a restart (docs/OPERATIONS.md,
        // "Rotating the cluster secret"); the secrets themselves never reach the log.
        let keyWatch = keys.watch { [logger, file = cfg.secretFile] r in
            switch r {
            case let .reloaded(k):
                logger.notice("cluster secret file \(file) reloaded: \(k.previous == nil ? "one secret (no rotation in progress)" : "a new current secret; the previous one is still accepted")")
            case let .refused(e):
                logger.error("cluster secret file \(file) changed but cannot be used, keeping the secrets in use: \(e)")
            case .unchanged: break
            }
        }
        defer { keyWatch.cancel() }

        var manager: ManagerServer?
        var storage: StorageNode?
        // Metrics first: an instrument made before the backend is installed stays a no-op.
        var metrics: MetricsServer?
        if let listen = cfg.metricsListen {
            do {
                metrics = try MetricsServer(listen: listen, registry: MetricsBackend.install(), logger: logger)
                metrics?.start()
            } catch {
                logger.critical("cannot start: metrics endpoint ([metrics] listen): \(error)")
                throw ExitCode(1)
            }
        }
        do {
            if let m = cfg.manager {
                manager = try ManagerServer(config: m, keys: keys, settings: cfg.transport, faultInjection: cfg.faultInjection, logger: logger)
            }
            if let s = cfg.storage {
                storage = try StorageNode(config: s, managers: cfg.managers, keys: keys, settings: cfg.transport,
                                          faultInjection: cfg.faultInjection, logger: logger)
            }
        } catch {
            logger.critical("cannot start: \(error)")
            await manager?.shutdown()
            throw ExitCode(1)
        }
        // Tell whoever started us where we listen (tests and `granary up` use port 0).
        if let m = manager { print("granaryd: manager listening on \(m.endpoint)") }
        if let s = storage { print("granaryd: storage node \(s.id) listening on \(s.endpoint)") }
        if let m = metrics { print("granaryd: metrics on http://\(m.endpoint)/metrics") }
        fflush(nil)

        let signalName = await signals.wait()
        logger.info("received \(signalName), shutting down")
        storage?.stop()
        await manager?.shutdown()
        metrics?.stop()
        logger.info("stopped")
    }

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data(message.utf8))
    }
}
