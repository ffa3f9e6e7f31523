import ArgumentParser
import Foundation
import GranaryClient
import GranaryCore
import GranaryFUSE
import GranaryMetrics
import Logging

/// `granary mount MOUNTPOINT`: the cluster's namespace as a file system (FUSE).
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount the cluster's file system at a directory (FUSE).",
        discussion: "Reads go through the erasure-coded read path (a storage node dying mid-read does not fail the read). A file created (or opened with O_TRUNC) through the mount appears whole when it is closed, and not at all if its writer is killed; writes into an existing file are copy-on-write overwrites. Without --foreground the mount runs in the background, logging to --log, and the command returns once it is mounted.")
    @Argument(help: "An existing, empty directory.") var mountpoint: String
    @OptionGroup var options: ClientOptions
    @OptionGroup var cacheOptions: CacheOptions
    @Flag(help: "Refuse every change (EROFS).") var readOnly = false
    @Flag(help: "Let other users use the mount; mode bits, uid and gid are enforced by the kernel.") var allowOther = false
    @Flag(help: "Stay in the foreground until unmounted or interrupted.") var foreground = false
    @Option(help: "Seconds the kernel caches attributes and names.") var attrTimeout = 1.0
    @Option(help: "Worker threads of the session loop.") var threads = 8
    @Option(help: "Log file of a background mount (default: /tmp/granary-mount-<pid>.log).") var log: String?
    @Option(help: ArgumentHelp("Serve this mount's Prometheus metrics (cache, prefetch, FUSE operations, transport errors) at http://HOST:PORT/metrics.", valueName: "host:port"))
    var metricsListen: String?

    func run() async throws {
        if !foreground { return try background() }
        var logger = Logger(label: "granary-mount")
        logger.logLevel = .info
        // The metrics backend goes in before anything records, so no instrument is left a no-op.
        var exporter: MetricsServer?
        if let metricsListen {
            guard let listen = Endpoint(parsing: metricsListen, allowAnyPort: true) else {
                throw ValidationError("--metrics-listen: expected host:port, got '\(metricsListen)'")
            }
            do { exporter = try MetricsServer(listen: listen, registry: MetricsBackend.install(), logger: logger) } catch {
                throw CLIError("--metrics-listen: \(error)")
            }
        }
        defer { exporter?.stop() }
        var settings = FileClientSettings()
        settings.mapMaxAgeMs = 1_000
        let (client, transport) = try options.fileClient(settings: settings)
        defer { transport.closeAll() }
        let cache = try cacheOptions.install(on: client, options: options, logger: logger)
        var publisher: Task<Void, Never>?
        if let exporter {
            exporter.start()
            publisher = ClientMetrics(client: client).start()
            FileHandle.standardError.write(Data("granary: metrics on http://\(exporter.endpoint)/metrics\n".utf8))
        }
        defer { publisher?.cancel() }
        var o = MountOptions()
        o.readOnly = readOnly
        o.allowOther = allowOther
        o.attrTimeout = attrTimeout
        o.entryTimeout = attrTimeout
        o.threads = threads
        let fs = GranaryFileSystem(client: client, options: o, logger: logger)
        let mount: FUSEMount
        do { mount = try FUSEMount(mountpoint: mountpoint, fileSystem: fs, logger: logger) } catch { throw CLIError("\(error)") }
        FileHandle.standardError.write(Data("granary: mounted at \(mount.mountpoint); Ctrl-C or `granary umount \(mount.mountpoint)` unmounts\n".utf8))
        // The session loop blocks its thread; run it off the cooperative pool.
        let signal = await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
            Thread { c.resume(returning: mount.run()) }.start()
        }
        if let cache {
            await cache.close()
            client.setCache(nil)
        }
        FileHandle.standardError.write(Data("granary: unmounted \(mount.mountpoint)\(signal > 0 ? " (signal \(signal))" : "")\n".utf8))
    }

    /// Starts `granary mount --foreground …` detached and waits until the mount is there.
    func background() throws {
        do { try MountTable.checkMountpoint(mountpoint) } catch { throw CLIError("\(error)") }
        let logPath = log ?? "/tmp/granary-mount-\(getpid()).log"
        var args = ["mount", "--foreground", mountpoint, "--config", options.configPath, "--attr-timeout", String(attrTimeout),
                    "--threads", String(threads)]
        if readOnly { args.append("--read-only") }
        for (flag, value) in [("--cache-policy", cacheOptions.cachePolicy), ("--cache-memory", cacheOptions.cacheMemory),
                              ("--cache-dir", cacheOptions.cacheDir), ("--cache-disk", cacheOptions.cacheDisk), ("--trace-out", cacheOptions.traceOut)] {
            if let value { args += [flag, value] }
        }
        if allowOther { args.append("--allow-other") }
        if let metricsListen { args += ["--metrics-listen", metricsListen] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
                              : (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        p.arguments = args
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        p.standardOutput = h
        p.standardError = h
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let target = MountTable.canonical(mountpoint)
        for _ in 0..<200 {
            if MountTable.entry(at: target)?.type == "fuse.granary" {
                print("mounted \(target) (process \(p.processIdentifier), log \(logPath))")
                return
            }
            if !p.isRunning { break }
            usleep(50_000)
        }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        if p.isRunning { p.terminate() }
        throw CLIError("mounting \(mountpoint) failed:\n\(text)")
    }
}
