import ArgumentParser
import GranaryClient
import GranaryCore
import GranaryTransport
import Logging

/// The cache flags of commands that read through the client cache (mount, warmup, loader benches);
/// each overrides `[cache]` of the client config.
struct CacheOptions: ParsableArguments {
    @Option(help: "Cache policy: off, lru, lfu, pinned, learned, hinted (default: [cache] policy of the config, else learned).")
    var cachePolicy: String?
    @Option(help: "Memory tier size, e.g. 512MiB (0: none).") var cacheMemory: String?
    @Option(help: "Disk tier directory (default: [cache] dir, else ~/.cache/granary).") var cacheDir: String?
    @Option(help: "Disk tier size limit, e.g. 10GiB (0: no disk tier).") var cacheDisk: String?
    @Option(help: "Append every access to this file as JSON lines ({\"t\",\"job\",\"key\",\"size\"}).") var traceOut: String?

    /// The config's settings with these flags applied.
    func settings(_ base: CacheSettings) throws -> CacheSettings {
        var s = base
        if let p = cachePolicy {
            guard let policy = CacheSettings.Policy(rawValue: p) else {
                throw ValidationError("--cache-policy: '\(p)' is not one of " + CacheSettings.Policy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            s.policy = policy
        }
        if let m = cacheMemory {
            guard let v = ByteSize(parsing: m) else { throw ValidationError("--cache-memory: expected a size such as 512MiB, got '\(m)'") }
            s.memoryBytes = Int(v.bytes)
        }
        if let d = cacheDir { s.directory = d.isEmpty ? nil : d }
        if let d = cacheDisk {
            guard let v = ByteSize(parsing: d) else { throw ValidationError("--cache-disk: expected a size such as 10GiB, got '\(d)'") }
            s.diskBytes = Int(v.bytes)
        }
        return s
    }

    /// Installs a cache on `client` (nothing when the policy is `off`) with housekeeping started.
    @discardableResult
    func install(on client: FileClient, options: ClientOptions, logger: Logger) throws -> ReadCache? {
        let (config, secret) = try options.configAndSecret()
        let s = try settings(config.cache)
        guard s.policy != .off else { return nil }
        let namespace = Authenticator(secret: secret).clusterFingerprint
        let cache: ReadCache
        do {
            cache = try ReadCache(client: client, settings: s, namespace: namespace, logger: logger)
        } catch {
            guard case .cacheUnavailable = error, s.directory != nil else { throw CLIError("\(error)") }
            // The disk tier is an optimisation: without it the mount still works from memory.
            logger.warning("\(error); going on without a disk tier")
            var memoryOnly = s
            memoryOnly.directory = nil
            do { cache = try ReadCache(client: client, settings: memoryOnly, namespace: namespace, logger: logger) } catch { throw CLIError("\(error)") }
        }
        do { try cache.startBackground(traceOut: traceOut) } catch { throw CLIError("\(error)") }
        client.setCache(cache)
        return cache
    }
}
